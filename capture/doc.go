// Package capture is Linux transparent capture: it lets socksd serve the
// TCP connections of applications that know nothing of SOCKS.
//
// The kernel sends such connections to a redirect listener of the daemon,
// with nftables or iptables REDIRECT (or DNAT), or with TPROXY. For a
// redirected connection [OriginalDestination] reads where the application
// wanted to go; a TPROXY listener ([ListenTransparent]) takes connections
// whose local address already is that destination. The set-up of `socksd
// capture` (a cgroup v2 for one command and an nftables rule that matches
// it) lives here too.
//
// Everything here needs Linux; on other systems the functions return an
// error that wraps [ErrUnsupported].
package capture
