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
		msg   string
	}{
		{Spec{Name: "a", Action: "allow"}, "action", `unknown action "allow" (want block, direct, tunnel, ftp-tunnel or ftp-sftp)`},
		{Spec{Name: "a"}, "action", "every rule needs an action"},
		{Spec{Name: "a", Action: "tunnel"}, "profile", "action tunnel needs a profile"},
		{Spec{Name: "a", Action: "direct", Profile: "x"}, "profile", "action direct takes no profile"},
		{Spec{Name: "a", Action: "direct", FallbackToPlain: true}, "fallback_to_plain", "only the tunnel actions"},
		{Spec{Name: "a", Action: "block", To: []string{"10.0.0.0/33"}}, "to",
			`"10.0.0.0/33" is not an address, a CIDR prefix, a host name pattern or re:REGEX (the prefix length of an IPv4 address is 0 to 32)`},
		{Spec{Name: "a", Action: "block", To: []string{"10.0.0.300/8"}}, "to", `("10.0.0.300" is not an IP address)`},
		{Spec{Name: "a", Action: "block", To: []string{"re:("}}, "to", `"re:(" is not a valid regular expression: missing closing )`},
		{Spec{Name: "a", Action: "block", To: []string{"re:a**"}}, "to", `"re:a**" is not a valid regular expression: invalid nested repetition operator at "**"`},
		{Spec{Name: "a", Action: "block", To: []string{"ftp*.example"}}, "to", "a * may only begin a pattern"},
		{Spec{Name: "a", Action: "block", Ports: []string{"0"}}, "ports", `"0" is not a port (1-65535) or a range such as 2100-2199`},
		{Spec{Name: "a", Action: "block", Ports: []string{"90-80"}}, "ports", "its end is below its start"},
		{Spec{Name: "a", Action: "block", Ports: []string{"70000"}}, "ports", `"70000" is not a port`},
		{Spec{Name: "a", Action: "block", From: []string{"localhost"}}, "from", `"localhost" is not an IP address or a CIDR prefix`},
		{Spec{Name: "a", Action: "block", Users: []string{"re:[a"}}, "users", "is not a valid regular expression"},
		{Spec{Name: "a", Action: "block", Commands: []string{"listen"}}, "commands", `unknown command "listen"`},
		{Spec{Name: "a", Action: "block", Versions: []int{6}}, "versions", "unknown SOCKS version 6"},
		{Spec{Name: "", Action: "block"}, "name", "every rule needs a name"},
	}
	for _, c := range cases {
		_, err := Compile([]Spec{c.spec})
		var re *Error
		if !errors.As(err, &re) || re.Field != c.field || !strings.Contains(re.Err.Error(), c.msg) {
			t.Errorf("Compile(%+v) = %v, want error on %s containing %q", c.spec, err, c.field, c.msg)
			continue
		}
		for _, internal := range []string{"netip", "ParsePrefix", "strconv", "error parsing regexp"} {
			if strings.Contains(err.Error(), internal) {
				t.Errorf("error %q shows Go internals (%s)", err, internal)
			}
		}
	}
}

// Compile reports every problem of every rule in one run, each with its
// rule index and field, and a duplicate name as a typed error.
func TestCompileReportsEveryError(t *testing.T) {
	_, err := Compile([]Spec{
		{Name: "x", Action: "block", To: []string{"10.0.0.0/33", "ok.example", "re:("}},
		{Name: "x", Action: "direct", Ports: []string{"0"}},
		{Name: "y", Action: "tunnel"},
	})
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("not an ErrorList: %v", err)
	}
	type at struct {
		rule  int
		field string
	}
	var got []at
	for _, e := range list {
		got = append(got, at{e.Rule, e.Field})
	}
	want := []at{{0, "to"}, {0, "to"}, {1, "ports"}, {1, "name"}, {2, "profile"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v (%v)", got, want, err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("error %d at %v, want %v", i, got[i], want[i])
		}
	}
	var dup *DuplicateNameError
	if !errors.As(err, &dup) || dup.Name != "x" || dup.First != 0 {
		t.Errorf("duplicate name: %v", err)
	}
}

func TestParsePrefix(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"127.0.0.1", "127.0.0.1/32", ""},
		{" 10.1.2.3/8 ", "10.0.0.0/8", ""},
		{"::ffff:10.0.0.1", "10.0.0.1/32", ""},
		{"::1/128", "::1/128", ""},
		{"10.0.0.0/40", "", `"10.0.0.0/40" is not an IP address or a CIDR prefix (the prefix length of an IPv4 address is 0 to 32)`},
		{"::/129", "", "IPv6 address is 0 to 128"},
		{"localhost", "", `"localhost" is not an IP address or a CIDR prefix`},
	} {
		p, err := ParsePrefix(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParsePrefix(%q) = %v, %v; want error %q", tc.in, p, err, tc.err)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", tc.in, p, err, tc.want)
		}
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
