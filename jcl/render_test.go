package jcl

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

var update = flag.Bool("update", false, "rewrite samples/ and testdata/golden/ from the templates")

// testSite differs from DefaultSite in every value that reaches a member.
func testSite() Site {
	s := DefaultSite()
	s.HLQ = "PROD.SOCKS"
	s.JobCard = []string{
		"//FTPNIGHT JOB (D123,FIN),'NIGHTLY FTP',CLASS=B,",
		"//         MSGCLASS=H,NOTIFY=&SYSUID",
	}
	s.InstallDir = "/opt/socksd/v1"
	s.ConfigPath = "/etc/socksd/prod/socksd.toml"
	s.EnvPath = "/etc/socksd/prod/socksd.env"
	s.ConsoleSocket = "/var/run/socksd/cmd.sock"
	s.HomeDir = "/u/socksprd"
	s.KeyDir = "/etc/socksd/prod/keys"
	s.KnownHosts = "/etc/socksd/prod/known_hosts"
	s.FTPSocksConf = "/etc/socksd/prod/ftpsocks.conf"
	s.UploadDir = "/u/admin/upload"
	s.ProcName = "SOCKSPRD"
	s.User = "SOCKSPRD"
	s.Group = "SOCKSADM"
	s.UID = 4711
	s.GID = 815
	s.FTPHost = "ftp.bank.example"
	s.FTPAddresses = []string{"198.51.100.7", "203.0.113.0/28"}
	s.FTPPort = 2121
	s.SSHHost = "ssh.bank.example"
	s.SSHPort = 2222
	s.FTPUser = "nightly"
	s.FTPPassword = "s3cret!x"
	s.ListenHost = "127.0.0.2"
	s.Port = 1081
	return s
}

// compareDir compares rendered members with the files in dir, or rewrites
// them with -update.
func compareDir(t *testing.T, dir string, members map[string][]byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range members {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(members) {
		t.Errorf("%s has %d files, rendering gives %d members (run go test ./jcl -update)", dir, len(entries), len(members))
	}
	for name, b := range members {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%v (run go test ./jcl -update)", err)
			continue
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s/%s differs from the rendered member (run go test ./jcl -update and review the diff)", dir, name)
		}
	}
}

// TestSamplesInSync keeps samples/ equal to the templates rendered with
// DefaultSite, so that the shipped files are what Render produces.
func TestSamplesInSync(t *testing.T) {
	m, err := Render(DefaultSite(), "ascii")
	if err != nil {
		t.Fatal(err)
	}
	compareDir(t, "samples", m)
}

// TestSamplesPassCheck checks every shipped sample file as it is on disk,
// and the same file as IBM-1047 records.
func TestSamplesPassCheck(t *testing.T) {
	files, err := filepath.Glob("samples/*")
	if err != nil || len(files) < 10 {
		t.Fatalf("samples: %v, %v", files, err)
	}
	jcl := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if errs := Check(f, data); len(errs) > 0 {
			t.Errorf("%s:\n%v", f, ErrorList(errs))
		}
		rec, err := encodeLines(strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"), EncodingIBM1047)
		if err != nil {
			t.Fatal(err)
		}
		if errs := Check(f, rec); len(errs) > 0 {
			t.Errorf("%s in IBM-1047:\n%v", f, ErrorList(errs))
		}
		if ok, _ := IsJCL(data, "auto"); ok {
			jcl++
		}
	}
	if jcl != 6 {
		t.Errorf("%d JCL members, want 6 (SOCKSD, FTPJOB, SOCKSCMD, HOSTKEY, INSTALL, RACF)", jcl)
	}
}

