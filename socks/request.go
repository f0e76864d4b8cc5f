package socks

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Request is one client request, as read by [ReadRequest].
type Request struct {
	// Version is 4 (SOCKS4 or SOCKS4a) or 5.
	Version int
	// Command is the requested command.
	Command Command
	// Dest is the destination (CONNECT), the expected peer (BIND) or the
	// client's UDP source (UDP ASSOCIATE). A domain name stays unresolved.
	Dest Addr
	// User is the SOCKS4 USERID or the RFC 1929 user name; it may be empty.
	User string
	// Password is the RFC 1929 password; always empty for SOCKS4. It is
	// left out of String, GoString and JSON encodings. It is a fresh slice
	// the caller owns: wipe it (clear) once the login that needs it is done.
	Password []byte `json:"-"`
	// Method is the SOCKS5 authentication method that was negotiated;
	// MethodNone for SOCKS4.
	Method Method
}

// String and GoString have value receivers so that both Request and
// *Request print without the password.

// String describes the request for a log line, e.g.
// `socks5 connect ftp.example:21 user="job1" method=userpass`. It never
// includes the password.
func (r Request) String() string {
	var b strings.Builder
	b.WriteString("socks")
	b.WriteString(strconv.Itoa(r.Version))
	if r.Version == 4 && r.Dest.IsDomain() {
		b.WriteString("a")
	}
	b.WriteString(" ")
	b.WriteString(r.Command.String())
	b.WriteString(" ")
	b.WriteString(r.Dest.String())
	if r.User != "" {
		b.WriteString(" user=")
		b.WriteString(strconv.Quote(r.User))
	}
	if r.Version == 5 {
		b.WriteString(" method=")
		b.WriteString(r.Method.String())
	}
	return b.String()
}

// GoString implements fmt.GoStringer so that %#v does not print the
// password either.
func (r Request) GoString() string {
	pw := `""`
	if len(r.Password) > 0 {
		pw = `"<redacted>"`
	}
	return fmt.Sprintf("socks.Request{Version:%d, Command:%d, Dest:%#v, User:%q, Password:%s, Method:0x%02x}",
		r.Version, byte(r.Command), r.Dest, r.User, pw, byte(r.Method))
}

// ServerConfig controls [ReadRequest]. The zero value accepts SOCKS4,
// SOCKS4a and SOCKS5 without authentication. ReadRequest only reads it,
// so one ServerConfig may serve many connections at once.
type ServerConfig struct {
	// Versions lists the enabled protocol versions (4 covers SOCKS4a);
	// nil means {4, 5}, an empty non-nil slice enables none. Other values
	// are ignored.
	Versions []int
	// Methods lists the accepted SOCKS5 authentication methods in order of
	// preference; nil means {MethodNone}, an empty non-nil slice refuses
	// every SOCKS5 client. The first one the client also
	// offers is chosen. Only MethodNone and MethodUserPass are
	// implemented; other values are ignored.
	Methods []Method
	// MaxUserLen bounds the SOCKS4 USERID and the RFC 1929 user name;
	// 0 (or more than 255) means 255.
	MaxUserLen int
	// MaxPasswordLen bounds the RFC 1929 password; 0 (or more than 255)
	// means 255.
	MaxPasswordLen int
	// MaxHostLen bounds a destination domain name (SOCKS4a and SOCKS5);
	// 0 (or more than 255) means 255.
	MaxHostLen int
	// Authenticate, if set, is called during the RFC 1929 subnegotiation;
	// an error makes ReadRequest send the failure status and return an
	// error wrapping both ErrAuth and the callback's error (which must
	// therefore not contain the password). If nil, every user name and
	// password is accepted at this stage and returned in the Request for
	// the caller to judge.
	// The callback must not keep password, which the caller may wipe.
	Authenticate func(user string, password []byte) error
}

func (c *ServerConfig) enabled(version int) bool {
	if c.Versions == nil {
		return version == 4 || version == 5
	}
	return slices.Contains(c.Versions, version)
}

func (c *ServerConfig) methods() []Method {
	if c.Methods == nil {
		return []Method{MethodNone}
	}
	return c.Methods
}

// limit returns v if it is in 1..255, else 255.
func limit(v int) int {
	if v <= 0 || v > 255 {
		return 255
	}
	return v
}

// ReadRequest reads one SOCKS4, SOCKS4a or SOCKS5 request from rw,
// performing the SOCKS5 method negotiation and RFC 1929 subnegotiation on
// the way. It reads exactly the bytes of the handshake and nothing after.
//
// On success the caller must answer with [WriteReply]. On error,
// ReadRequest has already written the failure reply wherever the protocol
// has one (SOCKS4 CD 91; SOCKS5 method 0xFF, RFC 1929 status 1, reply 0x07
// for an unknown command, 0x08 for an unknown address type, 0x01 for
// other malformed requests); the caller only logs and closes. Errors wrap
// one of the package's sentinel errors, or an I/O error (io.EOF when the
// client closed before sending anything, io.ErrUnexpectedEOF when it
// closed in the middle).
//
// UDP ASSOCIATE (SOCKS5) is returned as a Request; the caller normally
// answers it with RepCommandNotSupported.
//
// A destination domain name must be 1 to MaxHostLen bytes of letters,
// digits, '-', '.', '_' or UTF-8 bytes; a name that is an IP literal is
// returned as that IP in canonical form.
//
// The caller should set a deadline on the connection: ReadRequest waits as
// long as the peer does.
func ReadRequest(rw io.ReadWriter, cfg ServerConfig) (*Request, error) {
	r := &wireReader{r: rw}
	ver, err := r.byte()
	if err != nil {
		return nil, fmt.Errorf("socks: reading version: %w", err)
	}
	switch ver {
	case 4:
		return readRequest4(r, rw, &cfg)
	case 5:
		return readRequest5(r, rw, &cfg)
	}
	hint := ""
	if ver >= 'A' && ver <= 'Z' {
		hint = fmt.Sprintf(" (%q: an HTTP request? the client is not using SOCKS)", rune(ver))
	} else if ver == 0x16 {
		hint = " (a TLS handshake? the client is not using SOCKS)"
	}
	return nil, fmt.Errorf("socks: %w", errorf(ErrVersion, "first byte 0x%02x%s", ver, hint))
}
