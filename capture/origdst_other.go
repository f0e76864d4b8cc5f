//go:build !linux

package capture

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

func originalDestination(*net.TCPConn) (netip.AddrPort, error) {
	return netip.AddrPort{}, fmt.Errorf("capture: original destination: %w", ErrUnsupported)
}

func listenTransparent(_ context.Context, addr string) (net.Listener, error) {
	return nil, fmt.Errorf("capture: transparent listener %s: %w", addr, ErrUnsupported)
}

func peerIsSelf(*net.TCPConn) (bool, error) {
	return false, fmt.Errorf("capture: peer lookup: %w", ErrUnsupported)
}
