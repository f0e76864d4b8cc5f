package socks

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// readRequest4 reads the rest of a SOCKS4 or SOCKS4a request after VN=4:
//
//	CD(1) DSTPORT(2) DSTIP(4) USERID NUL [HOSTNAME NUL]
//
// HOSTNAME is present (SOCKS4a) when DSTIP is 0.0.0.x with x != 0. The
// whole request is read before any refusal, so the CD 91 reply is not
// lost to a reset caused by unread input.
func readRequest4(r *wireReader, w io.Writer, cfg *ServerConfig) (*Request, error) {
	const phase = "socks4 request"
	var hdr [7]byte
	if err := r.full(hdr[:]); err != nil {
		return nil, wrap(phase, err)
	}
	cmd := Command(hdr[0])
	port := binary.BigEndian.Uint16(hdr[1:3])
	ip := [4]byte(hdr[3:7])

	u, err := r.cstring(limit(cfg.MaxUserLen), "user id")
	if err != nil {
		return nil, refuse4(w, phase, err)
	}
	user := string(u)
	dest := Addr{Host: netip.AddrFrom4(ip).String(), Port: port}
	if ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] != 0 {
		name, err := r.cstring(limit(cfg.MaxHostLen), "socks4a host name")
		if err != nil {
			return nil, refuse4(w, "socks4a request", err)
		}
		if dest.Host, err = checkHost(name); err != nil {
			return nil, refuse4(w, "socks4a request", err)
		}
	}
	if !cfg.enabled(4) {
		return nil, refuse4(w, phase, errorf(ErrVersion, "socks4 is not enabled"))
	}
	if cmd != CmdConnect && cmd != CmdBind {
		return nil, refuse4(w, phase, errorf(ErrCommand, "command %d", byte(cmd)))
	}
	return &Request{Version: 4, Command: cmd, Dest: dest, User: user, Method: MethodNone}, nil
}

// refuse4 sends CD 91 when err is a protocol error (not an I/O error, where
// the peer is gone or stalled) and returns err wrapped with the phase.
func refuse4(w io.Writer, phase string, err error) error {
	var pe *protoError
	if errors.As(err, &pe) {
		if werr := WriteReply(w, 4, RepGeneralFailure, Addr{}); werr != nil {
			return fmt.Errorf("socks: %s: %w (and the refusal: %w)", phase, err, werr)
		}
	}
	return wrap(phase, err)
}

// wrap prefixes err with the package name and the protocol phase.
func wrap(phase string, err error) error {
	return fmt.Errorf("socks: %s: %w", phase, err)
}
