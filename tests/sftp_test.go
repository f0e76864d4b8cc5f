package tests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"socksd/ebcdic"
	"socksd/internal/testing/ftpjob"
	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
	"socksd/socks"
)

// The ports of the partner that the rules of an sftpSite tell apart. No FTP
// server listens on any of them, or anywhere in the namespaces: socksd is
// the FTP server, and the partner runs only sshd.
const (
	sftpPort        = 21   // root "" (the login directory), line_end lf, strip-quotes, streams 1
	sftpPortCRLF    = 2101 // line_end = "crlf"
	sftpPortSlashes = 2102 // datasets = "//"
	sftpPortJail    = 2103 // root = the login directory's "jail"
	sftpPortStreams = 2104 // streams = 4
	sftpPortPolicy  = 2105 // [rules.ftp] deny = ["DELE", "SITE FILETYPE=JES"], active = "refuse"
	sftpPortEBCDIC  = 2106 // [rules.ftp] encoding = "ibm-1047": even the greeting in EBCDIC
)

// sftpSite is a partner that runs only OpenSSH sshd with the sftp
// subsystem, in the gateway namespace of a Topology, and socksd in the
// client namespace with one ftp-sftp rule per port above.
type sftpSite struct {
	topo *testpeer.Topology
	sshd *testpeer.SSHD
	// home is the SSH login's directory (sftp-server -d) on this machine's
	// disk; serverHome is the same directory as the sftp server names it
	// (they differ under a chroot).
	home, serverHome string
	audit            string
	d                *testpeer.Socksd
}

// sftpSiteConfig chooses the sftp server and what is prepared before
// sshd starts.
type sftpSiteConfig struct {
	server string // testpeer.InternalSFTP or testpeer.SFTPServerPath
	// chroot, when set, is sshd's ChrootDirectory (internal-sftp only);
	// the login directory is then its "home".
	chroot string
	// prepare runs before sshd starts (a mount made later would not be
	// seen inside sshd's mount namespace).
	prepare func(home string)
}

func newSFTPSite(t *testing.T, cfg sftpSiteConfig) *sftpSite {
	t.Helper()
	s := &sftpSite{topo: testpeer.NewTopology(t)}
	if cfg.chroot != "" {
		s.home, s.serverHome = filepath.Join(cfg.chroot, "home"), "/home"
		if err := os.Mkdir(s.home, 0o755); err != nil {
			t.Fatal(err)
		}
		testpeer.ChownToUser(t, s.home)
	} else {
		s.home = testpeer.UserDir(t)
		s.serverHome = s.home
	}
	s.mkdir(t, "jail")
	if cfg.prepare != nil {
		cfg.prepare(s.home)
	}
	s.sshd = testpeer.StartSSHD(t, testpeer.SSHDConfig{
		PasswordAuth: true, KbdInteractive: true, NetNS: s.topo.Gateway, ListenAddr: s.topo.GatewayIP,
		SFTP: testpeer.SFTPSubsystem{Server: cfg.server, StartDir: s.serverHome, Chroot: cfg.chroot, DefaultMaxSessions: true},
	})
	s.audit = filepath.Join(t.TempDir(), "audit.jsonl")
	s.d = testpeer.StartSocksdIn(t, s.topo.Client, socksdBin, s.config())
	return s
}

// config is socksd's configuration: the profile logs in with the job's
// FTP user and password only (no key to fall back to), and each port of
// the partner has its own ftp-sftp rule.
func (s *sftpSite) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, `
[server]
listen = ["127.0.0.1:0"]
[log]
audit_file = %q
[console]
socket = ""
[ssh]
known_hosts = [%q]
[profiles.partner]
host = %q
port = %d
auth = ["password", "keyboard-interactive"]
`, s.audit, s.sshd.KnownHostsFile, s.topo.GatewayIP, s.sshd.Port)
	const auto = "data = \"auto\"\nencoding = \"auto\""
	rules := []struct {
		name      string
		port      int
		ftp, sftp string
	}{
		{"sftp", sftpPort, auto, ""},
		{"sftp-crlf", sftpPortCRLF, auto, `line_end = "crlf"`},
		{"sftp-slashes", sftpPortSlashes, auto, `datasets = "//"`},
		{"sftp-jail", sftpPortJail, auto, fmt.Sprintf("root = %q", s.serverHome+"/jail")},
		{"sftp-streams", sftpPortStreams, auto, "streams = 4"},
		{"sftp-policy", sftpPortPolicy, auto + "\ndeny = [\"DELE\", \"SITE FILETYPE=JES\"]\nactive = \"refuse\"", ""},
		{"sftp-ebcdic", sftpPortEBCDIC, "encoding = \"ibm-1047\"", ""},
	}
	for _, r := range rules {
		fmt.Fprintf(&b, `
[[rules]]
name = %q
to = [%q, %q]
ports = ["%d"]
action = "ftp-sftp"
profile = "partner"
[rules.ftp]
%s
[rules.sftp]
%s
`, r.name, s.topo.GatewayIP, testpeer.GatewayHost, r.port, r.ftp, r.sftp)
	}
	b.WriteString("\n[[rules]]\nname = \"rest\"\naction = \"block\"\n")
	return b.String()
}

