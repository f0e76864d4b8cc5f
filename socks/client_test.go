package socks

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

type clientCase struct {
	name       string
	version    int
	cmd        Command
	dest       Addr
	user, pass string
	server     []byte // what the server sends
	sent       []byte // what the client must send
	want       Addr
	wantErr    error // or a *ReplyError with the expected code
}

var clientCases = []clientCase{
	{
		name: "socks4 connect", version: 4, dest: Addr{"10.0.0.1", 21}, user: "JOB1",
		server: cat(0, 90, uint16(4000), 127, 0, 0, 1),
		sent:   cat(4, 1, uint16(21), 10, 0, 0, 1, "JOB1", 0),
		want:   Addr{"127.0.0.1", 4000},
	},
	{
		name: "socks4 mapped ipv4 dest", version: 4, dest: Addr{"::ffff:10.0.0.1", 21},
		server: cat(0, 90, uint16(4000), 0, 0, 0, 0),
		sent:   cat(4, 1, uint16(21), 10, 0, 0, 1, 0),
		want:   Addr{"0.0.0.0", 4000},
	},
	{
		name: "socks4a connect", version: 4, dest: Addr{"ftp.example", 21}, user: "u",
		server: cat(0, 90, uint16(0), 0, 0, 0, 0),
		sent:   cat(4, 1, uint16(21), 0, 0, 0, 1, "u", 0, "ftp.example", 0),
		want:   Addr{"0.0.0.0", 0},
	},
	{
		name: "socks4 bind", version: 4, cmd: CmdBind, dest: Addr{"10.0.0.2", 0},
		server: cat(0, 90, uint16(5000), 10, 0, 0, 9),
		sent:   cat(4, 2, uint16(0), 10, 0, 0, 2, 0),
		want:   Addr{"10.0.0.9", 5000},
	},
	{
		name: "socks4 bind any peer", version: 4, cmd: CmdBind,
		server: cat(0, 90, uint16(5000), 10, 0, 0, 9),
		sent:   cat(4, 2, uint16(0), 0, 0, 0, 0, 0),
		want:   Addr{"10.0.0.9", 5000},
	},
	{
		name: "socks5 connect ipv4", version: 5, dest: Addr{"10.0.0.1", 21},
		server: cat(5, 0, 5, 0, 0, 1, 127, 0, 0, 1, uint16(4000)),
		sent:   cat(5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, uint16(21)),
		want:   Addr{"127.0.0.1", 4000},
	},
	{
		name: "socks5 connect domain, ipv6 bound", version: 5, dest: Addr{"ftp.example", 21},
		server: cat(5, 0, 5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, uint16(4000)),
		sent:   cat(5, 1, 0, 5, 1, 0, 3, 11, "ftp.example", uint16(21)),
		want:   Addr{"::1", 4000},
	},
	{
		name: "socks5 connect ipv6, domain bound", version: 5, dest: Addr{"2001:db8::1", 21},
		server: cat(5, 0, 5, 0, 0, 3, 9, "proxy.lan", uint16(4000)),
		sent:   cat(5, 1, 0, 5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, uint16(21)),
		want:   Addr{"proxy.lan", 4000},
	},
	{
		name: "socks5 userpass", version: 5, dest: Addr{"10.0.0.1", 21}, user: "JOB1", pass: "s3cret",
		server: cat(5, 2, 1, 0, 5, 0, 0, 1, 127, 0, 0, 1, uint16(4000)),
		sent:   cat(5, 2, 2, 0, 1, 4, "JOB1", 6, "s3cret", 5, 1, 0, 1, 10, 0, 0, 1, uint16(21)),
		want:   Addr{"127.0.0.1", 4000},
	},
	{
		name: "socks5 user offered, server picks none", version: 5, dest: Addr{"10.0.0.1", 21}, user: "JOB1", pass: "x",
		server: cat(5, 0, 5, 0, 0, 1, 127, 0, 0, 1, uint16(4000)),
		sent:   cat(5, 2, 2, 0, 5, 1, 0, 1, 10, 0, 0, 1, uint16(21)),
		want:   Addr{"127.0.0.1", 4000},
	},
	{
		name: "socks5 auth status with version 5", version: 5, dest: Addr{"10.0.0.1", 21}, user: "u",
		server: cat(5, 2, 5, 0, 5, 0, 0, 1, 127, 0, 0, 1, uint16(1)),
		sent:   cat(5, 2, 2, 0, 1, 1, "u", 0, 5, 1, 0, 1, 10, 0, 0, 1, uint16(21)),
		want:   Addr{"127.0.0.1", 1},
	},
	{
		name: "socks5 bind", version: 5, cmd: CmdBind, dest: Addr{"10.0.0.2", 0},
		server: cat(5, 0, 5, 0, 0, 1, 10, 0, 0, 9, uint16(5000)),
		sent:   cat(5, 1, 0, 5, 2, 0, 1, 10, 0, 0, 2, uint16(0)),
		want:   Addr{"10.0.0.9", 5000},
	},

	// Failures.
	{
		name: "socks4 rejected", version: 4, dest: Addr{"10.0.0.1", 21},
		server:  cat(0, 91, uint16(0), 0, 0, 0, 0),
		sent:    cat(4, 1, uint16(21), 10, 0, 0, 1, 0),
		wantErr: &ReplyError{Code: RepGeneralFailure},
	},
	{
		name: "socks4 identd", version: 4, dest: Addr{"10.0.0.1", 21},
		server:  cat(0, 92, uint16(0), 0, 0, 0, 0),
		sent:    cat(4, 1, uint16(21), 10, 0, 0, 1, 0),
		wantErr: &ReplyError{Code: RepNotAllowed},
	},
	{
		name: "socks4 identd mismatch", version: 4, dest: Addr{"10.0.0.1", 21},
		server:  cat(0, 93, uint16(0), 0, 0, 0, 0),
		sent:    cat(4, 1, uint16(21), 10, 0, 0, 1, 0),
		wantErr: &ReplyError{Code: RepNotAllowed},
	},
	{
		name: "socks4 unknown code", version: 4, dest: Addr{"10.0.0.1", 21},
		server:  cat(0, 1, uint16(0), 0, 0, 0, 0),
		sent:    cat(4, 1, uint16(21), 10, 0, 0, 1, 0),
		wantErr: ErrMalformed,
	},
	{
		name: "socks4 reply version 4", version: 4, dest: Addr{"10.0.0.1", 21},
		server:  cat(4, 90, uint16(0), 0, 0, 0, 0),
		sent:    cat(4, 1, uint16(21), 10, 0, 0, 1, 0),
		wantErr: ErrMalformed,
	},
	{
		name: "socks4 ipv6 dest", version: 4, dest: Addr{"2001:db8::1", 21},
		wantErr: ErrAddressType,
	},
	{
		name: "socks4 dest looks like socks4a marker", version: 4, dest: Addr{"0.0.0.7", 21},
		wantErr: ErrAddressType,
	},
	{
		name: "socks4 password", version: 4, dest: Addr{"10.0.0.1", 21}, user: "u", pass: "pw-xyzzy",
		wantErr: ErrMalformed,
	},
	{
		name: "socks4 user with NUL", version: 4, dest: Addr{"10.0.0.1", 21}, user: "a\x00b",
		wantErr: ErrMalformed,
	},
	{
		name: "socks4 user too long", version: 4, dest: Addr{"10.0.0.1", 21}, user: repeat('u', 256),
		wantErr: ErrTooLong,
	},
	{
		name: "empty connect host", version: 5, dest: Addr{Port: 21},
		wantErr: ErrMalformed,
	},
	{
		name: "bad dest name", version: 5, dest: Addr{"a b", 21},
		wantErr: ErrMalformed,
	},
	{
		name: "dest with zone", version: 5, dest: Addr{"fe80::1%lo", 21},
		wantErr: ErrAddressType,
	},
	{
		name: "socks5 password without user", version: 5, dest: Addr{"10.0.0.1", 21}, pass: "pw-xyzzy",
		wantErr: ErrMalformed,
	},
	{
		name: "socks5 user too long", version: 5, dest: Addr{"10.0.0.1", 21}, user: repeat('u', 256),
		wantErr: ErrTooLong,
	},
	{
		name: "socks5 password too long", version: 5, dest: Addr{"10.0.0.1", 21}, user: "u", pass: repeat('p', 256),
		wantErr: ErrTooLong,
	},
	{
		name: "version 6", version: 6, dest: Addr{"10.0.0.1", 21},
		wantErr: ErrVersion,
	},
	{
		name: "socks5 no acceptable method", version: 5, dest: Addr{"10.0.0.1", 21},
		server:  cat(5, 0xFF),
		sent:    cat(5, 1, 0),
		wantErr: ErrMethod,
	},
	{
		name: "socks5 server picks userpass unasked", version: 5, dest: Addr{"10.0.0.1", 21},
		server:  cat(5, 2),
		sent:    cat(5, 1, 0),
		wantErr: ErrMalformed,
	},
	{
		name: "socks5 server picks gssapi", version: 5, dest: Addr{"10.0.0.1", 21}, user: "u",
		server:  cat(5, 1),
		sent:    cat(5, 2, 2, 0),
		wantErr: ErrMalformed,
	},
	{
		name: "socks5 method selection version 4", version: 5, dest: Addr{"10.0.0.1", 21},
		server:  cat(4, 0),
		sent:    cat(5, 1, 0),
		wantErr: ErrMalformed,
	},
	{
		name: "socks5 auth rejected", version: 5, dest: Addr{"10.0.0.1", 21}, user: "JOB1", pass: "wrong-pw",
		server:  cat(5, 2, 1, 1),
		sent:    cat(5, 2, 2, 0, 1, 4, "JOB1", 8, "wrong-pw"),
		wantErr: ErrAuth,
	},
	{
		name: "socks5 refused", version: 5, dest: Addr{"10.0.0.1", 21},
		server:  cat(5, 0, 5, 5, 0, 1, 0, 0, 0, 0, uint16(0)),
		sent:    cat(5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, uint16(21)),
		wantErr: &ReplyError{Code: RepConnectionRefused},
	},
	{
		name: "socks5 not allowed with bad address", version: 5, dest: Addr{"10.0.0.1", 21},
		server:  cat(5, 0, 5, 2, 0, 9),
		sent:    cat(5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, uint16(21)),
		wantErr: &ReplyError{Code: RepNotAllowed},
	},
	{
		name: "socks5 unassigned reply code", version: 5, dest: Addr{"10.0.0.1", 21},
		server:  cat(5, 0, 5, 0x42, 0, 1, 0, 0, 0, 0, uint16(0)),
		sent:    cat(5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, uint16(21)),
		wantErr: &ReplyError{Code: 0x42},
	},
	{
		name: "socks5 reply version 4", version: 5, dest: Addr{"10.0.0.1", 21},
		server:  cat(5, 0, 4, 0, 0, 1, 0, 0, 0, 0, uint16(0)),
		sent:    cat(5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, uint16(21)),
		wantErr: ErrMalformed,
	},
	{
		name: "socks5 reply unknown atyp", version: 5, dest: Addr{"10.0.0.1", 21},
		server:  cat(5, 0, 5, 0, 0, 7, 0, 0, 0, 0, uint16(0)),
		sent:    cat(5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, uint16(21)),
		wantErr: ErrAddressType,
	},
	{
		name: "socks5 reply empty domain", version: 5, dest: Addr{"10.0.0.1", 21},
		server:  cat(5, 0, 5, 0, 0, 3, 0, uint16(0)),
		sent:    cat(5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, uint16(21)),
		wantErr: ErrMalformed,
	},
}

