package socks

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// Upper bounds on what one exchange may read: a SOCKS5 greeting (2+255),
// RFC 1929 subnegotiation (3+255+255) and request (4+1+255+2); a SOCKS4a
// request (8+256+256).
const (
	maxRequestRead = 2 + 255 + 3 + 255 + 255 + 4 + 1 + 255 + 2
	maxReplyRead   = 2 + 2 + 4 + 1 + 255 + 2
)

// fuzzConfig derives a ServerConfig from one fuzzed byte.
func fuzzConfig(sel byte) ServerConfig {
	var cfg ServerConfig
	switch sel & 3 {
	case 1:
		cfg.Versions = []int{4}
	case 2:
		cfg.Versions = []int{5}
	case 3:
		cfg.Versions = []int{5, 4}
	}
	switch (sel >> 2) & 3 {
	case 1:
		cfg.Methods = []Method{MethodUserPass, MethodNone}
	case 2:
		cfg.Methods = []Method{MethodUserPass}
	case 3:
		cfg.Methods = []Method{MethodNone, MethodUserPass}
	}
	if sel&16 != 0 {
		cfg.MaxUserLen, cfg.MaxPasswordLen, cfg.MaxHostLen = 8, 8, 16
	}
	return cfg
}

// encodeRequest is an independent encoder of a request in the canonical
// form a client would send for it.
func encodeRequest(req *Request) []byte {
	if req.Version == 4 {
		b := cat(4, int(req.Command), req.Dest.Port)
		ip, isIP := req.Dest.IP()
		if isIP && ip.Is4() && !(ip.As4()[0] == 0 && ip.As4()[1] == 0 && ip.As4()[2] == 0 && ip.As4()[3] != 0) {
			v := ip.As4()
			return cat(b, v[:], req.User, 0)
		}
		return cat(b, 0, 0, 0, 1, req.User, 0, req.Dest.Host, 0)
	}
	b := cat(5, 1, int(req.Method))
	if req.Method == MethodUserPass {
		b = cat(b, 1, len(req.User), req.User, len(req.Password), req.Password)
	}
	b, err := appendAddr5(cat(b, 5, int(req.Command), 0), req.Dest)
	if err != nil {
		panic(err)
	}
	return b
}

