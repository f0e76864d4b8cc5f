package rules

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// hostMatcher matches a destination host (an unresolved name or an IP literal).
type hostMatcher interface {
	matchHost(name string, ip netip.Addr, isIP bool) bool
	String() string
}

type exactName string

func (m exactName) matchHost(name string, _ netip.Addr, isIP bool) bool {
	return !isIP && name == string(m)
}
func (m exactName) String() string { return string(m) }

// globName matches "*.domain": any name strictly below domain.
type globName string // the suffix, with its leading dot

func (m globName) matchHost(name string, _ netip.Addr, isIP bool) bool {
	return !isIP && len(name) > len(m) && strings.HasSuffix(name, string(m))
}
func (m globName) String() string { return "*" + string(m) }

type regexName struct{ re *regexp.Regexp }

func (m regexName) matchHost(name string, _ netip.Addr, isIP bool) bool {
	return !isIP && m.re.MatchString(name)
}
func (m regexName) String() string { return "re:" + m.re.String() }

type prefixMatcher netip.Prefix

func (m prefixMatcher) matchHost(_ string, ip netip.Addr, isIP bool) bool {
	return isIP && netip.Prefix(m).Contains(ip)
}
func (m prefixMatcher) String() string {
	p := netip.Prefix(m)
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// normName lower-cases a host name and drops a trailing dot.
func normName(s string) string { return strings.TrimSuffix(strings.ToLower(s), ".") }

// parseHost compiles one "to" pattern.
func parseHost(s string) (hostMatcher, error) {
	switch {
	case s == "":
		return nil, fmt.Errorf("empty host pattern")
	case strings.HasPrefix(s, "re:"):
		re, err := regexp.Compile("(?i)" + s[3:])
		if err != nil {
			return nil, fmt.Errorf("bad regular expression %q: %w", s[3:], err)
		}
		return regexName{re}, nil
	case strings.HasPrefix(s, "*."):
		d := normName(s[1:])
		if len(d) < 2 || strings.ContainsAny(d[1:], "*/ ") {
			return nil, fmt.Errorf("bad domain glob %q", s)
		}
		return globName(d), nil
	case strings.Contains(s, "/"):
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("bad CIDR %q: %w", s, err)
		}
		return prefixMatcher(p.Masked()), nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		ip = ip.Unmap()
		return prefixMatcher(netip.PrefixFrom(ip, ip.BitLen())), nil
	}
	if strings.ContainsAny(s, "*?[]/ \t") {
		return nil, fmt.Errorf("bad host %q (globs must look like *.domain)", s)
	}
	return exactName(normName(s)), nil
}

// parsePrefix compiles a client pattern: an IP or a CIDR.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad CIDR %q: %w", s, err)
		}
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad address %q: %w", s, err)
	}
	ip = ip.Unmap()
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

// portRange is an inclusive range of ports.
type portRange struct{ lo, hi uint16 }

func (r portRange) String() string {
	if r.lo == r.hi {
		return strconv.Itoa(int(r.lo))
	}
	return fmt.Sprintf("%d-%d", r.lo, r.hi)
}

func parsePorts(s string) (portRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := parsePort(lo)
	if err != nil {
		return portRange{}, err
	}
	if !isRange {
		return portRange{a, a}, nil
	}
	b, err := parsePort(hi)
	if err != nil {
		return portRange{}, err
	}
	if b < a {
		return portRange{}, fmt.Errorf("bad port range %q: end before start", s)
	}
	return portRange{a, b}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad port %q (want 1-65535)", s)
	}
	return uint16(n), nil
}

// PrefixesContain reports whether ip is inside any of the prefixes.
func PrefixesContain(ps []netip.Prefix, ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ParsePrefixes parses a list of IPs and CIDRs, such as allow_clients.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}