// job is the simulated z/OS client on the client host, pointed at port of
// the partner through socksd.
func (s *sftpSite) job(port, version int, cp ebcdic.CodePage, end []byte) *ftpjob.Job {
	return &ftpjob.Job{
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return testpeer.DialIn(ctx, s.topo.ClientNSPath, network, addr)
		},
		Proxy: s.d.Addr, Version: version, User: "JOB1", CP: cp, End: end,
		Server:        socks.Addr{Host: s.topo.GatewayIP, Port: uint16(port)},
		ASCIIGreeting: cp != ebcdic.ASCII, // the rules' encoding is auto
	}
}

// login opens j and logs in as the SSH user; the job is closed when the
// test ends.
func (s *sftpSite) login(t *testing.T, j *ftpjob.Job) {
	t.Helper()
	if err := j.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(j.Close)
	if err := j.Login(s.sshd.User, s.sshd.Password); err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(j.Log, "\n"))
	}
}

// asciiJob is an ASCII job on SOCKS5, logged in.
func (s *sftpSite) asciiJob(t *testing.T, port int) *ftpjob.Job {
	t.Helper()
	j := s.job(port, 5, ebcdic.ASCII, []byte("\r\n"))
	s.login(t, j)
	return j
}

// client is jlaffaye/ftp on the client host, logged in. Its connections
// to the partner go through socksd by SOCKS5 CONNECT; one to a loopback
// address (a 227 address of socksd's own, used with
// ftp.DialWithTrustPasvIP) goes there directly.
func (s *sftpSite) client(t *testing.T, port int, opts ...ftp.DialOption) *ftp.ServerConn {
	t.Helper()
	dial := func(network, address string) (net.Conn, error) {
		host, p, _ := net.SplitHostPort(address)
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return testpeer.DialIn(context.Background(), s.topo.ClientNSPath, "tcp", address)
		}
		c, err := testpeer.DialIn(context.Background(), s.topo.ClientNSPath, "tcp", s.d.Addr)
		if err != nil {
			return nil, err
		}
		var n uint16
		fmt.Sscan(p, &n)
		if _, err := socks.ClientHandshake(c, 5, socks.Addr{Host: host, Port: n}, "", ""); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	opts = append([]ftp.DialOption{ftp.DialWithDialFunc(dial), ftp.DialWithTimeout(60 * time.Second)}, opts...)
	c, err := ftp.Dial(fmt.Sprintf("%s:%d", testpeer.GatewayHost, port), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Quit() })
	if err := c.Login(s.sshd.User, s.sshd.Password); err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

// path is name's path on this machine's disk, under the login directory.
func (s *sftpSite) path(name string) string { return filepath.Join(s.home, filepath.FromSlash(name)) }

// put creates a file under the login directory, owned by the SSH user.
func (s *sftpSite) put(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := s.path(name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	testpeer.ChownToUser(t, p)
	return p
}

// mkdir creates a directory under the login directory, owned by the SSH
// user.
func (s *sftpSite) mkdir(t *testing.T, name string) string {
	t.Helper()
	p := s.path(name)
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	testpeer.ChownToUser(t, p)
	return p
}

// read returns the server's copy of name ("" and false when missing).
func (s *sftpSite) read(name string) ([]byte, bool) {
	b, err := os.ReadFile(s.path(name))
	return b, err == nil
}

// exists reports whether name exists on the server's disk.
func (s *sftpSite) exists(name string) bool {
	_, err := os.Lstat(s.path(name))
	return err == nil
}

// checkFile fails the test unless the server's copy of name is want.
func (s *sftpSite) checkFile(t *testing.T, name string, want []byte) {
	t.Helper()
	got, ok := s.read(name)
	if !ok {
		t.Errorf("%s is not on the server", name)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the server's %s differs: %d bytes, want %d (%s)", name, len(got), len(want), firstDiff(got, want))
	}
}

// firstDiff describes where two byte strings first differ.
func firstDiff(got, want []byte) string {
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			lo := max(0, i-8)
			return fmt.Sprintf("first difference at %d: %q, want %q", i, got[lo:min(len(got), i+8)], want[lo:min(len(want), i+8)])
		}
	}
	return fmt.Sprintf("one is a prefix of the other, lengths %d and %d", len(got), len(want))
}

// reply sends cmd and fails the test (without stopping it) unless the
// reply code is one of codes; it returns the reply text.
func reply(t *testing.T, j *ftpjob.Job, cmd string, codes ...int) string {
	t.Helper()
	code, text, err := j.Cmd(cmd)
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, strings.Join(j.Log, "\n"))
	}
	if !slices.Contains(codes, code) {
		t.Errorf("%s: %q, want %v", cmd, text, codes)
	}
	return text
}

// transfer runs a transfer command and fails the test unless it ends with
// 226 (or 250); it returns what the data connection carried to the job.
func transfer(t *testing.T, j *ftpjob.Job, cmd string, active bool, send []byte) []byte {
	t.Helper()
	var r io.Reader
	if send != nil {
		r = bytes.NewReader(send)
	}
	got, code, text, err := j.Transfer(context.Background(), cmd, active, r)
	if err != nil || (code != 226 && code != 250) {
		t.Fatalf("%s: %d %q %v\n%s", cmd, code, text, err, strings.Join(tailLog(j.Log, 20), "\n"))
	}
	return got
}

func tailLog(l []string, n int) []string {
	if len(l) > n {
		return l[len(l)-n:]
	}
	return l
}

// ftpCode is the reply code in an error of jlaffaye/ftp, or 0.
func ftpCode(err error) int {
	var e *textproto.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// auditRecords reads the audit file's JSON lines.
func auditRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("audit file: %v", err)
	}
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		recs = append(recs, m)
	}
	return recs
}

