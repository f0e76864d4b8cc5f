package socks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseProxyURL(t *testing.T) {
	for _, tc := range []struct {
		in         string
		version    int
		hostport   string
		user, pass string
		ok         bool
	}{
		{"socks5://127.0.0.1:1080", 5, "127.0.0.1:1080", "", "", true},
		{"socks5h://proxy.lan:9050", 5, "proxy.lan:9050", "", "", true},
		{"SOCKS5://proxy.lan", 5, "proxy.lan:1080", "", "", true},
		{"socks5://JOB1:s%40cret@proxy.lan:1081", 5, "proxy.lan:1081", "JOB1", "s@cret", true},
		{"socks5://JOB1@proxy.lan:1081/", 5, "proxy.lan:1081", "JOB1", "", true},
		{"socks5://[::1]:1080", 5, "[::1]:1080", "", "", true},
		{"socks4://10.0.0.1:1080", 4, "10.0.0.1:1080", "", "", true},
		{"socks4a://JOB1@gw:1080", 4, "gw:1080", "JOB1", "", true},
		{"socks4://u:p@gw:1080", 0, "", "", "", false},
		{"socks5://:p@gw:1080", 0, "", "", "", false},
		{"http://gw:1080", 0, "", "", "", false},
		{"gw:1080", 0, "", "", "", false},
		{"socks5://", 0, "", "", "", false},
		{"socks5://gw:0", 0, "", "", "", false},
		{"socks5://gw:70000", 0, "", "", "", false},
		{"socks5://gw:1080/path", 0, "", "", "", false},
		{"socks5://gw:1080?x=1", 0, "", "", "", false},
		{"socks5://gw:1080#f", 0, "", "", "", false},
		{"socks5://[fe80::1%25lo]:1080", 0, "", "", "", false},
		{"socks5://u:" + repeat('p', 256) + "@gw", 0, "", "", "", false},
		{"socks4://a%00b@gw", 0, "", "", "", false},
	} {
		v, hp, u, p, err := ParseProxyURL(tc.in)
		if !tc.ok {
			if err == nil {
				t.Errorf("ParseProxyURL(%q) = %d %q %q, want an error", tc.in, v, hp, u)
			} else if !strings.HasPrefix(err.Error(), "socks: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			continue
		}
		if err != nil || v != tc.version || hp != tc.hostport || u != tc.user || p != tc.pass {
			t.Errorf("ParseProxyURL(%q) = %d %q %q (pass ok=%v) %v; want %d %q %q",
				tc.in, v, hp, u, p == tc.pass, err, tc.version, tc.hostport, tc.user)
		}
	}
}

func TestParseProxyURLHidesPassword(t *testing.T) {
	const secret = "Very%Secret"
	for _, in := range []string{
		"socks5://u:" + secret + "@gw:1080",    // bad escape
		"socks5://u:" + secret + "x@gw:1080/p", // path
		"socks4://u:s3cretpw@gw:1080",          // socks4 with password
		"socks5://u:s3cretpw@gw:99999",
		"socks5://u:s3cretpw@[::1",
		"socks5://u:s3cretpw",        // forgot the host: the password looks like a port
		"socks5://u:90909090",        // the same with a numeric password
		"s3cretpw://u:p@h",           // the scheme
		"socks5://u:s3cretpw@h:1:2",  // two ports
		"socks5://u:s3cretpw@h%zz:1", // bad escape in the host
		"socks5://u:s3cretpw@a b:1",  // blank in the host
	} {
		_, _, _, _, err := ParseProxyURL(in)
		if err == nil {
			t.Errorf("ParseProxyURL(%q) succeeded", in)
			continue
		}
		if strings.Contains(err.Error(), "Secret") || strings.Contains(err.Error(), "s3cretpw") || strings.Contains(err.Error(), "90909090") {
			t.Errorf("error %q reveals the password", err)
		}
		var ue *URLError
		if !errors.As(err, &ue) || ue.Reason == "" {
			t.Errorf("error %v is not a *URLError", err)
		}
	}
}

func TestProxyURLHidesPassword(t *testing.T) {
	type holder struct{ Via ProxyURL }
	for _, tc := range []struct {
		in       ProxyURL
		str      string
		password bool
	}{
		{"", "", false},
		{"socks5://JOB1:s3cretpw@proxy.lan:1081", "socks5://JOB1:***@proxy.lan:1081", true},
		{"socks5h://proxy.lan", "socks5://proxy.lan:1080", false},
		{"socks4a://JOB1@gw:1080", "socks4://JOB1@gw:1080", false},
		{"socks5://JOB1:s3cretpw@", "(a proxy URL that does not parse)", true},
		{"socks5://JOB1:s3cretpw", "(a proxy URL that does not parse)", false},
	} {
		if got := tc.in.String(); got != tc.str {
			t.Errorf("%q.String() = %q, want %q", string(tc.in), got, tc.str)
		}
		if got := tc.in.HasPassword(); got != tc.password {
			t.Errorf("%q.HasPassword() = %v", string(tc.in), got)
		}
		js, _ := json.Marshal(holder{tc.in})
		for _, out := range []string{fmt.Sprintf("%v %+v %#v %s %q", tc.in, holder{tc.in}, holder{tc.in}, tc.in, tc.in), string(js)} {
			if strings.Contains(out, "s3cretpw") {
				t.Errorf("%q shows the password", out)
			}
		}
	}
	d, err := ProxyURL("socks5://u:pw@h:1").Dialer()
	if err != nil || d.Password != "pw" || d.ProxyAddr != "h:1" {
		t.Errorf("Dialer() = %+v, %v", d, err)
	}
}
