//go:build linux

package capture

import (
	"net/netip"
	"strings"
	"testing"
)

func TestPlanRules(t *testing.T) {
	ap := netip.MustParseAddrPort
	ep := func(a string, from, to uint16) Endpoint {
		return Endpoint{Addr: netip.MustParseAddr(a), Ports: PortRange{from, to}}
	}
	tests := []struct {
		name string
		plan Plan
		want []string
	}{
		{"loopback listeners of both families", Plan{
			Redirect: []netip.AddrPort{ap("127.0.0.1:1090"), ap("[::1]:1090")},
			Exclude:  []Endpoint{ep("127.0.0.1", 1080, 1080), ep("127.0.0.1", 32768, 60999)},
		}, []string{
			"ip tcp daddr 127.0.0.1 dport 1090 return",
			"ip tcp daddr 127.0.0.1 dport 1080 return",
			"ip tcp daddr 127.0.0.1 dport 32768-60999 return",
			"ip socket cgroupv2 tcp redirect to :1090",
			"ip6 tcp daddr ::1 dport 1090 return",
			"ip6 socket cgroupv2 tcp redirect to :1090",
		}},
		{"IPv4 only: IPv6 refused", Plan{Redirect: []netip.AddrPort{ap("127.0.0.1:1090")}}, []string{
			"ip tcp daddr 127.0.0.1 dport 1090 return",
			"ip socket cgroupv2 tcp redirect to :1090",
			"ip6 socket cgroupv2 tcp reject with tcp reset",
		}},
		{"not on loopback: dnat", Plan{Redirect: []netip.AddrPort{ap("10.1.1.1:1090")}}, []string{
			"ip tcp daddr 10.1.1.1 dport 1090 return",
			"ip socket cgroupv2 tcp dnat to 10.1.1.1:1090",
			"ip6 socket cgroupv2 tcp reject with tcp reset",
		}},
		{"another loopback address: dnat", Plan{Redirect: []netip.AddrPort{ap("127.0.0.2:1090")}}, []string{
			"ip tcp daddr 127.0.0.2 dport 1090 return",
			"ip socket cgroupv2 tcp dnat to 127.0.0.2:1090",
			"ip6 socket cgroupv2 tcp reject with tcp reset",
		}},
		{"wildcard listeners", Plan{
			Redirect: []netip.AddrPort{ap("0.0.0.0:1090")},
			Exclude:  []Endpoint{ep("::", 1080, 1080), ep("0.0.0.0", 2525, 2525)},
		}, []string{
			"ip tcp daddr local dport 1090 return",
			"ip tcp daddr local dport 1080 return",
			"ip tcp daddr local dport 2525 return",
			"ip socket cgroupv2 tcp redirect to :1090",
			"ip6 tcp daddr local dport 1080 return",
			"ip6 socket cgroupv2 tcp reject with tcp reset",
		}},
		{"ports", Plan{
			Redirect: []netip.AddrPort{ap("[::1]:1090")},
			Ports:    []PortRange{{21, 21}, {8000, 8099}},
		}, []string{
			"ip socket cgroupv2 tcp dport 21 reject with tcp reset",
			"ip socket cgroupv2 tcp dport 8000-8099 reject with tcp reset",
			"ip6 tcp daddr ::1 dport 1090 return",
			"ip6 socket cgroupv2 tcp dport 21 redirect to :1090",
			"ip6 socket cgroupv2 tcp dport 8000-8099 redirect to :1090",
		}},
		{"IPv4-mapped exclusion is IPv4", Plan{
			Redirect: []netip.AddrPort{ap("127.0.0.1:1090")},
			Exclude:  []Endpoint{ep("::ffff:127.0.0.1", 1080, 1080)},
		}, []string{
			"ip tcp daddr 127.0.0.1 dport 1090 return",
			"ip tcp daddr 127.0.0.1 dport 1080 return",
			"ip socket cgroupv2 tcp redirect to :1090",
			"ip6 socket cgroupv2 tcp reject with tcp reset",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range tt.plan.rules() {
				got = append(got, r.String())
				if len(r.exprs(7, 1)) == 0 {
					t.Errorf("rule %s has no expressions", r)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestLeftovers(t *testing.T) {
	alive := map[int]bool{100: true}
	running := func(pid int) bool { return alive[pid] }
	names := []string{"socksd_capture_100", "socksd_capture_200", "socksd_capture_200", "socksd_capture_",
		"socksd_capture_x1", "socksd_capture_007", "other_300", "socksd_capture_-4", "socksd_capture_50"}
	got := leftovers(names, "socksd_capture_", running)
	want := []string{"socksd_capture_200", "socksd_capture_50"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("leftovers = %v, want %v", got, want)
	}
}

func TestPopulated(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"populated 0\nfrozen 0\n", false},
		{"populated 1\nfrozen 0\n", true},
		{"frozen 0\n", true},
		{"", true},
	} {
		if got := populated([]byte(tt.in)); got != tt.want {
			t.Errorf("populated(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestIsCaptureCmdline(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"/usr/bin/socksd\x00capture\x00--\x00curl\x00", true},
		{"socksd\x00capture\x00", true},
		{"/usr/sbin/sshd\x00-D\x00", false},
		{"sleep\x00300\x00", false},
		{"/usr/bin/capture-tool\x00", false},
		{"", true},
	} {
		if got := isCaptureCmdline([]byte(tt.in)); got != tt.want {
			t.Errorf("isCaptureCmdline(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
