package socksd

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"socksd/capture"
	"socksd/config"
	"socksd/ftp"
	"socksd/msg"
	"socksd/socks"
)

// The kinds of redirect listener, as SOX0700I names them.
const (
	kindRedirect = "REDIRECT" // server.redirect_listen: SO_ORIGINAL_DST
	kindTProxy   = "TPROXY"   // server.tproxy_listen: the local address
)

// redirectListener is a listener for connections the kernel redirected
// to socksd: with REDIRECT (or DNAT) the original destination is read
// from the connection tracking, with TPROXY it is the local address.
type redirectListener struct {
	net.Listener
	kind string
}

// handle returns the handler of the listener's connections.
func (rl redirectListener) handle(d *Daemon) func(context.Context, net.Conn) {
	tproxy := rl.kind == kindTProxy
	return func(ctx context.Context, c net.Conn) {
		d.run(ctx, c, originRedirect, func(r *request) outcome { return r.serveRedirected(tproxy) })
	}
}

// listenRedirects opens the redirect_listen and tproxy_listen listeners
// of st's configuration.
func (d *Daemon) listenRedirects(st *state) ([]redirectListener, error) {
	var out []redirectListener
	fail := func(addr string, err error) ([]redirectListener, error) {
		for _, rl := range out {
			rl.Close()
		}
		msg.Log(&d.log, "SOX0010E", addr, err).Err(err).Send()
		return nil, fmt.Errorf("socksd: listen %s: %w", addr, err)
	}
	for _, addr := range st.cfg.Server.RedirectListen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fail(addr, err)
		}
		out = append(out, redirectListener{ln, kindRedirect})
	}
	for _, addr := range st.cfg.Server.TProxyListen {
		ln, err := capture.ListenTransparent(context.Background(), addr)
		if err != nil {
			return fail(addr, err)
		}
		out = append(out, redirectListener{ln, kindTProxy})
	}
	return out, nil
}

// warnRedirectChange logs SOX0705W when a reload changes redirect_listen
// or tproxy_listen: the listeners stay as they were until a restart.
func (d *Daemon) warnRedirectChange(old, cfg *config.Config) {
	if slices.Equal(old.Server.RedirectListen, cfg.Server.RedirectListen) && slices.Equal(old.Server.TProxyListen, cfg.Server.TProxyListen) {
		return
	}
	all := append(append([]string(nil), cfg.Server.RedirectListen...), cfg.Server.TProxyListen...)
	msg.Log(&d.log, "SOX0705W", strings.Join(all, ", ")).Strs("redirect_listen", cfg.Server.RedirectListen).
		Strs("tproxy_listen", cfg.Server.TProxyListen).Send()
}

// redirectSummary is the line of DISPLAY CONFIG for redirect_listen and
// tproxy_listen, or "" when neither is set.
func redirectSummary(c *config.Config) string {
	s := c.Server
	if len(s.RedirectListen) == 0 && len(s.TProxyListen) == 0 {
		return ""
	}
	l := "REDIRECT   " + strings.Join(s.RedirectListen, " ")
	if len(s.TProxyListen) > 0 {
		l += ", tproxy " + strings.Join(s.TProxyListen, " ")
	}
	return l
}

// RedirectAddrs returns the addresses of the REDIRECT listeners
// (server.redirect_listen), in the configuration's order; TPROXY
// listeners are not among them.
func (d *Daemon) RedirectAddrs() []net.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []net.Addr
	for _, rl := range d.redirects {
		if rl.kind == kindRedirect {
			out = append(out, rl.Addr())
		}
	}
	return out
}

// serveRedirected takes a redirected connection through the ACL, finds
// where it was going, and then goes on as a SOCKS CONNECT to that
// destination with no SOCKS user would: limits, rules, action. Nothing is
// ever replied; every refusal is a close and a log line.
func (r *request) serveRedirected(tproxy bool) outcome {
	d, s := r.d, r.s
	if out, ok := r.checkClient(); !ok {
		return out
	}
	s.id = d.nextID.Add(1)
	dest, err := r.originalDestination(tproxy)
	if err != nil {
		return r.turnAway(resultFailed, func() {
			msg.Log(&d.log, "SOX0701W", s.id, s.client, err).Uint64("session", s.id).Str("client", s.client.String()).Err(err).Send()
		})
	}
	if d.ownListener(dest) {
		return r.turnAway(resultRefused, func() {
			msg.Log(&d.log, "SOX0702W", s.id, s.client, dest).Uint64("session", s.id).Str("client", s.client.String()).
				Str("dest", dest.String()).Send()
		})
	}
	if r.fromSelf() {
		return r.turnAway(resultRefused, func() {
			msg.Log(&d.log, "SOX0704W", s.id, s.client, dest).Uint64("session", s.id).Str("client", s.client.String()).
				Str("dest", dest.String()).Send()
		})
	}
	// Version 0: no SOCKS handshake, so reply sends nothing.
	r.req = &socks.Request{Command: socks.CmdConnect, Dest: socks.AddrFromAddrPort(dest)}
	s.set(func(s *session) { s.dest, s.command = r.req.Dest.String(), r.req.Command.String() })
	if out, ok := r.admit(); !ok {
		return out
	}
	return r.route()
}

