package socks

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Reply is a SOCKS5 reply code (RFC 1928 section 6). SOCKS4 replies are
// derived from it: [RepSucceeded] is sent as CD 90, anything else as CD 91.
type Reply byte

// RFC 1928 reply codes.
const (
	RepSucceeded           Reply = 0x00
	RepGeneralFailure      Reply = 0x01
	RepNotAllowed          Reply = 0x02
	RepNetworkUnreachable  Reply = 0x03
	RepHostUnreachable     Reply = 0x04
	RepConnectionRefused   Reply = 0x05
	RepTTLExpired          Reply = 0x06
	RepCommandNotSupported Reply = 0x07
	RepAddressNotSupported Reply = 0x08
)

// SOCKS4 reply codes (the CD field of a reply).
const (
	rep4Granted     = 90
	rep4Rejected    = 91
	rep4NoIdentd    = 92
	rep4IdentdFails = 93
)

// String returns the RFC 1928 description of the code.
func (r Reply) String() string {
	switch r {
	case RepSucceeded:
		return "succeeded"
	case RepGeneralFailure:
		return "general SOCKS server failure"
	case RepNotAllowed:
		return "connection not allowed by ruleset"
	case RepNetworkUnreachable:
		return "network unreachable"
	case RepHostUnreachable:
		return "host unreachable"
	case RepConnectionRefused:
		return "connection refused"
	case RepTTLExpired:
		return "TTL expired"
	case RepCommandNotSupported:
		return "command not supported"
	case RepAddressNotSupported:
		return "address type not supported"
	}
	return fmt.Sprintf("reply(0x%02x)", byte(r))
}

// WriteReply writes a reply to a request of the given version (4 or 5)
// with one Write call. bound is the address the server bound for the
// request (for CONNECT, the local address of the upstream connection; for
// BIND, the listening address, then the peer that connected); the zero
// Addr is sent as 0.0.0.0:0.
//
// SOCKS5 encodes bound as IPv4, IPv6 or a domain name. SOCKS4 sends VN 0,
// CD 90 for [RepSucceeded] and CD 91 for every other code, and an IPv4
// address (0.0.0.0 when bound is not IPv4).
func WriteReply(w io.Writer, version int, code Reply, bound Addr) error {
	var buf []byte
	switch version {
	case 4:
		buf = appendReply4(make([]byte, 0, 8), code, bound)
	case 5:
		var err error
		buf, err = appendReply5(make([]byte, 0, 3+1+256+2), code, bound)
		if err != nil {
			return err
		}
	default:
		return errorf(ErrVersion, "reply for version %d", version)
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("socks: writing socks%d reply: %w", version, err)
	}
	return nil
}

// appendReply4 appends a SOCKS4 reply.
func appendReply4(b []byte, code Reply, bound Addr) []byte {
	cd := byte(rep4Granted)
	if code != RepSucceeded {
		cd = rep4Rejected
	}
	b = append(b, 0, cd)
	b = binary.BigEndian.AppendUint16(b, bound.Port)
	ip4 := [4]byte{}
	if ip, ok := bound.IP(); ok && ip.Unmap().Is4() {
		ip4 = ip.Unmap().As4()
	}
	return append(b, ip4[:]...)
}

// appendReply5 appends a SOCKS5 reply.
func appendReply5(b []byte, code Reply, bound Addr) ([]byte, error) {
	b = append(b, 5, byte(code), 0)
	return appendAddr5(b, bound)
}
