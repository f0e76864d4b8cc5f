package ftp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrBadAddress reports a PORT, EPRT, 227 or 229 address that cannot be
// parsed.
var ErrBadAddress = errors.New("ftp: bad data address")

// AddrError describes an unparsable data address. It matches ErrBadAddress
// with errors.Is.
type AddrError struct {
	Kind   string // "PORT", "EPRT", "227" or "229"
	Input  string
	Reason string
}

func (e *AddrError) Error() string {
	return fmt.Sprintf("ftp: bad %s address %q: %s", e.Kind, truncate(e.Input), e.Reason)
}

// Is makes errors.Is(err, ErrBadAddress) true.
func (e *AddrError) Is(target error) bool { return target == ErrBadAddress }

// ParsePORT parses the argument of PORT, "h1,h2,h3,h4,p1,p2" (RFC 959).
func ParsePORT(args string) (netip.AddrPort, error) {
	return parseSix("PORT", strings.TrimSpace(args))
}

// parseSix parses six comma-separated decimal bytes.
func parseSix(kind, s string) (netip.AddrPort, error) {
	f := strings.Split(s, ",")
	if len(f) != 6 {
		return netip.AddrPort{}, &AddrError{Kind: kind, Input: s, Reason: "want six numbers h1,h2,h3,h4,p1,p2"}
	}
	var b [6]byte
	for i, x := range f {
		x = strings.TrimSpace(x)
		if x == "" || len(x) > 3 {
			return netip.AddrPort{}, &AddrError{Kind: kind, Input: s, Reason: "number out of range"}
		}
		n, err := strconv.Atoi(x)
		if err != nil || n < 0 || n > 255 || x[0] == '+' || x[0] == '-' {
			return netip.AddrPort{}, &AddrError{Kind: kind, Input: s, Reason: "number out of range"}
		}
		b[i] = byte(n)
	}
	ip := netip.AddrFrom4([4]byte{b[0], b[1], b[2], b[3]})
	return netip.AddrPortFrom(ip, uint16(b[4])<<8|uint16(b[5])), nil
}

// FormatPORT formats an IPv4 address and port as a PORT argument or the
// address part of a 227 reply: "h1,h2,h3,h4,p1,p2".
func FormatPORT(ap netip.AddrPort) (string, error) {
	ip := ap.Addr().Unmap()
	if !ip.Is4() {
		return "", &AddrError{Kind: "PORT", Input: ap.String(), Reason: "not an IPv4 address"}
	}
	a := ip.As4()
	p := ap.Port()
	return fmt.Sprintf("%d,%d,%d,%d,%d,%d", a[0], a[1], a[2], a[3], p>>8, p&0xff), nil
}

// ParseEPRT parses the argument of EPRT, "|1|132.235.1.2|6275|" or
// "|2|::1|6275|" (RFC 2428). The delimiter is the first character.
func ParseEPRT(args string) (netip.AddrPort, error) {
	s := strings.TrimSpace(args)
	if len(s) < 2 || s[0] < 33 || s[0] > 126 {
		return netip.AddrPort{}, &AddrError{Kind: "EPRT", Input: s, Reason: "missing delimiter"}
	}
	f := strings.Split(s, s[:1])
	if len(f) != 5 || f[0] != "" || f[4] != "" {
		return netip.AddrPort{}, &AddrError{Kind: "EPRT", Input: s, Reason: "want |proto|addr|port|"}
	}
	ip, err := netip.ParseAddr(f[2])
	if err != nil || ip.Zone() != "" {
		return netip.AddrPort{}, &AddrError{Kind: "EPRT", Input: s, Reason: "bad network address"}
	}
	switch f[1] {
	case "1":
		if !ip.Is4() {
			return netip.AddrPort{}, &AddrError{Kind: "EPRT", Input: s, Reason: "protocol 1 needs an IPv4 address"}
		}
	case "2":
		if !ip.Is6() {
			return netip.AddrPort{}, &AddrError{Kind: "EPRT", Input: s, Reason: "protocol 2 needs an IPv6 address"}
		}
	default:
		return netip.AddrPort{}, &AddrError{Kind: "EPRT", Input: s, Reason: "unknown network protocol"}
	}
	port, err := parsePort(f[3])
	if err != nil {
		return netip.AddrPort{}, &AddrError{Kind: "EPRT", Input: s, Reason: err.Error()}
	}
	return netip.AddrPortFrom(ip, port), nil
}

