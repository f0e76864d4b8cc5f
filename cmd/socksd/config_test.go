package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCheckTest(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runCheck(args, &out, &errb)
	return code, out.String(), errb.String()
}

// socksd check names every problem of a file, one line each, with its
// FILE:LINE and key, and exits 1.
func TestCheckNamesEveryProblem(t *testing.T) {
	f := filepath.Join(t.TempDir(), "site.toml")
	os.WriteFile(f, []byte(`[server]
listen = ["127.0.0.1:1080"]
bogus_key = 1

[profiles.gw]
host = "gw"
via = "http://joe:hunter2@proxy:1080"

[[rules]]
name = "a"
to = ["10.0.0.0/33"]
action = "block"

[[rules]]
name = "b"
action = "tunnel"
profile = "nope"
`), 0o600)
	code, out, errOut := runCheckTest(t, "-c", f)
	if code != exitFail || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	want := []string{
		fmt.Sprintf("config: %s:3: server.bogus_key: unknown key", f),
		fmt.Sprintf("config: %s:7: profiles.gw.via: not a usable proxy URL: the scheme is not socks4, socks4a, socks5 or socks5h", f),
		fmt.Sprintf(`config: %s:11: rules[1].to: "10.0.0.0/33" is not an address, a CIDR prefix, a host name pattern or re:REGEX (the prefix length of an IPv4 address is 0 to 32)`, f),
		fmt.Sprintf(`config: %s:17: rules[2].profile: profile "nope" does not exist (there is no [profiles.nope] table)`, f),
	}
	if got := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("check printed:\n%s\nwant:\n%s", errOut, strings.Join(want, "\n"))
	}
}

// socksd check prints the FTP settings of ftp-tunnel and ftp-sftp rules,
// and the SFTP settings of ftp-sftp rules only.
func TestCheckPrintsFTPSettings(t *testing.T) {
	f := filepath.Join(t.TempDir(), "site.toml")
	os.WriteFile(f, []byte(`[profiles.gw]
host = "gw"

[[rules]]
name = "tun"
action = "ftp-tunnel"
profile = "gw"

[[rules]]
name = "sftp"
action = "ftp-sftp"
profile = "gw"
[rules.ftp]
encoding = "ibm-1047"
[rules.sftp]
root = "/data/in"
datasets = "//"
streams = 4
`), 0o600)
	code, out, errOut := runCheckTest(t, "-c", f)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(out, "\n")
	var got []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "ftp:") || strings.HasPrefix(l, "sftp:") {
			got = append(got, l)
		}
	}
	want := []string{
		`ftp: data=auto active=convert encoding=auto deny=[] allow_auth_tls=false`,
		`ftp: data=auto active=convert encoding=ibm-1047 deny=[] allow_auth_tls=false`,
		`sftp: root="/data/in" line_end=lf datasets="//" streams=4`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("check printed:\n%s\nwant the lines:\n%s", out, strings.Join(want, "\n"))
	}
}

// Neither the errors nor the report of socksd check show a password, for
// any of the loader's secret test files or for a valid file whose via
// carries one.
func TestCheckNeverShowsSecrets(t *testing.T) {
	files, err := filepath.Glob("../../config/testdata/secrets/*.toml")
	if err != nil || len(files) < 20 {
		t.Fatalf("secret files: %v %v", files, err)
	}
	good := filepath.Join(t.TempDir(), "good.toml")
	os.WriteFile(good, []byte(`[profiles.gw]
host = "gw"
via = "socks5://joe:hunter2@proxy:1080"

[[rules]]
name = "all"
action = "tunnel"
profile = "gw"
`), 0o600)
	for _, f := range append(files, good) {
		code, out, errOut := runCheckTest(t, "-c", f)
		if f == good && code != exitOK || f != good && code != exitFail {
			t.Errorf("%s: exit %d: %s%s", f, code, out, errOut)
		}
		if strings.HasPrefix(filepath.Base(f), "key-") {
			continue // the secret is written as a key name
		}
		for _, sec := range []string{"hunter2", "S3cr3t-Pass", "90817263", "Tr0ub4dor"} {
			if strings.Contains(out+errOut, sec) {
				t.Errorf("%s: check shows the secret %q:\n%s%s", f, sec, out, errOut)
			}
		}
	}
}

func TestCheckUsage(t *testing.T) {
	f := filepath.Join(t.TempDir(), "ok.toml")
	os.WriteFile(f, []byte("[[rules]]\nname = \"all\"\naction = \"block\"\n"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-c", f}, exitOK},
		{[]string{"-c", f, "--encoding", "cp1047"}, exitFail}, // ASCII text read as EBCDIC
		{[]string{"-c", f, "--encoding", "klingon"}, exitUsage},
		{[]string{"-c", f, "extra"}, exitUsage},
		{[]string{"-c", f + ".missing"}, exitFail},
	} {
		if code, out, errOut := runCheckTest(t, tc.args...); code != tc.code {
			t.Errorf("check %v: exit %d, want %d: %s%s", tc.args, code, tc.code, out, errOut)
		}
	}
}

// socksd check prints the forwards, after the rules.
func TestCheckPrintsForwards(t *testing.T) {
	f := filepath.Join(t.TempDir(), "site.toml")
	os.WriteFile(f, []byte(`[profiles.gw]
host = "gw"
user = "batch"

[[rules]]
name = "none"
action = "block"

[[forwards]]
listen = "127.0.0.1:2525"
to = "mail.internal:25"
profile = "gw"

[[forwards]]
name = "db"
listen = "127.0.0.1:5432"
to = "db.internal:5432"
profile = "gw"
`), 0o600)
	code, out, errOut := runCheckTest(t, "-c", f)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "forwards (allow_clients applies, the rules do not):\n" +
		"  127.0.0.1:2525: listen 127.0.0.1:2525 to mail.internal:25 through profile gw\n" +
		"  db: listen 127.0.0.1:5432 to db.internal:5432 through profile gw\n"
	if !strings.HasSuffix(out, want) {
		t.Errorf("check printed:\n%s\nwant it to end with:\n%s", out, want)
	}
}
