package socks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

var (
	// Replies as the server writes them.
	rep4Fail    = cat(0, 91, uint16(0), 0, 0, 0, 0)
	sel5None    = cat(5, 0)
	sel5User    = cat(5, 2)
	sel5NoAccep = cat(5, 0xFF)
	auth5OK     = cat(1, 0)
	auth5Fail   = cat(1, 1)
)

func rep5(code Reply) []byte { return cat(5, int(code), 0, 1, 0, 0, 0, 0, uint16(0)) }

var bothCfg = ServerConfig{Versions: []int{4, 5}, Methods: []Method{MethodNone, MethodUserPass}}

type requestCase struct {
	name    string
	cfg     ServerConfig
	in      []byte
	want    *Request // nil for a failure
	wantErr error
	written []byte
}

var requestCases = []requestCase{
	// SOCKS4 and SOCKS4a.
	{
		name: "socks4 connect",
		cfg:  bothCfg,
		in:   cat(4, 1, uint16(21), 10, 0, 0, 1, "JOB1", 0),
		want: &Request{Version: 4, Command: CmdConnect, Dest: Addr{"10.0.0.1", 21}, User: "JOB1"},
	},
	{
		name: "socks4 connect empty userid",
		cfg:  bothCfg,
		in:   cat(4, 1, uint16(2121), 127, 0, 0, 1, 0),
		want: &Request{Version: 4, Command: CmdConnect, Dest: Addr{"127.0.0.1", 2121}},
	},
	{
		name: "socks4 bind",
		cfg:  bothCfg,
		in:   cat(4, 2, uint16(20), 192, 0, 2, 9, "u", 0),
		want: &Request{Version: 4, Command: CmdBind, Dest: Addr{"192.0.2.9", 20}, User: "u"},
	},
	{
		name: "socks4 dest 0.0.0.0 is not socks4a",
		cfg:  bothCfg,
		in:   cat(4, 1, uint16(21), 0, 0, 0, 0, 0),
		want: &Request{Version: 4, Command: CmdConnect, Dest: Addr{"0.0.0.0", 21}},
	},
	{
		name: "socks4 zero config accepts",
		in:   cat(4, 1, uint16(21), 10, 0, 0, 1, 0),
		want: &Request{Version: 4, Command: CmdConnect, Dest: Addr{"10.0.0.1", 21}},
	},
	{
		name: "socks4 userid at limit",
		cfg:  ServerConfig{MaxUserLen: 8},
		in:   cat(4, 1, uint16(21), 10, 0, 0, 1, "12345678", 0),
		want: &Request{Version: 4, Command: CmdConnect, Dest: Addr{"10.0.0.1", 21}, User: "12345678"},
	},
	{
		name: "socks4 userid 255",
		cfg:  bothCfg,
		in:   cat(4, 1, uint16(21), 10, 0, 0, 1, repeat('u', 255), 0),
		want: &Request{Version: 4, Command: CmdConnect, Dest: Addr{"10.0.0.1", 21}, User: repeat('u', 255)},
	},
	{
		name: "socks4a connect",
		cfg:  bothCfg,
		in:   cat(4, 1, uint16(21), 0, 0, 0, 1, "JOB1", 0, "ftp.partner.example", 0),
		want: &Request{Version: 4, Command: CmdConnect, Dest: Addr{"ftp.partner.example", 21}, User: "JOB1"},
	},
	{
		name: "socks4a marker 0.0.0.255",
		cfg:  bothCfg,
		in:   cat(4, 2, uint16(20), 0, 0, 0, 255, 0, "Host_1-a.example.", 0),
		want: &Request{Version: 4, Command: CmdBind, Dest: Addr{"Host_1-a.example.", 20}},
	},
	{
		name: "socks4a host that is an IP literal",
		cfg:  bothCfg,
		in:   cat(4, 1, uint16(21), 0, 0, 0, 1, 0, "2001:DB8::1", 0),
		want: &Request{Version: 4, Command: CmdConnect, Dest: Addr{"2001:db8::1", 21}},
	},
	{
		name: "socks4a host 255 bytes",
		cfg:  bothCfg,
		in:   cat(4, 1, uint16(21), 0, 0, 0, 1, 0, repeat('h', 255), 0),
		want: &Request{Version: 4, Command: CmdConnect, Dest: Addr{repeat('h', 255), 21}},
	},
	// SOCKS5.
	{
		name:    "socks5 connect ipv4",
		cfg:     bothCfg,
		in:      cat(5, 1, 0, 5, 1, 0, 1, 192, 0, 2, 1, uint16(21)),
		want:    &Request{Version: 5, Command: CmdConnect, Dest: Addr{"192.0.2.1", 21}, Method: MethodNone},
		written: sel5None,
	},
	{
		name:    "socks5 connect domain",
		cfg:     bothCfg,
		in:      cat(5, 1, 0, 5, 1, 0, 3, 11, "ftp.example", uint16(21)),
		want:    &Request{Version: 5, Command: CmdConnect, Dest: Addr{"ftp.example", 21}, Method: MethodNone},
		written: sel5None,
	},
	{
		name:    "socks5 connect domain 255 bytes",
		cfg:     bothCfg,
		in:      cat(5, 1, 0, 5, 1, 0, 3, 255, repeat('d', 255), uint16(21)),
		want:    &Request{Version: 5, Command: CmdConnect, Dest: Addr{repeat('d', 255), 21}, Method: MethodNone},
		written: sel5None,
	},
	{
		name:    "socks5 domain that is an IP literal is canonical",
		cfg:     bothCfg,
		in:      cat(5, 1, 0, 5, 1, 0, 3, 14, "::FFFF:1.2.3.4", uint16(21)),
		want:    &Request{Version: 5, Command: CmdConnect, Dest: Addr{"::ffff:1.2.3.4", 21}, Method: MethodNone},
		written: sel5None,
	},
	{
		name: "socks5 connect ipv6",
		cfg:  bothCfg,
		in: cat(5, 1, 0, 5, 1, 0, 4,
			0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, uint16(990)),
		want:    &Request{Version: 5, Command: CmdConnect, Dest: Addr{"2001:db8::1", 990}, Method: MethodNone},
		written: sel5None,
	},
	{
		name:    "socks5 bind",
		cfg:     bothCfg,
		in:      cat(5, 1, 0, 5, 2, 0, 1, 10, 1, 1, 1, uint16(0)),
		want:    &Request{Version: 5, Command: CmdBind, Dest: Addr{"10.1.1.1", 0}, Method: MethodNone},
		written: sel5None,
	},
	{
		name:    "socks5 udp associate is returned",
		cfg:     bothCfg,
		in:      cat(5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, uint16(0)),
		want:    &Request{Version: 5, Command: CmdUDPAssociate, Dest: Addr{"0.0.0.0", 0}, Method: MethodNone},
		written: sel5None,
	},
	{
		name:    "socks5 reserved byte is ignored",
		cfg:     bothCfg,
		in:      cat(5, 1, 0, 5, 1, 0x7f, 1, 10, 0, 0, 1, uint16(21)),
		want:    &Request{Version: 5, Command: CmdConnect, Dest: Addr{"10.0.0.1", 21}, Method: MethodNone},
		written: sel5None,
	},
	{
		name: "socks5 userpass",
		cfg:  ServerConfig{Methods: []Method{MethodUserPass, MethodNone}},
		in: cat(5, 2, 0, 2, 1, 4, "JOB1", 6, "s3cret",
			5, 1, 0, 3, 11, "ftp.example", uint16(21)),
		want:    &Request{Version: 5, Command: CmdConnect, Dest: Addr{"ftp.example", 21}, User: "JOB1", Password: []byte("s3cret"), Method: MethodUserPass},
		written: cat(sel5User, auth5OK),
	},
	{
		name: "socks5 userpass empty password",
		cfg:  ServerConfig{Methods: []Method{MethodUserPass}},
		in: cat(5, 1, 2, 1, 1, "u", 0,
			5, 1, 0, 1, 10, 0, 0, 1, uint16(21)),
		want:    &Request{Version: 5, Command: CmdConnect, Dest: Addr{"10.0.0.1", 21}, User: "u", Method: MethodUserPass},
		written: cat(sel5User, auth5OK),
	},
	{
		name: "socks5 userpass 255-byte fields",
		cfg:  ServerConfig{Methods: []Method{MethodUserPass}},
		in: cat(5, 1, 2, 1, 255, repeat('u', 255), 255, repeat('p', 255),
			5, 1, 0, 1, 10, 0, 0, 1, uint16(21)),
		want:    &Request{Version: 5, Command: CmdConnect, Dest: Addr{"10.0.0.1", 21}, User: repeat('u', 255), Password: []byte(repeat('p', 255)), Method: MethodUserPass},
		written: cat(sel5User, auth5OK),
	},
	{
		name:    "socks5 server preference wins over client order",
		cfg:     bothCfg, // none first
		in:      cat(5, 2, 2, 0, 5, 1, 0, 1, 10, 0, 0, 1, uint16(21)),
		want:    &Request{Version: 5, Command: CmdConnect, Dest: Addr{"10.0.0.1", 21}, Method: MethodNone},
		written: sel5None,
	},
	{
		name:    "socks5 unknown methods offered beside a known one",
		cfg:     bothCfg,
		in:      cat(5, 4, 1, 0x80, 0xFE, 0, 5, 1, 0, 1, 10, 0, 0, 1, uint16(21)),
		want:    &Request{Version: 5, Command: CmdConnect, Dest: Addr{"10.0.0.1", 21}, Method: MethodNone},
		written: sel5None,
	},

	// Failures.
	{
		name:    "unknown version",
		cfg:     bothCfg,
		in:      cat(6, 1, 0),
		wantErr: ErrVersion,
	},
	{
		name:    "http request",
		cfg:     bothCfg,
		in:      cat("GET / HTTP/1.1\r\n\r\n"),
		wantErr: ErrVersion,
	},
	{
		name:    "tls client hello",
		cfg:     bothCfg,
		in:      cat(0x16, 3, 1, 0, 5),
		wantErr: ErrVersion,
	},
	{
		name:    "socks4 disabled",
		cfg:     ServerConfig{Versions: []int{5}},
		in:      cat(4, 1, uint16(21), 10, 0, 0, 1, "JOB1", 0),
		wantErr: ErrVersion,
		written: rep4Fail,
	},
	{
		name:    "socks4a disabled with socks4",
		cfg:     ServerConfig{Versions: []int{5}},
		in:      cat(4, 1, uint16(21), 0, 0, 0, 1, 0, "h", 0),
		wantErr: ErrVersion,
		written: rep4Fail,
	},
	{
		name:    "socks5 disabled",
		cfg:     ServerConfig{Versions: []int{4}},
		in:      cat(5, 1, 0),
		wantErr: ErrVersion,
		written: sel5NoAccep,
	},
	{
		name:    "socks4 unknown command",
		cfg:     bothCfg,
		in:      cat(4, 3, uint16(21), 10, 0, 0, 1, 0),
		wantErr: ErrCommand,
		written: rep4Fail,
	},
	{
		name:    "socks4 userid over 255",
		cfg:     bothCfg,
		in:      cat(4, 1, uint16(21), 10, 0, 0, 1, repeat('u', 256), 0),
		wantErr: ErrTooLong,
		written: rep4Fail,
	},
	{
		name:    "socks4 userid over configured limit",
		cfg:     ServerConfig{MaxUserLen: 8},
		in:      cat(4, 1, uint16(21), 10, 0, 0, 1, "123456789", 0),
		wantErr: ErrTooLong,
		written: rep4Fail,
	},
	{
		name:    "socks4a empty host",
		cfg:     bothCfg,
		in:      cat(4, 1, uint16(21), 0, 0, 0, 1, 0, 0),
		wantErr: ErrMalformed,
		written: rep4Fail,
	},
	{
		name:    "socks4a host with a space",
		cfg:     bothCfg,
		in:      cat(4, 1, uint16(21), 0, 0, 0, 1, 0, "ftp example", 0),
		wantErr: ErrMalformed,
		written: rep4Fail,
	},
	{
		name:    "socks4a host over 255",
		cfg:     bothCfg,
		in:      cat(4, 1, uint16(21), 0, 0, 0, 1, 0, repeat('h', 256), 0),
		wantErr: ErrTooLong,
		written: rep4Fail,
	},
	{
		name:    "socks4a host over configured limit",
		cfg:     ServerConfig{MaxHostLen: 4},
		in:      cat(4, 1, uint16(21), 0, 0, 0, 1, 0, "abcde", 0),
		wantErr: ErrTooLong,
		written: rep4Fail,
	},
	{
		name:    "socks5 no acceptable method",
		cfg:     ServerConfig{Methods: []Method{MethodUserPass}},
		in:      cat(5, 1, 0),
		wantErr: ErrMethod,
		written: sel5NoAccep,
	},
	{
		name:    "socks5 zero methods",
		cfg:     bothCfg,
		in:      cat(5, 0),
		wantErr: ErrMethod,
		written: sel5NoAccep,
	},
	{
		name:    "socks5 only gssapi offered",
		cfg:     bothCfg,
		in:      cat(5, 1, 1),
		wantErr: ErrMethod,
		written: sel5NoAccep,
	},
	{
		name:    "socks5 client offers 0xff",
		cfg:     ServerConfig{Methods: []Method{MethodNoAcceptable}},
		in:      cat(5, 1, 0xFF),
		wantErr: ErrMethod,
		written: sel5NoAccep,
	},
	{
		name:    "empty version list enables nothing",
		cfg:     ServerConfig{Versions: []int{}},
		in:      cat(5, 1, 0),
		wantErr: ErrVersion,
		written: sel5NoAccep,
	},
	{
		name:    "empty method list refuses socks5",
		cfg:     ServerConfig{Methods: []Method{}},
		in:      cat(5, 2, 0, 2),
		wantErr: ErrMethod,
		written: sel5NoAccep,
	},
	{
		name:    "socks5 gssapi configured but not implemented",
		cfg:     ServerConfig{Methods: []Method{1, MethodUserPass}},
		in:      cat(5, 1, 1),
		wantErr: ErrMethod,
		written: sel5NoAccep,
	},
	{
		name:    "socks5 unknown command",
		cfg:     bothCfg,
		in:      cat(5, 1, 0, 5, 9, 0, 1, 10, 0, 0, 1, uint16(21)),
		wantErr: ErrCommand,
		written: cat(sel5None, rep5(RepCommandNotSupported)),
	},
	{
		name:    "socks5 command zero",
		cfg:     bothCfg,
		in:      cat(5, 1, 0, 5, 0, 0, 3, 1, "h", uint16(21)),
		wantErr: ErrCommand,
		written: cat(sel5None, rep5(RepCommandNotSupported)),
	},
	{
		name:    "socks5 unknown address type",
		cfg:     bothCfg,
		in:      cat(5, 1, 0, 5, 1, 0, 2, 10, 0, 0, 1, uint16(21)),
		wantErr: ErrAddressType,
		written: cat(sel5None, rep5(RepAddressNotSupported)),
	},
	{
		name:    "socks5 zero-length domain",
		cfg:     bothCfg,
		in:      cat(5, 1, 0, 5, 1, 0, 3, 0, uint16(21)),
		wantErr: ErrMalformed,
		written: cat(sel5None, rep5(RepGeneralFailure)),
	},
	{
		name:    "socks5 domain with NUL",
		cfg:     bothCfg,
		in:      cat(5, 1, 0, 5, 1, 0, 3, 3, "a", 0, "b", uint16(21)),
		wantErr: ErrMalformed,
		written: cat(sel5None, rep5(RepGeneralFailure)),
	},
	{
		name:    "socks5 domain with colon",
		cfg:     bothCfg,
		in:      cat(5, 1, 0, 5, 1, 0, 3, 6, "h:2121", uint16(21)),
		wantErr: ErrMalformed,
		written: cat(sel5None, rep5(RepGeneralFailure)),
	},
	{
		name:    "socks5 domain with zone",
		cfg:     bothCfg,
		in:      cat(5, 1, 0, 5, 1, 0, 3, 11, "fe80::1%eth", uint16(21)),
		wantErr: ErrMalformed,
		written: cat(sel5None, rep5(RepGeneralFailure)),
	},
	{
		name:    "socks5 domain over configured limit",
		cfg:     ServerConfig{MaxHostLen: 4},
		in:      cat(5, 1, 0, 5, 1, 0, 3, 5, "abcde", uint16(21)),
		wantErr: ErrTooLong,
		written: cat(sel5None, rep5(RepGeneralFailure)),
	},
	{
		name:    "socks5 request with version 4",
		cfg:     bothCfg,
		in:      cat(5, 1, 0, 4, 1, 0, 1, 10, 0, 0, 1, uint16(21)),
		wantErr: ErrMalformed,
		written: cat(sel5None, rep5(RepGeneralFailure)),
	},
	{
		name:    "socks5 auth version 5",
		cfg:     ServerConfig{Methods: []Method{MethodUserPass}},
		in:      cat(5, 1, 2, 5, 1, "u", 1, "p"),
		wantErr: ErrMalformed,
		written: cat(sel5User, auth5Fail),
	},
	{
		name:    "socks5 auth empty user",
		cfg:     ServerConfig{Methods: []Method{MethodUserPass}},
		in:      cat(5, 1, 2, 1, 0, 1, "p"),
		wantErr: ErrMalformed,
		written: cat(sel5User, auth5Fail),
	},
	{
		name:    "socks5 auth user over configured limit",
		cfg:     ServerConfig{Methods: []Method{MethodUserPass}, MaxUserLen: 3},
		in:      cat(5, 1, 2, 1, 4, "JOB1", 1, "p"),
		wantErr: ErrTooLong,
		written: cat(sel5User, auth5Fail),
	},
	{
		name:    "socks5 auth password over configured limit",
		cfg:     ServerConfig{Methods: []Method{MethodUserPass}, MaxPasswordLen: 3},
		in:      cat(5, 1, 2, 1, 1, "u", 4, "pass"),
		wantErr: ErrTooLong,
		written: cat(sel5User, auth5Fail),
	},
}

