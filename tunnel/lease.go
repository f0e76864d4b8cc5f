package tunnel

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Lease is a claim on one SSH connection. Channels opened through it ride
// that connection. Close releases the claim; the connection stays open for
// other sessions until it has been unused for Options.IdleClose.
type Lease struct {
	p      *Pool
	c      *tconn
	n      int // channels reserved on c
	once   sync.Once
	closed atomic.Bool
}

// Server returns "host:port" of the SSH server.
func (l *Lease) Server() string { return l.c.server }

// ID returns the connection's id, e.g. "T0003".
func (l *Lease) ID() string { return l.c.id }

// User returns the SSH user the connection logged in as.
func (l *Lease) User() string { return l.c.user }

// Dial opens a direct-tcpip channel to addr ("host:port"; the host is
// resolved by the SSH server). The conn supports CloseWrite (SSH EOF);
// read deadlines work as on a TCP conn, a write deadline is checked when a
// Write starts. A refused channel is a *ChannelError.
func (l *Lease) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return l.dial(ctx, network, addr, false)
}

func (l *Lease) dial(ctx context.Context, network, addr string, ownsLease bool) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("tunnel: network %q not supported (tcp only)", network)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return nil, fmt.Errorf("tunnel: address %q: want host:port", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return nil, fmt.Errorf("tunnel: address %q: bad port", addr)
	}
	release, err := l.claim(false)
	if err != nil {
		return nil, err
	}
	nc, err := l.c.openChannel(ctx, addr)
	if err != nil {
		// The lease stays with the caller on failure.
		release()
		return nil, err
	}
	if ownsLease {
		count := release
		release = func() {
			count()
			l.Close()
		}
	}
	return newChannel(nc, l.c, release), nil
}

// claim counts one more channel (a session channel when session) on the
// lease's connection, which keeps it from closing idle; release, called
// once, counts it off again.
func (l *Lease) claim(session bool) (release func(), err error) {
	if l.closed.Load() {
		return nil, fmt.Errorf("tunnel: %s: lease already released", l.c.id)
	}
	c, p := l.c, l.p
	p.mu.Lock()
	if c.dead {
		p.mu.Unlock()
		return nil, fmt.Errorf("tunnel: %s: %w", c.id, ErrTunnelClosed)
	}
	c.channels++
	c.total++
	if session {
		c.sessions++
	}
	c.lastUsed = time.Now()
	p.stopIdleLocked(c)
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		c.channels--
		if session {
			c.sessions--
		}
		closeNow := p.releaseLocked(c)
		p.mu.Unlock()
		if closeNow {
			p.drop(c, "unshared connection no longer used")
		}
	}, nil
}

// Close releases the lease. It is safe to call more than once.
func (l *Lease) Close() error {
	l.once.Do(func() {
		l.closed.Store(true)
		p, c := l.p, l.c
		p.mu.Lock()
		c.leases--
		c.reserved -= l.n
		closeNow := p.releaseLocked(c)
		p.mu.Unlock()
		if closeNow {
			p.drop(c, "unshared connection no longer used")
		}
	})
	return nil
}
