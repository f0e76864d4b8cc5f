package openssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// openFailedWait bounds how long a refused forward waits for the master's
// log line that gives the server's reason.
const openFailedWait = time.Second

// Fwd is one stdio forward: a client's TCP socket that the master relays to
// a direct-tcpip channel by itself. The bytes never pass through this
// process; their counts come from the kernel (ReadCounts).
type Fwd struct {
	// Channel is the master's channel id (MUX_S_SESSION_OPENED).
	Channel uint32

	m      *Master
	held   *heldSocket
	meter  *Meter
	mc     *muxConn
	closed atomic.Bool
	done   chan struct{}

	mu    sync.Mutex
	err   error
	final Counts
	exit  *uint32
}

// Forward hands conn's descriptor to the master (MUX_C_NEW_STDIO_FWD), which
// relays it to host:port through a direct-tcpip channel, on a control
// connection of its own (the master serves one forward per control
// connection). It returns once the SSH server has confirmed the channel;
// ctx bounds only that.
//
// Forward owns conn from then on: the caller must not read or write it.
// This process keeps a copy of its descriptor, outside Go's poller, so that
// Counts can read the kernel's byte counts, and closes it when the forward
// ends: with a FIN when the
// forward ended normally, with a reset when the master died or the forward
// was closed, so that the client never takes a cut transfer for a complete
// one. A refused channel returns a *MuxError wrapping ErrForwardRefused
// (Detail holds the master's reason when it logged one); conn is then left
// to the caller.
func (m *Master) Forward(ctx context.Context, conn *net.TCPConn, host string, port int) (*Fwd, error) {
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("%w: port %d", ErrBadOptions, port)
	}
	meter, err := NewMeter(conn)
	if err != nil {
		return nil, err
	}
	mc, err := dialMux(ctx, m.sock)
	if err != nil {
		return nil, err
	}
	// Lines of channels refused before (a proxy-mode Client's channels
	// are logged too) must not be taken for this forward's reason.
	m.stderr.dropOpenFailed()
	sid, ferr := mc.stdioFwd(ctx, host, port, conn)
	if ferr != nil {
		mc.close()
		var me *MuxError
		if errors.As(ferr, &me) && errors.Is(me, ErrForwardRefused) {
			me.Detail = m.openFailedReason()
		}
		return nil, ferr
	}
	// The master has its own descriptor now; keep one outside the poller.
	held, err := holdSocket(conn)
	if err != nil {
		mc.close() // the master closes the channel; conn is still the caller's
		return nil, err
	}
	meter.c = held
	f := &Fwd{Channel: sid, m: m, held: held, meter: meter, mc: mc, done: make(chan struct{})}
	go f.watch()
	return f, nil
}

// openFailedReason returns the master's next "channel N: open failed: ..."
// text (bounded wait). mux.c replies before it logs; with several refusals
// at once the lines may be handed out in another order.
func (m *Master) openFailedReason() string {
	t := time.NewTimer(openFailedWait)
	defer t.Stop()
	select {
	case s := <-m.stderr.openFailed:
		return s
	case <-t.C:
		return ""
	case <-m.done:
		return ""
	}
}

// watch reads the control connection until the master closes it, which
// it does when the forward's channel has closed (or when it dies), then
// reads the final counts and closes conn.
func (f *Fwd) watch() {
	var err error
	for {
		p, rerr := f.mc.read()
		if rerr != nil {
			err = rerr
			break
		}
		if p.u32() == muxSExitMessage { // sent for sessions; a stdio forward normally gets none
			p.u32()
			v := p.u32()
			f.mu.Lock()
			f.exit = &v
			f.mu.Unlock()
		}
	}
	f.mc.close()
	switch {
	case f.closed.Load():
		err = ErrForwardClosed
	case !errors.Is(err, ErrMuxProtocol):
		// EOF (or a reset): a normal end and a dead master look alike
		// here, so ask the master.
		if aerr := f.m.gone(); aerr != nil {
			err = fmt.Errorf("openssh: forward on channel %d: %w", f.Channel, errors.Join(ErrMasterGone, aerr))
		} else {
			err = nil
		}
	default:
		err = fmt.Errorf("openssh: forward on channel %d: %w", f.Channel, err)
	}
	final, cerr := f.meter.Read()
	// A reset when cut: the client must see a cut.
	f.held.close(err != nil)
	f.mu.Lock()
	f.err, f.final = err, final
	if err == nil && cerr != nil {
		f.err = cerr
	}
	f.mu.Unlock()
	close(f.done)
}

// Counts returns the byte counts of the client's socket since Forward
// (a Meter): live while the forward runs, the final ones (read just before
// the socket was closed) after it ended. Received is what the client sent,
// Sent what the master wrote to it.
func (f *Fwd) Counts() (Counts, error) {
	select {
	case <-f.done:
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.final, nil
	default:
	}
	c, err := f.meter.Read()
	if err != nil {
		select {
		case <-f.done: // ended meanwhile
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.final, nil
		default:
		}
	}
	return c, err
}

// Done is closed when the forward has ended and conn is closed.
func (f *Fwd) Done() <-chan struct{} { return f.done }

// Wait blocks until the forward ends or ctx is done. It returns nil for a
// normal end, an error wrapping ErrMasterGone when the master died,
// ErrForwardClosed after Close, or ctx's error (the forward goes on).
func (f *Fwd) Wait(ctx context.Context) error {
	select {
	case <-f.done:
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close ends this forward only (never the master): it closes the control
// connection, and the master then closes the channel and its descriptors.
// It waits until the forward has ended.
func (f *Fwd) Close() error {
	f.closed.Store(true)
	f.mc.close()
	<-f.done
	return nil
}