func TestReadRequest(t *testing.T) {
	const tail = "TAIL: relay bytes"
	for _, tc := range requestCases {
		t.Run(tc.name, func(t *testing.T) {
			rw := newScripted(cat(tc.in, tail))
			req, err := ReadRequest(rw, tc.cfg)
			if tc.want != nil {
				if err != nil {
					t.Fatalf("ReadRequest: %v", err)
				}
				if !sameRequest(*req, *tc.want) {
					t.Errorf("request = %#v, want %#v (password compared too)", req, tc.want)
				}
				if !bytes.Equal(req.Password, tc.want.Password) {
					t.Errorf("password differs")
				}
				if got := string(rw.rest()); got != tail {
					t.Errorf("bytes left for the relay = %q, want %q", got, tail)
				}
			} else {
				if err == nil {
					t.Fatalf("ReadRequest succeeded with %v, want %v", req, tc.wantErr)
				}
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("error %q does not wrap %q", err, tc.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "socks: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				if req != nil {
					t.Errorf("request %v returned with an error", req)
				}
			}
			if !bytes.Equal(rw.out.Bytes(), tc.written) {
				t.Errorf("written % x, want % x", rw.out.Bytes(), tc.written)
			}
		})
	}
}

// TestReadRequestTruncated cuts every valid request at every byte offset:
// the result is an I/O error (io.EOF at offset 0, else
// io.ErrUnexpectedEOF) and nothing is written beyond the replies that the
// complete exchange writes before that point.
func TestReadRequestTruncated(t *testing.T) {
	for _, tc := range requestCases {
		if tc.want == nil {
			continue
		}
		full := newScripted(tc.in)
		if _, err := ReadRequest(full, tc.cfg); err != nil {
			t.Fatalf("%s: complete request: %v", tc.name, err)
		}
		for cut := range len(tc.in) {
			rw := newScripted(tc.in[:cut])
			req, err := ReadRequest(rw, tc.cfg)
			wantErr := io.ErrUnexpectedEOF
			if cut == 0 {
				wantErr = io.EOF
			}
			if !errors.Is(err, wantErr) {
				t.Fatalf("%s cut at %d: got (%v, %v), want error %v", tc.name, cut, req, err, wantErr)
			}
			if !bytes.HasPrefix(full.out.Bytes(), rw.out.Bytes()) {
				t.Fatalf("%s cut at %d: wrote % x, not a prefix of the complete exchange's % x",
					tc.name, cut, rw.out.Bytes(), full.out.Bytes())
			}
		}
	}
}

