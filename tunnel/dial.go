package tunnel

import (
	"context"
	"fmt"
	"net"

	"socksd/socks"
)

// dialServer opens the TCP connection to the SSH server, directly or
// through the profile's via proxy (socks.Dialer, the SOCKS client of
// package socks).
func dialServer(ctx context.Context, via socks.ProxyURL, server string) (net.Conn, error) {
	if via == "" {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", server)
	}
	d, err := via.Dialer()
	if err != nil {
		return nil, fmt.Errorf("tunnel: via: %w", err)
	}
	c, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return nil, fmt.Errorf("tunnel: via %s: %w", d, err)
	}
	return c, nil
}
