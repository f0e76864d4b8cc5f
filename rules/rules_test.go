package rules

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func mustCompile(t *testing.T, specs ...Spec) *Set {
	t.Helper()
	s, err := Compile(specs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMatch(t *testing.T) {
	set := mustCompile(t,
		Spec{Name: "jes-block", To: []string{"ftp.partner.example"}, Users: []string{"BADJOB"}, Action: "block"},
		Spec{Name: "partner", To: []string{"ftp.partner.example", "10.20.0.0/16", "*.partner.example", `re:^ftp[0-9]+\.`},
			Ports: []string{"21", "2100-2199"}, From: []string{"127.0.0.1/32", "::1"}, Commands: []string{"connect", "bind"},
			Action: "ftp-tunnel", Profile: "p"},
		Spec{Name: "v4-only", Versions: []int{4}, Ports: []string{"80"}, Action: "direct"},
		Spec{Name: "ip", To: []string{"192.0.2.7"}, Action: "tunnel", Profile: "p", FallbackToPlain: true},
	)
	lo := netip.MustParseAddr("127.0.0.1")
	other := netip.MustParseAddr("10.9.9.9")
	cases := []struct {
		req  Request
		want string // "" = no match
	}{
		{Request{Client: lo, Version: 5, Command: "connect", Host: "ftp.partner.example", Port: 21}, "partner"},
		{Request{Client: lo, Version: 5, Command: "connect", Host: "FTP.Partner.Example.", Port: 21}, "partner"},
		{Request{Client: lo, Version: 5, Command: "connect", Host: "ftp.partner.example", Port: 21, User: "BADJOB"}, "jes-block"},
		{Request{Client: lo, Version: 5, Command: "connect", Host: "a.b.partner.example", Port: 2150}, "partner"},
		{Request{Client: lo, Version: 5, Command: "connect", Host: "partner.example", Port: 21}, ""},
		{Request{Client: lo, Version: 4, Command: "bind", Host: "10.20.3.4", Port: 21}, "partner"},
		{Request{Client: netip.MustParseAddr("::ffff:127.0.0.1"), Version: 4, Command: "connect", Host: "ftp7.x.org", Port: 21}, "partner"},
		{Request{Client: netip.MustParseAddr("::1"), Version: 5, Command: "connect", Host: "ftp7.x.org", Port: 21}, "partner"},
		{Request{Client: other, Version: 5, Command: "connect", Host: "ftp7.x.org", Port: 21}, ""},
		{Request{Client: lo, Version: 5, Command: "udp-associate", Host: "ftp7.x.org", Port: 21}, ""},
		{Request{Client: lo, Version: 5, Command: "connect", Host: "ftp7.x.org", Port: 2200}, ""},
		{Request{Client: lo, Version: 4, Command: "connect", Host: "example.org", Port: 80}, "v4-only"},
		{Request{Client: lo, Version: 5, Command: "connect", Host: "example.org", Port: 80}, ""},
		{Request{Client: lo, Version: 5, Command: "connect", Host: "192.0.2.7", Port: 443}, "ip"},
		{Request{Client: lo, Version: 5, Command: "connect", Host: "::ffff:192.0.2.7", Port: 443}, "ip"},
		// A name is never resolved: it does not match an IP rule.
		{Request{Client: lo, Version: 5, Command: "connect", Host: "ip.example", Port: 443}, ""},
		// An IP does not match a name pattern.
		{Request{Client: lo, Version: 5, Command: "connect", Host: "10.21.0.1", Port: 21}, ""},
	}
	for _, c := range cases {
		r, ok := set.Match(c.req)
		got := ""
		if ok {
			got = r.Name
		}
		if got != c.want {
			t.Errorf("Match(%+v) = %q, want %q", c.req, got, c.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		spec  Spec
		field string
	}{
		{Spec{Name: "a", Action: "allow"}, "action"},
		{Spec{Name: "a", Action: "tunnel"}, "profile"},
		{Spec{Name: "a", Action: "direct", Profile: "x"}, "profile"},
		{Spec{Name: "a", Action: "direct", FallbackToPlain: true}, "fallback_to_plain"},
		{Spec{Name: "a", Action: "block", To: []string{"10.0.0.0/33"}}, "to"},
		{Spec{Name: "a", Action: "block", To: []string{"re:("}}, "to"},
		{Spec{Name: "a", Action: "block", To: []string{"ftp*.example"}}, "to"},
		{Spec{Name: "a", Action: "block", Ports: []string{"0"}}, "ports"},
		{Spec{Name: "a", Action: "block", Ports: []string{"90-80"}}, "ports"},
		{Spec{Name: "a", Action: "block", Ports: []string{"70000"}}, "ports"},
		{Spec{Name: "a", Action: "block", From: []string{"localhost"}}, "from"},
		{Spec{Name: "a", Action: "block", Commands: []string{"listen"}}, "commands"},
		{Spec{Name: "a", Action: "block", Versions: []int{6}}, "versions"},
		{Spec{Name: "", Action: "block"}, "name"},
	}
	for _, c := range cases {
		_, err := Compile([]Spec{c.spec})
		var re *Error
		if !errors.As(err, &re) || re.Field != c.field {
			t.Errorf("Compile(%+v) = %v, want error on %s", c.spec, err, c.field)
		}
	}
	_, err := Compile([]Spec{{Name: "x", Action: "block"}, {Name: "x", Action: "direct"}})
	var re *Error
	if !errors.As(err, &re) || re.Rule != 1 || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("duplicate name: %v", err)
	}
}

func TestString(t *testing.T) {
	set := mustCompile(t, Spec{Name: "p", To: []string{"*.x.org", "10.0.0.0/8"}, Ports: []string{"21"}, Action: "ftp-tunnel", Profile: "gw"},
		Spec{Name: "rest", Action: "block"})
	rs := set.Rules()
	if got, want := rs[0].String(), "1 p: ftp-tunnel profile=gw when to=*.x.org,10.0.0.0/8 ports=21"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
	if got, want := rs[1].String(), "2 rest: block when any"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
}