// checkAudit waits until the audit file holds a record with code 226 for
// each command of want, and checks that every record says protocol sftp
// and that no password is in the file or socksd's log.
func (s *sftpSite) checkAudit(t *testing.T, want ...string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	missing := want
	wait.For(20*time.Second, func() bool {
		b, err := os.ReadFile(s.audit)
		if err != nil {
			return false
		}
		missing = nil
		for _, cmd := range want {
			if !bytes.Contains(b, []byte(`"command":"`+cmd+`"`)) {
				missing = append(missing, cmd)
			}
		}
		return len(missing) == 0
	})
	recs = auditRecords(t, s.audit)
	ok := map[string]bool{}
	for _, r := range recs {
		if r["protocol"] != "sftp" {
			t.Errorf("audit record without protocol sftp: %v", r)
		}
		if r["code"] == float64(226) {
			ok[fmt.Sprint(r["command"])] = true
		}
	}
	for _, cmd := range want {
		if !ok[cmd] {
			t.Errorf("no audit record of a successful %s (missing: %v)", cmd, missing)
		}
	}
	b, _ := os.ReadFile(s.audit)
	if bytes.Contains(b, []byte(s.sshd.Password)) || strings.Contains(s.d.Log.String(), s.sshd.Password) {
		t.Errorf("the password reached the audit file or socksd's log")
	}
	return recs
}

// checkOnlySFTP fails the test unless sshd served the sftp subsystem and
// opened no direct-tcpip channel (nothing was forwarded to an FTP server).
func (s *sftpSite) checkOnlySFTP(t *testing.T) {
	t.Helper()
	if s.sshd.CountLog("req subsystem") == 0 {
		t.Errorf("sshd's log shows no sftp subsystem request")
	}
	if n := s.sshd.CountLog("server_request_direct_tcpip"); n != 0 {
		t.Errorf("sshd opened %d direct-tcpip channels; ftp-sftp must use only the sftp subsystem", n)
	}
}

// TestSFTPCommands runs every command of an FTP server against each of
// OpenSSH's sftp servers and checks each against the server's disk: first
// the z/OS client's raw dialogue, then jlaffaye/ftp with 64 MiB both ways,
// REST resume, both listing forms it parses, and refusals.
func TestSFTPCommands(t *testing.T) {
	for _, server := range []string{testpeer.InternalSFTP, testpeer.SFTPServerPath} {
		t.Run(filepath.Base(server), func(t *testing.T) {
			s := newSFTPSite(t, sftpSiteConfig{server: server})
			t.Run("dialogue", func(t *testing.T) { sftpDialogue(t, s) })
			t.Run("jlaffaye", func(t *testing.T) { sftpJlaffaye(t, s) })
			recs := s.checkAudit(t, "STOR", "RETR", "APPE", "STOU", "LIST", "NLST", "MLSD")
			site := false
			for _, r := range recs {
				if b, _ := json.Marshal(r); r["command"] == "STOR" && bytes.Contains(b, []byte("RECFM")) {
					site = true
				}
			}
			if !site {
				t.Errorf("no STOR audit record carries the SITE parameters sent before it (RECFM=FB)")
			}
			s.checkOnlySFTP(t)
		})
	}
}

