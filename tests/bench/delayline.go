package bench

import (
	"net"
	"sync"
	"testing"
	"time"
)

// The delay line's limits: each read becomes one chunk of at most
// delayChunk bytes, and at most delayChunks chunks wait in one direction
// (64 MiB), far above what 20 ms at loopback speed holds in flight, so
// that the line adds latency without capping throughput.
const (
	delayChunk  = 64 << 10
	delayChunks = 1024
)

var chunkPool = sync.Pool{New: func() any { b := make([]byte, delayChunk); return &b }}

// chunk is what one read got, and when it may be written on.
type chunk struct {
	buf *[]byte
	n   int
	due time.Time
}

// startDelayLine is a TCP relay on a loopback port in front of target
// that holds the bytes of each direction for oneWay before passing them
// on: the round trip through it grows by 2 × oneWay. Bytes are stamped as
// they arrive and queued, so the line delays them without throttling (no
// sleep per read). A half-close passes on after the bytes before it. The
// relay and its connections end when t ends. It returns the address.
func startDelayLine(t testing.TB, target string, oneWay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("bench: delay line: %v", err)
	}
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	track := func(c net.Conn, add bool) {
		mu.Lock()
		defer mu.Unlock()
		if add {
			conns[c] = true
		} else {
			delete(conns, c)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("tcp", target, 10*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			track(c, true)
			track(up, true)
			var pair sync.WaitGroup
			pair.Add(2)
			wg.Add(2)
			go func() { defer wg.Done(); defer pair.Done(); delayCopy(up, c, oneWay) }()
			go func() { defer wg.Done(); defer pair.Done(); delayCopy(c, up, oneWay) }()
			wg.Add(1)
			go func() {
				defer wg.Done()
				pair.Wait()
				c.Close()
				up.Close()
				track(c, false)
				track(up, false)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// delayCopy copies src to dst, each chunk oneWay after it was read. At the
// end of src it half-closes dst; on an error it closes both.
func delayCopy(dst, src net.Conn, oneWay time.Duration) {
	q := make(chan chunk, delayChunks)
	go func() {
		defer close(q)
		for {
			b := chunkPool.Get().(*[]byte)
			n, err := src.Read(*b)
			if n > 0 {
				q <- chunk{buf: b, n: n, due: time.Now().Add(oneWay)}
			} else {
				chunkPool.Put(b)
			}
			if err != nil {
				return
			}
		}
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	failed := false
	for c := range q {
		if !failed {
			if d := time.Until(c.due); d > 0 {
				timer.Reset(d)
				<-timer.C
			}
			if _, err := dst.Write((*c.buf)[:c.n]); err != nil {
				// Stop the reader and drain what it queued.
				failed = true
				src.Close()
				dst.Close()
			}
		}
		chunkPool.Put(c.buf)
	}
	if !failed {
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}
}
