package socks

import (
	"context"
	"fmt"
	"net"
	"time"
)

// ContextDialer opens the connection to the proxy. *net.Dialer and the
// dialers of golang.org/x/net/proxy implement it.
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Dialer connects to destinations through an upstream SOCKS proxy, e.g.
// to reach an SSH server from behind a firewall. It never resolves a
// destination name itself: names go to the proxy.
type Dialer struct {
	// Version is 4 (SOCKS4/4a) or 5.
	Version int
	// ProxyAddr is the proxy's host:port.
	ProxyAddr string
	// User is the SOCKS4 USERID or the RFC 1929 user name; may be empty.
	User string
	// Password is the RFC 1929 password (SOCKS5 only). It is left out of
	// String, GoString, JSON and every error.
	Password string `json:"-"`
	// Forward opens the connection to the proxy; nil means a zero
	// net.Dialer.
	Forward ContextDialer
}

// NewDialer returns a Dialer for a proxy URL such as
// "socks5://user:pass@proxy:1080" (see [ParseProxyURL]).
func NewDialer(proxyURL string) (*Dialer, error) {
	v, hostport, user, pass, err := ParseProxyURL(proxyURL)
	if err != nil {
		return nil, err
	}
	return &Dialer{Version: v, ProxyAddr: hostport, User: user, Password: pass}, nil
}

// String describes the dialer without its password, e.g.
// "socks5://JOB1:***@proxy:1080".
func (d Dialer) String() string {
	creds := ""
	switch {
	case d.User != "" && d.Password != "":
		creds = d.User + ":***@"
	case d.User != "":
		creds = d.User + "@"
	}
	return fmt.Sprintf("socks%d://%s%s", d.Version, creds, d.ProxyAddr)
}

// GoString implements fmt.GoStringer without the password.
func (d Dialer) GoString() string { return "socks.Dialer(" + d.String() + ")" }

// Dial is DialContext with a background context.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialContext connects to the proxy and asks it to CONNECT to address
// ("host:port"; network "tcp", "tcp4" or "tcp6"). The context bounds the
// whole exchange: its deadline applies to the handshake, and cancelling
// it aborts the handshake. The returned connection carries the
// destination's bytes and has no deadline set.
//
// A refusal by the proxy is a *ReplyError (see [ReplyCode]); a proxy that
// cannot be reached gives the dial error.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("socks: dial via %s: network %q not supported (want tcp)", d, network)
	}
	dest, err := ParseAddr(address)
	if err != nil {
		return nil, err
	}
	fwd := d.Forward
	if fwd == nil {
		fwd = &net.Dialer{}
	}
	conn, err := fwd.DialContext(ctx, "tcp", d.ProxyAddr)
	if err != nil {
		return nil, fmt.Errorf("socks: dialing proxy %s: %w", d.ProxyAddr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// Cancellation interrupts the blocked handshake through the deadline.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	_, err = ClientHandshake(conn, d.Version, dest, d.User, d.Password)
	if !stop() {
		conn.Close()
		return nil, fmt.Errorf("socks: handshake with proxy %s for %s: %w", d.ProxyAddr, dest, ctx.Err())
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w (proxy %s, destination %s)", err, d.ProxyAddr, dest)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("socks: proxy connection %s: %w", d.ProxyAddr, err)
	}
	return conn, nil
}
