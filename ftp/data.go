package ftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"socksd/internal/relay"
	"socksd/msg"
)

// Outcomes of a data connection that did not relay.
var (
	errDataUnused     = errors.New("ftp: data connection not used")
	errDataClosed     = errors.New("ftp: data connection closed before use")
	errDataAbandoned  = errors.New("ftp: data connection abandoned before use")
	errDataSessionEnd = errors.New("ftp: data connection: FTP session ended")
)

// dataDeps is what a data connection needs from the control session that
// prepared it: no more than these values and functions, and no way back to
// the session itself. One dataDeps serves all data connections of a
// session.
type dataDeps struct {
	id     uint64          // the control session's id, for messages
	log    zerolog.Logger  // the control session's logger
	ctx    context.Context // the control session's life: data connections end with it
	client netip.Addr      // the job's address: the only peer a rewrite listener takes
	idle   time.Duration   // idle timeout of a relay; 0 = none
	via    string          // the SSH server that carries the session, for the data sessions' logs
	// dial opens a channel to addr through the session's tunnel.
	dial func(ctx context.Context, addr string) (net.Conn, error)
	// splice, when set, carries a job's connection through the session's
	// tunnel instead of dial and a relay (see Splicer).
	splice spliceFunc
	// owned counts the data connections that have no socksd session of
	// their own (rewrite listener, plain PORT): they belong to the control
	// session. trace is the control session's trace hook for them.
	owned *relay.Counters
	trace func(up bool, n int)
	// data counts every data connection of the session, whichever socksd
	// session carried it.
	data *relay.Counters
	// spawn runs f in a goroutine that the session waits for when it ends.
	spawn func(f func())
	// withdraw removes a data connection from the broker's tables.
	withdraw func(d *dataConn)
}

// dataConn is one data connection, from the PASV/EPSV reply or the BIND
// that prepared it to its end. Its state (see dataState) changes only
// through step, under mu. Exactly one job connection can take it: through
// the broker (a SOCKS CONNECT or BIND), a rewrite listener, or socksd's own
// connect to a PORT address.
type dataConn struct {
	deps *dataDeps
	mode string         // "passive" or "active"
	ctr  relay.Counters // the transfer's bytes, both directions

	mu     sync.Mutex
	state  dataState
	target string             // host:port of the channel through the tunnel
	up     net.Conn           // the tunnel channel, while bound
	peer   netip.AddrPort     // active: the server's data address, for the BIND's second reply
	ln     net.Listener       // the rewrite listener, while waiting
	cancel context.CancelFunc // ends the relay, while open
	err    error              // the outcome, once done

	bound   chan struct{} // closed when the state becomes bound
	done    chan struct{} // closed when the state becomes done
	carried chan struct{} // closed when a splice carries the bytes (see splice)
}

func newDataConn(deps *dataDeps, mode, target string) *dataConn {
	return &dataConn{deps: deps, mode: mode, target: target, bound: make(chan struct{}), done: make(chan struct{}), carried: make(chan struct{})}
}

// step moves d from one state to another and reports whether it did: it
// does nothing when d is not in from or the machine does not allow the
// move. set, when given, runs under the lock as part of the move. Leaving
// waiting closes the rewrite listener; reaching done records err, closes a
// tunnel channel that no relay took and stops a splice still opening.
func (d *dataConn) step(from, to dataState, err error, set func()) bool {
	d.mu.Lock()
	if d.state != from || !canMove(from, to) {
		d.mu.Unlock()
		return false
	}
	d.state = to
	if set != nil {
		set()
	}
	var release []io.Closer
	if from == dataWaiting && d.ln != nil {
		release = append(release, d.ln)
		d.ln = nil
	}
	switch to {
	case dataBound:
		close(d.bound)
	case dataDone:
		d.err = err
		if d.up != nil {
			release = append(release, d.up)
			d.up = nil
		}
		if d.cancel != nil {
			defer d.cancel()
		}
		close(d.done)
	}
	d.mu.Unlock()
	for _, c := range release {
		c.Close()
	}
	return true
}

// claim pairs a waiting connection with a job connection (passive); false
// if another connection took it or it ended.
func (d *dataConn) claim() bool { return d.step(dataWaiting, dataBound, nil, nil) }

// bind pairs a waiting connection with its opened tunnel channel (active);
// false, and up untouched, if it is no longer waiting.
func (d *dataConn) bind(target string, up net.Conn, peer netip.AddrPort) bool {
	return d.step(dataWaiting, dataBound, nil, func() { d.target, d.up, d.peer = target, up, peer })
}

// fail ends d with err if it has not begun to relay.
func (d *dataConn) fail(err error) {
	if !d.step(dataWaiting, dataDone, err, nil) {
		d.step(dataBound, dataDone, err, nil)
	}
}

