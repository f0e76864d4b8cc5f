package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"regexp/syntax"
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

// hostExpect says what a "to" pattern may be, in the configuration's terms.
const hostExpect = "an address, a CIDR prefix, a host name pattern or re:REGEX"

// parseHost compiles one "to" pattern.
func parseHost(s string) (hostMatcher, error) {
	switch {
	case s == "":
		return nil, fmt.Errorf("an empty pattern is not %s", hostExpect)
	case strings.HasPrefix(s, "re:"):
		re, err := regexp.Compile("(?i)" + s[3:])
		if err != nil {
			return nil, fmt.Errorf("%q is not a valid regular expression: %s", s, regexpReason(err, s[3:]))
		}
		return regexName{re}, nil
	case strings.HasPrefix(s, "*."):
		d := normName(s[1:])
		if len(d) < 2 || strings.ContainsAny(d[1:], "*/ ") {
			return nil, fmt.Errorf("%q is not %s (a * may only begin a pattern, as in *.example.com)", s, hostExpect)
		}
		return globName(d), nil
	case strings.Contains(s, "/"):
		p, why, ok := parseCIDR(s)
		if !ok {
			return nil, fmt.Errorf("%q is not %s%s", s, hostExpect, why)
		}
		return prefixMatcher(p), nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		ip = ip.Unmap()
		return prefixMatcher(netip.PrefixFrom(ip, ip.BitLen())), nil
	}
	if strings.ContainsAny(s, "*?[]/ \t") {
		return nil, fmt.Errorf("%q is not %s (a * may only begin a pattern, as in *.example.com)", s, hostExpect)
	}
	return exactName(normName(s)), nil
}

// regexpReason gives the reason of a regexp compile error of expr without
// Go's wording around it.
func regexpReason(err error, expr string) string {
	var se *syntax.Error
	if !errors.As(err, &se) {
		return "it does not compile"
	}
	part := strings.TrimPrefix(se.Expr, "(?i)")
	if part == "" || part == expr {
		return string(se.Code)
	}
	return fmt.Sprintf("%s at %q", se.Code, part)
}

// parseCIDR parses ADDRESS/BITS. When it fails, why is a short reason in
// parentheses, with a leading blank, or "" when there is nothing to add to
// "not a CIDR prefix".
func parseCIDR(s string) (p netip.Prefix, why string, ok bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), "", true
	}
	addr, bits, _ := strings.Cut(s, "/")
	ip, aerr := netip.ParseAddr(addr)
	n, berr := strconv.Atoi(bits)
	switch {
	case aerr != nil:
		return p, fmt.Sprintf(" (%q is not an IP address)", addr), false
	case berr == nil && ip.Zone() == "" && (n < 0 || n > ip.BitLen()):
		v := 6
		if ip.Is4() {
			v = 4
		}
		return p, fmt.Sprintf(" (the prefix length of an IPv%d address is 0 to %d)", v, ip.BitLen()), false
	}
	return p, "", false
}

// ParsePrefix parses a client pattern, such as an item of allow_clients or
// of a rule's from list: an IP address or a CIDR prefix. Its error says so
// in the configuration's terms.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	const expect = "an IP address or a CIDR prefix"
	if strings.Contains(s, "/") {
		p, why, ok := parseCIDR(s)
		if !ok {
			return netip.Prefix{}, fmt.Errorf("%q is not %s%s", s, expect, why)
		}
		return p, nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not %s", s, expect)
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
	if !isRange && err != nil {
		return portRange{}, fmt.Errorf("%q is not a port (1-65535) or a range such as 2100-2199", s)
	}
	if !isRange {
		return portRange{a, a}, nil
	}
	b, err2 := parsePort(hi)
	if err != nil || err2 != nil {
		return portRange{}, fmt.Errorf("%q is not a port range such as 2100-2199 (ports are 1-65535)", s)
	}
	if b < a {
		return portRange{}, fmt.Errorf("%q is not a port range (its end is below its start)", s)
	}
	return portRange{a, b}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port (1-65535)", s)
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
