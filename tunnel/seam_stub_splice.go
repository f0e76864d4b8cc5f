package tunnel

// TEMPORARY (branch h-splice): the seam of issue #14 as helper engine
// defines it, with a builtin-only body, so that the daemon side compiles
// and is tested before h-engine has the seam. The merge of h-engine
// replaces this file (delete it then).

import (
	"context"
	"net"
	"sync"
	"time"

	"socksd/internal/relay"
)

// Engine names the engine carrying the lease.
func (l *Lease) Engine() string { return "builtin" }

// SpliceOptions: how a spliced connection is carried.
type SpliceOptions struct {
	IdleTimeout time.Duration
	Counters    []*relay.Counters
	Trace       func(up bool, n int)
	Ready       func() error
}

// Spliced is a connection being carried.
type Spliced struct {
	cancel context.CancelFunc
	done   chan struct{}
	res    relay.Result
}

// Splice carries conn to addr through a direct-tcpip channel.
func (l *Lease) Splice(ctx context.Context, addr string, conn net.Conn, opt SpliceOptions) (*Spliced, error) {
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
	var first *relay.Counters
	var rest []*relay.Counters
	if len(opt.Counters) > 0 {
		first, rest = opt.Counters[0], opt.Counters[1:]
	}
	if len(rest) > 0 {
		conn = &stubCountConn{Conn: conn, ctrs: rest}
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Spliced{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.res = relay.Relay(ctx, conn, up, relay.Options{IdleTimeout: opt.IdleTimeout, Counters: first, Trace: opt.Trace})
	}()
	return s, nil
}

// Wait blocks until the connection ends.
func (s *Spliced) Wait() relay.Result { <-s.done; return s.res }

// Close ends this connection only.
func (s *Spliced) Close() { s.cancel() }

type stubCountConn struct {
	net.Conn
	mu   sync.Mutex
	ctrs []*relay.Counters
}

func (c *stubCountConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	for _, x := range c.ctrs {
		x.Up.Add(int64(n))
	}
	return n, err
}

func (c *stubCountConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	for _, x := range c.ctrs {
		x.Down.Add(int64(n))
	}
	return n, err
}

func (c *stubCountConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
