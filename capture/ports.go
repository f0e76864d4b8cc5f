package capture

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// PortRange is an inclusive range of TCP ports; From == To for one port.
type PortRange struct{ From, To uint16 }

// String returns "P" or "FROM-TO".
func (r PortRange) String() string {
	if r.From == r.To {
		return strconv.Itoa(int(r.From))
	}
	return fmt.Sprintf("%d-%d", r.From, r.To)
}

// all reports whether r is the zero value, which stands for every port.
func (r PortRange) all() bool { return r == PortRange{} }

// ParsePorts parses a list such as "21,80,2100-2199" (commas or blanks
// between items) into port ranges. Ports are 1-65535.
func ParsePorts(s string) ([]PortRange, error) {
	items := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(items) == 0 {
		return nil, fmt.Errorf("capture: empty port list")
	}
	out := make([]PortRange, 0, len(items))
	for _, it := range items {
		lo, hi, isRange := strings.Cut(it, "-")
		from, err := parsePort(lo)
		if err != nil {
			return nil, err
		}
		to := from
		if isRange {
			if to, err = parsePort(hi); err != nil {
				return nil, err
			}
			if to < from {
				return nil, fmt.Errorf("capture: port range %q runs backwards", it)
			}
		}
		out = append(out, PortRange{from, to})
	}
	return out, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("capture: %q is not a port (1-65535)", s)
	}
	return uint16(n), nil
}

// Endpoint is a destination that the capture never redirects: one of
// the daemon's own listeners.
type Endpoint struct {
	// Addr is the listener's address; an unspecified address (0.0.0.0
	// or ::) stands for every local address.
	Addr netip.Addr
	// Ports are the listener's ports: one port, or the ephemeral range
	// for a rewrite listener.
	Ports PortRange
}

// String returns "ADDR:PORT" or "ADDR:FROM-TO".
func (e Endpoint) String() string {
	a := e.Addr.String()
	if e.Addr.Is6() && !e.Addr.Is4In6() {
		a = "[" + a + "]"
	}
	return a + ":" + e.Ports.String()
}

// EphemeralPorts returns the local port range of this network namespace
// (net.ipv4.ip_local_port_range), where rewrite listeners take their
// ports; the kernel's default when it cannot be read.
func EphemeralPorts() PortRange {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			lo, err1 := strconv.ParseUint(f[0], 10, 16)
			hi, err2 := strconv.ParseUint(f[1], 10, 16)
			if err1 == nil && err2 == nil && lo > 0 && lo <= hi {
				return PortRange{uint16(lo), uint16(hi)}
			}
		}
	}
	return PortRange{32768, 60999}
}
