package socks

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// ClientHandshake asks the SOCKS server at the other end of rw to CONNECT
// to dest and returns the address the server bound for it.
//
// version 4 sends SOCKS4 for an IPv4 dest and SOCKS4a for a domain name
// (an IPv6 dest is refused with ErrAddressType); SOCKS4 carries user as
// USERID and has no password. version 5 offers no authentication, plus
// RFC 1929 username/password when user is not empty. Domain names are
// sent to the server unresolved.
//
// A failure reply from the server is returned as a *ReplyError with the
// server's code (SOCKS4 CD 91 becomes RepGeneralFailure, CD 92/93
// RepNotAllowed). ClientHandshake reads exactly the reply, so rw carries
// the connection's data afterwards. Set a deadline on rw beforehand.
func ClientHandshake(rw io.ReadWriter, version int, dest Addr, user, password string) (bound Addr, err error) {
	return clientRequest(rw, version, CmdConnect, dest, user, password)
}

// ClientBind sends a BIND request (used by FTP active mode) for a
// connection expected from dest and returns the server's first reply: the
// address and port where the server listens. Read the second reply, sent
// when the peer connects, with [ReadBindSecond]. Versions, credentials and
// errors are as for [ClientHandshake].
func ClientBind(rw io.ReadWriter, version int, dest Addr, user, password string) (first Addr, err error) {
	return clientRequest(rw, version, CmdBind, dest, user, password)
}

// ReadBindSecond reads the second reply to a BIND request, sent by the
// server when the expected peer has connected to the bound address, and
// returns the peer's address. A failure reply is returned as a
// *ReplyError.
func ReadBindSecond(r io.Reader, version int) (peer Addr, err error) {
	wr := &wireReader{r: r, n: 1} // mid-exchange: EOF is unexpected
	switch version {
	case 4:
		return readReply4(wr, "socks4 bind second reply")
	case 5:
		return readReply5(wr, "socks5 bind second reply")
	}
	return Addr{}, fmt.Errorf("socks: %w", errorf(ErrVersion, "version %d (want 4 or 5)", version))
}

// clientRequest runs the client side of one request.
func clientRequest(rw io.ReadWriter, version int, cmd Command, dest Addr, user, password string) (Addr, error) {
	dest, err := clientDest(cmd, dest)
	if err != nil {
		return Addr{}, fmt.Errorf("socks: socks%d client: destination %q: %w", version, dest.String(), err)
	}
	r := &wireReader{r: rw, n: 1}
	switch version {
	case 4:
		msg, err := request4(cmd, dest, user, password)
		if err != nil {
			return Addr{}, wrap("socks4 client", err)
		}
		if _, err := rw.Write(msg); err != nil {
			return Addr{}, fmt.Errorf("socks: writing socks4 request: %w", err)
		}
		return readReply4(r, "socks4 reply")
	case 5:
		if err := checkCredentials5(user, password); err != nil {
			return Addr{}, wrap("socks5 client", err)
		}
		if err := greet5(r, rw, user, password); err != nil {
			return Addr{}, err
		}
		msg, err := appendAddr5([]byte{5, byte(cmd), 0}, dest)
		if err != nil {
			return Addr{}, wrap("socks5 client", err)
		}
		if _, err := rw.Write(msg); err != nil {
			return Addr{}, fmt.Errorf("socks: writing socks5 request: %w", err)
		}
		return readReply5(r, "socks5 reply")
	}
	return Addr{}, fmt.Errorf("socks: %w", errorf(ErrVersion, "version %d (want 4 or 5)", version))
}

// clientDest validates and canonicalises a destination for a request. An
// empty host is allowed only for BIND (it means "any peer").
func clientDest(cmd Command, dest Addr) (Addr, error) {
	if dest.Host == "" {
		if cmd == CmdBind {
			return dest, nil
		}
		return dest, errorf(ErrMalformed, "empty host")
	}
	if ip, ok := dest.IP(); ok {
		if ip.Zone() != "" {
			return dest, errorf(ErrAddressType, "IPv6 zone %q cannot be sent", ip.Zone())
		}
		return dest, nil
	}
	h, err := checkHost([]byte(dest.Host))
	if err != nil {
		return dest, err
	}
	dest.Host = h
	return dest, nil
}

// request4 builds a SOCKS4 or SOCKS4a request.
func request4(cmd Command, dest Addr, user, password string) ([]byte, error) {
	if password != "" {
		return nil, errorf(ErrMalformed, "socks4 has no password field")
	}
	if len(user) > 255 {
		return nil, errorf(ErrTooLong, "user id of %d bytes (limit 255)", len(user))
	}
	if strings.IndexByte(user, 0) >= 0 {
		return nil, errorf(ErrMalformed, "user id contains a NUL byte")
	}
	msg := binary.BigEndian.AppendUint16([]byte{4, byte(cmd)}, dest.Port)
	ip, isIP := dest.IP()
	switch {
	case dest.Host == "":
		msg = append(msg, 0, 0, 0, 0)
		msg = append(append(msg, user...), 0)
	case isIP:
		ip = ip.Unmap()
		if !ip.Is4() {
			return nil, errorf(ErrAddressType, "socks4 carries only IPv4 addresses, not %s", ip)
		}
		v := ip.As4()
		if v[0] == 0 && v[1] == 0 && v[2] == 0 && v[3] != 0 {
			return nil, errorf(ErrAddressType, "%s would be read as a socks4a marker", ip)
		}
		msg = append(msg, v[:]...)
		msg = append(append(msg, user...), 0)
	default:
		msg = append(msg, 0, 0, 0, 1)
		msg = append(append(msg, user...), 0)
		msg = append(append(msg, dest.Host...), 0)
	}
	return msg, nil
}