// sftpDialogue sends every command of the issue in raw form and checks
// the replies and the server's disk.
func sftpDialogue(t *testing.T, s *sftpSite) {
	j := s.asciiJob(t, sftpPort)
	reply(t, j, "SYST", 215)
	feat := reply(t, j, "FEAT", 211)
	for _, f := range []string{"SIZE", "MDTM", "MLST", "REST STREAM"} {
		if !strings.Contains(feat, f) {
			t.Errorf("FEAT lacks %s: %q", f, feat)
		}
	}
	reply(t, j, "OPTS UTF8 ON", 200)
	reply(t, j, "NOOP", 200)
	reply(t, j, "HELP", 214)
	reply(t, j, "STAT", 211)
	reply(t, j, "ACCT JOBACCT", 202, 230)
	reply(t, j, "MODE S", 200)
	reply(t, j, "STRU F", 200)
	reply(t, j, "TYPE E", 504)
	reply(t, j, "TYPE L 8", 200)
	reply(t, j, "TYPE A", 200)
	reply(t, j, "TYPE I", 200)
	reply(t, j, "XYZZY", 502)
	// PORT and EPRT only to the job's own host (RFC 2577).
	reply(t, j, "PORT 10,77,2,2,19,137", 500, 501, 504)
	reply(t, j, "EPRT |1|10.77.1.2|5001|", 500, 501, 504)

	// Directories.
	pwd := reply(t, j, "PWD", 257)
	if !strings.Contains(pwd, `"`+s.serverHome+`"`) {
		t.Errorf("PWD %q does not name the login directory %s", pwd, s.serverHome)
	}
	if x := reply(t, j, "XPWD", 257); x != pwd {
		t.Errorf("XPWD %q, PWD %q", x, pwd)
	}
	reply(t, j, "MKD sub", 257)
	reply(t, j, "XMKD sub2", 257)
	for _, d := range []string{"sub", "sub2"} {
		if fi, err := os.Stat(s.path(d)); err != nil || !fi.IsDir() {
			t.Errorf("MKD %s: no directory on the server (%v)", d, err)
		}
	}
	reply(t, j, "CWD sub", 250)
	if p := reply(t, j, "PWD", 257); !strings.Contains(p, s.serverHome+`/sub"`) {
		t.Errorf("PWD after CWD sub: %q", p)
	}
	transfer(t, j, "STOR in-sub.txt", false, []byte("in sub\n"))
	s.checkFile(t, "sub/in-sub.txt", []byte("in sub\n"))
	reply(t, j, "CDUP", 200, 250)
	if p := reply(t, j, "PWD", 257); p != pwd {
		t.Errorf("PWD after CDUP: %q, want %q", p, pwd)
	}
	reply(t, j, "XCWD sub2", 250)
	reply(t, j, "XCUP", 200, 250)
	reply(t, j, "CWD no-such-dir", 550)
	reply(t, j, "XRMD sub2", 250)
	if s.exists("sub2") {
		t.Errorf("XRMD sub2: still on the server")
	}

	// Store, append, resume, read from an offset.
	transfer(t, j, "STOR a.txt", false, []byte("hello"))
	s.checkFile(t, "a.txt", []byte("hello"))
	transfer(t, j, "APPE a.txt", false, []byte(" wor"))
	s.checkFile(t, "a.txt", []byte("hello wor"))
	// REST right before the transfer command, as RFC 959 orders it.
	transferFrom(t, j, 9, "STOR a.txt", []byte("ld"))
	s.checkFile(t, "a.txt", []byte("hello world"))
	if got := transferFrom(t, j, 6, "RETR a.txt", nil); string(got) != "world" {
		t.Errorf("PASV, REST 6, RETR: %q", got)
	}
	if got := transfer(t, j, "RETR a.txt", false, nil); string(got) != "hello world" {
		t.Errorf("RETR after REST: %q (the offset must apply to one transfer only)", got)
	}
	reply(t, j, "SIZE a.txt", 213)
	if text := reply(t, j, "SIZE a.txt", 213); !strings.HasSuffix(text, " 11") {
		t.Errorf("SIZE a.txt: %q", text)
	}
	reply(t, j, "SIZE no-such-file", 550)
	mtime := time.Date(2021, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(s.path("a.txt"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if text := reply(t, j, "MDTM a.txt", 213); !strings.HasSuffix(text, " 20210203040506") {
		t.Errorf("MDTM a.txt: %q, want 20210203040506", text)
	}
	before, _ := os.ReadDir(s.home)
	transfer(t, j, "STOU", false, []byte("unique\n"))
	after, _ := os.ReadDir(s.home)
	var fresh []string
	for _, e := range after {
		if !slices.ContainsFunc(before, func(b os.DirEntry) bool { return b.Name() == e.Name() }) {
			fresh = append(fresh, e.Name())
		}
	}
	if len(fresh) != 1 {
		t.Errorf("STOU: new files on the server %v, want one", fresh)
	} else {
		s.checkFile(t, fresh[0], []byte("unique\n"))
	}

	// Rename, listings.
	reply(t, j, "RNFR a.txt", 350)
	reply(t, j, "RNTO b.txt", 250)
	if s.exists("a.txt") || !s.exists("b.txt") {
		t.Errorf("RNFR/RNTO: a.txt exists %v, b.txt exists %v", s.exists("a.txt"), s.exists("b.txt"))
	}
	reply(t, j, "RNTO c.txt", 503)
	list := string(transfer(t, j, "LIST", false, nil))
	if !regexp.MustCompile(`(?m)^-[-rwx]{9}.* 11 .*b\.txt\r$`).MatchString(list) || !regexp.MustCompile(`(?m)^d[-rwx]{9}.* sub\r$`).MatchString(list) {
		t.Errorf("LIST lacks b.txt (11 bytes) or the directory sub:\n%s", list)
	}
	nlst := strings.Split(strings.TrimSpace(string(transfer(t, j, "NLST", false, nil))), "\r\n")
	for _, n := range []string{"b.txt", "sub"} {
		if !slices.Contains(nlst, n) {
			t.Errorf("NLST %q lacks %s", nlst, n)
		}
	}
	mlsd := string(transfer(t, j, "MLSD", false, nil))
	if !regexp.MustCompile(`(?im)^(\S+;)?size=11;(\S+;)? b\.txt\r$`).MatchString(mlsd) || !regexp.MustCompile(`(?im)type=file;.* b\.txt\r$`).MatchString(mlsd) ||
		!regexp.MustCompile(`(?im)type=dir;.* sub\r$`).MatchString(mlsd) {
		t.Errorf("MLSD:\n%s", mlsd)
	}
	mlst := reply(t, j, "MLST b.txt", 250)
	if !strings.Contains(strings.ToLower(mlst), "size=11;") || !strings.Contains(strings.ToLower(mlst), "type=file;") {
		t.Errorf("MLST b.txt: %q", mlst)
	}
	reply(t, j, "MLST no-such-file", 550)

	// SITE: CHMOD changes the server's file; the z/OS parameters are taken.
	reply(t, j, "SITE CHMOD 600 b.txt", 200)
	if fi, err := os.Stat(s.path("b.txt")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("SITE CHMOD 600: mode %v %v", fi.Mode(), err)
	}
	reply(t, j, "SITE RECFM=FB LRECL=80 BLKSIZE=27920", 200)
	reply(t, j, "SITE TRAILINGBLANKS", 200)
	transfer(t, j, "STOR site.txt", false, []byte("after SITE\n"))
	s.checkFile(t, "site.txt", []byte("after SITE\n"))

	// TYPE A: no SIZE, no REST (line-end conversion makes offsets wrong).
	reply(t, j, "TYPE A", 200)
	reply(t, j, "SIZE b.txt", 550)
	reply(t, j, "REST 5", 504)
	reply(t, j, "TYPE I", 200)

	reply(t, j, "DELE b.txt", 250)
	if s.exists("b.txt") {
		t.Errorf("DELE b.txt: still on the server")
	}
	reply(t, j, "DELE b.txt", 550)
	// Refusals come as the first reply, before any 150: after a 1yz reply
	// RFC 959 allows no 550.
	ro := filepath.Join(s.home, "readonly")
	os.Mkdir(ro, 0o755)                                                       // root's: the SSH user cannot write here
	os.WriteFile(filepath.Join(s.home, "unreadable.txt"), []byte("x"), 0o600) // root's
	for _, c := range []struct {
		cmd  string
		send []byte
	}{{"RETR no-such-file", nil}, {"RETR unreadable.txt", nil}, {"STOR readonly/new.txt", []byte("nope")}, {"APPE readonly/new.txt", []byte("nope")}} {
		var r io.Reader
		if c.send != nil {
			r = bytes.NewReader(c.send)
		}
		_, code, text, _ := j.Transfer(context.Background(), c.cmd, false, r)
		if code != 550 {
			t.Errorf("%s: %d %q, want 550 as the first reply", c.cmd, code, text)
		}
	}
	if s.exists("readonly/new.txt") {
		t.Errorf("a file was written in the read-only directory")
	}
	reply(t, j, "RMD sub", 550, 451) // not empty: OpenSSH says only "failure"
	reply(t, j, "DELE sub/in-sub.txt", 250)
	reply(t, j, "RMD sub", 250)
	if s.exists("sub") {
		t.Errorf("RMD sub: still on the server")
	}
	reply(t, j, "QUIT", 221)
}

// sftpJlaffaye is jlaffaye/ftp through SOCKS5 (EPSV, data by SOCKS
// CONNECT): 64 MiB both ways, REST resume both ways, MLSD and LIST
// parsed, and the errors a job must tell apart.
func sftpJlaffaye(t *testing.T, s *sftpSite) {
	c := s.client(t, sftpPort)
	data := testpeer.Data(64<<20, 21)
	want := sha256.Sum256(data)
	if err := c.Stor("big.bin", bytes.NewReader(data)); err != nil {
		t.Fatalf("STOR: %v", err)
	}
	if got, _ := s.read("big.bin"); sha256.Sum256(got) != want {
		t.Fatalf("STOR: the server's copy differs (%d bytes)", len(got))
	}
	checkRetr(t, c, "big.bin", 0, data)

	// REST resume: a download from an offset, and an upload that finishes
	// a partial file.
	small := testpeer.Data(3<<20+333, 22)
	s.put(t, "resume.bin", small[:1<<20+77])
	if err := c.StorFrom("resume.bin", bytes.NewReader(small[1<<20+77:]), 1<<20+77); err != nil {
		t.Fatalf("REST + STOR: %v", err)
	}
	s.checkFile(t, "resume.bin", small)
	checkRetr(t, c, "resume.bin", 2<<20+5, small)

	if err := c.Append("resume.bin", strings.NewReader("tail")); err != nil {
		t.Fatalf("APPE: %v", err)
	}
	s.checkFile(t, "resume.bin", append(append([]byte(nil), small...), "tail"...))

	// Metadata.
	if n, err := c.FileSize("big.bin"); err != nil || n != int64(len(data)) {
		t.Errorf("SIZE: %d %v", n, err)
	}
	old := time.Date(2020, 7, 8, 9, 10, 11, 0, time.UTC)
	s.put(t, "old.txt", []byte("old\n"))
	os.Chtimes(s.path("old.txt"), old, old)
	if tm, err := c.GetTime("old.txt"); err != nil || !tm.Equal(old) {
		t.Errorf("MDTM: %v %v, want %v", tm, err, old)
	}
	if e, err := c.GetEntry("big.bin"); err != nil || e.Size != uint64(len(data)) || e.Type != ftp.EntryTypeFile {
		t.Errorf("MLST: %+v %v", e, err)
	}
	s.mkdir(t, "dir")

	// Listings: MLSD (jlaffaye prefers it when FEAT names MLST) and LIST
	// lines parsed by jlaffaye's ls -l parser.
	lc := s.client(t, sftpPort, ftp.DialWithDisabledMLSD(true))
	for name, conn := range map[string]*ftp.ServerConn{"MLSD": c, "LIST": lc} {
		entries, err := conn.List("")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got := map[string]*ftp.Entry{}
		for _, e := range entries {
			got[e.Name] = e
		}
		if e := got["big.bin"]; e == nil || e.Type != ftp.EntryTypeFile || e.Size != uint64(len(data)) {
			t.Errorf("%s: big.bin parsed as %+v", name, e)
		}
		if e := got["dir"]; e == nil || e.Type != ftp.EntryTypeFolder {
			t.Errorf("%s: dir parsed as %+v", name, e)
		}
		if e := got["old.txt"]; e == nil || e.Size != 4 || e.Time.Year() != 2020 || e.Time.Month() != 7 || e.Time.Day() != 8 {
			t.Errorf("%s: old.txt parsed as %+v, want 4 bytes of 2020-07-08", name, e)
		}
		if got["."] != nil || got[".."] != nil {
			t.Logf("%s lists . and ..", name)
		}
	}
	names, err := lc.NameList("")
	if err != nil || !slices.Contains(names, "big.bin") || !slices.Contains(names, "dir") {
		t.Errorf("NLST: %v %v", names, err)
	}

	// Directories and names.
	if err := c.MakeDir("made"); err != nil {
		t.Errorf("MKD: %v", err)
	}
	if err := c.ChangeDir("made"); err != nil {
		t.Errorf("CWD: %v", err)
	}
	if wd, err := c.CurrentDir(); err != nil || wd != s.serverHome+"/made" {
		t.Errorf("PWD: %q %v", wd, err)
	}
	if err := c.Stor("x.txt", strings.NewReader("x")); err != nil {
		t.Errorf("STOR in made: %v", err)
	}
	s.checkFile(t, "made/x.txt", []byte("x"))
	if err := c.ChangeDirToParent(); err != nil {
		t.Errorf("CDUP: %v", err)
	}
	if err := c.Rename("made/x.txt", "y.txt"); err != nil {
		t.Errorf("RNFR/RNTO: %v", err)
	}
	s.checkFile(t, "y.txt", []byte("x"))
	if err := c.RemoveDir("made"); err != nil || s.exists("made") {
		t.Errorf("RMD: %v, still there %v", err, s.exists("made"))
	}
	if err := c.Delete("y.txt"); err != nil || s.exists("y.txt") {
		t.Errorf("DELE: %v", err)
	}
	if err := c.NoOp(); err != nil {
		t.Errorf("NOOP: %v", err)
	}

	// Missing files and permission denied: 550, and nothing written.
	if code := retrCode(c, "no-such.bin"); code != 550 {
		t.Errorf("RETR of a missing file: final reply %d, want 550", code)
	}
	if _, err := c.FileSize("no-such.bin"); ftpCode(err) != 550 {
		t.Errorf("SIZE of a missing file: %v, want 550", err)
	}
	ro := filepath.Join(s.home, "readonly")
	os.Mkdir(ro, 0o755) // root's: the SSH user cannot write here
	os.WriteFile(filepath.Join(ro, "root.txt"), []byte("root's\n"), 0o644)
	os.WriteFile(s.path("secret.txt"), []byte("secret\n"), 0o600) // root's, unreadable
	if err := c.Stor("readonly/new.bin", strings.NewReader("nope")); ftpCode(err) != 550 {
		t.Errorf("STOR into a directory the user cannot write: %v, want 550", err)
	}
	if entries, _ := os.ReadDir(ro); len(entries) != 1 {
		t.Errorf("files left in the read-only directory: %v", entries)
	}
	if err := c.Delete("readonly/root.txt"); ftpCode(err) != 550 || !s.exists("readonly/root.txt") {
		t.Errorf("DELE of another user's file: %v, want 550", err)
	}
	if code := retrCode(c, "secret.txt"); code != 550 {
		t.Errorf("RETR of an unreadable file: final reply %d, want 550", code)
	}
	if err := c.Rename("readonly/root.txt", "stolen.txt"); ftpCode(err) != 550 || s.exists("stolen.txt") {
		t.Errorf("RNFR/RNTO out of a read-only directory: %v, want 550", err)
	}
	if err := c.NoOp(); err != nil {
		t.Errorf("the session is unusable after the refusals: %v", err)
	}
}

// retrCode runs RETR and returns the reply code of its refusal, whether
// it came first or after a 150 (the dialogue test checks the order), or 226.
func retrCode(c *ftp.ServerConn, name string) int {
	r, err := c.Retr(name)
	if err != nil {
		return ftpCode(err)
	}
	io.Copy(io.Discard, r)
	if err := r.Close(); err != nil {
		return ftpCode(err)
	}
	return 226
}

// transferFrom is transfer with a REST offset sent once the data
// connection is set up (PASV), right before cmd, as RFC 959 orders it.
func transferFrom(t *testing.T, j *ftpjob.Job, offset int64, cmd string, send []byte) []byte {
	t.Helper()
	getc, err := j.DataConn(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	reply(t, j, fmt.Sprintf("REST %d", offset), 350)
	if code, text, err := j.Cmd(cmd); err != nil || code/100 != 1 {
		t.Fatalf("%s after REST: %d %q %v", cmd, code, text, err)
	}
	dc, err := getc()
	if err != nil {
		t.Fatal(err)
	}
	dc.SetDeadline(time.Now().Add(time.Minute))
	var got []byte
	if send != nil {
		_, err = dc.Write(send)
	} else {
		got, err = io.ReadAll(dc)
	}
	dc.Close()
	code, text, rerr := j.Reply()
	if err != nil || rerr != nil || code != 226 {
		t.Fatalf("%s after REST: %d %q %v %v", cmd, code, text, err, rerr)
	}
	return got
}

// checkRetr downloads name from offset and compares it with data[offset:].
func checkRetr(t *testing.T, c *ftp.ServerConn, name string, offset int, data []byte) {
	t.Helper()
	r, err := c.RetrFrom(name, uint64(offset))
	if err != nil {
		t.Fatalf("RETR %s from %d: %v", name, offset, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	cerr := r.Close()
	if err != nil || cerr != nil {
		t.Fatalf("RETR %s: %d bytes: %v / final reply: %v", name, n, err, cerr)
	}
	want := sha256.Sum256(data[offset:])
	if n != int64(len(data)-offset) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("RETR %s from %d: %d bytes, want %d, digest equal %v", name, offset, n, len(data)-offset, bytes.Equal(h.Sum(nil), want[:]))
	}
}

// textSample is a text in its FTP form (CRLF line ends): empty lines, a
// 200 KB line, a CR alone inside a line (left alone both ways), trailing
// blanks, thousands of lines of every length up to 96 so that line ends
// fall at every offset of any buffer, and a last line without a line end.
func textSample() []byte {
	var b strings.Builder
	b.WriteString("FIRST LINE\r\n\r\n\r\n")
	b.WriteString(strings.Repeat("LONG LINE 0123456789 ", 10000) + "\r\n")
	b.WriteString("A BARE\rCR STAYS\r\n")
	b.WriteString("TRAILING BLANKS   \r\n\r\n")
	for i := range 6000 {
		b.WriteString(strings.Repeat(string(rune('a'+i%26)), i%97) + "\r\n")
	}
	b.WriteString("LAST LINE WITHOUT A LINE END")
	return []byte(b.String())
}

// onServer is text as the server keeps it under line_end.
func onServer(wire []byte, lineEnd string) []byte {
	if lineEnd == "crlf" {
		return wire
	}
	return bytes.ReplaceAll(wire, []byte("\r\n"), []byte("\n"))
}

// splitWrites is a reader whose reads end between the CR and the LF of
// every seventh line end, so that a copy to a connection writes each CRLF
// pair across two writes.
type splitWrites struct{ pieces [][]byte }

func newSplitWrites(b []byte) *splitWrites {
	s := &splitWrites{}
	n := 0
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			s.pieces = append(s.pieces, b)
			break
		}
		n++
		if n%7 != 0 {
			// Keep whole pieces up to 64 KiB, split at this CRLF otherwise.
			if j := bytes.Index(b[i+2:], []byte("\r\n")); j >= 0 && i+2+j < 64<<10 {
				s.pieces = append(s.pieces, b[:i+2])
				b = b[i+2:]
				continue
			}
		}
		s.pieces = append(s.pieces, b[:i+1])
		b = b[i+1:]
	}
	return s
}

func (s *splitWrites) Read(p []byte) (int, error) {
	if len(s.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.pieces[0])
	s.pieces[0] = s.pieces[0][n:]
	if len(s.pieces[0]) == 0 {
		s.pieces = s.pieces[1:]
	}
	return n, nil
}

// TestSFTPTextMode stores and retrieves text in TYPE A with each line_end,
// checks the server's copy, and reads it back in TYPE A and TYPE I; server
// files with their line ends across the 32 KiB boundaries of SFTP reads
// come out whole.
func TestSFTPTextMode(t *testing.T) {
	s := newSFTPSite(t, sftpSiteConfig{server: testpeer.InternalSFTP})
	wire := textSample()
	for _, c := range []struct {
		lineEnd string
		port    int
	}{{"lf", sftpPort}, {"crlf", sftpPortCRLF}} {
		t.Run(c.lineEnd, func(t *testing.T) {
			j := s.asciiJob(t, c.port)
			name := "text-" + c.lineEnd + ".txt"
			reply(t, j, "TYPE A", 200)
			_, code, text, err := j.Transfer(context.Background(), "STOR "+name, false, newSplitWrites(wire))
			if err != nil || code != 226 {
				t.Fatalf("STOR in TYPE A: %d %q %v", code, text, err)
			}
			s.checkFile(t, name, onServer(wire, c.lineEnd))
			if got := transfer(t, j, "RETR "+name, false, nil); !bytes.Equal(got, wire) {
				t.Errorf("RETR in TYPE A: %d bytes, want %d (%s)", len(got), len(wire), firstDiff(got, wire))
			}
			reply(t, j, "TYPE I", 200)
			if got := transfer(t, j, "RETR "+name, false, nil); !bytes.Equal(got, onServer(wire, c.lineEnd)) {
				t.Errorf("RETR in TYPE I is not the server's bytes: %s", firstDiff(got, onServer(wire, c.lineEnd)))
			}
			// Line ends across the SFTP read boundaries at 32 KiB and 64 KiB.
			var server []byte
			end := onServer([]byte("\r\n"), c.lineEnd)
			server = append(server, bytes.Repeat([]byte("a"), 32768-len(end)+1)...)
			server = append(server, end...)
			server = append(server, bytes.Repeat([]byte("b"), 65536-len(server)-len(end)+1)...)
			server = append(server, end...)
			server = append(server, "tail"...)
			s.put(t, "boundary-"+c.lineEnd+".txt", server)
			reply(t, j, "TYPE A", 200)
			want := bytes.ReplaceAll(server, end, []byte("\r\n"))
			if got := transfer(t, j, "RETR boundary-"+c.lineEnd+".txt", false, nil); !bytes.Equal(got, want) {
				t.Errorf("RETR across read boundaries: %s", firstDiff(got, want))
			}
			reply(t, j, "QUIT", 221)
		})
	}
}

// TestSFTPZOSJob is the z/OS client: SOCKS4 and SOCKS5, SOCKS BIND active
// and passive, its control connection in IBM-1047 with the z/OS line
// ends, each line_end for text, SITE parameters before every PUT, and
// quoted data-set names (strip-quotes makes them file names).
func TestSFTPZOSJob(t *testing.T) {
	s := newSFTPSite(t, sftpSiteConfig{server: testpeer.SFTPServerPath})
	text := textSample()
	ends := [][]byte{{0x15}, {0x0d, 0x25}, {0x0d, 0x0a}}
	i := 0
	for _, version := range []int{4, 5} {
		for _, active := range []bool{true, false} {
			for _, lineEnd := range []string{"lf", "crlf"} {
				mode := map[bool]string{true: "active", false: "passive"}[active]
				end := ends[i%len(ends)]
				size := 1 << 20
				if i == 0 {
					size = 64 << 20
				}
				i++
				t.Run(fmt.Sprintf("socks%d/%s/%s", version, mode, lineEnd), func(t *testing.T) {
					port := sftpPort
					if lineEnd == "crlf" {
						port = sftpPortCRLF
					}
					j := s.job(port, version, ebcdic.IBM1047, end)
					s.login(t, j)
					ds := fmt.Sprintf("HLQ.S%d.%s.%s", version, strings.ToUpper(mode), strings.ToUpper(lineEnd))
					reply(t, j, "SITE RECFM=VB LRECL=256 BLKSIZE=27998", 200)
					reply(t, j, "TYPE A", 200)
					transfer(t, j, "STOR '"+ds+".TEXT'", active, text)
					s.checkFile(t, ds+".TEXT", onServer(text, lineEnd))
					if got := transfer(t, j, "RETR '"+ds+".TEXT'", active, nil); !bytes.Equal(got, text) {
						t.Errorf("RETR in TYPE A: %s", firstDiff(got, text))
					}
					data := testpeer.Data(size, uint64(100+i))
					reply(t, j, "SITE RECFM=U", 200)
					reply(t, j, "TYPE I", 200)
					if err := j.Put(context.Background(), "'"+ds+".BIN'", data, active); err != nil {
						t.Fatalf("PUT: %v\n%s", err, strings.Join(tailLog(j.Log, 20), "\n"))
					}
					if got, _ := s.read(ds + ".BIN"); sha256.Sum256(got) != sha256.Sum256(data) {
						t.Fatalf("PUT: the server's copy differs (%d of %d bytes)", len(got), len(data))
					}
					sum, n, err := j.Get(context.Background(), "'"+ds+".BIN'", active)
					if err != nil || n != int64(size) || sum != sha256.Sum256(data) {
						t.Fatalf("GET: %d bytes: %v", n, err)
					}
					listing, err := j.List(context.Background(), active)
					if err != nil || !strings.Contains(listing, ds+".BIN") {
						t.Errorf("LIST: %v %q", err, listing)
					}
					os.Remove(s.path(ds + ".BIN"))
					reply(t, j, "QUIT", 221)
				})
			}
		}
	}
	recs := s.checkAudit(t, "STOR", "RETR", "LIST")
	modes := map[string]bool{}
	for _, r := range recs {
		modes[fmt.Sprint(r["mode"])] = true
	}
	if !modes["active"] || !modes["passive"] {
		t.Errorf("audit modes %v, want active and passive", modes)
	}
	s.checkOnlySFTP(t)
}

// TestSFTPStreams moves 64 MiB both ways on a rule with streams = 4, and
// three such transfers at once: with sshd's default MaxSessions (10) they
// need more session channels than one SSH connection allows.
func TestSFTPStreams(t *testing.T) {
	s := newSFTPSite(t, sftpSiteConfig{server: testpeer.SFTPServerPath})
	c := s.client(t, sftpPortStreams)
	data := testpeer.Data(64<<20, 31)
	if err := c.Stor("streams.bin", bytes.NewReader(data)); err != nil {
		t.Fatalf("STOR: %v", err)
	}
	if got, _ := s.read("streams.bin"); sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("STOR with streams: the server's copy differs (%d bytes)", len(got))
	}
	checkRetr(t, c, "streams.bin", 0, data)
	checkRetr(t, c, "streams.bin", 5<<20+3, data)
	// A resumed upload and an append on the same rule.
	s.put(t, "resumed.bin", data[:7<<20+5])
	if err := c.StorFrom("resumed.bin", bytes.NewReader(data[7<<20+5:]), 7<<20+5); err != nil {
		t.Fatalf("REST + STOR with streams: %v", err)
	}
	if got, _ := s.read("resumed.bin"); sha256.Sum256(got) != sha256.Sum256(data) {
		t.Errorf("REST + STOR with streams: the server's copy differs (%d bytes)", len(got))
	}
	s.put(t, "appended.bin", data[:1<<20])
	if err := c.Append("appended.bin", bytes.NewReader(data[1<<20:])); err != nil {
		t.Fatalf("APPE with streams: %v", err)
	}
	if got, _ := s.read("appended.bin"); sha256.Sum256(got) != sha256.Sum256(data) {
		t.Errorf("APPE with streams: the server's copy differs (%d bytes)", len(got))
	}

	const n = 3
	conns := make([]*ftp.ServerConn, n)
	for i := range conns {
		conns[i] = s.client(t, sftpPortStreams)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, cc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := cc.Retr("streams.bin")
			if err != nil {
				errs[i] = err
				return
			}
			h := sha256.New()
			m, err := io.Copy(h, r)
			if cerr := r.Close(); err == nil {
				err = cerr
			}
			want := sha256.Sum256(data)
			if err == nil && (m != int64(len(data)) || !bytes.Equal(h.Sum(nil), want[:])) {
				err = fmt.Errorf("%d bytes, digest differs", m)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("parallel RETR %d: %v", i, err)
		}
	}
	subs := s.sshd.CountLog("req subsystem")
	t.Logf("sshd: %d sftp subsystem requests, %d logins", subs, s.sshd.CountLog("Accepted password for"))
	if subs < 4 {
		t.Errorf("streams = 4, but sshd served only %d sftp subsystems", subs)
	}
	s.checkOnlySFTP(t)
}
