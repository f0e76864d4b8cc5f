package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"socksd/internal/hostport"
	"socksd/socks"
)

// Forward is one fixed local tunnel, a [[forwards]] table: like ssh -L,
// each connection to Listen is carried through the SSH profile's server to
// To. allow_clients applies to it; the rules do not.
type Forward struct {
	Name    string `toml:"name"`    // "" = the listen address (see Label)
	Listen  string `toml:"listen"`  // host:port on this host
	To      string `toml:"to"`      // host:port, reached from the SSH server
	Profile string `toml:"profile"` // the [profiles.NAME] that carries it

	dest socks.Addr
}

// Label returns the forward's name, or its listen address when it has none:
// what logs, D SESSIONS (rule forward:LABEL) and D FORWARDS show.
func (f *Forward) Label() string {
	if f.Name != "" {
		return f.Name
	}
	return f.Listen
}

// Dest returns To as parsed by socks.ParseAddr when the file was parsed.
func (f *Forward) Dest() socks.Addr { return f.dest }

// String describes the forward in one line, as `socksd check` prints it.
func (f *Forward) String() string {
	return fmt.Sprintf("%s: listen %s to %s through profile %s", f.Label(), f.Listen, f.To, f.Profile)
}

// validateForwards checks the [[forwards]] tables: listen with
// hostport.ParseListen, to with socks.ParseAddr, the profile's existence,
// and that no listen address is taken twice (by another forward or by a
// SOCKS listener of server.listen).
func (c *Config) validateForwards(bad func([]string, string, ...any)) {
	names := map[string]int{}
	for i, f := range c.Forwards {
		at := func(key string) []string { return []string{"forwards", strconv.Itoa(i), key} }
		switch _, port, err := hostport.ParseListen(f.Listen); {
		case f.Listen == "":
			bad(at("listen"), "a forward needs a listen address, such as 127.0.0.1:2525")
		case err != nil:
			var he *hostport.Error
			errors.As(err, &he)
			bad(at("listen"), "%s", he.Reason)
		case port == 0:
			bad(at("listen"), "%q: a forward needs a fixed port, not 0", f.Listen)
		default:
			for j, g := range c.Forwards[:i] {
				if listenClash(f.Listen, g.Listen) {
					bad(at("listen"), "%q is also the listen address of forwards[%d] (line %d)", f.Listen, j+1, c.Line("forwards", strconv.Itoa(j), "listen"))
				}
			}
			for _, l := range c.Server.Listen {
				if listenClash(f.Listen, l) {
					bad(at("listen"), "%q is also a SOCKS listener in server.listen (%s)", f.Listen, l)
				}
			}
		}
		if f.To == "" {
			bad(at("to"), "a forward needs a destination, such as mail.internal:25")
		} else if a, err := socks.ParseAddr(f.To); err != nil {
			bad(at("to"), "%s", strings.TrimPrefix(err.Error(), "socks: "))
		} else if a.Port == 0 {
			bad(at("to"), "%q: port 0 is not a destination port (1-65535)", f.To)
		} else {
			f.dest = a
		}
		if f.Profile == "" {
			bad(at("profile"), "a forward needs the profile of the SSH server that carries it")
		} else if _, ok := c.Profiles[f.Profile]; !ok {
			bad(at("profile"), "profile %q does not exist (there is no [profiles.%s] table)", f.Profile, f.Profile)
		}
		if strings.ContainsAny(f.Name, " \t\r\n") {
			bad(at("name"), "%q: a name has no blanks", f.Name)
		}
		label := f.Label()
		if j, dup := names[label]; dup && f.Name != "" {
			bad(at("name"), "%q is also the name of forwards[%d]", label, j+1)
		} else {
			names[label] = i
		}
	}
}

// listenClash reports whether two listen addresses would take the same
// port: the same host and port, or the same port where either host is
// empty or unspecified (every address of the system).
func listenClash(a, b string) bool {
	ha, pa, err1 := hostport.ParseListen(a)
	hb, pb, err2 := hostport.ParseListen(b)
	if err1 != nil || err2 != nil || pa != pb || pa == 0 {
		return false
	}
	wild := func(h string) bool {
		ip, err := netip.ParseAddr(h)
		return h == "" || err == nil && ip.IsUnspecified()
	}
	if wild(ha) || wild(hb) {
		return true
	}
	ia, errA := netip.ParseAddr(ha)
	ib, errB := netip.ParseAddr(hb)
	if errA == nil && errB == nil {
		return ia.Unmap() == ib.Unmap()
	}
	return strings.EqualFold(ha, hb)
}
