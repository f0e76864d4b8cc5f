package socks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
)

// RFC 1929 subnegotiation.
const (
	authVersion = 0x01
	authOK      = 0x00
	authFailed  = 0x01
)

// readRequest5 runs the SOCKS5 exchange after VER=5: the rest of the
// greeting, the method selection, the RFC 1929 subnegotiation if chosen,
// and the request.
func readRequest5(r *wireReader, w io.Writer, cfg *ServerConfig) (*Request, error) {
	method, err := negotiate5(r, w, cfg)
	if err != nil {
		return nil, err
	}
	req := &Request{Version: 5, Method: method}
	if method == MethodUserPass {
		if req.User, req.Password, err = auth5(r, w, cfg); err != nil {
			return nil, err
		}
	}
	if req.Command, req.Dest, err = request5(r, w, cfg); err != nil {
		clear(req.Password) // the caller gets no request to wipe it from
		return nil, err
	}
	return req, nil
}

// negotiate5 reads NMETHODS and METHODS and answers with the chosen
// method, or with 0xFF when SOCKS5 is disabled or nothing is acceptable.
func negotiate5(r *wireReader, w io.Writer, cfg *ServerConfig) (Method, error) {
	const phase = "socks5 greeting"
	n, err := r.byte()
	if err != nil {
		return 0, wrap(phase, err)
	}
	offered, err := r.field(n)
	if err != nil {
		return 0, wrap(phase, err)
	}
	chosen := MethodNoAcceptable
	var refusal error
	if !cfg.enabled(5) {
		refusal = errorf(ErrVersion, "socks5 is not enabled")
	} else {
		for _, m := range cfg.methods() {
			if supported(m) && slices.Contains(offered, byte(m)) {
				chosen = m
				break
			}
		}
		if chosen == MethodNoAcceptable {
			refusal = errorf(ErrMethod, "client offered %s, server accepts %s",
				methodList(offered), methodList(methodBytes(cfg.methods())))
		}
	}
	if _, err := w.Write([]byte{5, byte(chosen)}); err != nil {
		return 0, fmt.Errorf("socks: writing socks5 method selection: %w", err)
	}
	if refusal != nil {
		return 0, wrap(phase, refusal)
	}
	return chosen, nil
}

// auth5 runs the RFC 1929 subnegotiation:
//
//	VER=1 ULEN UNAME PLEN PASSWD  ->  VER=1 STATUS
//
// The password never appears in an error.
func auth5(r *wireReader, w io.Writer, cfg *ServerConfig) (user string, password []byte, err error) {
	const phase = "socks5 username/password authentication"
	ver, err := r.byte()
	if err != nil {
		return "", nil, wrap(phase, err)
	}
	if ver != authVersion {
		// The rest of the message has an unknown layout: refuse at once.
		return "", nil, authStatus(w, phase, errorf(ErrMalformed, "subnegotiation version 0x%02x (want 0x01)", ver))
	}
	ulen, err := r.byte()
	if err != nil {
		return "", nil, wrap(phase, err)
	}
	uname, err := r.field(ulen)
	if err != nil {
		return "", nil, wrap(phase, err)
	}
	user = string(uname)
	plen, err := r.byte()
	if err != nil {
		return "", nil, wrap(phase, err)
	}
	passwd, err := r.field(plen)
	var pw []byte // the caller's copy, wiped here unless it is returned
	if err == nil {
		pw = bytes.Clone(passwd)
	}
	clear(passwd) // no copy of the password stays in the scratch buffer
	defer func() {
		if password == nil {
			clear(pw)
		}
	}()
	if err != nil {
		return "", nil, wrap(phase, err)
	}
	switch {
	case ulen == 0:
		return "", nil, authStatus(w, phase, errorf(ErrMalformed, "empty user name"))
	case int(ulen) > limit(cfg.MaxUserLen):
		return "", nil, authStatus(w, phase, errorf(ErrTooLong, "user name of %d bytes (limit %d)", ulen, limit(cfg.MaxUserLen)))
	case int(plen) > limit(cfg.MaxPasswordLen):
		return "", nil, authStatus(w, phase, errorf(ErrTooLong, "password of %d bytes (limit %d)", plen, limit(cfg.MaxPasswordLen)))
	}
	if cfg.Authenticate != nil {
		if aerr := cfg.Authenticate(user, pw); aerr != nil {
			return "", nil, authStatus(w, phase, &protoError{kind: ErrAuth, msg: fmt.Sprintf("user %q", user), cause: aerr})
		}
	}
	if _, err := w.Write([]byte{authVersion, authOK}); err != nil {
		return "", nil, fmt.Errorf("socks: writing socks5 authentication status: %w", err)
	}
	return user, pw, nil
}

