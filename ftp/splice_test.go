package ftp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"socksd/ebcdic"
	"socksd/internal/relay"
	"socksd/internal/testing/testpeer"
)

// spliceMode is how a fake tunnel carries data connections.
type spliceMode int

const (
	spliceNone       spliceMode = iota // no Splicer: dial and relay
	spliceReadyAfter                   // Ready once the channel is open (builtin)
	spliceReadyFirst                   // Ready before the channel opens (openssh)
)

func (m spliceMode) String() string {
	return [...]string{"none", "ready-after-open", "ready-first"}[m]
}

// fakeSplicer is a fakeTunnel that splices as an engine does: it opens
// the channel (a loopback connection that Kill cuts, not counted in
// dials), calls Ready before or after that as mode says, relays in the
// background, and adds the bytes to the counters only at the end, as the
// openssh engine's exact final count.
type fakeSplicer struct {
	*fakeTunnel
	mode     spliceMode
	splices  atomic.Int32
	failOpen atomic.Bool // the channel open fails
	mu       sync.Mutex
	live     []*fakeSpliced
}

func (f *fakeSplicer) Splice(ctx context.Context, addr string, conn net.Conn, opt SpliceOptions) (Spliced, error) {
	f.splices.Add(1)
	ready := func() error {
		if opt.Ready == nil {
			return nil
		}
		return opt.Ready()
	}
	if f.mode == spliceReadyFirst {
		if err := ready(); err != nil {
			conn.Close()
			return nil, err
		}
	}
	var up net.Conn
	err := errors.New("fake: channel open refused")
	if !f.failOpen.Load() {
		var d net.Dialer
		up, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		if f.mode == spliceReadyFirst {
			conn.Close()
		}
		return nil, err
	}
	f.fakeTunnel.mu.Lock()
	f.fakeTunnel.conns = append(f.fakeTunnel.conns, up)
	f.fakeTunnel.mu.Unlock()
	if f.mode == spliceReadyAfter {
		if err := ready(); err != nil {
			up.Close()
			conn.Close()
			return nil, err
		}
	}
	s := &fakeSpliced{done: make(chan struct{})}
	ctx, s.cancel = context.WithCancel(ctx)
	f.mu.Lock()
	f.live = append(f.live, s)
	f.mu.Unlock()
	go func() {
		defer close(s.done)
		s.res = relay.Relay(ctx, conn, up, relay.Options{IdleTimeout: opt.IdleTimeout})
		for _, c := range opt.Counters {
			c.Up.Add(s.res.Up)
			c.Down.Add(s.res.Down)
		}
	}()
	return s, nil
}

// fakeSpliced is one connection of a fakeSplicer.
type fakeSpliced struct {
	cancel context.CancelFunc
	closed atomic.Bool
	done   chan struct{}
	res    relay.Result
}

func (s *fakeSpliced) Wait() relay.Result { <-s.done; return s.res }
func (s *fakeSpliced) Close()             { s.closed.Store(true); s.cancel() }

var spliceModes = []spliceMode{spliceReadyAfter, spliceReadyFirst}

// TestSpliceTransfers: with a tunnel that splices, passive data
// connections (through SOCKS and through the rewrite listener) are handed
// to it, never dialed through the tunnel; the transfers get 226 and every
// count (audit, the data session's own, the data totals) is exact.
func TestSpliceTransfers(t *testing.T) {
	for _, mode := range spliceModes {
		for _, data := range []string{DataSocks, DataRewrite} {
			t.Run(mode.String()+"/"+string(data), func(t *testing.T) {
				h := newHarness(t, testpeer.VSFTPDConfig{WriteEnable: true}, Options{Data: data})
				h.splice = mode
				want := testpeer.Data(1<<20, 4)
				h.v.WriteFile(t, "in.bin", want)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				c := dialJob(t, h, ctx, data == DataRewrite)
				if err := c.Login(h.v.User, h.v.Password); err != nil {
					t.Fatalf("login: %v\n%s", err, h.logBuf.String())
				}
				r, err := c.Retr("in.bin")
				if err != nil {
					t.Fatalf("retr: %v", err)
				}
				got, err := io.ReadAll(r)
				if cerr := r.Close(); err == nil {
					err = cerr
				}
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("retr: %d bytes, %v", len(got), err)
				}
				if err := c.Stor("out.bin", bytes.NewReader(want)); err != nil {
					t.Fatalf("stor: %v", err)
				}
				if err := c.Quit(); err != nil {
					t.Fatal(err)
				}
				if err := h.waitServe(); err != nil {
					t.Fatalf("Serve: %v", err)
				}
				if !bytes.Equal(readRoot(t, h, "out.bin"), want) {
					t.Fatal("stored file differs")
				}
				if n, d := h.splicers[0].splices.Load(), h.tunnel(0).dials.Load(); n != 2 || d != 1 {
					t.Errorf("splices %d, tunnel dials %d; want 2 splices and 1 dial (control)", n, d)
				}
				n := int64(len(want))
				a := h.auditList()
				if len(a) != 2 || a[0].Code != 226 || a[0].Bytes != n || a[1].Code != 226 || a[1].Bytes != n {
					t.Errorf("audit = %+v", a)
				}
				if up, down := h.dataCtr.Up.Load(), h.dataCtr.Down.Load(); up != n || down != n {
					t.Errorf("data totals up=%d down=%d, want %d each", up, down, n)
				}
				if data == DataSocks {
					h.mu.Lock()
					sess := append([]*relay.Counters(nil), h.dataSess...)
					h.mu.Unlock()
					if len(sess) != 2 || sess[0].Down.Load() != n || sess[1].Up.Load() != n {
						t.Errorf("data sessions' own counts wrong (%d sessions)", len(sess))
					}
				} else if up, down := h.counters.Up.Load(), h.counters.Down.Load(); up < n || down < n {
					// The rewrite listener's connections belong to the
					// control session.
					t.Errorf("control session counters up=%d down=%d, want at least %d each", up, down, n)
				}
			})
		}
	}
}

