package testpeer

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"testing"
)

// The two sftp servers OpenSSH offers: the one built into sshd, and the
// stand-alone binary sshd runs for each session.
const (
	InternalSFTP   = "internal-sftp"
	SFTPServerPath = "/usr/lib/openssh/sftp-server"
)

// SFTPSubsystem is the sftp subsystem of a test sshd (SSHDConfig.SFTP).
// Its zero value leaves the subsystem out and MaxSessions at the harness's
// 100.
type SFTPSubsystem struct {
	// Server is InternalSFTP or the path of an sftp-server binary
	// (SFTPServerPath); "" configures no subsystem.
	Server string
	// StartDir is the directory a session starts in (sftp-server -d): the
	// login directory an SFTP client sees. "" = the user's home.
	StartDir string
	// Chroot is sshd's ChrootDirectory for the session ("" = none). Every
	// component of the path must be owned by root and writable by no one
	// else, and only InternalSFTP works inside it; StartDir is then a path
	// inside the chroot.
	Chroot string
	// DefaultMaxSessions keeps sshd's own MaxSessions (10 session channels
	// per connection) instead of the harness's 100.
	DefaultMaxSessions bool
}

// maxSessionsLine is the MaxSessions line of sshd_config (with its line
// end), or "" for sshd's default.
func (s SFTPSubsystem) maxSessionsLine() string {
	if s.DefaultMaxSessions {
		return ""
	}
	return "MaxSessions 100\n"
}

// subsystemLine returns the Subsystem (and ChrootDirectory) lines, each
// with its line end; a server binary that is missing skips or fails the
// test (Missing). The server logs each file operation at INFO: for
// internal-sftp that reaches sshd's log.
func (s SFTPSubsystem) subsystemLine(t testing.TB) string {
	t.Helper()
	if s.Server == "" {
		return ""
	}
	if s.Server != InternalSFTP {
		if fi, err := os.Stat(s.Server); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			Missing(t, "testpeer: sftp server %s not found (package openssh-sftp-server)", s.Server)
		}
	}
	args := []string{"Subsystem sftp", s.Server, "-l INFO"}
	if s.StartDir != "" {
		if strings.ContainsAny(s.StartDir, " \t\"%") {
			t.Fatalf("testpeer: sftp start directory %q: no spaces, quotes or %% here", s.StartDir)
		}
		args = append(args, "-d", s.StartDir)
	}
	line := strings.Join(args, " ") + "\n"
	if s.Chroot != "" {
		line += fmt.Sprintf("ChrootDirectory %s\n", s.Chroot)
	}
	return line
}

// UserDir makes a fresh directory owned by the test user (EnsureTestUser)
// under the temporary directory, mode 0755 so that the user can reach it,
// and removes it when the test ends. It returns its path.
func UserDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "socksd-sftp-")
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	ChownToUser(t, dir)
	return dir
}

// ChownToUser gives path to the test user (EnsureTestUser).
func ChownToUser(t testing.TB, path string) {
	t.Helper()
	name, _ := EnsureTestUser(t)
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Lchown(path, uid, gid); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
}
