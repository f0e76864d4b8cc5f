package relay

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"socksd/internal/testing/wait"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- nil
			return
		}
		ch <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-ch
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// plain hides the concrete type so that relay takes its buffered path.
type plain struct{ net.Conn }

func (p plain) CloseWrite() error { return p.Conn.(*net.TCPConn).CloseWrite() }

func TestRelayHalfCloseBothPaths(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		name := "tcp"
		if wrap {
			name = "wrapped"
		}
		t.Run(name, func(t *testing.T) {
			cli, relayCli := tcpPair(t)
			relayUp, srv := tcpPair(t)
			var rc, ru net.Conn = relayCli, relayUp
			if wrap {
				rc, ru = plain{relayCli}, plain{relayUp}
			}
			payload := make([]byte, 3<<20+17)
			rand.Read(payload)
			want := sha256.Sum256(payload)

			// The server reads everything, then answers with its digest: the
			// answer can only arrive if the client's EOF was passed on and
			// the reverse direction stayed open.
			go func() {
				h := sha256.New()
				io.Copy(h, srv)
				srv.Write(h.Sum(nil))
				srv.Close()
			}()
			done := make(chan Result, 1)
			go func() { done <- Relay(context.Background(), rc, ru, Options{IdleTimeout: time.Minute}) }()

			if _, err := cli.Write(payload); err != nil {
				t.Fatal(err)
			}
			cli.(*net.TCPConn).CloseWrite()
			got, err := io.ReadAll(cli)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want[:]) {
				t.Fatalf("digest mismatch: got %x", got)
			}
			res := <-done
			if res.Err != nil {
				t.Fatalf("relay error: %v", res.Err)
			}
			if res.Up != int64(len(payload)) || res.Down != 32 {
				t.Fatalf("counts up=%d down=%d", res.Up, res.Down)
			}
		})
	}
}

func TestRelayIdleTimeout(t *testing.T) {
	cli, rc := tcpPair(t)
	ru, srv := tcpPair(t)
	_ = cli
	_ = srv
	res := Relay(context.Background(), rc, ru, Options{IdleTimeout: 50 * time.Millisecond})
	if !errors.Is(res.Err, ErrIdle) {
		t.Fatalf("err = %v, want ErrIdle", res.Err)
	}
	// Both relay ends are closed: the outer peers see EOF.
	cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := cli.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read after idle: %v", err)
	}
}

func TestRelayIdleNotTriggeredByOneWayTraffic(t *testing.T) {
	cli, rc := tcpPair(t)
	ru, srv := tcpPair(t)
	done := make(chan Result, 1)
	go func() { done <- Relay(context.Background(), rc, ru, Options{IdleTimeout: 100 * time.Millisecond}) }()
	// The server trickles data for several idle periods while the client
	// sends nothing; the relay must not end.
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 25; i++ {
			<-tick.C
			srv.Write([]byte("x"))
		}
		srv.Close()
	}()
	got, _ := io.ReadAll(cli)
	if len(got) != 25 {
		t.Fatalf("client got %d bytes, want 25", len(got))
	}
	cli.Close()
	if res := <-done; res.Down != 25 {
		t.Fatalf("down = %d", res.Down)
	}
}

