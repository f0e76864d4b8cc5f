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
	if c.SSH.Engine != "auto" || c.SSH.OpenSSH != "ssh" || c.SSH.RuntimeDir != "" {
		t.Errorf("engine defaults: %+v", c.SSH)
	}
	if c.Log.AuditSyslog != "" || c.Log.SyslogFacility != "local0" || c.Log.SyslogAppName != "socksd" || c.Log.SyslogSDID != "socksd@32473" {
		t.Errorf("syslog defaults: %+v", c.Log)
	}
	c, err = Parse("p.toml", []byte("[profiles.p]\nhost = \"gw\"\n\n[[rules]]\nname = \"all\"\naction = \"direct\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Profiles["p"]; p.Engine != "" || p.Spread != 1 {
		t.Errorf("profile engine defaults: %+v", p)
	}
}

func TestErrorsNameFileLineAndKey(t *testing.T) {
	const head = "[server]\nlisten = [\"127.0.0.1:1080\"]\n\n[profiles.p]\nhost = \"gw\"\n\n"
	cases := []struct {
		name, body string
		line       int
		key, msg   string
	}{
		{"unknown key", "[server]\nlisten = [\"127.0.0.1:1\"]\nlisen = 3\n", 3, "server.lisen", "unknown key (did you mean listen?)"},
		{"unknown key in rule", head + "[[rules]]\nname = \"a\"\naction = \"block\"\n\n[[rules]]\nname = \"b\"\nactoin = \"block\"\naction = \"block\"\n", 13, "rules[2].actoin", "unknown key (did you mean action?)"},
		{"bad duration", "[server]\nhandshake_timeout = \"10 parsecs\"\n", 2, "server.handshake_timeout", `"10 parsecs" is not a duration (want a number and a unit, such as 10s, 5m or 1h)`},
		{"duration type", "[server]\nidle_timeout = 30\n", 2, "server.idle_timeout", `must be a duration in quotes, such as "10s" or "5m", not a whole number`},
		{"bad cidr allow", "[server]\nallow_clients = [\"10.0.0.0/40\"]\n", 2, "server.allow_clients", `"10.0.0.0/40" is not an IP address or a CIDR prefix`},
		{"bad cidr rule", head + "[[rules]]\nname = \"a\"\nto = [\"10.1.0.0/99\"]\naction = \"block\"\n", 9, "rules[1].to", `"10.1.0.0/99" is not an address, a CIDR prefix, a host name pattern or re:REGEX`},
		{"missing profile", head + "[[rules]]\nname = \"a\"\naction = \"tunnel\"\nprofile = \"nope\"\n", 10, "rules[1].profile", `profile "nope" does not exist`},
		{"duplicate name", head + "[[rules]]\nname = \"a\"\naction = \"block\"\n[[rules]]\nname = \"a\"\naction = \"direct\"\n", 11, "rules[2].name", `"a" is already the name of rule 1`},
		{"bad action", head + "[[rules]]\nname = \"a\"\naction = \"allow\"\n", 9, "rules[1].action", "unknown action"},
		{"bad ftp mode", head + "[[rules]]\nname = \"a\"\naction = \"ftp-tunnel\"\nprofile = \"p\"\n[rules.ftp]\ndata = \"sideways\"\n", 12, "rules[1].ftp.data", "unknown mode"},
		{"bad ftp encoding", head + "[[rules]]\nname = \"a\"\naction = \"ftp-tunnel\"\nprofile = \"p\"\n[rules.ftp]\nencoding = \"ibm-500\"\n", 12, "rules[1].ftp.encoding", `unknown code page "ibm-500" (want auto, ascii, ibm-1047 or ibm-037)`},
		{"bad ftp deny", head + "[[rules]]\nname = \"a\"\naction = \"ftp-tunnel\"\nprofile = \"p\"\n[rules.ftp]\ndeny = [\"DELE\", \"SITE-X\"]\n", 12, "rules[1].ftp.deny", `"SITE-X" is not an FTP command pattern: verb contains '-'`},
		{"sftp on a tunnel rule", head + "[[rules]]\nname = \"a\"\naction = \"ftp-tunnel\"\nprofile = \"p\"\n[rules.sftp]\nroot = \"/x\"\n", 11, "rules[1].sftp", "only an ftp-sftp rule takes [rules.sftp] settings, not ftp-tunnel"},
		{"bad sftp line end", head + "[[rules]]\nname = \"a\"\naction = \"ftp-sftp\"\nprofile = \"p\"\n[rules.sftp]\nline_end = \"cr\"\n", 12, "rules[1].sftp.line_end", `unknown line end "cr" (want lf or crlf)`},
		{"bad sftp datasets", head + "[[rules]]\nname = \"a\"\naction = \"ftp-sftp\"\nprofile = \"p\"\n[rules.sftp]\ndatasets = \"strip\"\n", 12, "rules[1].sftp.datasets", "neither strip-quotes nor a path prefix"},
		{"sftp streams 0", head + "[[rules]]\nname = \"a\"\naction = \"ftp-sftp\"\nprofile = \"p\"\n[rules.sftp]\nstreams = 0\n", 12, "rules[1].sftp.streams", "must be at least 1"},
		{"sftp streams too many", head + "[[rules]]\nname = \"a\"\naction = \"ftp-sftp\"\nprofile = \"p\"\n[rules.sftp]\nstreams = 99\n", 12, "rules[1].sftp.streams", "99 is out of range (want 1 to 16)"},
		{"sftp root not clean", head + "[[rules]]\nname = \"a\"\naction = \"ftp-sftp\"\nprofile = \"p\"\n[rules.sftp]\nroot = \"/a/../b\"\n", 12, "rules[1].sftp.root", "is not a clean path"},
		{"sftp type", head + "[[rules]]\nname = \"a\"\naction = \"ftp-sftp\"\nprofile = \"p\"\n[rules.sftp]\nstreams = \"4\"\n", 12, "rules[1].sftp.streams", "must be a whole number, not a string"},
		{"sftp unknown key", head + "[[rules]]\nname = \"a\"\naction = \"ftp-sftp\"\nprofile = \"p\"\n[rules.sftp]\nlineend = \"lf\"\n", 12, "rules[1].sftp.lineend", "unknown key (did you mean line_end?)"},
		{"auth twice", "[profiles.x]\nauth = [\"publickey\", \"password\", \"publickey\"]\n", 2, "profiles.x.auth", `method "publickey" is listed twice`},
		{"bad via", "[profiles.x]\nvia = \"http://proxy:8080\"\n", 2, "profiles.x.via", "not a usable proxy URL: the scheme is not socks4, socks4a, socks5 or socks5h"},
		{"syntax", "[server\nlisten = 1\n", 1, "", `not valid TOML at the end of the line: expected '.' or ']' to end table name, but got '\n' instead`},
		{"syntax at a line end", "[jcl]\nhlq = \n", 2, "", "not valid TOML at the end of the line: expected value"},
		{"syntax value", "[server]\nlisten = [\"a\", 1 2]\n", 2, "", "not valid TOML at column"},
		{"type", "[server]\nmax_sessions = \"many\"\n", 2, "server.max_sessions", "must be a whole number, not a string"},
		{"list type", "[server]\nlisten = \"127.0.0.1:1080\"\n", 2, "server.listen", "must be a list of strings in quotes, not a string"},
		{"item type", "[server]\nsocks_versions = [4, \"5\"]\n", 2, "server.socks_versions", "item 2 must be a whole number, not a string"},
		{"table type", "server = 5\n", 1, "server", "must be a table, not a whole number"},
		{"bad socks5 auth", "[server]\nsocks5_auth = [\"gssapi\"]\n", 2, "server.socks5_auth", `unknown authentication method "gssapi"`},
		{"bad audit syslog", "[log]\naudit_syslog = \"siem:514\"\n", 2, "log.audit_syslog", `"siem:514": want local, unix:PATH, udp://HOST[:PORT] or tcp://HOST[:PORT]`},
		{"bad syslog facility", "[log]\naudit_syslog = \"local\"\nsyslog_facility = \"local9\"\n", 3, "log.syslog_facility", `unknown facility "local9"`},
		{"bad syslog app name", "[log]\nsyslog_app_name = \"my app\"\n", 2, "log.syslog_app_name", `app name "my app": want 1 to 48 printable ASCII characters`},
		{"bad syslog sd id", "[log]\nsyslog_sd_id = \"socksd\"\n", 2, "log.syslog_sd_id", `structured-data ID "socksd": want NAME@NUMBER`},
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
			noGoInternals(t, err.Error())
		})
	}
}