// TestRenderGolden renders a test site in both encodings, checks every
// member and compares with testdata/golden.
func TestRenderGolden(t *testing.T) {
	site := testSite()
	ascii, err := Render(site, "ascii")
	if err != nil {
		t.Fatal(err)
	}
	ebcdic, err := Render(site, "ibm-1047")
	if err != nil {
		t.Fatal(err)
	}
	compareDir(t, filepath.Join("testdata", "golden", "ascii"), ascii)
	compareDir(t, filepath.Join("testdata", "golden", "ibm-1047"), ebcdic)
	if !reflect.DeepEqual(keys(ascii), Members()) || !reflect.DeepEqual(keys(ebcdic), Members()) {
		t.Fatalf("members: %v / %v, want %v", keys(ascii), keys(ebcdic), Members())
	}
	for name, a := range ascii {
		e := ebcdic[name]
		if errs := Check(name, a); len(errs) > 0 {
			t.Errorf("ascii %s:\n%v", name, ErrorList(errs))
		}
		if errs, err := CheckEncoding(name, e, "ibm-1047"); err != nil || len(errs) > 0 {
			t.Errorf("ibm-1047 %s: %v\n%v", name, err, ErrorList(errs))
		}
		if errs := Check(name, e); len(errs) > 0 {
			t.Errorf("ibm-1047 %s (detected):\n%v", name, ErrorList(errs))
		}
		lines := strings.Split(strings.TrimSuffix(string(a), "\n"), "\n")
		if len(e) != 80*len(lines) {
			t.Errorf("%s: %d EBCDIC bytes for %d lines, want fixed 80-byte records", name, len(e), len(lines))
		}
		if bytes.IndexByte(e, 0x15) >= 0 || bytes.IndexByte(e, 0x25) >= 0 || bytes.IndexByte(e, '\n') >= 0 {
			t.Errorf("%s: EBCDIC member has line-end bytes", name)
		}
		back, enc, err := decodeLines(e, "auto")
		if err != nil || enc != EncodingIBM1047 {
			t.Fatalf("%s: decode: %v %s", name, err, enc)
		}
		for i := range back {
			back[i] = strings.TrimRight(back[i], " ")
		}
		if !reflect.DeepEqual(back, lines) {
			t.Errorf("%s: EBCDIC member does not decode to the ASCII member", name)
		}
	}
	if !bytes.Contains(ascii["FTPJOB"], []byte("s3cret!x")) || !bytes.Contains(ascii["SOCKSD"], []byte("'/opt/socksd/v1'")) {
		t.Error("site values missing from the rendered members")
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for _, n := range Members() {
		if _, ok := m[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// TestRenderedConfig decodes the rendered SOCKSCFG: the [jcl] table must
// give back the site, and the listener must be the site's.
func TestRenderedConfig(t *testing.T) {
	for _, site := range []Site{DefaultSite(), testSite()} {
		m, err := Render(site, "ascii")
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Server struct {
				Listen []string `toml:"listen"`
			} `toml:"server"`
			Site Site `toml:"jcl"`
		}
		md, err := toml.Decode(string(m["SOCKSCFG"]), &cfg)
		if err != nil {
			t.Fatalf("SOCKSCFG is not TOML: %v", err)
		}
		for _, k := range md.Undecoded() {
			if k[0] == "jcl" {
				t.Errorf("unknown [jcl] key %v", k)
			}
		}
		got := cfg.Site
		got.FTPPassword, got.ListenHost, got.Port = site.FTPPassword, site.ListenHost, site.Port
		if !reflect.DeepEqual(got, site) {
			t.Errorf("[jcl] round trip:\ngot  %+v\nwant %+v", got, site)
		}
		if want := []string{site.ListenHost + ":" + strconv.Itoa(site.Port)}; !reflect.DeepEqual(cfg.Server.Listen, want) {
			t.Errorf("listen %v, want %v", cfg.Server.Listen, want)
		}
		if bytes.Contains(m["SOCKSCFG"], []byte(site.FTPPassword)) {
			t.Error("the FTP password reached SOCKSCFG")
		}
	}
}

func TestRenderErrors(t *testing.T) {
	long := DefaultSite()
	long.InstallDir = "/" + strings.Repeat("i", 43)
	long.ConfigPath = "/" + strings.Repeat("c", 43)
	_, err := Render(long, "ascii")
	var re *RenderError
	if !errors.As(err, &re) || re.Member != "SOCKSD" || len(re.Errs) == 0 || !strings.Contains(re.Errs[0].Msg, "PARM is") {
		t.Errorf("long paths: got %v, want a RenderError for SOCKSD's PARM", err)
	}

	bad := DefaultSite()
	bad.HLQ = "1BAD"
	bad.FTPPassword = "has blank"
	_, err = Render(bad, "ascii")
	var se *SiteError
	if !errors.As(err, &se) || se.Field != "hlq" {
		t.Errorf("bad site: got %v, want a SiteError for hlq", err)
	}
	if err != nil && strings.Contains(err.Error(), "has blank") {
		t.Error("the password reached an error message")
	}

	var ee *EncodingError
	if _, err := Render(DefaultSite(), "ebcdic-martian"); !errors.As(err, &ee) {
		t.Errorf("bad encoding: got %v", err)
	}
	if _, err := Render(DefaultSite(), "auto"); err == nil {
		t.Error("auto accepted as an output encoding")
	}
}

// TestRenderIBM037 renders in code page 037 and reads every member back.
func TestRenderIBM037(t *testing.T) {
	ascii, err := Render(DefaultSite(), "ascii")
	if err != nil {
		t.Fatal(err)
	}
	e, err := Render(DefaultSite(), "ibm-037")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range e {
		if errs, err := CheckEncoding(name, b, "ibm-037"); err != nil || len(errs) > 0 {
			t.Errorf("%s: %v %v", name, err, errs)
		}
		lines, err := DecodeLines(b, "ibm-037")
		if err != nil {
			t.Fatal(err)
		}
		for i := range lines {
			lines[i] = strings.TrimRight(lines[i], " ")
		}
		if got := strings.Join(lines, "\n") + "\n"; got != string(ascii[name]) {
			t.Errorf("%s: IBM-037 member does not decode to the ASCII member", name)
		}
	}
}