// originalDestination is where the client was going: for TPROXY the
// connection's local address, for REDIRECT what the connection tracking
// kept of it.
func (r *request) originalDestination(tproxy bool) (netip.AddrPort, error) {
	if tproxy {
		return r.s.local, nil
	}
	tc, ok := r.conn.(*net.TCPConn)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("socksd: %T is not a TCP connection", r.conn)
	}
	ap, err := capture.OriginalDestination(tc)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// fromSelf reports whether the connection comes from socksd itself: one
// of its own connections (a direct one, or to an SSH server) that a rule
// redirected back to it, which would otherwise loop until the session
// limit. Only a client on this host is looked up.
func (r *request) fromSelf() bool {
	tc, ok := r.conn.(*net.TCPConn)
	client := r.s.client.Addr()
	if !ok || (!client.IsLoopback() && localTowards(client, netip.Addr{}) != client) {
		return false
	}
	check := r.d.peerIsSelf
	if check == nil {
		check = capture.PeerIsSelf
	}
	self, err := check(tc)
	if err != nil {
		r.d.log.Debug().Err(err).Uint64("session", r.s.id).Msg("redirect loop check failed")
	}
	return self
}

// ownListener reports whether dest is the address of one of the daemon's
// SOCKS or redirect listeners: a connection made to the redirect listener
// itself (nothing was redirected), or a redirect loop. A listener on an
// unspecified address (":1080") counts for every address of this host.
func (d *Daemon) ownListener(dest netip.AddrPort) bool {
	d.mu.Lock()
	addrs := make([]net.Addr, 0, len(d.listeners)+len(d.redirects))
	for _, l := range d.listeners {
		addrs = append(addrs, l.Addr())
	}
	for _, rl := range d.redirects {
		addrs = append(addrs, rl.Addr())
	}
	d.mu.Unlock()
	var local []netip.Addr // this host's addresses, read only when needed
	for _, a := range addrs {
		la := addrPortOf(a)
		if la.Port() != dest.Port() {
			continue
		}
		if la.Addr().Unmap() == dest.Addr() {
			return true
		}
		if !la.Addr().IsUnspecified() {
			continue
		}
		if dest.Addr().IsLoopback() {
			return true
		}
		if local == nil {
			local = hostAddrs()
		}
		for _, h := range local {
			if h == dest.Addr() {
				return true
			}
		}
	}
	return false
}

// hostAddrs returns the addresses of this host's interfaces.
func hostAddrs() []netip.Addr {
	ifas, err := net.InterfaceAddrs()
	if err != nil {
		return []netip.Addr{}
	}
	out := make([]netip.Addr, 0, len(ifas))
	for _, a := range ifas {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out
}

// redirectedFTP adapts an FTP session's options to a redirected client,
// which never comes back through SOCKS: its passive data connections go
// to a rewrite listener of socksd, or come redirected to the address and
// port of the rewritten reply, so the data mode is always auto. The
// rewrite listener is on the address this host reaches the client from
// (for a client on this host, its own address), since the listener takes
// only connections from the client's address, and a redirected client's
// connection to socksd does not come from where its redirected control
// connection came from.
func (r *request) redirectedFTP(opt ftp.Options) (ftp.Options, netip.Addr) {
	opt.Data = ftp.DataAuto
	return opt, localTowards(r.s.client.Addr(), r.s.local.Addr())
}

// localTowards returns the local address this host sends from to reach
// client, or fallback when routing cannot tell. Connecting a UDP socket
// sends nothing.
func localTowards(client, fallback netip.Addr) netip.Addr {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(client, 9)))
	if err != nil {
		return fallback
	}
	defer c.Close()
	if a := addrPortOf(c.LocalAddr()).Addr(); a.IsValid() && !a.IsUnspecified() {
		return a.Unmap()
	}
	return fallback
}
