package openssh

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeMaster accepts one control connection and plays the master's side
// as mux.c does, so that the client's wire format is pinned independently
// of the ssh on this machine: the hello (with mux.c's "info" extension),
// then serve.
func fakeMaster(t *testing.T, serve func(c *net.UnixConn)) string {
	t.Helper()
	path := filepath.Join(privateDir(t), "ctl")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
		var h packet
		h.u32(muxMsgHello)
		h.u32(muxVersion)
		h.str("info")
		h.str("0")
		if writePacket(c, h) != nil {
			return
		}
		p, err := readPacket(c)
		if err != nil || p.u32() != muxMsgHello || p.u32() != muxVersion || len(p.b) != 0 {
			t.Errorf("client hello: %v", err)
			return
		}
		serve(c)
	}()
	return path
}

func TestMuxStdioForwardWire(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "fd")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fdStat unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &fdStat); err != nil {
		t.Fatal(err)
	}
	path := fakeMaster(t, func(c *net.UnixConn) {
		p, err := readPacket(c)
		if err != nil {
			t.Error(err)
			return
		}
		typ, rid, reserved, host, port := p.u32(), p.u32(), p.str(), p.str(), p.u32()
		if p.err != nil || len(p.b) != 0 || typ != muxCNewStdioFwd || reserved != "" || host != "db.example" || port != 2121 {
			t.Errorf("request: type %#x rid %d reserved %q host %q port %d rest %d err %v", typ, rid, reserved, host, port, len(p.b), p.err)
			return
		}
		// mm_receive_fd: one byte of data and room for one descriptor per call.
		for i := 0; i < 2; i++ {
			buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
			n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
			if err != nil || n != 1 || flags&unix.MSG_CTRUNC != 0 {
				t.Errorf("fd %d: n %d flags %#x err %v", i, n, flags, err)
				return
			}
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil || len(msgs) != 1 {
				t.Errorf("fd %d: %v", i, err)
				return
			}
			fds, err := unix.ParseUnixRights(&msgs[0])
			if err != nil || len(fds) != 1 {
				t.Errorf("fd %d: %v %v", i, fds, err)
				return
			}
			var st unix.Stat_t
			unix.Fstat(fds[0], &st) //nolint:errcheck
			unix.Close(fds[0])
			if st.Ino != fdStat.Ino || st.Dev != fdStat.Dev {
				t.Errorf("fd %d is another file", i)
			}
		}
		var r packet
		r.u32(muxSSessionOpened)
		r.u32(rid)
		r.u32(7)
		writePacket(c, r) //nolint:errcheck
	})
	m, err := dialMux(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	sid, err := m.stdioFwd(context.Background(), "db.example", 2121, f)
	if err != nil || sid != 7 {
		t.Fatalf("stdio forward: sid %d, %v", sid, err)
	}
}

func TestMuxReplies(t *testing.T) {
	tests := []struct {
		name  string
		reply func(rid uint32) packet
		check func(t *testing.T, pid int, err error)
	}{
		{"alive", func(rid uint32) packet {
			var p packet
			p.u32(muxSAlive)
			p.u32(rid)
			p.u32(4242)
			return p
		}, func(t *testing.T, pid int, err error) {
			if err != nil || pid != 4242 {
				t.Fatalf("pid %d err %v", pid, err)
			}
		}},
		{"denied", func(rid uint32) packet {
			var p packet
			p.u32(muxSPermissionDenied)
			p.u32(rid)
			p.str("Permission denied")
			return p
		}, func(t *testing.T, _ int, err error) {
			var me *MuxError
			if !errors.Is(err, ErrMuxDenied) || !errors.As(err, &me) || me.Reason != "Permission denied" {
				t.Fatalf("err %v", err)
			}
		}},
		{"failure", func(rid uint32) packet {
			var p packet
			p.u32(muxSFailure)
			p.u32(rid)
			p.str("unsupported request")
			return p
		}, func(t *testing.T, _ int, err error) {
			if !errors.Is(err, ErrMuxFailure) || errors.Is(err, ErrForwardRefused) {
				t.Fatalf("err %v", err)
			}
		}},
		{"wrong request id", func(rid uint32) packet {
			var p packet
			p.u32(muxSAlive)
			p.u32(rid + 1)
			p.u32(1)
			return p
		}, func(t *testing.T, _ int, err error) {
			if !errors.Is(err, ErrMuxProtocol) {
				t.Fatalf("err %v", err)
			}
		}},
		{"short", func(rid uint32) packet {
			var p packet
			p.u32(muxSAlive)
			return p
		}, func(t *testing.T, _ int, err error) {
			if !errors.Is(err, ErrMuxProtocol) {
				t.Fatalf("err %v", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := fakeMaster(t, func(c *net.UnixConn) {
				p, err := readPacket(c)
				if err != nil {
					return
				}
				typ, rid := p.u32(), p.u32()
				if typ != muxCAliveCheck {
					t.Errorf("type %#x", typ)
				}
				writePacket(c, tc.reply(rid)) //nolint:errcheck
			})
			m, err := dialMux(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer m.close()
			pid, err := m.aliveCheck(context.Background())
			tc.check(t, pid, err)
		})
	}
}

// TestMuxHelloVersion: a master of another protocol version is refused,
// and a silent one is bounded by the context.
func TestMuxHelloVersion(t *testing.T) {
	path := filepath.Join(privateDir(t), "ctl")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hold := make(chan struct{})
	defer close(hold)
	go func() {
		for i := 0; i < 2; i++ {
			c, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			defer c.Close()
			if i == 1 {
				<-hold // silent until the test ends
			} else {
				var h packet
				h.u32(muxMsgHello)
				h.u32(5)
				writePacket(c, h) //nolint:errcheck
			}
		}
	}()
	if _, err := dialMux(context.Background(), path); !errors.Is(err, ErrMuxProtocol) {
		t.Fatalf("version 5: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := dialMux(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent master: %v", err)
	}
}
