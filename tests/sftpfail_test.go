package tests

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"socksd/ebcdic"
	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
)

// failedReplies are the final replies a job may get when the SSH server
// or its connection goes away in the middle of a transfer.
var failedReplies = []int{421, 426, 451}

// TestSFTPFullDisk stores more than the server's file system holds (a
// 1 MiB tmpfs as the upload directory): the job gets 552, never 226.
// OpenSSH's sftp servers answer ENOSPC with a plain failure, but they
// offer statvfs@openssh.com, so the full disk can be told (only a server
// without it leaves 451). Nothing is left under the target name, and the
// space is free again for the next upload.
func TestSFTPFullDisk(t *testing.T) {
	testpeer.RequireTool(t, "mount")
	s := newSFTPSite(t, sftpSiteConfig{server: testpeer.InternalSFTP, prepare: func(home string) {
		dir := filepath.Join(home, "full")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		u, err := user.Lookup(testpeer.TestUser)
		if err != nil {
			t.Fatal(err)
		}
		opts := fmt.Sprintf("size=1m,mode=0755,uid=%s,gid=%s", u.Uid, u.Gid)
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "sxfull", dir).CombinedOutput(); err != nil {
			testpeer.Missing(t, "tests: mount a tmpfs: %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	}})
	j := s.asciiJob(t, sftpPort)
	reply(t, j, "TYPE I", 200)
	data := testpeer.Data(8<<20, 41)
	_, code, text, err := j.Transfer(context.Background(), "STOR full/big.bin", false, bytes.NewReader(data))
	t.Logf("STOR on a full disk: %d %q (data: %v)", code, text, err)
	if code != 552 {
		t.Errorf("STOR on a full disk: %d %q, want 552 (OpenSSH offers statvfs@openssh.com)", code, text)
	}
	if s.exists("full/big.bin") {
		t.Errorf("a partial file is under the target name")
	}
	if !wait.For(10*time.Second, func() bool { e, _ := os.ReadDir(s.path("full")); return len(e) == 0 }) {
		e, _ := os.ReadDir(s.path("full"))
		t.Errorf("the partial temporary file was not removed: %v", e)
	}
	reply(t, j, "NOOP", 200)
	transfer(t, j, "STOR full/small.txt", false, []byte("fits\n"))
	s.checkFile(t, "full/small.txt", []byte("fits\n"))
	// An append that does not fit either.
	_, code, text, _ = j.Transfer(context.Background(), "APPE full/small.txt", false, bytes.NewReader(data))
	if code != 552 {
		t.Errorf("APPE on a full disk: %d %q, want 552", code, text)
	}
	recs := auditRecords(t, s.audit)
	for _, r := range recs {
		if r["path"] == "full/big.bin" && r["code"] == float64(226) {
			t.Errorf("the audit records the failed STOR as a success: %v", r)
		}
	}
}

// TestSFTPServerKilled kills sshd (every process of it) in the middle of a
// RETR and of a STOR: the job never gets 226, and the file under the
// target name is never a partial one.
func TestSFTPServerKilled(t *testing.T) {
	s := newSFTPSite(t, sftpSiteConfig{server: testpeer.SFTPServerPath})
	data := testpeer.Data(64<<20, 51)
	t.Run("RETR", func(t *testing.T) {
		s.put(t, "big.bin", data)
		j := s.asciiJob(t, sftpPort)
		reply(t, j, "TYPE I", 200)
		getc, err := j.DataConn(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		reply(t, j, "RETR big.bin", 125, 150)
		dc, err := getc()
		if err != nil {
			t.Fatal(err)
		}
		defer dc.Close()
		dc.SetDeadline(time.Now().Add(time.Minute))
		head := make([]byte, 1<<20)
		if _, err := io.ReadFull(dc, head); err != nil {
			t.Fatalf("the first MiB: %v", err)
		}
		s.sshd.Stop()
		n, _ := io.Copy(io.Discard, dc)
		n += int64(len(head))
		dc.Close()
		code, text, err := j.Reply()
		t.Logf("RETR cut after %d of %d bytes: %d %q %v", n, len(data), code, text, err)
		if n >= int64(len(data)) {
			t.Fatalf("the whole file arrived before sshd was killed; the test proves nothing")
		}
		if !slices.Contains(failedReplies, code) {
			t.Errorf("RETR with sshd killed: %d %q %v, want one of %v", code, text, err, failedReplies)
		}
	})
	for _, target := range []string{"keep.bin", "new.bin"} {
		s.sshd.Restart(t)
		t.Run("STOR-"+target, func(t *testing.T) { sftpKilledStor(t, s, target, data) })
	}
}

// sftpKilledStor starts a STOR of data as target and kills sshd after the
// first 4 MiB. keep.bin exists before with other content, which must stay
// whole; new.bin does not, and must not appear.
func sftpKilledStor(t *testing.T, s *sftpSite, target string, data []byte) {
	old := []byte("the old content stays whole\n")
	if target == "keep.bin" {
		s.put(t, target, old)
	}
	before, _ := os.ReadDir(s.home)
	j := s.asciiJob(t, sftpPort)
	reply(t, j, "TYPE I", 200)
	getc, err := j.DataConn(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	reply(t, j, "STOR "+target, 125, 150)
	dc, err := getc()
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	dc.SetDeadline(time.Now().Add(time.Minute))
	if _, err := dc.Write(data[:4<<20]); err != nil {
		t.Fatalf("the first 4 MiB: %v", err)
	}
	// The server is writing the temporary file now.
	wait.For(10*time.Second, func() bool {
		e, _ := os.ReadDir(s.home)
		return len(e) > len(before)
	})
	s.sshd.Stop()
	sent := 4 << 20
	for sent < len(data) {
		m, err := dc.Write(data[sent:min(len(data), sent+256<<10)])
		sent += m
		if err != nil {
			break
		}
	}
	dc.Close()
	code, text, err := j.Reply()
	t.Logf("STOR cut after %d bytes sent: %d %q %v", sent, code, text, err)
	if !slices.Contains(failedReplies, code) {
		t.Errorf("STOR with sshd killed: %d %q %v, want one of %v", code, text, err, failedReplies)
	}
	if target == "keep.bin" {
		s.checkFile(t, target, old)
	} else if s.exists(target) {
		t.Errorf("a partial %s is under the target name", target)
	}
	entries, _ := os.ReadDir(s.home)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	t.Logf("the login directory after the cut: %v", names)
	if !wait.For(10*time.Second, func() bool { return strings.Contains(readFile(s.audit), `"command":"STOR"`) }) {
		t.Fatalf("no audit record of the cut STOR")
	}
	for _, r := range auditRecords(t, s.audit) {
		if r["command"] == "STOR" && r["code"] == float64(226) {
			t.Errorf("the audit records the cut STOR as a success: %v", r)
		}
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// TestSFTPWrongPassword: a wrong password gets 530 and costs exactly one
// failure in sshd's log (it is not offered again by keyboard-interactive);
// the right one then logs in.
func TestSFTPWrongPassword(t *testing.T) {
	s := newSFTPSite(t, sftpSiteConfig{server: testpeer.InternalSFTP})
	j := s.job(sftpPort, 5, ebcdic.ASCII, []byte("\r\n"))
	if err := j.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	reply(t, j, "USER "+s.sshd.User, 331)
	reply(t, j, "PASS Not-"+s.sshd.Password, 530)
	failures := func() int {
		return s.sshd.CountLog("Failed password for") + s.sshd.CountLog("Failed keyboard-interactive")
	}
	if !wait.For(10*time.Second, func() bool { return failures() >= 1 }) {
		t.Fatalf("sshd never saw the wrong password")
	}
	j.Close()
	ok := s.asciiJob(t, sftpPort)
	reply(t, ok, "PWD", 257)
	reply(t, ok, "QUIT", 221)
	if n := failures(); n != 1 {
		t.Errorf("sshd logged %d authentication failures, want exactly 1", n)
	}
}

// TestSFTPRootConfinement: with root set, neither .. nor an absolute path
// reaches outside it, for reading, writing, renaming, deleting or listing.
func TestSFTPRootConfinement(t *testing.T) {
	s := newSFTPSite(t, sftpSiteConfig{server: testpeer.InternalSFTP})
	s.put(t, "outside.txt", []byte("OUTSIDE\n"))
	s.put(t, "jail/inside.txt", []byte("INSIDE\n"))
	s.mkdir(t, "jail/sub")
	j := s.asciiJob(t, sftpPortJail)
	reply(t, j, "TYPE I", 200)
	pwd := reply(t, j, "PWD", 257)
	if strings.Contains(pwd, s.home) {
		t.Logf("PWD inside a root shows the server's path: %q", pwd)
	}
	reply(t, j, "CWD ..", 250, 550)
	if p := reply(t, j, "PWD", 257); p != pwd {
		t.Errorf("CWD .. above the root: PWD %q, was %q", p, pwd)
	}
	for _, name := range []string{"inside.txt", "/inside.txt", "sub/../inside.txt", "../inside.txt", "/../../inside.txt"} {
		if got := transfer(t, j, "RETR "+name, false, nil); string(got) != "INSIDE\n" {
			t.Errorf("RETR %s: %q, want the file inside the root", name, got)
		}
	}
	escapes := []string{"../outside.txt", "/../outside.txt", "sub/../../outside.txt", "../../outside.txt",
		s.home + "/outside.txt", "/etc/passwd", "../../../../etc/passwd"}
	for _, name := range escapes {
		got, code, text, _ := j.Transfer(context.Background(), "RETR "+name, false, nil)
		if code == 226 && (bytes.Contains(got, []byte("OUTSIDE")) || bytes.Contains(got, []byte("root:"))) {
			t.Errorf("RETR %s read a file outside the root", name)
		} else if code != 550 {
			t.Logf("RETR %s: %d %q", name, code, text)
		}
		reply(t, j, "SIZE "+name, 550)
	}
	for _, name := range []string{"../escape.txt", "/../escape.txt", "sub/../../escape.txt"} {
		j.Transfer(context.Background(), "STOR "+name, false, strings.NewReader("escaped\n"))
		if s.exists("escape.txt") {
			t.Fatalf("STOR %s wrote outside the root", name)
		}
	}
	reply(t, j, "MKD ../escdir", 257, 550)
	if s.exists("escdir") {
		t.Errorf("MKD ../escdir made a directory outside the root")
	}
	reply(t, j, "DELE ../outside.txt", 550)
	if !s.exists("outside.txt") {
		t.Errorf("DELE ../outside.txt deleted a file outside the root")
	}
	reply(t, j, "RNFR inside.txt", 350)
	reply(t, j, "RNTO ../moved.txt", 250, 550)
	if s.exists("moved.txt") {
		t.Errorf("RNTO ../moved.txt moved a file outside the root")
	}
	reply(t, j, "CWD ../..", 250, 550)
	if list := string(transfer(t, j, "LIST", false, nil)); strings.Contains(list, "outside.txt") || strings.Contains(list, "jail") {
		t.Errorf("LIST after CWD ../.. shows the directory above the root:\n%s", list)
	}
	if list := string(transfer(t, j, "NLST ..", false, nil)); strings.Contains(list, "outside.txt") {
		t.Errorf("NLST .. shows the directory above the root:\n%s", list)
	}
	reply(t, j, "QUIT", 221)
}

// TestSFTPDatasetNames: quoted z/OS names with datasets = "//". sshd
// chroots the session so that the server's / is a directory of the test;
// OpenSSH takes //HLQ.X as the absolute path /HLQ.X. A read finds the
// file at the chroot's top (the default rule, which strips the quotes,
// looks for it in the login directory and does not find it),
// a write replaces a file there in place (the directory is root's, so a
// temporary file and a rename could not work), and a new name there is
// refused as the server refuses it. Unquoted names stay relative to the
// login directory.
func TestSFTPDatasetNames(t *testing.T) {
	base := "/var/lib/socksd-test"
	if err := os.MkdirAll(base, 0o700); err != nil {
		t.Fatal(err)
	}
	chroot, err := os.MkdirTemp(base, "chroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(chroot) })
	os.Chmod(chroot, 0o755)
	os.WriteFile(filepath.Join(chroot, "HLQ.READ.ME"), []byte("read me\n"), 0o644)
	out := filepath.Join(chroot, "HLQ.OUT.DS")
	os.WriteFile(out, []byte("old data set content\n"), 0o644)
	testpeer.ChownToUser(t, out)
	s := newSFTPSite(t, sftpSiteConfig{server: testpeer.InternalSFTP, chroot: chroot})

	j := s.asciiJob(t, sftpPortSlashes)
	reply(t, j, "TYPE I", 200)
	if got := transfer(t, j, "RETR 'HLQ.READ.ME'", false, nil); string(got) != "read me\n" {
		t.Errorf("RETR 'HLQ.READ.ME': %q", got)
	}
	reply(t, j, "SITE RECFM=FB LRECL=80", 200)
	transfer(t, j, "STOR 'HLQ.OUT.DS'", false, []byte("new content\n"))
	if b, _ := os.ReadFile(out); string(b) != "new content\n" {
		t.Errorf("STOR 'HLQ.OUT.DS': the data set holds %q", b)
	}
	reply(t, j, "NOOP", 200)
	_, code, text, _ := j.Transfer(context.Background(), "STOR 'HLQ.NEW.DS'", false, strings.NewReader("x\n"))
	if code != 550 {
		t.Errorf("STOR 'HLQ.NEW.DS' where the user may not create files: %d %q, want 550", code, text)
	}
	if _, err := os.Stat(filepath.Join(chroot, "HLQ.NEW.DS")); err == nil {
		t.Errorf("HLQ.NEW.DS was created")
	}
	transfer(t, j, "STOR plain.txt", false, []byte("plain\n"))
	s.checkFile(t, "plain.txt", []byte("plain\n"))
	reply(t, j, "QUIT", 221)

	// The default rule strips the quotes: the name becomes a file name in
	// the login directory.
	d := s.asciiJob(t, sftpPort)
	reply(t, d, "TYPE I", 200)
	transfer(t, d, "STOR 'HLQ.DATA.SET'", false, []byte("stripped\n"))
	s.checkFile(t, "HLQ.DATA.SET", []byte("stripped\n"))
	if got := transfer(t, d, "RETR 'HLQ.DATA.SET'", false, nil); string(got) != "stripped\n" {
		t.Errorf("RETR 'HLQ.DATA.SET': %q", got)
	}
	reply(t, d, "SIZE 'HLQ.DATA.SET'", 213)
	reply(t, d, "SIZE 'HLQ.READ.ME'", 550)
	reply(t, d, "QUIT", 221)
}

// TestSFTPSubsystemRefused: an sshd without the sftp subsystem takes the
// login but refuses the subsystem; the job gets 421 with the message ID
// that names the reason, and socksd logs it.
func TestSFTPSubsystemRefused(t *testing.T) {
	s := newSFTPSite(t, sftpSiteConfig{server: ""})
	j := s.job(sftpPort, 5, ebcdic.ASCII, []byte("\r\n"))
	if err := j.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	reply(t, j, "USER "+s.sshd.User, 331)
	text := reply(t, j, "PASS "+s.sshd.Password, 421)
	idRE := regexp.MustCompile(`SOX[0-9]{4}[EA]`)
	line, ok := s.d.Log.WaitFor(regexp.MustCompile(`SOX[0-9]{4}[EA] .*sftp`), 10*time.Second, nil)
	if !ok {
		t.Fatalf("socksd logged no error message about the sftp subsystem")
	}
	if id := idRE.FindString(line); !strings.Contains(text, id) {
		t.Errorf("the job's 421 does not name the message ID %s that socksd logged: %q", id, text)
	}
	if s.sshd.CountLog("Accepted password for") != 1 {
		t.Errorf("sshd's log does not show the one login")
	}
}
