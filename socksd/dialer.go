package socksd

import (
	"context"
	"net"
	"time"

	"socksd/ftp"
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
	// Server returns the SSH server's host:port.
	Server() string
	// ID returns the SSH connection's id, e.g. "T0003".
	ID() string
	// Close releases the claim.
	Close() error
}

var (
	_ lease          = (*tunnel.Lease)(nil)
	_ ftp.Tunnel     = lease(nil)
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
	return l, nil
}

// Subsystems opens a lease and the subsystem's channels from the pool.
func (p poolDialer) Subsystems(ctx context.Context, prof tunnel.Profile, destHost string, cred tunnel.Credentials, name string, n int) (ftp.Subsystems, error) {
	s, err := p.pool.OpenSubsystems(ctx, prof, destHost, cred, name, n)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return s, nil
}
