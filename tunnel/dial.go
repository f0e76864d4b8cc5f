package tunnel

import (
	"context"
	"fmt"
	"net"

	"socksd/socks"
)

// dialServer opens the TCP connection to the SSH server, directly or
// through via, the dialer that Profile.Prepare built from the profile's
// Via (socks.Dialer, the SOCKS client of package socks); nil dials
// directly.
func dialServer(ctx context.Context, via *socks.Dialer, server string) (net.Conn, error) {
	if via == nil {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", server)
	}
	c, err := via.DialContext(ctx, "tcp", server)
	if err != nil {
		return nil, fmt.Errorf("tunnel: via %s: %w", via, err)
	}
	return c, nil
}
