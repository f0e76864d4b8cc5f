package testpeer

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func dialSSH(t *testing.T, s *SSHD, auth ssh.AuthMethod) (*ssh.Client, error) {
	t.Helper()
	cb, err := knownhosts.New(s.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.Dial("tcp", s.Addr, &ssh.ClientConfig{
		User:            s.User,
		Auth:            []ssh.AuthMethod{auth},
		HostKeyCallback: cb,
		Timeout:         10 * time.Second,
	})
}

func TestStartSSHDPasswordAndKey(t *testing.T) {
	s := StartSSHD(t, SSHDConfig{PasswordAuth: true, PubkeyAuth: true})
	c, err := dialSSH(t, s, ssh.Password(s.Password))
	if err != nil {
		t.Fatalf("password login: %v\n%s", err, s.Log())
	}
	c.Close()
	if _, err := dialSSH(t, s, ssh.Password("wrong-"+s.Password)); err == nil {
		t.Fatal("wrong password accepted")
	}
	if n := s.WaitLog("Failed password for "+s.User, 1, 10*time.Second); n != 1 {
		t.Fatalf("Failed password lines = %d, want 1", n)
	}
	key, err := loadKey(s.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err = dialSSH(t, s, ssh.PublicKeys(key))
	if err != nil {
		t.Fatalf("publickey login: %v\n%s", err, s.Log())
	}
	defer c.Close()
	if n := s.WaitLog("Accepted publickey for "+s.User, 1, 10*time.Second); n != 1 {
		t.Fatalf("Accepted publickey lines = %d, want 1", n)
	}
}

func TestSSHDFreezeRestart(t *testing.T) {
	s := StartSSHD(t, SSHDConfig{PasswordAuth: true})
	c, err := dialSSH(t, s, ssh.Password(s.Password))
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	defer c.Close()
	if len(Descendants(s.PID())) == 0 {
		t.Fatal("no per-connection sshd process found")
	}
	s.Freeze()
	reply := make(chan error, 1)
	go func() {
		_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
		reply <- err
	}()
	for _, pid := range append([]int{s.PID()}, Descendants(s.PID())...) {
		if st := ProcState(pid); !frozenState(st) {
			out, _ := exec.Command("ps", "-eo", "pid,ppid,pgid,stat,args").Output()
			t.Fatalf("pid %d state %q after Freeze, want T\n%s", pid, st, out)
		}
	}
	s.Thaw()
	select {
	case err := <-reply:
		if err != nil {
			t.Fatalf("after thaw: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reply after thaw")
	}
	s.Restart(t)
	c2, err := dialSSH(t, s, ssh.Password(s.Password))
	if err != nil {
		t.Fatalf("login after restart: %v", err)
	}
	c2.Close()
	if !strings.Contains(s.Log(), "Accepted password") {
		t.Fatal("no Accepted password in log")
	}
}

func loadKey(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ssh.ParsePrivateKey(b)
}

func TestFreePort(t *testing.T) {
	p := FreePort(t, "127.0.0.1")
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("port %d not free: %v", p, err)
	}
	l.Close()
}

func TestSSHDInNamespace(t *testing.T) {
	topo := NewTopology(t)
	s := StartSSHD(t, SSHDConfig{PasswordAuth: true, NetNS: topo.Gateway, ListenAddr: topo.GatewayIP})
	// Reach it from the client namespace only.
	c, err := DialIn(context.Background(), topo.ClientNSPath, "tcp", s.Addr)
	if err != nil {
		t.Fatalf("dial in namespace: %v", err)
	}
	cb, err := knownhosts.New(s.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	sc, chans, reqs, err := ssh.NewClientConn(c, s.Addr, &ssh.ClientConfig{
		User: s.User, Auth: []ssh.AuthMethod{ssh.Password(s.Password)}, HostKeyCallback: cb, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("login in namespace: %v\n%s", err, s.Log())
	}
	ssh.NewClient(sc, chans, reqs).Close()
	if n := s.WaitLog("Accepted password for "+s.User, 1, 10*time.Second); n != 1 {
		t.Fatalf("%d logins in log", n)
	}
}
