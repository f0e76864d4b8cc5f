package hostport

import (
	"errors"
	"strings"
	"testing"
)

func TestParseListen(t *testing.T) {
	tests := []struct {
		in, host string
		port     int
		err      string
	}{
		{"127.0.0.1:1080", "127.0.0.1", 1080, ""},
		{"[::1]:1080", "::1", 1080, ""},
		{":1080", "", 1080, ""},
		{"localhost:0", "localhost", 0, ""},
		{"0.0.0.0:65535", "0.0.0.0", 65535, ""},
		{"nohostport", "", 0, "is not a host:port address"},
		{"::1:1080", "", 0, "is not a host:port address"},
		{"127.0.0.1:", "", 0, "does not end in a port"},
		{"127.0.0.1:65536", "", 0, "does not end in a port"},
		{"127.0.0.1:-1", "", 0, "does not end in a port"},
		{"127.0.0.1:ftp", "", 0, "does not end in a port"},
	}
	for _, tc := range tests {
		host, port, err := ParseListen(tc.in)
		var he *Error
		switch {
		case tc.err == "" && (err != nil || host != tc.host || port != tc.port):
			t.Errorf("%q: got %q %d %v, want %q %d", tc.in, host, port, err, tc.host, tc.port)
		case tc.err != "" && (!errors.As(err, &he) || he.Addr != tc.in || !strings.Contains(he.Reason, tc.err) || !strings.HasPrefix(err.Error(), "hostport: ")):
			t.Errorf("%q: got %v, want an *Error with %q", tc.in, err, tc.err)
		}
	}
}