// TestSpliceActive: a SOCKS BIND and a plain PORT are spliced; the BIND's
// second reply goes out (in Ready) before the job gets 200 for its PORT.
func TestSpliceActive(t *testing.T) {
	for _, mode := range spliceModes {
		t.Run(mode.String()+"/bind", func(t *testing.T) {
			h := newHarness(t, testpeer.VSFTPDConfig{PortEnable: false}, Options{})
			h.splice = mode
			want := testpeer.Data(300<<10, 6)
			h.v.WriteFile(t, "act.bin", want)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
			j.login(h.v.User, h.v.Password)
			j.cmd("TYPE I", 200)
			link, ok := h.broker.Claim(DataRequest{Bind: true, Client: loopback, Local: daemonAddr, Host: hostOf(h.v.Addr), Port: 20})
			if !ok {
				t.Fatal("BIND did not match the session")
			}
			client, bindSock, err := tcpPair()
			if err != nil {
				t.Fatal(err)
			}
			replies := make(chan dataReply, 2)
			var own relay.Counters
			served := make(chan error, 1)
			go func() {
				served <- link.Serve(ctx, DataJob{Conn: bindSock, Counters: &own, BindWait: 30 * time.Second, Reply: replyTo(replies)})
			}()
			first := <-replies
			if first.err != nil {
				t.Fatal(first.err)
			}
			arg, _ := FormatPORT(first.addr)
			j.cmd("PORT "+arg, 200)
			select {
			case r := <-replies:
				if r.err != nil || int(r.addr.Port()) < h.v.PasvMin {
					t.Fatalf("second BIND reply %v %v", r.addr, r.err)
				}
			default:
				t.Fatal("200 for PORT came before the BIND's second reply")
			}
			j.send("RETR act.bin")
			if r := j.reply(); r.Code != 150 {
				t.Fatalf("RETR: %d %q", r.Code, r.Lines)
			}
			got := readAll(t, client)
			client.Close()
			j.expect(226)
			if !bytes.Equal(got, want) {
				t.Fatalf("active RETR: %d bytes", len(got))
			}
			if err := <-served; err != nil {
				t.Errorf("Serve = %v", err)
			}
			j.cmd("QUIT", 221)
			if err := h.waitServe(); err != nil {
				t.Fatal(err)
			}
			if n := int64(len(want)); own.Down.Load() != n || h.dataCtr.Down.Load() != n {
				t.Errorf("BIND session down %d, data totals down %d, want %d", own.Down.Load(), h.dataCtr.Down.Load(), n)
			}
			if h.splicers[0].splices.Load() != 1 {
				t.Errorf("%d splices, want 1", h.splicers[0].splices.Load())
			}
		})
		t.Run(mode.String()+"/port", func(t *testing.T) {
			h := newHarness(t, testpeer.VSFTPDConfig{WriteEnable: true}, Options{})
			h.splice = mode
			want := testpeer.Data(200<<10, 8)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
			j.login(h.v.User, h.v.Password)
			j.cmd("TYPE I", 200)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			arg, _ := FormatPORT(ln.Addr().(*net.TCPAddr).AddrPort())
			j.cmd("PORT "+arg, 200)
			ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
			dc, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			j.send("STOR up.bin")
			if r := j.reply(); r.Code != 150 {
				t.Fatalf("STOR: %d %q", r.Code, r.Lines)
			}
			if _, err := dc.Write(want); err != nil {
				t.Fatal(err)
			}
			dc.Close()
			j.expect(226)
			j.cmd("QUIT", 221)
			if err := h.waitServe(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(readRoot(t, h, "up.bin"), want) {
				t.Error("stored file differs")
			}
			if a := h.auditList(); len(a) != 1 || a[0].Code != 226 || a[0].Bytes != int64(len(want)) {
				t.Errorf("audit = %+v", a)
			}
		})
	}
}

// TestSpliceOpenFails: a channel that cannot be opened. Ready after the
// open (builtin): the job's CONNECT gets the failure reply and no success.
// Ready first (openssh): the success went out, the connection is closed,
// and no failure reply follows. Either way the data connection ends
// failed, so that its transfer cannot get 226.
func TestSpliceOpenFails(t *testing.T) {
	for _, mode := range spliceModes {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, testpeer.VSFTPDConfig{}, Options{Data: DataSocks})
			h.splice = mode
			h.v.WriteFile(t, "f.bin", testpeer.Data(64<<10, 1))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
			j.login(h.v.User, h.v.Password)
			h.splicers[0].failOpen.Store(true)
			r := j.cmd("EPSV", 229)
			port, _ := Parse229(r.Lines[0])
			link, ok := h.broker.Claim(DataRequest{Client: loopback, Local: daemonAddr, Host: hostOf(h.v.Addr), Port: port})
			if !ok {
				t.Fatal("no match")
			}
			a, b, err := tcpPair()
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			var replies []dataReply
			err = link.Serve(ctx, DataJob{Conn: b, Reply: func(addr netip.AddrPort, err error) error {
				replies = append(replies, dataReply{addr, err})
				return nil
			}})
			if err == nil {
				t.Fatal("Serve = nil for a channel that did not open")
			}
			wantOK := mode == spliceReadyFirst
			if len(replies) != 1 || (replies[0].err == nil) != wantOK {
				t.Errorf("replies %+v; want one, a success: %v", replies, wantOK)
			}
			if st, derr := link.d.snapshot(); st != dataDone || derr == nil {
				t.Errorf("data connection %v (%v), want done with an error", st, derr)
			}
			j.cmd("QUIT", 221)
			h.waitServe()
		})
	}
}

