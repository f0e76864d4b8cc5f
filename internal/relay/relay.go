// Package relay copies bytes both ways between two connections, with
// half-close, byte counts, an idle timeout and pooled buffers.
//
// When one side finishes sending, relay closes the write half of the other
// side (CloseWrite) and keeps the opposite direction running, so that nothing
// is truncated when one peer finishes first. When a direction fails with an
// error, both connections are closed at once.
//
// An idle relay is cheap: the idle timeout is kept by one timer per relay
// (no read deadlines), and a direction takes its pooled buffer only once
// bytes are there to read. On a connection with a descriptor it waits for
// readability without a buffer; on others (an SSH channel) it reads into a
// small buffer until a read fills it.
package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// bufSize is the size of a pooled copy buffer.
const bufSize = 64 << 10

// smallSize is the buffer a direction without a descriptor reads into
// until a read fills it.
const smallSize = 2 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Test hooks, set by tests only: testHookGet is called for each pooled
// buffer a relay takes, testHookRead before each read (or wait for
// readability), telling whether the direction holds a pooled buffer.
var (
	testHookGet  func()
	testHookRead func(pooled bool)
)

func getBuf() *[]byte {
	if testHookGet != nil {
		testHookGet()
	}
	return bufPool.Get().(*[]byte)
}

// Counters holds live byte counts of a relay. Up counts bytes from the
// client to the upstream, Down the other way. They may be read at any time.
type Counters struct {
	Up   atomic.Int64
	Down atomic.Int64
}

// Options tunes a relay.
type Options struct {
	// IdleTimeout ends the relay when neither direction has moved a byte
	// for this long. Zero means no idle timeout.
	IdleTimeout time.Duration
	// Counters, when set, is updated as bytes move.
	Counters *Counters
	// Trace, when set, is called after each block is written on, with its
	// direction (up: client to upstream) and size. It runs on the copy
	// path and must not block.
	Trace func(up bool, n int)
}

// ErrIdle reports that the relay ended because both directions were idle.
var ErrIdle = errors.New("relay: idle timeout")

// Result is the outcome of a relay.
type Result struct {
	Up, Down int64 // bytes client→upstream and upstream→client
	Err      error // the first error that ended the relay, nil on clean EOF both ways
}

// closeWriter is a connection that can close its write half.
type closeWriter interface{ CloseWrite() error }

// Relay copies between client and upstream until both directions have
// finished, an error occurs, the idle timeout passes, or ctx ends. It closes
// both connections before it returns. It sets no deadlines. A connection
// that has a descriptor (syscall.Conn) must not hold read bytes of its own
// above it: relay waits on the descriptor before it reads.
func Relay(ctx context.Context, client, upstream net.Conn, opt Options) Result {
	ctr := opt.Counters
	if ctr == nil {
		ctr = new(Counters)
	}
	r := &run{idle: opt.IdleTimeout, start: time.Now(), client: client, upstream: upstream}
	stopWatch := r.watch()
	stop := context.AfterFunc(ctx, func() { r.abort(fmt.Errorf("relay: %w", ctx.Err())) })
	defer stop()

	var wg sync.WaitGroup
	wg.Add(2)
	var upErr, downErr error
	var traceUp, traceDown func(int)
	if opt.Trace != nil {
		traceUp = func(n int) { opt.Trace(true, n) }
		traceDown = func(n int) { opt.Trace(false, n) }
	}
	go func() { defer wg.Done(); upErr = r.copy(upstream, client, &ctr.Up, traceUp) }()
	go func() { defer wg.Done(); downErr = r.copy(client, upstream, &ctr.Down, traceDown) }()
	wg.Wait()
	stopWatch()
	client.Close()
	upstream.Close()

	res := Result{Up: ctr.Up.Load(), Down: ctr.Down.Load()}
	if e := r.abortErr(); e != nil {
		res.Err = e
	} else if upErr != nil {
		res.Err = upErr
	} else {
		res.Err = downErr
	}
	return res
}

// run is the shared state of one relay.
type run struct {
	idle             time.Duration
	start            time.Time // the relay's start, on the monotonic clock
	client, upstream net.Conn
	last             atomic.Int64 // when the last byte moved, as time since start

	mu      sync.Mutex
	aborted error
}

// touch records that bytes moved now.
func (r *run) touch() { r.last.Store(int64(time.Since(r.start))) }

// watch starts the relay's idle watchdog: one timer that, when it fires,
// aborts the relay with ErrIdle if no byte moved for the idle timeout, and
// otherwise re-arms for the rest of the timeout. It returns the function
// that stops it.
func (r *run) watch() (stop func()) {
	if r.idle <= 0 {
		return func() {}
	}
	var mu sync.Mutex
	var t *time.Timer
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(r.idle, func() {
		left := r.idle - (time.Since(r.start) - time.Duration(r.last.Load()))
		if left <= 0 {
			r.abort(ErrIdle)
			return
		}
		mu.Lock()
		t.Reset(left)
		mu.Unlock()
	})
	return func() {
		mu.Lock()
		t.Stop()
		mu.Unlock()
	}
}

// abort ends both directions at once.
func (r *run) abort(err error) {
	r.mu.Lock()
	if r.aborted == nil {
		r.aborted = err
	}
	r.mu.Unlock()
	r.client.Close()
	r.upstream.Close()
}

func (r *run) abortErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.aborted
}

// copy moves bytes from src to dst until EOF or error. On EOF it half-closes
// dst; on error it aborts the whole relay.
func (r *run) copy(dst, src net.Conn, n *atomic.Int64, trace func(int)) error {
	err := r.pump(dst, src, n, trace)
	if err == nil {
		// Pass the EOF on; a peer that cannot be half-closed gets it when
		// the relay ends and closes both sides.
		if cw, ok := dst.(closeWriter); ok {
			cw.CloseWrite()
		}
		return nil
	}
	if r.abortErr() != nil {
		return nil
	}
	r.abort(err)
	return err
}

// pump is the copy loop proper. It returns nil on EOF from src. trace,
// when set, is told the size of each block written.
//
// It takes its pooled buffer only once src has bytes to read: a src with a
// descriptor is first waited on until readable; any other src is read into
// a small buffer until a read fills it.
func (r *run) pump(dst, src net.Conn, n *atomic.Int64, trace func(int)) error {
	var bp *[]byte
	defer func() {
		if bp != nil {
			bufPool.Put(bp)
		}
	}()
	var buf []byte
	wait := readWaiter(src)
	for {
		if testHookRead != nil {
			testHookRead(bp != nil)
		}
		if bp == nil {
			switch {
			case wait != nil:
				if err := wait(); err != nil {
					return r.readErr(err)
				}
				bp = getBuf()
				buf = *bp
			case buf == nil:
				buf = make([]byte, smallSize)
			}
		}
		nr, rerr := src.Read(buf)
		if nr > 0 {
			r.touch()
			nw, werr := dst.Write(buf[:nr])
			n.Add(int64(nw))
			if trace != nil && nw > 0 {
				trace(nw)
			}
			if werr != nil {
				return fmt.Errorf("relay: write: %w", werr)
			}
			if bp == nil && nr == len(buf) {
				// The small buffer filled: bulk bytes are coming.
				bp = getBuf()
				buf = *bp
			}
		}
		if rerr != nil {
			if rerr == io.EOF {
				return nil
			}
			return r.readErr(rerr)
		}
	}
}

func (r *run) readErr(err error) error {
	return fmt.Errorf("relay: read: %w", err)
}