// readReply4 reads an 8-byte SOCKS4 reply: VN=0 CD DSTPORT DSTIP.
func readReply4(r *wireReader, phase string) (Addr, error) {
	var b [8]byte
	if err := r.full(b[:]); err != nil {
		return Addr{}, wrap(phase, err)
	}
	if b[0] != 0 {
		return Addr{}, wrap(phase, errorf(ErrMalformed, "reply version 0x%02x (want 0x00)", b[0]))
	}
	bound := Addr{Host: netip.AddrFrom4([4]byte(b[4:8])).String(), Port: binary.BigEndian.Uint16(b[2:4])}
	switch b[1] {
	case rep4Granted:
		return bound, nil
	case rep4Rejected:
		return Addr{}, &ReplyError{Code: RepGeneralFailure, Err: errors.New("socks4 request rejected or failed (CD 91)")}
	case rep4NoIdentd:
		return Addr{}, &ReplyError{Code: RepNotAllowed, Err: errors.New("socks4 server cannot reach the client's identd (CD 92)")}
	case rep4IdentdFails:
		return Addr{}, &ReplyError{Code: RepNotAllowed, Err: errors.New("socks4 client's identd reports a different user id (CD 93)")}
	}
	return Addr{}, wrap(phase, errorf(ErrMalformed, "reply code %d", b[1]))
}

// checkCredentials5 checks that user and password fit RFC 1929.
func checkCredentials5(user, password string) error {
	if user == "" {
		if password != "" {
			return errorf(ErrMalformed, "password without a user name")
		}
		return nil
	}
	if len(user) > 255 {
		return errorf(ErrTooLong, "user name of %d bytes (limit 255)", len(user))
	}
	if len(password) > 255 {
		return errorf(ErrTooLong, "password of %d bytes (limit 255)", len(password))
	}
	return nil
}

// greet5 sends the SOCKS5 greeting, reads the method selection and runs
// the RFC 1929 subnegotiation if the server chose it.
func greet5(r *wireReader, w io.Writer, user, password string) error {
	const phase = "socks5 method selection"
	greeting := []byte{5, 1, byte(MethodNone)}
	if user != "" {
		greeting = []byte{5, 2, byte(MethodUserPass), byte(MethodNone)}
	}
	if _, err := w.Write(greeting); err != nil {
		return fmt.Errorf("socks: writing socks5 greeting: %w", err)
	}
	var sel [2]byte
	if err := r.full(sel[:]); err != nil {
		return wrap(phase, err)
	}
	if sel[0] != 5 {
		return wrap(phase, errorf(ErrMalformed, "version 0x%02x (want 0x05)", sel[0]))
	}
	switch m := Method(sel[1]); {
	case m == MethodNone:
		return nil
	case m == MethodUserPass && user != "":
		return auth5Client(r, w, user, password)
	case m == MethodNoAcceptable:
		return wrap(phase, errorf(ErrMethod, "server accepts none of %s", methodList(greeting[2:])))
	default:
		return wrap(phase, errorf(ErrMalformed, "server chose %s, which was not offered", m))
	}
}

// auth5Client runs the client side of RFC 1929. The password is never part
// of an error.
func auth5Client(r *wireReader, w io.Writer, user, password string) error {
	const phase = "socks5 username/password authentication"
	msg := make([]byte, 0, 3+len(user)+len(password))
	msg = append(msg, authVersion, byte(len(user)))
	msg = append(msg, user...)
	msg = append(msg, byte(len(password)))
	msg = append(msg, password...)
	_, err := w.Write(msg)
	clear(msg)
	if err != nil {
		return fmt.Errorf("socks: writing socks5 authentication: %w", err)
	}
	var st [2]byte
	if err := r.full(st[:]); err != nil {
		return wrap(phase, err)
	}
	// Only STATUS matters; some servers echo 0x05 in the version byte.
	if st[1] != authOK {
		return wrap(phase, errorf(ErrAuth, "server rejected user %q (status 0x%02x)", user, st[1]))
	}
	return nil
}

// readReply5 reads a SOCKS5 reply: VER=5 REP RSV ATYP BND.ADDR BND.PORT.
func readReply5(r *wireReader, phase string) (Addr, error) {
	var hdr [4]byte
	if err := r.full(hdr[:]); err != nil {
		return Addr{}, wrap(phase, err)
	}
	if hdr[0] != 5 {
		return Addr{}, wrap(phase, errorf(ErrMalformed, "reply version 0x%02x (want 0x05)", hdr[0]))
	}
	bound, err := readAddr5(r, hdr[3])
	if rep := Reply(hdr[1]); rep != RepSucceeded {
		// The failure counts even if the address that follows is garbage.
		return Addr{}, &ReplyError{Code: rep}
	}
	if err != nil {
		return Addr{}, wrap(phase, err)
	}
	return bound, nil
}