func TestReadRequestAuthenticate(t *testing.T) {
	const secret = "hunter2-very-secret"
	in := cat(5, 1, 2, 1, 4, "JOB1", len(secret), secret, 5, 1, 0, 1, 10, 0, 0, 1, uint16(21))
	deny := errors.New("password does not match")
	var gotUser, gotPass string
	cfg := ServerConfig{Methods: []Method{MethodUserPass}, Authenticate: func(u string, p []byte) error {
		gotUser, gotPass = u, string(p)
		if gotPass != "right" {
			return deny
		}
		return nil
	}}
	rw := newScripted(in)
	_, err := ReadRequest(rw, cfg)
	if !errors.Is(err, ErrAuth) || !errors.Is(err, deny) {
		t.Fatalf("error %v, want ErrAuth wrapping the callback's error", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q contains the password", err)
	}
	if !strings.Contains(err.Error(), "JOB1") {
		t.Errorf("error %q does not name the user", err)
	}
	if gotUser != "JOB1" || gotPass != secret {
		t.Errorf("callback got %q/%q", gotUser, gotPass)
	}
	if want := cat(sel5User, auth5Fail); !bytes.Equal(rw.out.Bytes(), want) {
		t.Errorf("written % x, want % x", rw.out.Bytes(), want)
	}

	in = cat(5, 1, 2, 1, 4, "JOB1", 5, "right", 5, 1, 0, 1, 10, 0, 0, 1, uint16(21))
	req, err := ReadRequest(newScripted(in), cfg)
	if err != nil || req.User != "JOB1" || string(req.Password) != "right" {
		t.Fatalf("accepted credentials: %v, %v", req, err)
	}
}

// TestReadRequestWriteFailure checks that a failed reply write is reported.
func TestReadRequestWriteFailure(t *testing.T) {
	for _, in := range [][]byte{
		cat(5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, uint16(21)), // method selection
		cat(4, 3, uint16(21), 10, 0, 0, 1, 0),             // socks4 refusal
		cat(5, 1, 9),                                      // 0xFF selection
	} {
		_, err := ReadRequest(failWriter{bytes.NewReader(in)}, bothCfg)
		if !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("input % x: error %v, want the write error", in, err)
		}
	}
}

func TestRequestNeverPrintsPassword(t *testing.T) {
	const secret = "pa55-w0rd-xyz"
	req := &Request{Version: 5, Command: CmdConnect, Dest: Addr{"ftp.example", 21}, User: "JOB1", Password: []byte(secret), Method: MethodUserPass}
	js, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{
		req.String(), req.GoString(), string(js),
		fmt.Sprint(req), fmt.Sprintf("%v %+v %#v %s", req, req, req, req),
		fmt.Sprintf("%v %+v %#v", *req, *req, *req),
	}
	for _, s := range outs {
		if strings.Contains(s, secret) {
			t.Errorf("%q contains the password", s)
		}
	}
	if want := `socks5 connect ftp.example:21 user="JOB1" method=userpass`; req.String() != want {
		t.Errorf("String() = %q, want %q", req.String(), want)
	}
	r4 := &Request{Version: 4, Command: CmdBind, Dest: Addr{"h.example", 20}}
	if want := "socks4a bind h.example:20"; r4.String() != want {
		t.Errorf("String() = %q, want %q", r4.String(), want)
	}
	var nilReq *Request
	if got := fmt.Sprint(nilReq); got != "<nil>" {
		t.Errorf("nil request prints %q", got)
	}
}
