package testpeer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// TestSSHDSFTPSubsystem starts sshd with each sftp server and a start
// directory: an SFTP client starts there and its files land there, and
// sshd's default MaxSessions refuses the eleventh session channel.
func TestSSHDSFTPSubsystem(t *testing.T) {
	for _, server := range []string{InternalSFTP, SFTPServerPath} {
		t.Run(filepath.Base(server), func(t *testing.T) {
			dir := UserDir(t)
			s := StartSSHD(t, SSHDConfig{PasswordAuth: true, SFTP: SFTPSubsystem{Server: server, StartDir: dir, DefaultMaxSessions: true}})
			c, err := dialSSH(t, s, ssh.Password(s.Password))
			if err != nil {
				t.Fatalf("login: %v\n%s", err, s.Log())
			}
			defer c.Close()
			sc, err := sftp.NewClient(c)
			if err != nil {
				t.Fatalf("sftp subsystem: %v\n%s", err, s.Log())
			}
			wd, err := sc.Getwd()
			if err != nil || wd != dir {
				t.Errorf("start directory %q (%v), want %q", wd, err, dir)
			}
			f, err := sc.Create("hello.txt")
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte("hi\n"))
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "hello.txt")); err != nil || string(b) != "hi\n" {
				t.Errorf("the file on disk: %q %v", b, err)
			}
			// One session is open (the sftp client); nine more fit, the
			// eleventh is refused.
			var sessions []*ssh.Session
			defer func() {
				for _, x := range sessions {
					x.Close()
				}
			}()
			for i := 1; i < 10; i++ {
				x, err := c.NewSession()
				if err != nil {
					t.Fatalf("session %d: %v", i+1, err)
				}
				sessions = append(sessions, x)
			}
			if x, err := c.NewSession(); err == nil {
				x.Close()
				t.Errorf("an eleventh session channel was opened: MaxSessions is not sshd's default")
			}
		})
	}
}
