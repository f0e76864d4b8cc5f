package socksd

import (
	"net"
	"sort"

	"socksd/console"
)

// Listeners returns the daemon's listening addresses for D LISTENERS:
// the SOCKS listeners, the redirect and TPROXY listeners, the forwards,
// the metrics listener, then the FTP rewrite listeners. A rewrite listener is opened per transfer with an
// ephemeral port: for a SOCKS session on the local address of its control
// connection, so each SOCKS listener's host is listed once as "host:*";
// for a redirected session on the address this host reaches the client
// from, which can be any local address: "[::]:*".
func (d *Daemon) Listeners() []console.ListenerInfo {
	var out []console.ListenerInfo
	var hosts []string
	addHost := func(a net.Addr) {
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return
		}
		for _, h := range hosts {
			if h == host {
				return
			}
		}
		hosts = append(hosts, host)
	}
	for _, a := range d.Addrs() {
		out = append(out, console.ListenerInfo{Kind: console.ListenerSOCKS, Addr: a.String()})
		addHost(a)
	}
	d.mu.Lock()
	rls := d.redirects
	d.mu.Unlock()
	for _, rl := range rls {
		kind := console.ListenerRedirect
		if rl.kind == kindTProxy {
			kind = console.ListenerTProxy
		}
		out = append(out, console.ListenerInfo{Kind: kind, Addr: rl.Addr().String()})
	}
	d.fwd.mu.Lock()
	var fwd []string
	for _, fl := range d.fwd.byAddr {
		fwd = append(fwd, fl.ln.Addr().String())
	}
	d.fwd.mu.Unlock()
	sort.Strings(fwd)
	for _, a := range fwd {
		out = append(out, console.ListenerInfo{Kind: console.ListenerForward, Addr: a})
	}
	if a := d.MetricsAddr(); a != nil {
		out = append(out, console.ListenerInfo{Kind: console.ListenerMetrics, Addr: a.String()})
	}
	if len(rls) > 0 {
		hosts = []string{"::"}
	}
	for _, h := range hosts {
		out = append(out, console.ListenerInfo{Kind: console.ListenerRewrite, Addr: net.JoinHostPort(h, "*")})
	}
	return out
}
