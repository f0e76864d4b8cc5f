package capture

import (
	"context"
	"errors"
	"net"
	"net/netip"
)

// ErrUnsupported is wrapped by the errors of this package on systems other
// than Linux, which have no netfilter REDIRECT or TPROXY, cgroup v2 or
// nftables.
var ErrUnsupported = errors.New("capture: transparent capture needs Linux (netfilter REDIRECT and TPROXY, cgroup v2, nftables)")

// ErrNoOriginal says that the kernel knows no original destination for a
// connection: it was not redirected (or DNATed) by netfilter, and the
// connection tracking has no entry for it.
var ErrNoOriginal = errors.New("capture: the connection has no original destination (it was not redirected)")

// OriginalDestination returns the address and port a TCP connection was
// sent to before netfilter's REDIRECT or DNAT changed its destination to
// this host: getsockopt SO_ORIGINAL_DST for IPv4, IP6T_SO_ORIGINAL_DST for
// IPv6. For a connection that was not redirected the kernel returns the
// connection's own local address (when it tracks the connection) or
// nothing (ErrNoOriginal); a caller compares the result with its
// listeners to tell. An IPv4-mapped address is returned as IPv4.
//
// It does not read a TPROXY connection's destination: that is the
// connection's local address.
func OriginalDestination(c *net.TCPConn) (netip.AddrPort, error) {
	return originalDestination(c)
}

// ListenTransparent opens a TCP listener for TPROXY on addr (host:port):
// its socket has IP_TRANSPARENT (IPV6_TRANSPARENT for an IPv6 address),
// so that it accepts connections for any destination that TPROXY sends
// it, and each accepted connection's local address is the destination the
// client named. Setting the option needs CAP_NET_ADMIN; without it the
// error says so.
func ListenTransparent(ctx context.Context, addr string) (net.Listener, error) {
	return listenTransparent(ctx, addr)
}

// PeerIsSelf reports whether the other end of c is a socket of this very
// process: a connection of socksd's own that the kernel redirected back to
// it, the sign of a redirect loop. It reads /proc (the peer's socket in
// /proc/net/tcp and tcp6, then this process's descriptors), so it is exact
// for a peer on this host and false for any other; there is no race with a
// connect still under way, since the socket exists before its first packet.
func PeerIsSelf(c *net.TCPConn) (bool, error) {
	return peerIsSelf(c)
}
