package socks

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestWriteReply(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version int
		code    Reply
		bound   Addr
		want    []byte
		wantErr error
	}{
		{"socks5 ipv4", 5, RepSucceeded, Addr{"10.0.0.1", 4321}, cat(5, 0, 0, 1, 10, 0, 0, 1, uint16(4321)), nil},
		{"socks5 ipv6", 5, RepSucceeded, Addr{"2001:db8::1", 21},
			cat(5, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, uint16(21)), nil},
		{"socks5 ipv6 zone dropped", 5, RepSucceeded, Addr{"fe80::1%lo", 21},
			cat(5, 0, 0, 4, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, uint16(21)), nil},
		{"socks5 domain", 5, RepSucceeded, Addr{"ftp.example", 21}, cat(5, 0, 0, 3, 11, "ftp.example", uint16(21)), nil},
		{"socks5 zero addr", 5, RepSucceeded, Addr{}, cat(5, 0, 0, 1, 0, 0, 0, 0, uint16(0)), nil},
		{"socks5 refused", 5, RepConnectionRefused, Addr{}, cat(5, 5, 0, 1, 0, 0, 0, 0, uint16(0)), nil},
		{"socks5 not allowed", 5, RepNotAllowed, Addr{}, rep5(RepNotAllowed), nil},
		{"socks5 command not supported", 5, RepCommandNotSupported, Addr{}, rep5(RepCommandNotSupported), nil},
		{"socks5 domain too long", 5, RepSucceeded, Addr{repeat('a', 256), 1}, nil, ErrTooLong},
		{"socks4 granted", 4, RepSucceeded, Addr{"10.0.0.1", 4321}, cat(0, 90, uint16(4321), 10, 0, 0, 1), nil},
		{"socks4 mapped ipv4", 4, RepSucceeded, Addr{"::ffff:10.0.0.1", 20}, cat(0, 90, uint16(20), 10, 0, 0, 1), nil},
		{"socks4 ipv6 bound", 4, RepSucceeded, Addr{"2001:db8::1", 20}, cat(0, 90, uint16(20), 0, 0, 0, 0), nil},
		{"socks4 domain bound", 4, RepSucceeded, Addr{"h.example", 20}, cat(0, 90, uint16(20), 0, 0, 0, 0), nil},
		{"socks4 refused", 4, RepConnectionRefused, Addr{"10.0.0.1", 1}, cat(0, 91, uint16(1), 10, 0, 0, 1), nil},
		{"socks4 not allowed", 4, RepNotAllowed, Addr{}, rep4Fail, nil},
		{"version 6", 6, RepSucceeded, Addr{}, nil, ErrVersion},
	} {
		var buf bytes.Buffer
		err := WriteReply(&buf, tc.version, tc.code, tc.bound)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%s: error %v, want %v", tc.name, err, tc.wantErr)
			}
			if buf.Len() != 0 {
				t.Errorf("%s: wrote % x despite the error", tc.name, buf.Bytes())
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !bytes.Equal(buf.Bytes(), tc.want) {
			t.Errorf("%s: wrote % x, want % x", tc.name, buf.Bytes(), tc.want)
		}
	}
	if err := WriteReply(failWriter{}, 5, RepSucceeded, Addr{}); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("write failure: %v", err)
	}
}

func TestReplyString(t *testing.T) {
	for code, want := range map[Reply]string{
		RepSucceeded:           "succeeded",
		RepGeneralFailure:      "general SOCKS server failure",
		RepNotAllowed:          "connection not allowed by ruleset",
		RepNetworkUnreachable:  "network unreachable",
		RepHostUnreachable:     "host unreachable",
		RepConnectionRefused:   "connection refused",
		RepTTLExpired:          "TTL expired",
		RepCommandNotSupported: "command not supported",
		RepAddressNotSupported: "address type not supported",
		0x09:                   "reply(0x09)",
	} {
		if got := code.String(); got != want {
			t.Errorf("Reply(%d).String() = %q, want %q", code, got, want)
		}
	}
}
