package openssh

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
)

// TestMain runs the test binary as the askpass helper when ssh starts it
// through the AskpassName link, as cmd/socksd does.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == AskpassName {
		os.Exit(AskpassMain(os.Args[1:], os.Stdout))
	}
	if o := os.Getenv(envTestDaemon); o != "" {
		os.Exit(testDaemon(o))
	}
	os.Exit(m.Run())
}

func TestCountsOf(t *testing.T) {
	tests := []struct {
		name                  string
		state                 uint8
		received, acked, outq uint64
		want                  Counts
	}{
		{"established", 1, 100, 50, 10, Counts{Received: 100, Sent: 60, Acked: 50}},
		{"fin received", tcpCloseWait, 101, 50, 0, Counts{Received: 100, Sent: 50, Acked: 50}},
		{"fin received, nothing else", tcpCloseWait, 1, 0, 0, Counts{}},
		{"our fin queued", tcpFinWait1, 7, 50, 11, Counts{Received: 7, Sent: 60, Acked: 50}},
		{"our fin acked", tcpFinWait2, 7, 61, 0, Counts{Received: 7, Sent: 60, Acked: 60}},
		{"both fins, ours acked", tcpTimeWait, 8, 61, 0, Counts{Received: 7, Sent: 60, Acked: 60}},
		{"both fins, ours not acked", tcpLastAck, 8, 60, 1, Counts{Received: 7, Sent: 60, Acked: 60}},
		{"simultaneous close", tcpClosing, 8, 60, 1, Counts{Received: 7, Sent: 60, Acked: 60}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := countsOf(tc.state, tc.received, tc.acked, tc.outq); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestMeterLoopback moves known byte counts over a real loopback
// connection and reads them on both ends (an accepted and a dialed
// socket), with and without the peer closing. A handshake before the
// meters start is left out; bytes the peer sent before them but nobody had
// read are counted.
func TestMeterLoopback(t *testing.T) {
	const up, down, early = 1<<20 + 3, 3<<20 + 5, 9
	for _, peerCloses := range []bool{false, true} {
		name := "peer open"
		if peerCloses {
			name = "peer closed"
		}
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			cc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			client := cc.(*net.TCPConn)
			defer client.Close()
			sc, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			server := sc.(*net.TCPConn)
			defer server.Close()

			// A handshake: 5 bytes up, 4 down; then 9 early bytes that
			// the server has received but not read when the meters start.
			buf := make([]byte, 5)
			mustWrite(t, client, []byte("hello"))
			if _, err := io.ReadFull(server, buf); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, server, []byte("okay"))
			if _, err := io.ReadFull(client, buf[:4]); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, client, make([]byte, early))
			wait.Until(t, "early bytes received", 10*time.Second, func() bool {
				c, err := ReadCounts(server)
				return err == nil && c.Received == 5+early
			})
			ms, err := NewMeter(server)
			if err != nil {
				t.Fatal(err)
			}
			mc, err := NewMeter(client)
			if err != nil {
				t.Fatal(err)
			}

			errc := make(chan error, 2)
			go func() {
				var err error
				if peerCloses {
					var n int64
					n, err = io.Copy(io.Discard, server)
					if err == nil && n != up+early {
						err = io.ErrUnexpectedEOF
					}
				} else {
					_, err = io.CopyN(io.Discard, server, up+early)
				}
				errc <- err
			}()
			go func() {
				if _, err := client.Write(testpeer.Data(up, 1)); err != nil {
					errc <- err
					return
				}
				if peerCloses {
					client.CloseWrite() //nolint:errcheck
				}
				_, err := io.CopyN(io.Discard, client, down)
				errc <- err
			}()
			mustWrite(t, server, testpeer.Data(down, 2))
			for i := 0; i < 2; i++ {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			var c Counts
			ok := wait.For(10*time.Second, func() bool {
				c, err = ms.Read()
				return err == nil && c.Acked == down
			})
			if !ok || c.Received != up+early || c.Sent != down {
				t.Fatalf("server counts %+v (err %v), want received %d, sent and acked %d", c, err, up+early, down)
			}
			ok = wait.For(10*time.Second, func() bool {
				c, err = mc.Read()
				return err == nil && c.Acked == up
			})
			if !ok || c.Received != down || c.Sent != up {
				t.Fatalf("client counts %+v (err %v), want received %d, sent and acked %d", c, err, down, up)
			}
		})
	}
}

func mustWrite(t *testing.T, w io.Writer, b []byte) {
	t.Helper()
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
}
