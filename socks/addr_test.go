package socks

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestAddrString(t *testing.T) {
	for _, tc := range []struct {
		a        Addr
		want     string
		isIP     bool
		isDomain bool
	}{
		{Addr{"192.0.2.1", 21}, "192.0.2.1:21", true, false},
		{Addr{"2001:db8::1", 21}, "[2001:db8::1]:21", true, false},
		{Addr{"ftp.example", 2121}, "ftp.example:2121", false, true},
		{Addr{}, ":0", false, false},
		{Addr{"fe80::1%lo", 1}, "[fe80::1%lo]:1", true, false},
	} {
		if got := tc.a.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.a, got, tc.want)
		}
		if _, ok := tc.a.IP(); ok != tc.isIP {
			t.Errorf("%#v.IP() ok = %v, want %v", tc.a, ok, tc.isIP)
		}
		if got := tc.a.IsDomain(); got != tc.isDomain {
			t.Errorf("%#v.IsDomain() = %v, want %v", tc.a, got, tc.isDomain)
		}
	}
	if !(Addr{}).IsZero() || (Addr{Port: 1}).IsZero() {
		t.Error("IsZero is wrong")
	}
}

type otherAddr string

func (a otherAddr) Network() string { return "other" }
func (a otherAddr) String() string  { return string(a) }

func TestAddrFromNet(t *testing.T) {
	var nilTCP *net.TCPAddr
	for _, tc := range []struct {
		name string
		in   net.Addr
		want Addr
	}{
		{"nil", nil, Addr{}},
		{"nil tcp", nilTCP, Addr{}},
		{"tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1080}, Addr{"127.0.0.1", 1080}},
		{"tcp6", &net.TCPAddr{IP: net.ParseIP("::1"), Port: 21}, Addr{"::1", 21}},
		{"tcp6 zone", &net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 21, Zone: "lo"}, Addr{"fe80::1%lo", 21}},
		{"tcp unspecified", &net.TCPAddr{Port: 5}, Addr{Port: 5}},
		{"udp", &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 53}, Addr{"10.0.0.1", 53}},
		{"other ip", otherAddr("[::ffff:10.0.0.1]:7"), Addr{"10.0.0.1", 7}},
		{"other name", otherAddr("h.example:7"), Addr{"h.example", 7}},
		{"other unsplittable", otherAddr("/run/x.sock"), Addr{}},
		{"other bad port", otherAddr("h:99999"), Addr{}},
	} {
		if got := AddrFromNet(tc.in); got != tc.want {
			t.Errorf("%s: AddrFromNet = %#v, want %#v", tc.name, got, tc.want)
		}
	}
}

func TestAddrFromAddrPort(t *testing.T) {
	for _, tc := range []struct {
		in   netip.AddrPort
		want Addr
	}{
		{netip.MustParseAddrPort("10.0.0.1:21"), Addr{"10.0.0.1", 21}},
		{netip.MustParseAddrPort("[::ffff:10.0.0.1]:21"), Addr{"10.0.0.1", 21}},
		{netip.MustParseAddrPort("[2001:db8::2]:990"), Addr{"2001:db8::2", 990}},
		{netip.AddrPortFrom(netip.Addr{}, 9), Addr{Port: 9}},
	} {
		if got := AddrFromAddrPort(tc.in); got != tc.want {
			t.Errorf("AddrFromAddrPort(%v) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Addr
		wantErr error
	}{
		{"ftp.example:21", Addr{"ftp.example", 21}, nil},
		{"[2001:DB8::1]:21", Addr{"2001:db8::1", 21}, nil},
		{"10.0.0.1:65535", Addr{"10.0.0.1", 65535}, nil},
		{"h:65536", Addr{}, errAny},
		{"h", Addr{}, errAny},
		{":21", Addr{}, ErrMalformed},
		{"a b:21", Addr{}, ErrMalformed},
		{"[fe80::1%eth0]:21", Addr{}, ErrMalformed},
		{repeat('x', 256) + ":1", Addr{}, ErrTooLong},
	} {
		got, err := ParseAddr(tc.in)
		switch {
		case tc.wantErr == nil && err != nil:
			t.Errorf("ParseAddr(%q): %v", tc.in, err)
		case tc.wantErr == nil && got != tc.want:
			t.Errorf("ParseAddr(%q) = %#v, want %#v", tc.in, got, tc.want)
		case tc.wantErr != nil && err == nil:
			t.Errorf("ParseAddr(%q) = %#v, want an error", tc.in, got)
		case tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
			t.Errorf("ParseAddr(%q): %v, want %v", tc.in, err, tc.wantErr)
		}
	}
}

// errAny stands for "any error" in tables.
var errAny = errors.New("any error")

func TestCheckHost(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" means an error
	}{
		{"ftp.example", "ftp.example"},
		{"FTP-1_x.Example.", "FTP-1_x.Example."},
		{"bücher.example", "bücher.example"},
		{"010.1.1.1", "010.1.1.1"}, // not an IP literal for netip: a name
		{"10.1.1.1", "10.1.1.1"},
		{"::FFFF:10.1.1.1", "::ffff:10.1.1.1"},
		{"", ""},
		{"a b", ""},
		{"a\tb", ""},
		{"a\x7fb", ""},
		{"a/b", ""},
		{"a%b", ""},
		{"[::1]", ""},
		{"fe80::1%lo", ""},
		{repeat('a', 255), repeat('a', 255)},
		{repeat('a', 256), ""},
	} {
		got, err := checkHost([]byte(tc.in))
		if tc.want == "" {
			if err == nil {
				t.Errorf("checkHost(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("checkHost(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
