package ftp

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"socksd/internal/testing/testpeer"
)

// sshTunnel is a Tunnel on a real x/crypto/ssh client connection.
type sshTunnel struct {
	c    *ssh.Client
	addr string
}

func (t *sshTunnel) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return t.c.DialContext(ctx, network, addr)
}
func (t *sshTunnel) Server() string { return t.addr }
func (t *sshTunnel) ID() string     { return "ssh-test" }
func (t *sshTunnel) Close() error   { return t.c.Close() }

// TestThroughRealSSH runs a session whose tunnel is a real SSH connection to
// OpenSSH sshd, logging in with the job's FTP password, and checks in
// sshd's log that the control and data connections were direct-tcpip
// channels of that connection.
func TestThroughRealSSH(t *testing.T) {
	sshd := testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true})
	for _, mode := range []string{DataSocks, DataRewrite} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t, testpeer.VSFTPDConfig{WriteEnable: true}, Options{Data: mode})
			before := sshd.CountLog("server_request_direct_tcpip")
			hk, err := knownhosts.New(sshd.KnownHostsFile)
			if err != nil {
				t.Fatal(err)
			}
			opened := 0
			open := func(ctx context.Context, user string, password []byte) (Tunnel, error) {
				opened++
				c, err := ssh.Dial("tcp", sshd.Addr, &ssh.ClientConfig{
					User: user, Auth: []ssh.AuthMethod{ssh.Password(string(password))},
					HostKeyCallback: hk, Timeout: 15 * time.Second,
				})
				if err != nil {
					return nil, err
				}
				return &sshTunnel{c: c, addr: sshd.Addr}, nil
			}
			want := testpeer.Data(4<<20, 11)
			h.v.WriteFile(t, "ssh.bin", want)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dial := h.dataDial(ctx, mode == DataRewrite)
			first := true
			c, err := ftp.Dial(h.v.Addr, ftp.DialWithTimeout(20*time.Second), ftp.DialWithDialFunc(func(network, address string) (net.Conn, error) {
				if first {
					first = false
					return h.serveWith(ctx, open), nil
				}
				return dial(network, address)
			}))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Login(h.v.User, h.v.Password); err != nil {
				t.Fatalf("login: %v\n%s", err, h.logBuf.String())
			}
			r, err := c.Retr("ssh.bin")
			if err != nil {
				t.Fatalf("%v\nsshd: %s\nvsftpd: %s\nsocksd: %s", err, sshd.Log(), h.v.Log(), h.logBuf.String())
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("retr %d bytes, %v", len(got), err)
			}
			if err := c.Stor("ssh.out", bytes.NewReader(want)); err != nil {
				t.Fatal(err)
			}
			c.Quit()
			if err := h.waitServe(); err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(h.v.Root, "ssh.out")); err != nil || !bytes.Equal(b, want) {
				t.Fatalf("stored %d bytes, %v", len(b), err)
			}
			if opened != 1 {
				t.Errorf("opened %d SSH connections", opened)
			}
			// Control + 2 data channels, all to the vsftpd host.
			if n := sshd.WaitLog("server_request_direct_tcpip", before+3, 10*time.Second) - before; n != 3 {
				t.Errorf("sshd opened %d direct-tcpip channels, want 3", n)
			}
			if strings.Contains(sshd.Log(), h.v.Password) {
				t.Error("password in sshd log")
			}
		})
	}
}