// authStatus sends the RFC 1929 failure status and returns err wrapped.
func authStatus(w io.Writer, phase string, err error) error {
	if _, werr := w.Write([]byte{authVersion, authFailed}); werr != nil {
		return fmt.Errorf("socks: %s: %w (and the failure status: %w)", phase, err, werr)
	}
	return wrap(phase, err)
}

// request5 reads a SOCKS5 request:
//
//	VER=5 CMD RSV ATYP DST.ADDR DST.PORT
//
// RSV is ignored, as RFC 1928 reserves it without giving it a meaning.
func request5(r *wireReader, w io.Writer, cfg *ServerConfig) (Command, Addr, error) {
	const phase = "socks5 request"
	var hdr [4]byte
	if err := r.full(hdr[:]); err != nil {
		return 0, Addr{}, wrap(phase, err)
	}
	if hdr[0] != 5 {
		return 0, Addr{}, refuse5(w, phase, errorf(ErrMalformed, "request version 0x%02x (want 0x05)", hdr[0]))
	}
	cmd := Command(hdr[1])
	dest, err := readAddr5(r, hdr[3])
	if err != nil {
		return 0, Addr{}, refuse5(w, phase, err)
	}
	if dest.IsDomain() && len(dest.Host) > limit(cfg.MaxHostLen) {
		return 0, Addr{}, refuse5(w, phase, errorf(ErrTooLong, "host name of %d bytes (limit %d)", len(dest.Host), limit(cfg.MaxHostLen)))
	}
	switch cmd {
	case CmdConnect, CmdBind, CmdUDPAssociate:
	default:
		return 0, Addr{}, refuse5(w, phase, errorf(ErrCommand, "command 0x%02x", byte(cmd)))
	}
	return cmd, dest, nil
}

// refuse5 sends the SOCKS5 failure reply that matches a protocol error
// (0x07 for a command, 0x08 for an address type, else 0x01) and returns
// err wrapped. I/O errors get no reply.
func refuse5(w io.Writer, phase string, err error) error {
	var pe *protoError
	if !errors.As(err, &pe) {
		return wrap(phase, err)
	}
	code := RepGeneralFailure
	switch {
	case errors.Is(err, ErrCommand):
		code = RepCommandNotSupported
	case errors.Is(err, ErrAddressType):
		code = RepAddressNotSupported
	}
	if werr := WriteReply(w, 5, code, Addr{}); werr != nil {
		return fmt.Errorf("socks: %s: %w (and the refusal: %w)", phase, err, werr)
	}
	return wrap(phase, err)
}

// supported reports whether the server side implements method.
func supported(m Method) bool { return m == MethodNone || m == MethodUserPass }

// methodBytes converts methods to their wire bytes.
func methodBytes(ms []Method) []byte {
	b := make([]byte, len(ms))
	for i, m := range ms {
		b[i] = byte(m)
	}
	return b
}

// methodList names wire method bytes for an error message, e.g. "[none userpass]".
func methodList(b []byte) string {
	if len(b) == 0 {
		return "no methods"
	}
	s := "["
	for i, m := range b {
		if i > 0 {
			s += " "
		}
		s += Method(m).String()
	}
	return s + "]"
}