func parsePort(s string) (uint16, error) {
	if s == "" || len(s) > 5 || s[0] == '+' || s[0] == '-' {
		return 0, errors.New("bad port")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, errors.New("port out of range")
	}
	return uint16(n), nil
}

// FormatEPRT formats an address and port as an EPRT argument.
func FormatEPRT(ap netip.AddrPort) string {
	ip := ap.Addr().Unmap().WithZone("")
	proto := "1"
	if ip.Is6() {
		proto = "2"
	}
	return fmt.Sprintf("|%s|%s|%d|", proto, ip, ap.Port())
}

// Parse227 finds the address in the text of a 227 reply. The numbers may be
// in parentheses ("Entering Passive Mode (h1,h2,h3,h4,p1,p2).") or not: the
// first run of six comma-separated numbers is taken (RFC 1123 §4.1.2.6).
// text may be the whole line with the code or only the text after it.
func Parse227(text string) (netip.AddrPort, error) {
	if c, _, rest, err := ParseReply(text); err == nil {
		if c != 227 {
			return netip.AddrPort{}, &AddrError{Kind: "227", Input: text, Reason: "not a 227 reply"}
		}
		text = rest
	}
	for i := 0; i < len(text); i++ {
		if !isDigit(text[i]) || (i > 0 && isDigit(text[i-1])) {
			continue
		}
		j := i
		for j < len(text) && (isDigit(text[j]) || text[j] == ',') {
			j++
		}
		if ap, err := parseSix("227", strings.TrimRight(text[i:j], ",")); err == nil && strings.Count(text[i:j], ",") >= 5 {
			return ap, nil
		}
		i = j
	}
	return netip.AddrPort{}, &AddrError{Kind: "227", Input: text, Reason: "no h1,h2,h3,h4,p1,p2 found"}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Format227 formats the text of a 227 reply (without the code) for an IPv4
// address and port.
func Format227(ap netip.AddrPort) (string, error) {
	s, err := FormatPORT(ap)
	if err != nil {
		return "", &AddrError{Kind: "227", Input: ap.String(), Reason: "not an IPv4 address"}
	}
	return "Entering Passive Mode (" + s + ").", nil
}

// Parse229 finds the port in the text of a 229 reply, "Entering Extended
// Passive Mode (|||6446|)" (RFC 2428). text may include the code.
func Parse229(text string) (uint16, error) {
	if c, _, rest, err := ParseReply(text); err == nil {
		if c != 229 {
			return 0, &AddrError{Kind: "229", Input: text, Reason: "not a 229 reply"}
		}
		text = rest
	}
	open := strings.IndexByte(text, '(')
	if open < 0 {
		return 0, &AddrError{Kind: "229", Input: text, Reason: "no ( found"}
	}
	end := strings.IndexByte(text[open:], ')')
	if end < 0 {
		return 0, &AddrError{Kind: "229", Input: text, Reason: "no ) found"}
	}
	inner := text[open+1 : open+end]
	if len(inner) < 5 || inner[0] < 33 || inner[0] > 126 {
		return 0, &AddrError{Kind: "229", Input: text, Reason: "want (|||port|)"}
	}
	d := inner[:1]
	f := strings.Split(inner, d)
	if len(f) != 5 || f[0] != "" || f[1] != "" || f[2] != "" || f[4] != "" {
		return 0, &AddrError{Kind: "229", Input: text, Reason: "want (|||port|)"}
	}
	p, err := parsePort(f[3])
	if err != nil {
		return 0, &AddrError{Kind: "229", Input: text, Reason: err.Error()}
	}
	return p, nil
}

// Format229 formats the text of a 229 reply (without the code).
func Format229(port uint16) string {
	return fmt.Sprintf("Entering Extended Passive Mode (|||%d|)", port)
}
