package tests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"socksd/ebcdic"
	"socksd/internal/testing/testpeer"
)

// TestSFTPCurl runs curl on the client host against the partner that has
// no FTP server: passive with EPSV and with PASV, and active with PORT and
// EPRT to curl's own address, the host name resolved by socksd
// (--socks5-hostname, socks5h://). It stores, reads back (also from an
// offset), appends, lists, makes a directory, renames and deletes, and
// checks each on the server's disk.
func TestSFTPCurl(t *testing.T) {
	testpeer.RequireTool(t, "curl")
	s := newSFTPSite(t, sftpSiteConfig{server: testpeer.SFTPServerPath})
	dir := t.TempDir()
	cases := []struct {
		name  string
		proxy []string
		args  []string
		size  int
	}{
		{"epsv", []string{"--socks5-hostname", s.d.Addr}, nil, 64 << 20},
		{"pasv", []string{"--proxy", "socks5h://" + s.d.Addr}, []string{"--disable-epsv"}, 4 << 20},
		{"pasv-227-address", []string{"--socks5-hostname", s.d.Addr}, []string{"--disable-epsv", "--no-ftp-skip-pasv-ip"}, 4 << 20},
		{"active-port", []string{"--proxy", "socks5h://" + s.d.Addr}, []string{"--ftp-port", "-", "--disable-eprt"}, 4 << 20},
		{"active-eprt", []string{"--socks5-hostname", s.d.Addr}, []string{"--ftp-port", "-"}, 4 << 20},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := testpeer.Data(c.size, uint64(60+i))
			src := filepath.Join(dir, c.name+".up")
			os.WriteFile(src, data, 0o644)
			base := fmt.Sprintf("ftp://%s:%d/", testpeer.GatewayHost, sftpPort)
			curl := func(args ...string) []byte {
				t.Helper()
				all := append(append(append([]string{"-sS", "--max-time", "120", "--user", s.sshd.User + ":" + s.sshd.Password}, c.proxy...), c.args...), args...)
				out, err := testpeer.RunBounded(s.topo.Command(s.topo.Client, "curl", all...), 3*time.Minute)
				if err != nil {
					t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return out
			}
			name := c.name + ".bin"
			curl("-T", src, base+name)
			if got, _ := s.read(name); sha256.Sum256(got) != sha256.Sum256(data) {
				t.Fatalf("upload: the server's copy differs (%d of %d bytes)", len(got), len(data))
			}
			dst := filepath.Join(dir, c.name+".down")
			curl("-o", dst, base+name)
			if got, _ := os.ReadFile(dst); sha256.Sum256(got) != sha256.Sum256(data) {
				t.Fatalf("download differs (%d of %d bytes)", len(got), len(data))
			}
			if c.name != "epsv" {
				return
			}
			// REST + RETR.
			if got := curl("-r", "1000-", base+name); !bytes.Equal(got, data[1000:]) {
				t.Errorf("download from offset 1000: %d bytes, want %d", len(got), len(data)-1000)
			}
			// APPE.
			small := filepath.Join(dir, "small.txt")
			os.WriteFile(small, []byte("more\n"), 0o644)
			curl("-T", small, base+"app.txt")
			curl("-a", "-T", small, base+"app.txt")
			s.checkFile(t, "app.txt", []byte("more\nmore\n"))
			// MKD (and CWD) on the way to a file in new directories.
			curl("--ftp-create-dirs", "-T", small, base+"d1/d2/deep.txt")
			s.checkFile(t, "d1/d2/deep.txt", []byte("more\n"))
			// LIST and NLST.
			if list := string(curl(base)); !regexp.MustCompile(`(?m)^-.* epsv\.bin\r?$`).MatchString(list) || !regexp.MustCompile(`(?m)^d.* d1\r?$`).MatchString(list) {
				t.Errorf("LIST:\n%s", list)
			}
			if names := strings.Fields(string(curl("-l", base))); !containsAll(names, "epsv.bin", "app.txt", "d1") {
				t.Errorf("NLST: %v", names)
			}
			// RNFR/RNTO and DELE as quoted commands.
			curl("-Q", "RNFR app.txt", "-Q", "RNTO renamed.txt", "-Q", "DELE d1/d2/deep.txt", "-Q", "RMD d1/d2", base)
			if s.exists("app.txt") || !s.exists("renamed.txt") || s.exists("d1/d2") {
				t.Errorf("after RNFR/RNTO, DELE, RMD: app.txt %v, renamed.txt %v, d1/d2 %v", s.exists("app.txt"), s.exists("renamed.txt"), s.exists("d1/d2"))
			}
			// A missing file: curl reports the server's 550 as exit code 78.
			out, err := testpeer.RunBounded(s.topo.Command(s.topo.Client, "curl", append(append([]string{"-sS", "--max-time", "60", "--user", s.sshd.User + ":" + s.sshd.Password}, c.proxy...), base+"no-such.bin")...), time.Minute)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 78 { // CURLE_REMOTE_FILE_NOT_FOUND: the server said 550
				t.Errorf("download of a missing file: %v %s", err, out)
			}
		})
	}
	modes := map[string]int{}
	for _, r := range s.checkAudit(t, "STOR", "RETR", "APPE", "LIST", "NLST") {
		modes[fmt.Sprint(r["mode"])]++
	}
	if modes["active"] < 4 || modes["passive"] < 6 {
		t.Errorf("audit modes %v: want the PORT/EPRT transfers active and the others passive", modes)
	}
	s.checkOnlySFTP(t)
}

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// TestSFTPLftp runs lftp on the client host under proxychains4 (passive
// mode: proxychains hooks connect only): put, get, mkdir, mv, chmod
// (SITE CHMOD), rm, and its own parsing of LIST lines (cls -l with MLSD
// off) beside the raw listing (ls).
func TestSFTPLftp(t *testing.T) {
	testpeer.RequireTool(t, "lftp")
	testpeer.RequireTool(t, "proxychains4")
	s := newSFTPSite(t, sftpSiteConfig{server: testpeer.SFTPServerPath})
	host, port, _ := net.SplitHostPort(s.d.Addr)
	dir := t.TempDir()
	conf := filepath.Join(dir, "proxychains.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("strict_chain\nquiet_mode\ntcp_read_time_out 60000\ntcp_connect_time_out 15000\n[ProxyList]\nsocks5 %s %s\n", host, port)), 0o644)
	data := testpeer.Data(16<<20, 71)
	src := filepath.Join(dir, "up.bin")
	os.WriteFile(src, data, 0o644)
	dst := filepath.Join(dir, "down.bin")
	mtime := time.Date(2019, 5, 6, 7, 8, 9, 0, time.UTC)
	s.put(t, "listed.txt", []byte("12345\n"))
	os.Chtimes(s.path("listed.txt"), mtime, mtime)
	script := strings.Join([]string{
		"set ftp:passive-mode on", "set net:max-retries 1", "set net:timeout 60", "set ftp:ssl-allow no", "set ftp:use-mlsd off",
		"put " + src + " -o lftp.bin",
		"get lftp.bin -o " + dst,
		"mkdir ldir",
		"mv lftp.bin ldir/moved.bin",
		"chmod 640 ldir/moved.bin",
		"echo ==CLS==", "cls -l --sort=name", "cls -l ldir/",
		"echo ==LS==", "ls",
		"echo ==RM==", "rm listed.txt",
		"bye",
	}, "; ")
	cmd := s.topo.Command(s.topo.Client, "proxychains4", "-f", conf, "lftp", "-u", s.sshd.User+","+s.sshd.Password,
		"-e", script, fmt.Sprintf("ftp://%s:%d", s.topo.GatewayIP, sftpPort))
	out, err := testpeer.RunBounded(cmd, 3*time.Minute)
	if err != nil {
		t.Fatalf("lftp: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(dst); sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("lftp get differs (%d of %d bytes)\n%s", len(got), len(data), out)
	}
	if got, _ := s.read("ldir/moved.bin"); sha256.Sum256(got) != sha256.Sum256(data) {
		t.Errorf("put, mkdir, mv: ldir/moved.bin is not the file (%d bytes)", len(got))
	}
	if fi, err := os.Stat(s.path("ldir/moved.bin")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("chmod 640: %v %v", fi.Mode(), err)
	}
	if s.exists("listed.txt") || s.exists("lftp.bin") {
		t.Errorf("rm or mv left a file behind")
	}
	text := string(out)
	cls, _, _ := strings.Cut(after(text, "==CLS=="), "==LS==")
	// lftp's parser turned the LIST lines back into names, sizes, types
	// and dates.
	for _, re := range []string{
		`(?m)^-rw-r--r-- .*\b6\b.*2019.*listed\.txt$`,
		`(?m)^d[-rwx]{9} .*ldir/?$`,
		`(?m)^-rw-r----- .*\b16777216\b.*moved\.bin$`,
	} {
		if !regexp.MustCompile(re).MatchString(cls) {
			t.Errorf("cls -l does not match %s:\n%s", re, cls)
		}
	}
	ls, _, _ := strings.Cut(after(text, "==LS=="), "==RM==")
	if !strings.Contains(ls, "listed.txt") || !strings.Contains(ls, "ldir") {
		t.Errorf("ls:\n%s", ls)
	}
	s.checkAudit(t, "STOR", "RETR", "LIST")
	s.checkOnlySFTP(t)
}

// after returns what follows the first mark in s ("" without it).
func after(s, mark string) string {
	_, rest, _ := strings.Cut(s, mark)
	return rest
}

// TestSFTPDataAndPolicy: a job may connect to the 227 address directly,
// without SOCKS; [rules.ftp] keeps its meaning for ftp-sftp (deny,
// active = "refuse", a named EBCDIC code page that even the greeting
// uses).
func TestSFTPDataAndPolicy(t *testing.T) {
	s := newSFTPSite(t, sftpSiteConfig{server: testpeer.InternalSFTP})
	t.Run("direct-data", func(t *testing.T) {
		// Control through SOCKS5, data straight to the 227 address (socksd's
		// own, on the client host).
		data := testpeer.Data(4<<20, 81)
		c := s.client(t, sftpPort, ftp.DialWithDisabledEPSV(true), ftp.DialWithTrustPasvIP(true))
		viaSOCKS := s.d.Log.Count("event=session_start")
		if err := c.Stor("direct.bin", bytes.NewReader(data)); err != nil {
			t.Fatalf("STOR with a direct data connection: %v", err)
		}
		s.checkFile(t, "direct.bin", data)
		checkRetr(t, c, "direct.bin", 0, data)
		if n := s.d.Log.Count("event=session_start"); n != viaSOCKS {
			t.Errorf("%d data connections came by SOCKS; the client connected to the 227 address directly", n-viaSOCKS)
		}
	})
	t.Run("policy", func(t *testing.T) {
		s.put(t, "keep.txt", []byte("keep\n"))
		j := s.asciiJob(t, sftpPortPolicy)
		reply(t, j, "TYPE I", 200)
		reply(t, j, "DELE keep.txt", 550)
		reply(t, j, "site filetype=jes", 550)
		if !s.exists("keep.txt") {
			t.Errorf("a denied DELE deleted the file")
		}
		// active = "refuse": PORT is refused, and so is a SOCKS BIND's PORT.
		reply(t, j, "PORT 127,0,0,1,19,137", 500, 502, 504, 550)
		if _, code, text, err := j.Transfer(context.Background(), "RETR keep.txt", true, nil); err == nil && code == 226 {
			t.Errorf("an active RETR went through a rule with active = \"refuse\": %d %q", code, text)
		}
		if got := transfer(t, j, "RETR keep.txt", false, nil); string(got) != "keep\n" {
			t.Errorf("passive RETR: %q", got)
		}
		if !s.d.Log.WaitCount("SOX0302W", 2, 10*time.Second) {
			t.Errorf("the refusals were not logged (SOX0302W)")
		}
	})
	t.Run("ibm-1047", func(t *testing.T) {
		j := s.job(sftpPortEBCDIC, 4, ebcdic.IBM1047, []byte{0x15})
		j.ASCIIGreeting = false
		s.login(t, j)
		reply(t, j, "SITE RECFM=FB LRECL=80", 200)
		reply(t, j, "TYPE A", 200)
		transfer(t, j, "STOR 'HLQ.EBCDIC.CTL'", true, []byte("ASCII TEXT ON THE DATA CONNECTION\r\n"))
		s.checkFile(t, "HLQ.EBCDIC.CTL", []byte("ASCII TEXT ON THE DATA CONNECTION\n"))
		reply(t, j, "QUIT", 221)
	})
	s.checkOnlySFTP(t)
}