func TestSFTPRule(t *testing.T) {
	const text = "[profiles.p]\nhost = \"gw\"\n" +
		"[[rules]]\nname = \"s\"\naction = \"ftp-sftp\"\nprofile = \"p\"\n[rules.ftp]\nactive = \"refuse\"\n[rules.sftp]\nroot = \"/in\"\nline_end = \"CRLF\"\ndatasets = \"//\"\nstreams = 3\n" +
		"[[rules]]\nname = \"d\"\naction = \"ftp-sftp\"\nprofile = \"p\"\n" +
		"[[rules]]\nname = \"t\"\naction = \"ftp-tunnel\"\nprofile = \"p\"\n[rules.sftp]\n"
	c, err := Parse("sftp.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Rules[0].SFTP, (SFTP{Root: "/in", LineEnd: "CRLF", Datasets: "//", Streams: 3}); got != want {
		t.Errorf("rule s: %+v, want %+v", got, want)
	}
	if c.Rules[0].FTP.Active != "refuse" {
		t.Errorf("rule s: [rules.ftp] not kept: %+v", c.Rules[0].FTP)
	}
	if got, want := c.Rules[1].SFTP, (SFTP{LineEnd: "lf", Datasets: "strip-quotes", Streams: 1}); got != want {
		t.Errorf("rule d: %+v, want the defaults %+v", got, want)
	}
	if o := c.Rules[0].SFTP.Options(); o.Root != "/in" || o.Streams != 3 || o.Check() != nil {
		t.Errorf("Options() = %+v (%v)", o, o.Check())
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

// JCLSite takes the listener from server.listen, with or without a [jcl]
// table; without one, a list the daemon accepts but JCL cannot use is an
// error of JCLSite only.
func TestJCLSite(t *testing.T) {
	tests := []struct {
		name, body string
		host       string
		port       int
		line       int // of JCLSite's error, or 0
	}{
		{"no [jcl]", "[server]\nlisten = [\"0.0.0.0:1081\"]\n", "127.0.0.1", 1081, 0},
		{"no [jcl], IPv6 only", "[server]\nlisten = [\"[::1]:1080\"]\n", "", 0, 2},
		{"[jcl]", "[server]\nlisten = [\"[::1]:1080\", \"10.1.2.3:1080\"]\n[jcl]\nhlq = \"X\"\n", "10.1.2.3", 1080, 0},
	}
	for _, tc := range tests {
		c, err := Parse("site.toml", []byte(tc.body))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		site, err := c.JCLSite()
		var e *Error
		switch {
		case tc.line == 0 && (err != nil || site.ListenHost != tc.host || site.Port != tc.port):
			t.Errorf("%s: got %s:%d, %v", tc.name, site.ListenHost, site.Port, err)
		case tc.line != 0 && (!errors.As(err, &e) || e.Line != tc.line || e.Key != "server.listen"):
			t.Errorf("%s: got %v, want an error at line %d, server.listen", tc.name, err, tc.line)
		}
	}
	_, err := Parse("site.toml", []byte("[server]\nlisten = [\"[::1]:1080\"]\n[jcl]\n"))
	var e *Error
	if !errors.As(err, &e) || e.Line != 2 || !strings.Contains(e.Msg, "no IPv4 listen address") {
		t.Errorf("[jcl] with an IPv6 listener only: got %v", err)
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

// noGoInternals fails when a message shows Go's own wording instead of
// the configuration's terms.
func noGoInternals(t *testing.T, msg string) {
	t.Helper()
	for _, internal := range []string{"netip.", "ParsePrefix", "strconv.", "time: ", "toml: ", "incompatible types",
		"destination has type", "has type integer", "reflect", "error parsing regexp", "[]string", "int64", "rules[]"} {
		if strings.Contains(msg, internal) {
			t.Errorf("message %q shows Go internals (%s)", msg, internal)
		}
	}
}

// check -c names every problem of a file in one run, each at its own line
// and key.
func TestEveryErrorInOneRun(t *testing.T) {
	type at struct {
		line int
		key  string
	}
	cases := []struct {
		name string
		body string
		want []at
	}{
		{"issue example", `[server]
listen = ["127.0.0.1:1080"]
bogus_key = 1
socks_versions = [4, 5]

[[rules]]
name = "a"
to = ["10.0.0.0/33"]
action = "block"

[[rules]]
name = "b"
action = "tunnel"
profile = "nope"
`, []at{{3, "server.bogus_key"}, {8, "rules[1].to"}, {14, "rules[2].profile"}}},
		{"every section", `[server]
listen = ["no-port"]
allow_clients = ["10.0.0.0/8", "localhost", "::1/129"]
max_sessions = "many"
handshake_timeout = "soon"

[log]
level = "loud"

[ssh]
host_key_policy = "trust-all"
keepalive_max = 0

[profiles.gw]
port = 70000
auth = ["password", "telepathy"]
via = "http://proxy:8080"
colour = "blue"

[[rules]]
name = "one"
to = ["ok.example", "bad*glob.example", "re:("]
ports = ["21", "0"]
action = "ftp-tunnel"
profile = "gw"

[rules.ftp]
data = "sideways"
encoding = "ebcdic-martian"
bogus = true

[[rules]]
name = "one"
action = "direct"
fallback_to_plain = true
from = ["somewhere"]
bogus_key = "x"
`, []at{
			{2, "server.listen"},
			{3, "server.allow_clients"}, {3, "server.allow_clients"},
			{4, "server.max_sessions"},
			{5, "server.handshake_timeout"},
			{8, "log.level"},
			{11, "ssh.host_key_policy"},
			{12, "ssh.keepalive_max"},
			{15, "profiles.gw.port"},
			{16, "profiles.gw.auth"},
			{17, "profiles.gw.via"},
			{18, "profiles.gw.colour"},
			{22, "rules[1].to"}, {22, "rules[1].to"},
			{23, "rules[1].ports"},
			{28, "rules[1].ftp.data"},
			{29, "rules[1].ftp.encoding"},
			{30, "rules[1].ftp.bogus"},
			{33, "rules[2].name"},
			{35, "rules[2].fallback_to_plain"},
			{36, "rules[2].from"},
			{37, "rules[2].bogus_key"},
		}},
		{"types", `[server]
listen = "127.0.0.1:1080"
socks_versions = [4, "5"]
max_sessions = 1.5

[[rules]]
name = 7
action = "block"
commands = "connect"
`, []at{{2, "server.listen"}, {3, "server.socks_versions"}, {4, "server.max_sessions"}, {7, "rules[1].name"}, {9, "rules[1].commands"}}},
		{"engines", `[ssh]
engine = "fast"
openssh = ""
runtime_dir = "run/socksd"

[profiles.a]
engine = "OpenSSH"
spread = 0

[profiles.b]
engine = "openssh"
spread = 4
`, []at{{2, "ssh.engine"}, {3, "ssh.openssh"}, {4, "ssh.runtime_dir"}, {7, "profiles.a.engine"}, {8, "profiles.a.spread"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("site.toml", []byte(tc.body))
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("not an ErrorList: %v", err)
			}
			var got []at
			for _, e := range list {
				got = append(got, at{e.Line, e.Key})
				noGoInternals(t, e.Error())
				if e.File != "site.toml" {
					t.Errorf("file %q", e.File)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(tc.want), err)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("error %d at %v, want %v:\n%v", i+1, got[i], tc.want[i], err)
				}
			}
		})
	}
}

// secrets is what the files of TestSecretsNeverEchoed hide; none of it
// may appear in any error.
var secrets = []string{"hunter2", "S3cr3t-Pass", "90817263", "Tr0ub4dor"}

// The files of testdata/secrets feed secrets through every error path of
// the loader: bad proxy URLs with a password, bad values next to a via with
// a password or a passphrase, malformed TOML around a secret, secrets in
// unknown keys and in keys of the wrong type. In files named key-*, the
// secret is written as a key or table name: a key is not a value, so
// there it may be named.
func TestSecretsNeverEchoed(t *testing.T) {
	files, err := filepath.Glob("testdata/secrets/*.toml")
	if err != nil || len(files) < 20 {
		t.Fatalf("secret files: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := Load(f)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.HasPrefix(filepath.Base(f), "key-") {
				return
			}
			for _, sec := range secrets {
				if strings.Contains(err.Error(), sec) {
					t.Errorf("error shows the secret %q:\n%v", sec, err)
				}
			}
		})
	}
}