func runClient(rw io.ReadWriter, tc clientCase) (Addr, error) {
	if tc.cmd == CmdBind {
		return ClientBind(rw, tc.version, tc.dest, tc.user, tc.pass)
	}
	return ClientHandshake(rw, tc.version, tc.dest, tc.user, tc.pass)
}

func TestClient(t *testing.T) {
	const tail = "DATA after the reply"
	for _, tc := range clientCases {
		t.Run(tc.name, func(t *testing.T) {
			rw := newScripted(cat(tc.server, tail))
			got, err := runClient(rw, tc)
			if !bytes.Equal(rw.out.Bytes(), tc.sent) {
				t.Errorf("sent % x, want % x", rw.out.Bytes(), tc.sent)
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("error: %v", err)
				}
				if got != tc.want {
					t.Errorf("bound %#v, want %#v", got, tc.want)
				}
				if rest := string(rw.rest()); rest != tail {
					t.Errorf("left %q in the connection, want %q", rest, tail)
				}
				return
			}
			if err == nil {
				t.Fatalf("succeeded with %v, want %v", got, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "socks: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if tc.pass != "" && strings.Contains(err.Error(), tc.pass) {
				t.Errorf("error %q contains the password", err)
			}
			var wantRE *ReplyError
			if errors.As(tc.wantErr, &wantRE) {
				var re *ReplyError
				if !errors.As(err, &re) || re.Code != wantRE.Code {
					t.Errorf("error %v, want a ReplyError with code %v", err, wantRE.Code)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestClientTruncated cuts every successful server script at every offset.
func TestClientTruncated(t *testing.T) {
	for _, tc := range clientCases {
		if tc.wantErr != nil {
			continue
		}
		for cut := range len(tc.server) {
			_, err := runClient(newScripted(tc.server[:cut]), tc)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s cut at %d: error %v, want unexpected EOF", tc.name, cut, err)
			}
		}
	}
}

func TestClientWriteFailure(t *testing.T) {
	for _, v := range []int{4, 5} {
		_, err := ClientHandshake(failWriter{bytes.NewReader(nil)}, v, Addr{"10.0.0.1", 21}, "", "")
		if !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("socks%d: error %v, want the write error", v, err)
		}
	}
}

func TestReadBindSecond(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version int
		in      []byte
		want    Addr
		wantErr error
	}{
		{"socks4", 4, cat(0, 90, uint16(40000), 10, 0, 0, 3), Addr{"10.0.0.3", 40000}, nil},
		{"socks5", 5, cat(5, 0, 0, 1, 10, 0, 0, 3, uint16(40000)), Addr{"10.0.0.3", 40000}, nil},
		{"socks4 rejected", 4, cat(0, 91, uint16(0), 0, 0, 0, 0), Addr{}, &ReplyError{}},
		{"socks5 ttl", 5, cat(5, 6, 0, 1, 0, 0, 0, 0, uint16(0)), Addr{}, &ReplyError{}},
		{"socks5 closed", 5, nil, Addr{}, io.ErrUnexpectedEOF},
		{"socks4 closed", 4, cat(0, 90), Addr{}, io.ErrUnexpectedEOF},
		{"version 3", 3, nil, Addr{}, ErrVersion},
	} {
		got, err := ReadBindSecond(bytes.NewReader(tc.in), tc.version)
		switch {
		case tc.wantErr == nil && (err != nil || got != tc.want):
			t.Errorf("%s: %#v, %v; want %#v", tc.name, got, err, tc.want)
		case tc.wantErr != nil:
			var re *ReplyError
			if _, isRE := tc.wantErr.(*ReplyError); isRE {
				if !errors.As(err, &re) {
					t.Errorf("%s: %v, want a ReplyError", tc.name, err)
				}
			} else if !errors.Is(err, tc.wantErr) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.wantErr)
			}
		}
	}
}
