package tunnel

import (
	"context"
	"fmt"
	"net"

	"golang.org/x/net/proxy"

	"socksd/socks"
)

// dialServer opens the TCP connection to the SSH server, directly or
// through the profile's via proxy.
func dialServer(ctx context.Context, via, server string) (net.Conn, error) {
	var d net.Dialer
	if via == "" {
		return d.DialContext(ctx, "tcp", server)
	}
	v, err := ParseVia(via)
	if err != nil {
		return nil, err
	}
	switch v.Version {
	case 5:
		var auth *proxy.Auth
		if v.User != "" {
			auth = &proxy.Auth{User: v.User, Password: v.Password}
		}
		p, err := proxy.SOCKS5("tcp", v.Addr, auth, &d)
		if err != nil {
			return nil, fmt.Errorf("tunnel: via socks5 %s: %w", v.Addr, err)
		}
		c, err := p.(proxy.ContextDialer).DialContext(ctx, "tcp", server)
		if err != nil {
			return nil, fmt.Errorf("tunnel: via socks5 %s: %w", v.Addr, err)
		}
		return c, nil
	default:
		return dialSOCKS4(ctx, &d, v, server)
	}
}

// dialSOCKS4 connects to server through a SOCKS4/4a proxy.
func dialSOCKS4(ctx context.Context, d *net.Dialer, v Via, server string) (net.Conn, error) {
	dest, err := socks.ParseAddr(server)
	if err != nil {
		return nil, fmt.Errorf("tunnel: via socks4: %w", err)
	}
	c, err := d.DialContext(ctx, "tcp", v.Addr)
	if err != nil {
		return nil, fmt.Errorf("tunnel: via socks4 %s: %w", v.Addr, err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := socks.ClientHandshake(c, 4, dest, v.User, ""); err != nil {
		c.Close()
		return nil, fmt.Errorf("tunnel: via socks4 %s: %w", v.Addr, err)
	}
	if ctx.Err() != nil {
		c.Close()
		return nil, fmt.Errorf("tunnel: via socks4 %s: %w", v.Addr, ctx.Err())
	}
	return c, nil
}