// close releases d for the session: one that was never paired ends as
// unused, one paired but not relaying ends as closed, a running relay is
// stopped (and records its own outcome). It also leaves the broker.
func (d *dataConn) close() {
	d.deps.withdraw(d)
	if d.step(dataWaiting, dataDone, errDataUnused, nil) || d.step(dataBound, dataDone, errDataClosed, nil) {
		return
	}
	d.mu.Lock()
	cancel := d.cancel
	d.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// snapshot returns d's state and, once done, its outcome.
func (d *dataConn) snapshot() (dataState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state, d.err
}

// bytes returns the bytes the transfer moved so far, both directions.
func (d *dataConn) bytes() int64 { return d.ctr.Up.Load() + d.ctr.Down.Load() }

// dial opens a channel to target through the session's tunnel, bounded by
// dialTimeout, ctx and the session's life.
func (d *dataConn) dial(ctx context.Context, target string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	stop := context.AfterFunc(d.deps.ctx, cancel)
	defer stop()
	return d.deps.dial(ctx, target)
}

// openChannel dials the tunnel channel of a bound passive connection. On
// failure d ends with the error.
func (d *dataConn) openChannel(ctx context.Context) error {
	d.mu.Lock()
	target := d.target
	d.mu.Unlock()
	up, err := d.dial(ctx, target)
	if err != nil {
		d.fail(err)
		return err
	}
	attached := false
	d.mu.Lock()
	if d.state == dataBound {
		d.up, attached = up, true
	}
	d.mu.Unlock()
	if !attached {
		up.Close()
		return errDataClosed
	}
	return nil
}

// serve relays between the job's connection and d's tunnel channel until
// both directions end, ctx or the session ends, or d is closed. The bytes
// count for the transfer, for the data totals of the session, and on own
// (the socksd session that carries the connection); trace is told each
// block. It closes client.
func (d *dataConn) serve(ctx context.Context, client net.Conn, own *relay.Counters, trace func(up bool, n int)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(d.deps.ctx, cancel)
	defer stop()
	var up net.Conn
	if !d.step(dataBound, dataOpen, nil, func() { up, d.up, d.cancel = d.up, nil, cancel }) {
		client.Close()
		_, err := d.snapshot()
		if err == nil {
			err = errDataClosed
		}
		return err
	}
	if ctrs := countersOf(own, d.deps.data); len(ctrs) > 0 {
		client = &countConn{Conn: client, ctrs: ctrs}
	}
	res := relay.Relay(ctx, client, up, relay.Options{IdleTimeout: d.deps.idle, Counters: &d.ctr, Trace: trace})
	d.step(dataOpen, dataDone, res.Err, nil)
	if res.Err != nil {
		// The transfer's SOX0308W (and the data session's end) report it.
		d.deps.log.Debug().Err(res.Err).Str("mode", d.mode).Int64("bytes", res.Up+res.Down).Msg("FTP data relay failed")
		return fmt.Errorf("ftp: data relay: %w", res.Err)
	}
	return nil
}

// listen opens a rewrite listener on local and serves the first connection
// from the job's address through the tunnel. The listener closes when d
// leaves waiting, or after listenTimeout.
func (d *dataConn) listen(local netip.Addr) (netip.AddrPort, error) {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(local, 0).String())
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("ftp: data listener: %w", err)
	}
	d.mu.Lock()
	waiting := d.state == dataWaiting
	if waiting {
		d.ln = ln
	}
	d.mu.Unlock()
	if !waiting {
		ln.Close()
		return netip.AddrPort{}, errDataClosed
	}
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	if tl, ok := ln.(*net.TCPListener); ok {
		_ = tl.SetDeadline(time.Now().Add(listenTimeout))
	}
	d.deps.spawn(func() { d.acceptLoop(ln) })
	return ap, nil
}

// acceptLoop takes the job's connection; others are closed (bounded).
func (d *dataConn) acceptLoop(ln net.Listener) {
	defer ln.Close()
	for n := 0; n < 16; n++ {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		peer := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
		if peer != d.deps.client {
			msg.Log(&d.deps.log, "SOX0309W", d.deps.id, peer).Str("peer", peer.String()).Send()
			c.Close()
			continue
		}
		if !d.claim() {
			c.Close()
			return
		}
		d.deps.withdraw(d)
		if d.deps.splice != nil {
			if handed, _ := d.splice(d.deps.ctx, c, d.deps.owned, d.deps.trace, nil); !handed {
				c.Close()
			}
			return
		}
		if err := d.openChannel(d.deps.ctx); err != nil {
			c.Close()
			return
		}
		_ = d.serve(d.deps.ctx, c, d.deps.owned, d.deps.trace)
		return
	}
}

// countersOf returns the counters that are set.
func countersOf(cs ...*relay.Counters) []*relay.Counters {
	out := make([]*relay.Counters, 0, len(cs))
	for _, c := range cs {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// countConn counts a connection's bytes into each of ctrs: read from the
// job is up, written to the job is down. It keeps CloseWrite.
type countConn struct {
	net.Conn
	ctrs []*relay.Counters
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.add(true, n)
	return n, err
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.add(false, n)
	return n, err
}

func (c *countConn) add(up bool, n int) {
	if n <= 0 {
		return
	}
	for _, ctr := range c.ctrs {
		v := &ctr.Down
		if up {
			v = &ctr.Up
		}
		v.Add(int64(n))
	}
}

// CloseWrite half-closes the underlying connection when it can.
func (c *countConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("ftp: connection cannot half-close")
}
