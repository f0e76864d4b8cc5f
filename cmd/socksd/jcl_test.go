package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"socksd/jcl"
)

func runJCLTest(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runJCL(args, &out, &errb)
	return code, out.String(), errb.String()
}

func sampleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../jcl/samples/*")
	if err != nil || len(files) != len(jcl.Members()) {
		t.Fatalf("samples: %v %v", files, err)
	}
	return files
}

func TestJCLCheckSamples(t *testing.T) {
	files := sampleFiles(t)
	code, out, errOut := runJCLTest(t, append([]string{"check"}, files...)...)
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if n := strings.Count(out, ": ok"); n != len(files) {
		t.Errorf("%d ok lines for %d files:\n%s", n, len(files), out)
	}
	if !strings.Contains(out, "SOCKSENV: ok (not JCL") || !strings.Contains(out, "SOCKSD: ok\n") {
		t.Errorf("output:\n%s", out)
	}
}

func TestJCLCheckErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "BAD")
	text := "//J JOB (A),'X'\n//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=A..B,DISP=SHR\n//S2 EXEC PGM=IEFBR14,\n//DD2 DD DUMMY\n"
	if err := os.WriteFile(bad, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	good := sampleFiles(t)[0]
	code, out, errOut := runJCLTest(t, "check", good, bad)
	if code != exitFail {
		t.Errorf("exit %d, want %d", code, exitFail)
	}
	for _, want := range []string{bad + ":3:14: invalid data set name", bad + ":4:22: statement ends with a comma"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, good+": ok") {
		t.Errorf("stdout:\n%s", out)
	}
	if code, _, _ := runJCLTest(t, "check", filepath.Join(dir, "missing")); code != exitFail {
		t.Errorf("missing file: exit %d", code)
	}
}

func TestJCLCheckEncoding(t *testing.T) {
	m, err := jcl.Render(jcl.DefaultSite(), "ibm-1047")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "SOCKSD")
	if err := os.WriteFile(f, m["SOCKSD"], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", f}, {"check", "--encoding", "ibm-1047", f}, {"check", f, "--encoding=cp1047"}} {
		if code, out, errOut := runJCLTest(t, args...); code != exitOK {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	if code, out, _ := runJCLTest(t, "check", "--encoding", "ascii", f); code != exitOK || !strings.Contains(out, "not JCL") {
		t.Errorf("EBCDIC read as ASCII: exit %d, %s; want it reported as not JCL", code, out)
	}
	if code, _, _ := runJCLTest(t, "check", "--encoding", "klingon", f); code != exitUsage {
		t.Errorf("unknown encoding: exit %d", code)
	}
}

func TestJCLUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"check"}, {"render"}, {"render", "-c", "x"}, {"render", "--out", "d"}, {"check", "--bogus", "f"}, {"render", "-c", "x", "--out", "d", "--encoding", "auto"}} {
		if code, _, errOut := runJCLTest(t, args...); code != exitUsage || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	if code, out, _ := runJCLTest(t, "help"); code != exitOK || !strings.Contains(out, "jcl render") {
		t.Errorf("help: %d %q", code, out)
	}
}

// TestJCLRenderRoundTrip renders from the shipped SOCKSCFG sample, whose
// [jcl] table holds the default site: the result must be the samples.
func TestJCLRenderRoundTrip(t *testing.T) {
	out := t.TempDir()
	code, stdout, errOut := runJCLTest(t, "render", "-c", "../../jcl/samples/SOCKSCFG", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, f := range sampleFiles(t) {
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join(out, filepath.Base(f)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: rendered member differs from the sample (%v)", filepath.Base(f), err)
		}
	}
	if strings.Count(stdout, "bytes)") != len(jcl.Members()) {
		t.Errorf("stdout:\n%s", stdout)
	}
}

func TestJCLRenderSite(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "socksd.toml")
	text := `
[server]
listen = ["[::1]:1080", "0.0.0.0:1081"]
allow_clients = ["127.0.0.0/8"]

[[rules]]
name = "all"
action = "block"

[jcl]
hlq = "TEST.SOCKS"
job_card = ["//TESTJOB JOB (T),'TEST',", "//         CLASS=T,MSGCLASS=T"]
install_dir = "/opt/socksd"
ftp_host = "ftp.test.example"
ftp_port = 2121
`
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if code, _, errOut := runJCLTest(t, "render", "-c", cfg, "--out", out, "--encoding", "ibm-1047"); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(files) != len(jcl.Members()) {
		t.Fatalf("wrote %v", files)
	}
	if code, stdout, errOut := runJCLTest(t, append([]string{"check"}, files...)...); code != exitOK {
		t.Fatalf("rendered members fail check: %s%s", stdout, errOut)
	}
	job, _ := os.ReadFile(filepath.Join(out, "FTPJOB"))
	lines, err := jcl.DecodeLines(job, "ibm-1047")
	if err != nil || len(job)%80 != 0 || !strings.HasPrefix(lines[0], "//TESTJOB JOB (T),'TEST',") {
		t.Fatalf("FTPJOB: %d bytes, first line %q, %v", len(job), lines[0], err)
	}
	text2 := strings.Join(lines, "\n")
	for _, want := range []string{"// SET HOST='ftp.test.example',PORT=2121", "DSN=TEST.SOCKS.SAMPLIB(FTPDATA)"} {
		if !strings.Contains(text2, want) {
			t.Errorf("FTPJOB lacks %q", want)
		}
	}
	socks, _ := os.ReadFile(filepath.Join(out, "FTPSOCKS"))
	if l, _ := jcl.DecodeLines(socks, "auto"); !strings.Contains(strings.Join(l, "\n"), "sockd @=127.0.0.1:1081 ") {
		t.Errorf("FTPSOCKS does not point at the IPv4 listener:\n%s", strings.Join(l, "\n"))
	}
	// The EBCDIC configuration it wrote is itself a valid -c input.
	if code, _, errOut := runJCLTest(t, "render", "-c", filepath.Join(out, "SOCKSCFG"), "--out", filepath.Join(dir, "again")); code != exitOK {
		t.Errorf("render from EBCDIC SOCKSCFG: exit %d: %s", code, errOut)
	}
}

func TestJCLRenderErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, text, want string }{
		{"bad hlq", "[jcl]\nhlq = \"1X\"\n", "bad.toml:2: jcl.hlq: "},
		{"bad toml", "[jcl]\nhlq = \n", "bad.toml:2:"},
		{"ipv6 only", "[server]\nlisten = [\"[::1]:1080\"]\n", "bad.toml:2: server.listen: no IPv4 listen address"},
		{"error outside [jcl]", "[[rules]]\nname = \"a\"\naction = \"allow\"\n", "bad.toml:3: rules[1].action: "},
		{"bad listen", "[server]\nlisten = [\"nohostport\"]\n", "nohostport"},
		{"too long for PARM", "[jcl]\ninstall_dir = \"/" + strings.Repeat("i", 43) + "\"\nconfig_path = \"/" + strings.Repeat("c", 43) + "\"\n", "PARM is"},
	}
	for _, tc := range tests {
		f := filepath.Join(dir, "bad.toml")
		if err := os.WriteFile(f, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := runJCLTest(t, "render", "-c", f, "--out", filepath.Join(dir, "out"))
		if code != exitFail || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", tc.name, code, errOut, tc.want)
		}
	}
	if code, _, _ := runJCLTest(t, "render", "-c", filepath.Join(dir, "none.toml"), "--out", dir); code != exitFail {
		t.Errorf("missing config: exit %d", code)
	}
}

// TestJCLWired runs `socksd jcl` through the command table.
func TestJCLWired(t *testing.T) {
	var out, errb bytes.Buffer
	args := append([]string{"jcl", "check"}, sampleFiles(t)...)
	if code := run(args, &out, &errb); code != exitOK {
		t.Fatalf("socksd jcl check samples: exit %d\n%s", code, errb.String())
	}
}
