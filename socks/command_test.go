package socks

import "testing"

func TestCommand(t *testing.T) {
	for _, tc := range []struct {
		c    Command
		name string
	}{
		{CmdConnect, "connect"}, {CmdBind, "bind"}, {CmdUDPAssociate, "udp-associate"},
	} {
		if got := tc.c.String(); got != tc.name {
			t.Errorf("%d.String() = %q, want %q", tc.c, got, tc.name)
		}
		if got, err := ParseCommand(tc.name); err != nil || got != tc.c {
			t.Errorf("ParseCommand(%q) = %v, %v", tc.name, got, err)
		}
	}
	if got := Command(9).String(); got != "command(9)" {
		t.Errorf("Command(9).String() = %q", got)
	}
	if got, err := ParseCommand("CONNECT"); err != nil || got != CmdConnect {
		t.Errorf("ParseCommand is case-sensitive: %v, %v", got, err)
	}
	if _, err := ParseCommand("udp"); err == nil {
		t.Error("ParseCommand(udp) succeeded")
	}
}

func TestMethod(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Method
		ok   bool
	}{
		{"none", MethodNone, true},
		{"userpass", MethodUserPass, true},
		{"UserPass", MethodUserPass, true},
		{"gssapi", 0, false},
		{"", 0, false},
		{"no-acceptable", 0, false},
	} {
		got, err := ParseMethod(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseMethod(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		m    Method
		want string
	}{
		{MethodNone, "none"}, {MethodUserPass, "userpass"}, {MethodNoAcceptable, "no-acceptable"}, {1, "method(0x01)"},
	} {
		if got := tc.m.String(); got != tc.want {
			t.Errorf("Method(%d).String() = %q, want %q", tc.m, got, tc.want)
		}
	}
}
