package socksd

import (
	"context"
	"net"
	"time"

	"socksd/ftp"
	"socksd/internal/relay"
	"socksd/tunnel"
)

// dialer is how the daemon reaches destinations: directly from this host,
// or through an SSH connection. The daemon uses poolDialer; tests put a
// fake in its place, so that routing, reply codes and limits can be tested
// without an SSH server.
type dialer interface {
	// Direct connects to addr ("host:port") from this host, within timeout.
	Direct(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error)
	// Tunnel opens, or joins, the SSH connection of prof for a destination
	// on destHost, logged in with cred. It neither keeps nor changes
	// cred.Password. Its errors are those of tunnel.Pool.Open.
	Tunnel(ctx context.Context, prof tunnel.Profile, destHost string, cred tunnel.Credentials) (lease, error)
	// Subsystems opens, or joins, the SSH connection of prof as Tunnel
	// does and n channels of the subsystem name on it, on further
	// connections of the same identity when the server refuses session
	// channels (tunnel.Pool.OpenSubsystems). It neither keeps nor changes
	// cred.Password. Its errors are those of Tunnel, and a
	// *tunnel.SessionError for a refused subsystem or session channel.
	Subsystems(ctx context.Context, prof tunnel.Profile, destHost string, cred tunnel.Credentials, name string, n int) (ftp.Subsystems, error)
}

// lease is one claim on an SSH connection, as a *tunnel.Lease is. It is
// also what an FTP session opens its connections through.
type lease interface {
	// Dial opens a direct-tcpip channel to addr; a refused channel is a
	// *tunnel.ChannelError.
	Dial(ctx context.Context, network, addr string) (net.Conn, error)
	// Splice carries conn to addr through a direct-tcpip channel until
	// both directions end, ctx ends or the result is closed, as
	// tunnel.Lease.Splice does: opt.Ready sends the SOCKS success just
	// before the bytes flow; on an error before Ready, conn is still the
	// caller's, after it Splice owns conn.
	Splice(ctx context.Context, addr string, conn net.Conn, opt tunnel.SpliceOptions) (spliced, error)
	// Engine names the engine that carries the lease: "builtin" or
	// "openssh".
	Engine() string
	// Server returns the SSH server's host:port.
	Server() string
	// ID returns the SSH connection's id, e.g. "T0003".
	ID() string
	// Close releases the claim.
	Close() error
}

// spliced is a connection carried by Splice, as a *tunnel.Spliced is.
type spliced interface {
	// Wait blocks until it ends; Err is nil on a clean end both ways.
	Wait() relay.Result
	// Close ends this connection only.
	Close()
}

var (
	_ lease          = poolLease{}
	_ ftp.Tunnel     = lease(nil)
	_ ftp.Splicer    = ftpTunnel{}
	_ spliced        = (*tunnel.Spliced)(nil)
	_ ftp.Subsystems = (*tunnel.Subsystems)(nil)
)

// poolDialer dials with net.Dialer and the daemon's SSH connection pool.
type poolDialer struct{ pool *tunnel.Pool }

// Direct dials addr with a net.Dialer.
func (p poolDialer) Direct(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	return d.DialContext(ctx, "tcp", addr)
}

// Tunnel opens a lease from the pool.
func (p poolDialer) Tunnel(ctx context.Context, prof tunnel.Profile, destHost string, cred tunnel.Credentials) (lease, error) {
	l, err := p.pool.Open(ctx, prof, destHost, cred)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return poolLease{l}, nil
}

// poolLease is a lease of the pool.
type poolLease struct{ *tunnel.Lease }

// Splice splices through the pool's lease.
func (l poolLease) Splice(ctx context.Context, addr string, conn net.Conn, opt tunnel.SpliceOptions) (spliced, error) {
	s, err := l.Lease.Splice(ctx, addr, conn, opt)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return s, nil
}

// ftpTunnel is the tunnel of an ftp-tunnel session: a lease that also
// carries the session's data connections by Splice (ftp.Splicer).
type ftpTunnel struct{ lease }

// Splice carries a data connection of the session through the lease.
func (t ftpTunnel) Splice(ctx context.Context, addr string, conn net.Conn, opt ftp.SpliceOptions) (ftp.Spliced, error) {
	s, err := t.lease.Splice(ctx, addr, conn, tunnel.SpliceOptions{
		IdleTimeout: opt.IdleTimeout, Counters: opt.Counters, Trace: opt.Trace, Ready: opt.Ready,
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Subsystems opens a lease and the subsystem's channels from the pool.
func (p poolDialer) Subsystems(ctx context.Context, prof tunnel.Profile, destHost string, cred tunnel.Credentials, name string, n int) (ftp.Subsystems, error) {
	s, err := p.pool.OpenSubsystems(ctx, prof, destHost, cred, name, n)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return s, nil
}
