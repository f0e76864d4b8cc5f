// Package relay copies bytes both ways between two connections, with
// half-close, byte counts, an idle timeout and pooled buffers.
//
// When one side finishes sending, relay closes the write half of the other
// side (CloseWrite) and keeps the opposite direction running, so that nothing
// is truncated when one peer finishes first. When a direction fails with an
// error, both connections are closed at once.
package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// bufSize is the size of a pooled copy buffer.
const bufSize = 64 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

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
// both connections before it returns.
func Relay(ctx context.Context, client, upstream net.Conn, opt Options) Result {
	ctr := opt.Counters
	if ctr == nil {
		ctr = new(Counters)
	}
	r := &run{idle: opt.IdleTimeout, client: client, upstream: upstream}
	r.touch()
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
	client, upstream net.Conn
	last             atomic.Int64 // unix nanos of the last byte moved

	mu      sync.Mutex
	aborted error
}

func (r *run) touch() { r.last.Store(time.Now().UnixNano()) }

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
func (r *run) pump(dst, src net.Conn, n *atomic.Int64, trace func(int)) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var armed time.Time // when the idle deadline was last set
	for {
		r.setDeadline(src, &armed)
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
		}
		if rerr != nil {
			if rerr == io.EOF {
				return nil
			}
			if r.stillBusy(rerr) {
				continue
			}
			return r.readErr(rerr)
		}
	}
}

// setDeadline arms the idle timer on src. It re-arms at most every
// idle/8: setting a deadline costs a timer update per read (on an SSH
// channel, much more than the read itself), and a deadline that fires
// early is harmless, since stillBusy checks the real last activity before
// the relay gives up. *armed is the time of the last arming.
func (r *run) setDeadline(src net.Conn, armed *time.Time) {
	if r.idle <= 0 {
		return
	}
	now := time.Now()
	if now.Sub(*armed) < r.idle/8 {
		return
	}
	*armed = now
	src.SetReadDeadline(now.Add(r.idle))
}

// stillBusy reports whether a read timeout should be ignored because the
// other direction moved bytes recently.
func (r *run) stillBusy(err error) bool {
	if r.idle <= 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	return time.Since(time.Unix(0, r.last.Load())) < r.idle
}

func (r *run) readErr(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) && r.idle > 0 {
		return ErrIdle
	}
	return fmt.Errorf("relay: read: %w", err)
}
