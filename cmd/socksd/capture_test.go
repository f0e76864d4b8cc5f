package main

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"socksd/capture"
)

func TestParseCaptureArgs(t *testing.T) {
	env := func(k string) string { return map[string]string{"SOCKSD_CONSOLE": "/tmp/c.sock"}[k] }
	ap := netip.MustParseAddrPort
	tests := []struct {
		args    []string
		want    captureArgs
		wantErr string
	}{
		{[]string{"--", "curl", "-s", "http://x/"}, captureArgs{socket: "/tmp/c.sock", command: []string{"curl", "-s", "http://x/"}}, ""},
		{[]string{"curl", "--", "x"}, captureArgs{socket: "/tmp/c.sock", command: []string{"curl", "--", "x"}}, ""},
		{[]string{"--redirect", "127.0.0.1:1090,[::1]:1090", "--ports=21,8000-8099", "--user", "batch", "--socket", "/s", "--", "nc", "h", "21"},
			captureArgs{redirect: []netip.AddrPort{ap("127.0.0.1:1090"), ap("[::1]:1090")},
				ports: []capture.PortRange{{From: 21, To: 21}, {From: 8000, To: 8099}}, user: "batch", socket: "/s",
				command: []string{"nc", "h", "21"}}, ""},
		{[]string{"--redirect", "localhost:1090", "--", "x"}, captureArgs{}, "--redirect needs HOST:PORT"},
		{[]string{"--redirect", "127.0.0.1:1,127.0.0.2:2", "--", "x"}, captureArgs{}, "same address family"},
		{[]string{"--ports", "0", "--", "x"}, captureArgs{}, "--ports"},
		{[]string{"--frob", "--", "x"}, captureArgs{}, "unknown flag"},
		{[]string{"--user"}, captureArgs{}, "needs a value"},
		{[]string{"--"}, captureArgs{}, "no command"},
		{nil, captureArgs{}, "no command"},
	}
	for _, tt := range tests {
		got, err := parseCaptureArgs(tt.args, env)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseCaptureArgs(%q) error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseCaptureArgs(%q) = %+v, %v; want %+v", tt.args, got, err, tt.want)
		}
	}
}

func TestParseListeners(t *testing.T) {
	reply := []string{
		"SOX0720I DISPLAY LISTENERS: 6 open",
		" KIND      ADDRESS",
		" socks     127.0.0.1:1080",
		" redirect  127.0.0.1:1090",
		" redirect  [::1]:1090",
		" tproxy    127.0.0.1:1091",
		" forward   127.0.0.1:2525",
		" rewrite   [::]:*",
	}
	eph := capture.PortRange{From: 32768, To: 60999}
	redirect, exclude, err := parseListeners(reply, eph)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(redirect) != "[127.0.0.1:1090 [::1]:1090]" {
		t.Errorf("redirect = %v", redirect)
	}
	if fmt.Sprint(exclude) != "[127.0.0.1:1080 127.0.0.1:1091 127.0.0.1:2525 [::]:32768-60999]" {
		t.Errorf("exclude = %v", exclude)
	}
	if _, _, err := parseListeners([]string{" socks  nonsense:1"}, eph); err == nil {
		t.Errorf("a bad address was accepted")
	}
	if got := onePerFamily([]netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.2:2"), netip.MustParseAddrPort("[::1]:3")}); fmt.Sprint(got) != "[127.0.0.1:1 [::1]:3]" {
		t.Errorf("onePerFamily = %v", got)
	}
}

func TestCaptureUsage(t *testing.T) {
	var out, errb strings.Builder
	if code := run([]string{"capture"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "no command given") {
		t.Errorf("capture without a command: exit %d, %q", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"capture", "--help"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "usage: socksd capture") {
		t.Errorf("capture --help: exit %d, %q", code, out.String())
	}
}