func TestRelayCancel(t *testing.T) {
	_, rc := tcpPair(t)
	ru, _ := tcpPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Result, 1)
	go func() { done <- Relay(ctx, rc, ru, Options{}) }()
	cancel()
	select {
	case res := <-done:
		if !errors.Is(res.Err, context.Canceled) {
			t.Fatalf("err = %v", res.Err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("relay did not end after cancel")
	}
}

func TestRelayLiveCounters(t *testing.T) {
	cli, rc := tcpPair(t)
	ru, srv := tcpPair(t)
	var ctr Counters
	done := make(chan Result, 1)
	go func() { done <- Relay(context.Background(), rc, ru, Options{Counters: &ctr}) }()
	cli.Write([]byte("hello"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(srv, buf); err != nil {
		t.Fatal(err)
	}
	// The counter is bumped just after the write returns: wait for it.
	wait.Until(t, "the live up counter to reach 5", 5*time.Second, func() bool { return ctr.Up.Load() == 5 })
	cli.Close()
	srv.Close()
	<-done
}

func TestRelayTrace(t *testing.T) {
	cli, rc := tcpPair(t)
	ru, srv := tcpPair(t)
	var mu sync.Mutex
	var calls int
	sum := map[bool]int{}
	trace := func(up bool, n int) {
		mu.Lock()
		defer mu.Unlock()
		if n <= 0 || n > bufSize {
			t.Errorf("trace of a %d-byte block", n)
		}
		calls++
		sum[up] += n
	}
	done := make(chan Result, 1)
	go func() { done <- Relay(context.Background(), rc, ru, Options{Trace: trace}) }()
	up := make([]byte, 1<<20+3)
	down := make([]byte, 200<<10)
	rand.Read(up)
	rand.Read(down)
	go func() {
		srv.Write(down)
		io.Copy(io.Discard, srv)
		srv.Close()
	}()
	go func() {
		cli.Write(up)
		cli.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(cli)
	if err != nil || !bytes.Equal(got, down) {
		t.Fatalf("down: %v, %d bytes", err, len(got))
	}
	res := <-done
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	mu.Lock()
	defer mu.Unlock()
	// Every byte is traced once, in its direction, in blocks no larger
	// than the copy buffer.
	if sum[true] != len(up) || sum[false] != len(down) {
		t.Errorf("traced up %d down %d, want %d and %d", sum[true], sum[false], len(up), len(down))
	}
	if min := (len(up)+bufSize-1)/bufSize + (len(down)+bufSize-1)/bufSize; calls < min {
		t.Errorf("%d trace calls, want at least %d", calls, min)
	}
}

// noDeadlines is a connection without a descriptor that fails the test if
// a deadline is set on it, as an SSH channel would be.
type noDeadlines struct {
	plain
	t *testing.T
}

func (c noDeadlines) SetDeadline(time.Time) error {
	c.t.Error("relay set a deadline")
	return errors.New("no deadlines")
}

func (c noDeadlines) SetReadDeadline(t time.Time) error  { return c.SetDeadline(t) }
func (c noDeadlines) SetWriteDeadline(t time.Time) error { return c.SetDeadline(t) }

// TestRelayIdleWatchdog: the idle timeout ends a relay between connections
// that have neither deadlines nor descriptors, and closes both.
func TestRelayIdleWatchdog(t *testing.T) {
	cli, rc := tcpPair(t)
	ru, srv := tcpPair(t)
	done := make(chan Result, 1)
	go func() {
		done <- Relay(context.Background(), noDeadlines{plain{rc}, t}, noDeadlines{plain{ru}, t}, Options{IdleTimeout: 50 * time.Millisecond})
	}()
	// Some traffic first: the watchdog counts from the last byte.
	cli.Write([]byte("ping"))
	if _, err := io.ReadFull(srv, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if !errors.Is(res.Err, ErrIdle) || res.Up != 4 {
			t.Fatalf("result %+v, want ErrIdle after 4 bytes up", res)
		}
	case <-time.After(time.Minute):
		t.Fatal("an idle relay did not end")
	}
	for _, c := range []net.Conn{cli, srv} {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("outer peer read after idle: %v, want EOF", err)
		}
	}
}

// hookedTCP hides nothing of *net.TCPConn (it keeps its descriptor) but
// is another type, for the table below.
type hookedTCP struct{ *net.TCPConn }

// TestRelayNoPooledBufferWhileIdle: neither direction takes a pooled
// buffer before its first byte; with a descriptor it takes one when bytes
// arrive, without one only when a read fills its small buffer.
func TestRelayNoPooledBufferWhileIdle(t *testing.T) {
	for _, tc := range []struct {
		name        string
		wrap        func(net.Conn) net.Conn
		getsAfter1B int64 // pooled buffers taken after one byte each way
	}{
		{"descriptor", func(c net.Conn) net.Conn { return hookedTCP{c.(*net.TCPConn)} }, 2},
		{"no descriptor", func(c net.Conn) net.Conn { return noDeadlines{plain{c}, t} }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gets, idleReads atomic.Int64
			testHookGet = func() { gets.Add(1) }
			testHookRead = func(pooled bool) {
				if !pooled {
					idleReads.Add(1)
				}
			}
			cli, rc := tcpPair(t)
			ru, srv := tcpPair(t)
			done := make(chan Result, 1)
			go func() { done <- Relay(context.Background(), tc.wrap(rc), tc.wrap(ru), Options{IdleTimeout: time.Hour}) }()
			t.Cleanup(func() {
				cli.Close()
				srv.Close()
				<-done
				testHookGet, testHookRead = nil, nil
			})
			wait.Until(t, "both directions to wait for their first byte", 10*time.Second, func() bool { return idleReads.Load() >= 2 })
			if n := gets.Load(); n != 0 {
				t.Fatalf("%d pooled buffers taken before the first byte", n)
			}
			for _, p := range [][2]net.Conn{{cli, srv}, {srv, cli}} {
				p[0].Write([]byte("x"))
				if _, err := io.ReadFull(p[1], make([]byte, 1)); err != nil {
					t.Fatal(err)
				}
			}
			if n := gets.Load(); n != tc.getsAfter1B {
				t.Fatalf("%d pooled buffers taken after a byte each way, want %d", n, tc.getsAfter1B)
			}
			// A bulk block still moves whole, with a pooled buffer.
			big := make([]byte, 3*bufSize)
			rand.Read(big)
			go cli.Write(big)
			got := make([]byte, len(big))
			if _, err := io.ReadFull(srv, got); err != nil || !bytes.Equal(got, big) {
				t.Fatalf("bulk block: %v", err)
			}
			if n := gets.Load(); n < 1 {
				t.Fatal("no pooled buffer for a bulk block")
			}
		})
	}
}
