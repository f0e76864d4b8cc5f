package socksd

import (
	"net"

	"socksd/console"
)

// Listeners returns the daemon's listening addresses for D LISTENERS:
// the SOCKS listeners, then the FTP rewrite listeners. A rewrite listener
// is opened per transfer on the local address of the control connection
// with an ephemeral port, so each address that takes control connections
// is listed once as "host:*".
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
	for _, h := range hosts {
		out = append(out, console.ListenerInfo{Kind: console.ListenerRewrite, Addr: net.JoinHostPort(h, "*")})
	}
	return out
}