// TestSpliceCut: the engine cuts the data connection in the middle of a
// RETR and of a STOR (a master that dies): the job gets 426, never 226.
func TestSpliceCut(t *testing.T) {
	for _, mode := range spliceModes {
		for _, verb := range []string{"RETR", "STOR"} {
			t.Run(mode.String()+"/"+verb, func(t *testing.T) {
				h := newHarness(t, testpeer.VSFTPDConfig{WriteEnable: true}, Options{Data: DataSocks})
				h.splice = mode
				h.v.WriteFile(t, "big.bin", testpeer.Data(32<<20, 9))
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
				data := h.binaryEPSV(ctx, j)
				j.send(verb + " big.bin")
				if r := j.reply(); r.Code != 150 {
					t.Fatalf("%s %d", verb, r.Code)
				}
				data.SetDeadline(time.Now().Add(30 * time.Second))
				buf := make([]byte, 64<<10)
				if verb == "RETR" {
					if _, err := io.ReadFull(data, buf); err != nil {
						t.Fatal(err)
					}
				} else if _, err := data.Write(buf); err != nil {
					t.Fatal(err)
				}
				h.tunnel(0).Kill()
				if verb == "STOR" {
					// The job goes on sending until its writes fail.
					for i := 0; i < 1000; i++ {
						if _, err := data.Write(buf); err != nil {
							break
						}
					}
				}
				j.expect(426)
				data.Close()
				h.waitServe()
				if a := h.auditList(); len(a) != 1 || a[0].Code != 426 || a[0].Error == "" {
					t.Errorf("audit = %+v", a)
				}
			})
		}
	}
}

// TestSpliceCancelData: cancelling a data connection's own session (its
// ctx: CANCEL SESSION=n of the data session) ends only that splice: the
// transfer gets 426, and the control session and its tunnel go on.
func TestSpliceCancelData(t *testing.T) {
	h := newHarness(t, testpeer.VSFTPDConfig{}, Options{Data: DataSocks})
	h.splice = spliceReadyFirst
	h.v.WriteFile(t, "big.bin", testpeer.Data(32<<20, 3))
	h.v.WriteFile(t, "small.txt", []byte("small\n"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
	dctx, dcancel := context.WithCancel(ctx)
	data := h.binaryEPSV(dctx, j)
	j.send("RETR big.bin")
	if r := j.reply(); r.Code != 150 {
		t.Fatalf("RETR %d", r.Code)
	}
	data.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(data, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	dcancel()
	j.expect(426)
	io.Copy(io.Discard, data)
	data.Close()
	fs := h.splicers[0]
	fs.mu.Lock()
	closed := len(fs.live) == 1 && fs.live[0].closed.Load()
	fs.mu.Unlock()
	if !closed {
		t.Error("the data connection's Spliced was not closed")
	}
	// The session and its tunnel live on: another transfer works.
	data = h.socksData(ctx, hostOf(h.v.Addr), func() uint16 { p, _ := Parse229(j.cmd("EPSV", 229).Lines[0]); return p }())
	j.send("RETR small.txt")
	if r := j.reply(); r.Code != 150 {
		t.Fatalf("second RETR %d", r.Code)
	}
	got := readAll(t, data)
	data.Close()
	if string(got) != "small\n" {
		t.Errorf("second RETR: %q", got)
	}
	j.expect(226)
	j.cmd("QUIT", 221)
	if err := h.waitServe(); err != nil {
		t.Fatal(err)
	}
}

// readRoot returns a file of vsftpd's root.
func readRoot(t *testing.T, h *harness, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.v.Root, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
