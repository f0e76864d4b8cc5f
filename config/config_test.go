package config

import (
	"bytes"

	"errors"
	"golang.org/x/text/encoding/charmap"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Server.Listen; len(got) != 1 || got[0] != "127.0.0.1:1080" {
		t.Errorf("listen = %v", got)
	}
	if len(c.Rules) != 2 || c.Rules[0].Action != "ftp-tunnel" || c.Rules[1].Action != "block" {
		t.Fatalf("rules = %+v", c.Rules)
	}
	p := c.Profiles[c.Rules[0].Profile]
	if p == nil || p.Host != "" || p.Port != 22 || !p.Share || p.Auth[len(p.Auth)-1] != "publickey" {
		t.Fatalf("profile = %+v", p)
	}
	if c.SSH.HostKeyPolicy != "strict" || strings.HasPrefix(c.SSH.KnownHosts[0], "~") {
		t.Errorf("ssh = %+v", c.SSH)
	}
	if c.Server.IdleTimeout.Duration != 30*time.Minute {
		t.Errorf("idle = %v", c.Server.IdleTimeout)
	}
}

func TestMinimalGetsDefaults(t *testing.T) {
	c, err := Parse("min.toml", []byte("[[rules]]\nname = \"all\"\naction = \"direct\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.MaxSessions != 2048 || c.SSH.KeepaliveMax != 3 || c.Server.HandshakeTimeout.Duration != 10*time.Second {
		t.Errorf("defaults not applied: %+v %+v", c.Server, c.SSH)
	}
}

func TestErrorsNameFileLineAndKey(t *testing.T) {
	const head = "[server]\nlisten = [\"127.0.0.1:1080\"]\n\n[profiles.p]\nhost = \"gw\"\n\n"
	cases := []struct {
		name, body string
		line       int
		key, msg   string
	}{
		{"unknown key", "[server]\nlisten = [\"127.0.0.1:1\"]\nlisen = 3\n", 3, "server.lisen", "unknown key"},
		{"unknown key in rule", head + "[[rules]]\nname = \"a\"\naction = \"block\"\n\n[[rules]]\nname = \"b\"\nactoin = \"block\"\n", 13, "rules[].actoin", "unknown key"},
		{"bad duration", "[server]\nhandshake_timeout = \"10 parsecs\"\n", 2, "", "bad duration"},
		{"bad cidr allow", "[server]\nallow_clients = [\"10.0.0.0/40\"]\n", 2, "server.allow_clients", "bad CIDR"},
		{"bad cidr rule", head + "[[rules]]\nname = \"a\"\nto = [\"10.1.0.0/99\"]\naction = \"block\"\n", 9, "rules[1].to", "bad CIDR"},
		{"missing profile", head + "[[rules]]\nname = \"a\"\naction = \"tunnel\"\nprofile = \"nope\"\n", 10, "rules[1].profile", "does not exist"},
		{"duplicate name", head + "[[rules]]\nname = \"a\"\naction = \"block\"\n[[rules]]\nname = \"a\"\naction = \"direct\"\n", 11, "rules[2].name", "duplicate"},
		{"bad action", head + "[[rules]]\nname = \"a\"\naction = \"allow\"\n", 9, "rules[1].action", "unknown action"},
		{"bad ftp mode", head + "[[rules]]\nname = \"a\"\naction = \"ftp-tunnel\"\nprofile = \"p\"\n[rules.ftp]\ndata = \"sideways\"\n", 12, "rules[1].ftp.data", "unknown mode"},
		{"bad via", "[profiles.x]\nvia = \"http://proxy:8080\"\n", 2, "profiles.x.via", "bad proxy URL"},
		{"syntax", "[server\nlisten = 1\n", 2, "", ""},
		{"type", "[server]\nmax_sessions = \"many\"\n", 2, "server.max_sessions", "incompatible types"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("site.toml", []byte(tc.body))
			if err == nil {
				t.Fatal("no error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("not a *config.Error: %v", err)
			}
			if e.File != "site.toml" || e.Line != tc.line {
				t.Errorf("got %s:%d, want line %d (%v)", e.File, e.Line, tc.line, err)
			}
			if tc.key != "" && e.Key != tc.key {
				t.Errorf("key = %q, want %q (%v)", e.Key, tc.key, err)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "site.toml:") {
				t.Errorf("error %q lacks %q or FILE:LINE", err, tc.msg)
			}
		})
	}
}

func TestLoadFileAndHome(t *testing.T) {
	home, _ := os.UserHomeDir()
	p := filepath.Join(t.TempDir(), "s.toml")
	os.WriteFile(p, []byte("[profiles.k]\nidentity_files = [\"~/.ssh/id_x\"]\n"), 0o600)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Profiles["k"].IdentityFiles[0]; got != filepath.Join(home, ".ssh/id_x") {
		t.Errorf("home not expanded: %s", got)
	}
	if _, err := Load(p + ".missing"); err == nil || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(DefaultText())
	f.Add([]byte("[[rules]]\nname=\"a\"\naction=\"direct\"\n"))
	f.Add([]byte("[server]\nlisten=[\n\"1.2.3.4:5\",\n]\n[rules.ftp]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.toml", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		// A configuration that loads is valid: its rules compile and
		// every referenced profile exists.
		for _, r := range c.Rules {
			if r.Profile != "" && c.Profiles[r.Profile] == nil {
				t.Fatalf("rule %s: missing profile accepted", r.Name)
			}
		}
		if len(c.Server.Listen) == 0 || c.Server.MaxSessions < 1 {
			t.Fatalf("invalid server accepted: %+v", c.Server)
		}
	})
}

// The site configuration shipped with the JCL samples must load.
func TestJCLSampleConfigLoads(t *testing.T) {
	c, err := Load("../jcl/samples/SOCKSCFG")
	if err != nil {
		t.Fatal(err)
	}
	if c.JCL.HLQ == "" || c.JCL.Port == 0 {
		t.Errorf("[jcl] not decoded: %+v", c.JCL)
	}
	_, err = Parse("bad.toml", []byte("[jcl]\nhlq = \"TOO.MANY.CHARS.IN.QUALIFIER\"\n"))
	var e *Error
	if !errors.As(err, &e) || e.Line != 2 || !strings.HasPrefix(e.Key, "jcl.") {
		t.Errorf("bad [jcl] value: %v", err)
	}
}

func TestEBCDICConfig(t *testing.T) {
	text := "[server]\nlisten = [\"127.0.0.1:1080\"]\n[[rules]]\nname = \"ftp\"\nports = [\"21\"]\naction = \"direct\"\n"
	enc := charmap.CodePage1047.NewEncoder()
	var lines, records []byte
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		e, err := enc.Bytes([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		lines = append(append(lines, e...), 0x15)
		rec := append(e, bytes.Repeat([]byte{0x40}, 80-len(e))...)
		records = append(records, rec...)
	}
	for name, data := range map[string][]byte{"nl": lines, "records": records} {
		dir := t.TempDir()
		p := filepath.Join(dir, "cfg")
		os.WriteFile(p, data, 0o600)
		c, err := Load(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.Rules[0].Name != "ftp" || c.Server.Listen[0] != "127.0.0.1:1080" {
			t.Errorf("%s: decoded %+v", name, c.Rules[0])
		}
		if _, err := LoadEncoded(p, "ibm-1047"); err != nil {
			t.Errorf("%s named: %v", name, err)
		}
	}
	// An EBCDIC error still names the line.
	b1, _ := enc.Bytes([]byte("[server]"))
	b2, _ := enc.Bytes([]byte("bogus = 1"))
	bad := append(append(append(b1, 0x15), b2...), 0x15)
	_, err := ParseEncoded("e.toml", bad, "auto")
	var e *Error
	if !errors.As(err, &e) || e.Line != 2 {
		t.Errorf("EBCDIC error: %v", err)
	}
}
