package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"socksd/internal/relay"
	"socksd/tunnel/openssh"
)

// SpliceOptions says how a spliced connection is carried.
type SpliceOptions struct {
	// IdleTimeout ends the connection after this long without a byte
	// moving either way; 0 = none. builtin: the relay's idle timeout;
	// openssh: checked from the kernel's counts about once a second.
	IdleTimeout time.Duration
	// Counters are each updated as bytes move (Up: conn to addr, Down: addr
	// to conn): builtin live per block; openssh from TCP_INFO about once a
	// second while the forward runs, and exactly at its end.
	Counters []*relay.Counters
	// Trace is called as bytes move, after Counters: builtin per block
	// written (see relay.Options); openssh per direction with the bytes
	// the kernel's counts show moved since the last reading.
	Trace func(up bool, n int)
	// Ready is called exactly once, just before the bytes start to flow,
	// when the caller must send its own reply on conn (the SOCKS success).
	// builtin: after the channel is open. openssh: before the socket is
	// handed to the master (from then on the master writes to it). If Ready
	// returns an error, Splice closes conn and returns that error.
	Ready func() error
}

// Spliced is a connection being carried by Splice.
type Spliced struct {
	done   chan struct{}
	res    relay.Result
	cancel context.CancelFunc // builtin: ends the relay
	fwd    *openssh.Fwd       // openssh: the forward
	closed chan struct{}
	once   sync.Once
}

// Engine names the engine carrying the lease: "builtin" or "openssh".
func (l *Lease) Engine() string { return l.c.engine }

// Splice carries conn to addr ("host:port", resolved by the SSH server)
// through a direct-tcpip channel of the lease's connection, until both
// directions end, ctx ends, or the Spliced is closed. builtin: socksd
// relays (internal/relay). openssh: conn must be a *net.TCPConn (otherwise
// the builtin-style relay over a proxy-mode channel is used) and is handed
// to the master; its bytes bypass socksd. On an error before Ready was
// called, conn is still the caller's (it may send a failure reply); after
// Ready, Splice owns conn and closes it when the connection ends. The
// lease stays the caller's: it must outlive the Spliced (close it after
// Wait returns). A refused channel is a *ChannelError.
func (l *Lease) Splice(ctx context.Context, addr string, conn net.Conn, opt SpliceOptions) (*Spliced, error) {
	if l.c.master != nil {
		if tc, ok := conn.(*net.TCPConn); ok {
			return l.spliceForward(ctx, addr, tc, opt)
		}
	}
	return l.spliceRelay(ctx, addr, conn, opt)
}

// spliceRelay is Splice by internal/relay over a channel of the lease.
func (l *Lease) spliceRelay(ctx context.Context, addr string, conn net.Conn, opt SpliceOptions) (*Spliced, error) {
	up, err := l.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if opt.Ready != nil {
		if err := opt.Ready(); err != nil {
			up.Close()
			conn.Close()
			return nil, err
		}
	}
	ro := relay.Options{IdleTimeout: opt.IdleTimeout, Trace: opt.Trace}
	if len(opt.Counters) > 0 {
		ro.Counters = opt.Counters[0]
	}
	if rest := opt.Counters[min(1, len(opt.Counters)):]; len(rest) > 0 {
		trace := opt.Trace
		ro.Trace = func(isUp bool, n int) {
			for _, c := range rest {
				if isUp {
					c.Up.Add(int64(n))
				} else {
					c.Down.Add(int64(n))
				}
			}
			if trace != nil {
				trace(isUp, n)
			}
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	s := &Spliced{done: make(chan struct{}), cancel: cancel, closed: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer cancel()
		s.res = relay.Relay(rctx, conn, up, ro)
	}()
	return s, nil
}

// pollInterval is how often an openssh forward's counts are read.
const pollInterval = time.Second

// spliceForward is Splice by handing conn to the lease's master.
func (l *Lease) spliceForward(ctx context.Context, addr string, conn *net.TCPConn, opt SpliceOptions) (*Spliced, error) {
	host, portText, err := net.SplitHostPort(addr)
	port, perr := strconv.ParseUint(portText, 10, 16)
	if err != nil || host == "" || perr != nil || port == 0 {
		return nil, fmt.Errorf("tunnel: address %q: want host:port", addr)
	}
	release, err := l.claim(false)
	if err != nil {
		return nil, err
	}
	if opt.Ready != nil {
		if err := opt.Ready(); err != nil {
			release()
			conn.Close()
			return nil, err
		}
	}
	c := l.c
	fwd, err := c.master.Forward(ctx, conn, host, int(port))
	if err != nil {
		release()
		conn.Close() // Ready was called: the socket is ours
		return nil, c.forwardError(ctx, addr, err)
	}
	s := &Spliced{done: make(chan struct{}), fwd: fwd, closed: make(chan struct{})}
	go s.watchForward(ctx, c, fwd, opt, release)
	return s, nil
}

// watchForward polls the forward's counts into the counters, ends it when
// it is idle or ctx ends, and records the result.
func (s *Spliced) watchForward(ctx context.Context, c *tconn, fwd *openssh.Fwd, opt SpliceOptions, release func()) {
	defer close(s.done)
	defer release()
	var last openssh.Counts
	report := func(now openssh.Counts) {
		up, down := int64(now.Received)-int64(last.Received), int64(now.Sent)-int64(last.Sent)
		if up == 0 && down == 0 {
			return
		}
		for _, ctr := range opt.Counters {
			ctr.Up.Add(up)
			ctr.Down.Add(down)
		}
		c.bytesUp.Add(up)
		c.bytesDown.Add(down)
		last = now
		if opt.Trace != nil && up > 0 {
			opt.Trace(true, int(up))
		}
		if opt.Trace != nil && down > 0 {
			opt.Trace(false, int(down))
		}
	}
	interval := pollInterval
	if opt.IdleTimeout > 0 && opt.IdleTimeout/4 < interval {
		interval = max(opt.IdleTimeout/4, 10*time.Millisecond)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	moved := time.Now()
	var endErr error
loop:
	for {
		select {
		case <-fwd.Done():
			break loop
		case <-s.closed:
			endErr = errors.New("tunnel: splice closed")
			fwd.Close()
			break loop
		case <-ctx.Done():
			endErr = fmt.Errorf("tunnel: splice: %w", ctx.Err())
			fwd.Close()
			break loop
		case <-tick.C:
		}
		now, err := fwd.Counts()
		if err != nil {
			continue
		}
		if now != last {
			report(now)
			moved = time.Now()
		} else if opt.IdleTimeout > 0 && time.Since(moved) >= opt.IdleTimeout {
			endErr = relay.ErrIdle
			fwd.Close()
			break loop
		}
	}
	final, _ := fwd.Counts()
	report(final)
	err := fwd.Wait(context.Background())
	if endErr != nil {
		err = endErr
	} else if err != nil {
		err = fmt.Errorf("tunnel: %s: %w", c.id, c.forwardLost(err))
	}
	s.res = relay.Result{Up: int64(final.Received), Down: int64(final.Sent), Err: err}
}

// Wait blocks until the connection has ended and returns its byte counts
// (exact) and why it ended: Err is nil on a clean end both ways, never
// after a cut (a master that died, Close, ctx, the idle timeout).
func (s *Spliced) Wait() relay.Result {
	<-s.done
	return s.res
}

// Close ends this connection only, never a shared connection or master,
// and waits until it has ended.
func (s *Spliced) Close() {
	s.once.Do(func() {
		close(s.closed)
		if s.cancel != nil {
			s.cancel()
		}
	})
	<-s.done
}
