package ftp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"socksd/internal/relay"
)

// errDataUnused ends a data setup that no connection claimed.
var errDataUnused = errors.New("ftp: data connection not used")

// dataSetup is one data connection the session prepared: from a PASV/EPSV
// reply (passive) or a converted PORT/EPRT (active). Exactly one client
// connection may claim it: through the broker (a SOCKS CONNECT or BIND), a
// rewrite listener, or socksd's own connect to a PORT address.
type dataSetup struct {
	s      *session
	mode   string // "passive" or "active"
	target string // host:port to dial through the tunnel

	claimed atomic.Bool
	started atomic.Bool
	ctr     relay.Counters

	mu     sync.Mutex
	ln     net.Listener
	tconn  net.Conn // tunnel channel dialed in advance (active)
	cancel context.CancelFunc
	err    error
	closed bool

	done     chan struct{}
	doneOnce sync.Once
}

func (s *session) newDataSetup(mode, target string) *dataSetup {
	return &dataSetup{s: s, mode: mode, target: target, done: make(chan struct{})}
}

// setData makes d the session's current data setup, closing the previous
// one unless a transfer already owns it.
func (s *session) setData(d *dataSetup) {
	if s.data != nil {
		s.data.close()
	}
	s.data = d
}

// claim reserves the setup for one connection; false if already taken.
func (d *dataSetup) claim() bool { return d.claimed.CompareAndSwap(false, true) }

// finish records the outcome once.
func (d *dataSetup) finish(err error) {
	d.doneOnce.Do(func() {
		d.mu.Lock()
		d.err = err
		d.mu.Unlock()
		close(d.done)
	})
}

// result returns the bytes moved so far and, once finished, the error.
func (d *dataSetup) result() (n int64, err error, finished bool) {
	n = d.ctr.Up.Load() + d.ctr.Down.Load()
	select {
	case <-d.done:
		d.mu.Lock()
		defer d.mu.Unlock()
		return n, d.err, true
	default:
		return n, nil, false
	}
}

// open dials the target through the session's tunnel.
func (d *dataSetup) open(ctx context.Context) (net.Conn, error) {
	if !d.s.ready.Load() {
		return nil, errors.New("ftp: session not logged in")
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	stop := context.AfterFunc(d.s.ctx, cancel)
	defer stop()
	c, err := d.s.tun.Dial(ctx, "tcp", d.target)
	if err != nil {
		err = fmt.Errorf("ftp: data channel to %s through %s: %w", d.target, d.s.sshServer, err)
		d.finish(err)
		return nil, err
	}
	return c, nil
}

// serve relays between the job's data connection and the tunnel channel,
// counting bytes for the transfer and the session. It ends with the
// session, with ctx, or when the setup is closed.
func (d *dataSetup) serve(ctx context.Context, client, upstream net.Conn) error {
	d.started.Store(true)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(d.s.ctx, cancel)
	defer stop()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		client.Close()
		upstream.Close()
		err := errors.New("ftp: data connection closed before use")
		d.finish(err)
		return err
	}
	d.cancel = cancel
	d.mu.Unlock()
	if c := d.s.cfg.Counters; c != nil {
		client = &countConn{Conn: client, up: &c.Up, down: &c.Down}
	}
	res := relay.Relay(ctx, client, upstream, relay.Options{IdleTimeout: d.s.opt.IdleTimeout, Counters: &d.ctr, Trace: d.s.cfg.Trace})
	d.finish(res.Err)
	if res.Err != nil {
		d.s.log.Warn().Err(res.Err).Str("mode", d.mode).Int64("bytes", res.Up+res.Down).Msg("FTP data connection failed")
		return fmt.Errorf("ftp: data relay: %w", res.Err)
	}
	return nil
}

// close releases the setup: its listener, its broker registration, an
// unused tunnel channel, and a relay still running.
func (d *dataSetup) close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	ln, tconn, cancel := d.ln, d.tconn, d.cancel
	d.mu.Unlock()
	d.s.broker.unregister(d)
	if ln != nil {
		ln.Close()
	}
	if cancel != nil {
		cancel()
	}
	if tconn != nil && !d.started.Load() {
		tconn.Close()
	}
	if !d.claimed.Load() {
		d.finish(errDataUnused)
	}
}

// listen opens a rewrite listener on local and serves the first connection
// from the job's address through the tunnel.
func (d *dataSetup) listen(local netip.Addr) (netip.AddrPort, error) {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(local, 0).String())
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("ftp: data listener: %w", err)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		ln.Close()
		return netip.AddrPort{}, errors.New("ftp: data setup closed")
	}
	d.ln = ln
	d.mu.Unlock()
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	if tl, ok := ln.(*net.TCPListener); ok {
		_ = tl.SetDeadline(time.Now().Add(listenTimeout))
	}
	d.s.wg.Add(1)
	go func() {
		defer d.s.wg.Done()
		d.acceptLoop(ln)
	}()
	return ap, nil
}

// acceptLoop takes the job's connection; others are closed (bounded).
func (d *dataSetup) acceptLoop(ln net.Listener) {
	defer ln.Close()
	for n := 0; n < 16; n++ {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		peer := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
		if peer != d.s.clientIP {
			d.s.log.Warn().Str("peer", peer.String()).Msg("data connection from a foreign address refused")
			c.Close()
			continue
		}
		if !d.claim() {
			c.Close()
			return
		}
		ln.Close()
		up, err := d.open(d.s.ctx)
		if err != nil {
			c.Close()
			return
		}
		_ = d.serve(d.s.ctx, c, up)
		return
	}
}

// countConn counts a connection's bytes into the session counters: read
// from the job is up, written to the job is down. It keeps CloseWrite.
type countConn struct {
	net.Conn
	up, down *atomic.Int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.up.Add(int64(n))
	return n, err
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.down.Add(int64(n))
	return n, err
}

// CloseWrite half-closes the underlying connection when it can.
func (c *countConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("ftp: connection cannot half-close")
}