func FuzzReadRequest(f *testing.F) {
	for i, tc := range requestCases {
		f.Add(tc.in, byte(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, sel byte) {
		cfg := fuzzConfig(sel)
		rw := newScripted(data)
		req, err := ReadRequest(rw, cfg)
		consumed := len(data) - rw.in.Len()
		if consumed > maxRequestRead {
			t.Fatalf("read %d bytes, more than any valid exchange (%d)", consumed, maxRequestRead)
		}
		if rw.out.Len() > 2+2+3+1+255+2 {
			t.Fatalf("wrote %d bytes", rw.out.Len())
		}
		if err != nil {
			if req != nil {
				t.Fatalf("request %v returned with error %v", req, err)
			}
			if !strings.HasPrefix(err.Error(), "socks: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			known := false
			for _, s := range []error{ErrVersion, ErrMethod, ErrAuth, ErrCommand, ErrAddressType, ErrMalformed, ErrTooLong, io.EOF, io.ErrUnexpectedEOF} {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("error %q wraps no known kind", err)
			}
			return
		}
		checkRequestInvariants(t, &cfg, req)
		if req.Version == 5 && !bytes.HasPrefix(rw.out.Bytes(), []byte{5, byte(req.Method)}) {
			t.Fatalf("socks5 success wrote % x", rw.out.Bytes())
		}

		// Round trip: the canonical encoding parses to the same request and
		// leaves the bytes after it alone.
		const tail = "TAIL"
		again := newScripted(cat(encodeRequest(req), tail))
		req2, err := ReadRequest(again, cfg)
		if err != nil {
			t.Fatalf("re-reading %v: %v", req, err)
		}
		if !sameRequest(*req2, *req) {
			t.Fatalf("round trip changed %#v into %#v", req, req2)
		}
		if rest := string(again.rest()); rest != tail {
			t.Fatalf("round trip left %q, want %q", rest, tail)
		}
	})
}

func checkRequestInvariants(t *testing.T, cfg *ServerConfig, req *Request) {
	t.Helper()
	if !cfg.enabled(req.Version) {
		t.Fatalf("version %d accepted but not enabled", req.Version)
	}
	switch req.Version {
	case 4:
		if req.Command != CmdConnect && req.Command != CmdBind {
			t.Fatalf("socks4 command %v", req.Command)
		}
		if len(req.Password) > 0 || req.Method != MethodNone {
			t.Fatalf("socks4 request with password or method %v", req.Method)
		}
		if strings.IndexByte(req.User, 0) >= 0 {
			t.Fatalf("socks4 user id with NUL")
		}
	case 5:
		if req.Command < CmdConnect || req.Command > CmdUDPAssociate {
			t.Fatalf("socks5 command %v", req.Command)
		}
		found := false
		for _, m := range cfg.methods() {
			found = found || m == req.Method
		}
		if !found {
			t.Fatalf("method %v not in the config", req.Method)
		}
		if req.Method == MethodNone && (req.User != "" || len(req.Password) > 0) {
			t.Fatalf("credentials without userpass")
		}
		if req.Method == MethodUserPass && req.User == "" {
			t.Fatalf("userpass with an empty user")
		}
	default:
		t.Fatalf("version %d", req.Version)
	}
	if len(req.User) > limit(cfg.MaxUserLen) || len(req.Password) > limit(cfg.MaxPasswordLen) {
		t.Fatalf("credentials over the limits")
	}
	if req.Dest.Host == "" {
		t.Fatalf("empty destination host")
	}
	if req.Dest.IsDomain() {
		if len(req.Dest.Host) > limit(cfg.MaxHostLen) {
			t.Fatalf("host name over the limit")
		}
		if h, err := checkHost([]byte(req.Dest.Host)); err != nil || h != req.Dest.Host {
			t.Fatalf("host name %q is not canonical: %q, %v", req.Dest.Host, h, err)
		}
	} else if ip, _ := req.Dest.IP(); ip.Zone() != "" || ip.String() != req.Dest.Host {
		t.Fatalf("IP host %q is not canonical", req.Dest.Host)
	}
	if _, err := ParseAddr(req.Dest.String()); err != nil {
		t.Fatalf("destination %q does not parse back: %v", req.Dest, err)
	}
}

func FuzzClientReply(f *testing.F) {
	for _, tc := range clientCases {
		if tc.server != nil {
			f.Add(byte(tc.version), tc.user != "", tc.server)
		}
	}
	f.Fuzz(func(t *testing.T, v byte, withUser bool, data []byte) {
		version := 4 + int(v&1)
		user, pass := "", ""
		if withUser {
			user, pass = "JOB1", "pw-fuzz-secret"
		}
		if version == 4 {
			pass = ""
		}
		dest := Addr{"ftp.example", 21}
		rw := newScripted(data)
		bound, err := ClientHandshake(rw, version, dest, user, pass)
		consumed := len(data) - rw.in.Len()
		if consumed > maxReplyRead {
			t.Fatalf("read %d bytes, more than any valid reply (%d)", consumed, maxReplyRead)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "socks: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			if withUser && strings.Contains(err.Error(), "pw-fuzz-secret") {
				t.Fatalf("error %q contains the password", err)
			}
			var re *ReplyError
			if errors.As(err, &re) && re.Code == RepSucceeded {
				t.Fatalf("ReplyError with the success code")
			}
			return
		}
		if bound.Host == "" {
			t.Fatalf("empty bound host")
		}
		if version == 4 {
			if ip, ok := bound.IP(); !ok || !ip.Is4() {
				t.Fatalf("socks4 bound %q is not IPv4", bound.Host)
			}
			if consumed != 8 {
				t.Fatalf("socks4 reply of %d bytes", consumed)
			}
		}
		// The reply re-encoded by WriteReply reads back the same.
		var buf bytes.Buffer
		if err := WriteReply(&buf, version, RepSucceeded, bound); err != nil {
			t.Fatalf("re-encoding %v: %v", bound, err)
		}
		again, err := ReadBindSecond(bytes.NewReader(buf.Bytes()), version)
		if err != nil || again != bound {
			t.Fatalf("round trip of %v gave %v, %v", bound, again, err)
		}
	})
}

func FuzzParseProxyURL(f *testing.F) {
	for _, s := range []string{
		"socks5://127.0.0.1:1080", "socks5h://u:p%40w@proxy.lan:9050", "socks4a://JOB1@gw",
		"socks4://[::1]:1080", "socks5://[fe80::1%25lo]:1", "http://x", "socks5://:@:", "socks5://a:b@c:d@e",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		version, hostport, user, pass, err := ParseProxyURL(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "socks: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		if version != 4 && version != 5 {
			t.Fatalf("version %d", version)
		}
		host, port, err := net.SplitHostPort(hostport)
		if err != nil || host == "" {
			t.Fatalf("hostport %q: %v", hostport, err)
		}
		if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
			t.Fatalf("port %q", port)
		}
		if version == 4 && pass != "" {
			t.Fatalf("socks4 with a password")
		}
		// Rebuilding the URL from the parts parses to the same parts.
		u := url.URL{Scheme: "socks" + strconv.Itoa(version), Host: hostport}
		if user != "" {
			u.User = url.User(user)
			if pass != "" {
				u.User = url.UserPassword(user, pass)
			}
		}
		v2, hp2, u2, p2, err := ParseProxyURL(u.String())
		if err != nil || v2 != version || hp2 != hostport || u2 != user || p2 != pass {
			t.Fatalf("rebuilt URL parses to %d %q %q (password same: %v), %v; want %d %q %q",
				v2, hp2, u2, p2 == pass, err, version, hostport, user)
		}
	})
}

func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"ftp.example:21", "[2001:db8::1]:21", "10.0.0.1:0", "[::ffff:1.2.3.4]:1", "a b:1", ":1", "x:99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddr(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "socks: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		if a.Host == "" {
			t.Fatalf("empty host from %q", s)
		}
		b, err := ParseAddr(a.String())
		if err != nil || b != a {
			t.Fatalf("%q -> %#v -> %q -> %#v, %v", s, a, a.String(), b, err)
		}
		// Every parsed address can be sent in a SOCKS5 request.
		if _, err := appendAddr5(nil, a); err != nil {
			t.Fatalf("%#v cannot be encoded: %v", a, err)
		}
	})
}
