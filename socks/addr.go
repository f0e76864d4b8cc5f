package socks

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// maxDomainLen is the longest domain name the protocols can carry (SOCKS5
// encodes the length in one byte; SOCKS4a is held to the same bound).
const maxDomainLen = 255

// SOCKS5 address types (ATYP).
const (
	atypIPv4   = 0x01
	atypDomain = 0x03
	atypIPv6   = 0x04
)

// Addr is a SOCKS address: an IP literal or an unresolved domain name, and
// a port. A domain name is never resolved by this package.
type Addr struct {
	// Host is an IP address literal (IPv6 without brackets) or a domain
	// name. Empty means the unspecified address.
	Host string
	// Port is the TCP port.
	Port uint16
}

// String returns the address in net.JoinHostPort form, e.g.
// "192.0.2.1:21", "[2001:db8::1]:21" or "ftp.example:21".
func (a Addr) String() string {
	return net.JoinHostPort(a.Host, strconv.Itoa(int(a.Port)))
}

// IP returns the host as an IP address, and false when Host is empty or a
// domain name.
func (a Addr) IP() (netip.Addr, bool) {
	ip, err := netip.ParseAddr(a.Host)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip, true
}

// IsDomain reports whether Host is a domain name rather than an IP literal.
func (a Addr) IsDomain() bool {
	_, isIP := a.IP()
	return a.Host != "" && !isIP
}

// IsZero reports whether a is the zero Addr.
func (a Addr) IsZero() bool { return a == Addr{} }

// AddrFromAddrPort returns the Addr of ap; an IPv4-mapped IPv6 address
// becomes plain IPv4, and an invalid address gives an empty Host.
func AddrFromAddrPort(ap netip.AddrPort) Addr {
	ip := ap.Addr().Unmap()
	if !ip.IsValid() {
		return Addr{Port: ap.Port()}
	}
	return Addr{Host: ip.String(), Port: ap.Port()}
}

// AddrFromNet returns the Addr of a *net.TCPAddr, *net.UDPAddr or any
// net.Addr whose String is in host:port form; it returns the zero Addr for
// nil or an address it cannot split.
func AddrFromNet(a net.Addr) Addr {
	switch v := a.(type) {
	case nil:
		return Addr{}
	case *net.TCPAddr:
		if v == nil {
			return Addr{}
		}
		return AddrFromAddrPort(v.AddrPort())
	case *net.UDPAddr:
		if v == nil {
			return Addr{}
		}
		return AddrFromAddrPort(v.AddrPort())
	}
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return Addr{}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return Addr{}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.Unmap().String()
	}
	return Addr{Host: host, Port: uint16(p)}
}

// ParseAddr parses "host:port" (IPv6 in brackets) into an Addr. The host
// must be an IP literal or a valid domain name (see [ReadRequest]).
func ParseAddr(hostport string) (Addr, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return Addr{}, fmt.Errorf("socks: address %q: %w", hostport, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return Addr{}, fmt.Errorf("socks: address %q: bad port", hostport)
	}
	h, err := checkHost([]byte(host))
	if err != nil {
		return Addr{}, fmt.Errorf("socks: address %q: %w", hostport, err)
	}
	return Addr{Host: h, Port: uint16(p)}, nil
}

// checkHost validates a host received as a name (SOCKS5 ATYP 3, SOCKS4a)
// and returns it in canonical form. A name that is an IP literal becomes
// that IP in canonical text (zones are refused). Otherwise it must be 1 to
// 255 bytes of letters, digits, '-', '.', '_' or non-ASCII (UTF-8) bytes:
// anything else (spaces, control bytes, ':', '%', '/') is refused so that a
// name can never smuggle a different meaning into a log line, a rule match
// or a host:port string.
func checkHost(b []byte) (string, error) {
	if len(b) == 0 {
		return "", errorf(ErrMalformed, "empty host name")
	}
	if len(b) > maxDomainLen {
		return "", errorf(ErrTooLong, "host name of %d bytes (limit %d)", len(b), maxDomainLen)
	}
	if ip, err := netip.ParseAddr(string(b)); err == nil {
		if ip.Zone() != "" {
			return "", errorf(ErrMalformed, "host name is an IPv6 address with a zone")
		}
		return ip.String(), nil
	}
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '.', c == '_', c >= 0x80:
		default:
			return "", errorf(ErrMalformed, "host name contains byte 0x%02x", c)
		}
	}
	return string(b), nil
}

// appendAddr5 appends a in SOCKS5 form (ATYP, address, port). An empty
// Host is sent as 0.0.0.0.
func appendAddr5(b []byte, a Addr) ([]byte, error) {
	switch ip, isIP := a.IP(); {
	case a.Host == "":
		b = append(b, atypIPv4, 0, 0, 0, 0)
	case isIP && ip.Is4():
		v := ip.As4()
		b = append(append(b, atypIPv4), v[:]...)
	case isIP:
		v := ip.As16()
		b = append(append(b, atypIPv6), v[:]...)
	default:
		if len(a.Host) > maxDomainLen {
			return nil, errorf(ErrTooLong, "host name of %d bytes (limit %d)", len(a.Host), maxDomainLen)
		}
		b = append(b, atypDomain, byte(len(a.Host)))
		b = append(b, a.Host...)
	}
	return binary.BigEndian.AppendUint16(b, a.Port), nil
}

// readAddr5 reads the address and port that follow ATYP in a SOCKS5
// request or reply.
func readAddr5(r *wireReader, atyp byte) (Addr, error) {
	var host string
	switch atyp {
	case atypIPv4:
		var v [4]byte
		if err := r.full(v[:]); err != nil {
			return Addr{}, err
		}
		host = netip.AddrFrom4(v).String()
	case atypIPv6:
		var v [16]byte
		if err := r.full(v[:]); err != nil {
			return Addr{}, err
		}
		host = netip.AddrFrom16(v).String()
	case atypDomain:
		n, err := r.byte()
		if err != nil {
			return Addr{}, err
		}
		name, err := r.field(n)
		if err != nil {
			return Addr{}, err
		}
		if host, err = checkHost(name); err != nil {
			return Addr{}, err
		}
	default:
		return Addr{}, errorf(ErrAddressType, "address type 0x%02x", atyp)
	}
	var p [2]byte
	if err := r.full(p[:]); err != nil {
		return Addr{}, err
	}
	return Addr{Host: host, Port: binary.BigEndian.Uint16(p[:])}, nil
}
