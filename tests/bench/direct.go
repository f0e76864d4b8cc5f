package bench

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"
)

// directConfig relays loopback connections directly.
const directConfig = `
[server]
listen = ["127.0.0.1:0"]
max_sessions = 12000
[log]
level = "warn"
[console]
socket = ""
[[rules]]
name = "loopback"
to = ["127.0.0.0/8"]
action = "direct"
`

// transferTimeout bounds one bulk transfer, whatever its size.
const transferTimeout = 10 * time.Minute

// sink accepts connections and discards what they send; each connection
// reports its byte count on the returned channel when it ends. It stops
// when t ends.
func sink(t testing.TB) (string, <-chan int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan int64, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				n, _ := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
				c.Close()
				done <- n
			}()
		}
	}()
	return ln.Addr().String(), done
}

// push sends size bytes over c, closes it, and returns MB/s counted when
// the receiver has seen the last byte.
func push(c net.Conn, size int64, done <-chan int64) (float64, error) {
	buf := make([]byte, 256<<10)
	_ = c.SetDeadline(time.Now().Add(transferTimeout))
	start := time.Now()
	for sent := int64(0); sent < size; {
		n := min(int64(len(buf)), size-sent)
		if _, err := c.Write(buf[:n]); err != nil {
			c.Close()
			return 0, fmt.Errorf("bench: write after %d bytes: %w", sent, err)
		}
		sent += n
	}
	c.Close()
	select {
	case got := <-done:
		if got != size {
			return 0, fmt.Errorf("bench: receiver got %d of %d bytes", got, size)
		}
	case <-time.After(transferTimeout):
		return 0, fmt.Errorf("bench: receiver did not finish within %v", transferTimeout)
	}
	return mbps(size, time.Since(start)), nil
}

// mbps is bytes over d in MB/s (10^6 bytes).
func mbps(bytes int64, d time.Duration) float64 {
	return float64(bytes) / 1e6 / d.Seconds()
}

// BenchDirect measures a bulk upload through a direct rule against the
// same upload over plain loopback TCP.
func BenchDirect(t testing.TB, e *Env) []Row {
	d := testpeer.StartSocksd(t, e.Bin, directConfig)
	addr, done := sink(t)
	viaSocksd := socks5(t, d.Addr, "", "")
	r := Row{Section: SecDirect, Label: "direct relay",
		Name: fmt.Sprintf("throughput, %d MiB upload through a `direct` rule", e.Opt.SizeMiB),
		Unit: "MB/s", RefName: "plain loopback TCP, same sender and receiver"}
	for i := 0; i < e.Opt.Runs; i++ {
		// Alternate the order, so that drift on the machine hits both alike.
		for _, ours := range order(i) {
			dial := direct
			if ours {
				dial = viaSocksd
			}
			c, err := dial("tcp", addr)
			if err != nil {
				t.Fatalf("bench: dial (socksd=%v): %v", ours, err)
			}
			v, err := push(c, e.Opt.Size(), done)
			if err != nil {
				t.Fatalf("bench: socksd=%v: %v", ours, err)
			}
			if ours {
				r.Ours = append(r.Ours, v)
			} else {
				r.Ref = append(r.Ref, v)
			}
		}
		e.Logf("direct run %d: socksd %.0f MB/s, loopback %.0f MB/s", i+1, r.Ours[i], r.Ref[i])
	}
	return []Row{r}
}

// order returns which side runs first in run i: socksd (true) or the
// reference (false), alternating.
func order(i int) []bool {
	if i%2 == 0 {
		return []bool{false, true}
	}
	return []bool{true, false}
}

// BenchIdleDirect measures socksd's resident memory per idle direct
// session with many open. Each run starts a fresh daemon.
func BenchIdleDirect(t testing.TB, e *Env) []Row {
	r := Row{Section: SecIdle, Label: "idle direct",
		Name: fmt.Sprintf("resident memory per idle `direct` session, %d open", e.Opt.IdleSessions),
		Unit: "KiB"}
	for i := 0; i < e.Opt.Runs; i++ { // cheap: every run
		per, err := idleDirectOnce(t, e)
		if err != nil {
			t.Fatalf("bench: idle run %d: %v", i+1, err)
		}
		e.Logf("idle direct run %d: %.1f KiB per session", i+1, per)
		r.Ours = append(r.Ours, per)
	}
	return []Row{r}
}

// holder accepts connections and keeps them open until closed.
type holder struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	done  chan struct{}
}

func newHolder() (*holder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	h := &holder{ln: ln, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
		}
	}()
	return h, nil
}

func (h *holder) close() {
	h.ln.Close()
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.Close()
	}
}

func idleDirectOnce(t testing.TB, e *Env) (float64, error) {
	d, err := testpeer.LaunchSocksd(e.Bin, t.TempDir(), directConfig)
	if err != nil {
		return 0, err
	}
	defer d.Kill()
	h, err := newHolder()
	if err != nil {
		return 0, err
	}
	defer h.close()
	dial := socks5(t, d.Addr, "", "")
	var mu sync.Mutex
	var clients []net.Conn
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range clients {
			c.Close()
		}
	}()
	// One session first, so that the baseline includes warm buffers.
	warm, err := dial("tcp", h.ln.Addr().String())
	if err != nil {
		return 0, err
	}
	clients = append(clients, warm)
	return perSession(func() (int64, error) { return RSSKiB(d.PID()) }, e.Opt.IdleSessions, func(i int) error {
		c, err := dial("tcp", h.ln.Addr().String())
		if err != nil {
			return fmt.Errorf("session %d: %w", i, err)
		}
		mu.Lock()
		clients = append(clients, c)
		mu.Unlock()
		return nil
	})
}

// openWorkers is how many sessions perSession opens at a time.
const openWorkers = 4

// perSession reads the resident memory with rss, opens n sessions with
// open (a few at a time; open must be safe for concurrent use), reads it
// again, and returns the growth per session in KiB.
func perSession(rss func() (int64, error), n int, open func(i int) error) (float64, error) {
	before, err := rss()
	if err != nil {
		return 0, err
	}
	next := make(chan int)
	errs := make(chan error, openWorkers)
	var wg sync.WaitGroup
	for w := 0; w < openWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := open(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var first error
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case first = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil {
		select {
		case first = <-errs:
		default:
		}
	}
	if first != nil {
		return 0, first
	}
	after, err := rss()
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(n), nil
}
