package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"socksd/internal/testing/wait"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"socksd/internal/testing/testpeer"
)

// e2e starts a real sshd and a pool that trusts it.
func e2e(t *testing.T, cfg testpeer.SSHDConfig, mod func(*Options)) (*testpeer.SSHD, *Pool, Profile) {
	t.Helper()
	s := testpeer.StartSSHD(t, cfg)
	o := Options{
		KnownHosts:        []string{s.KnownHostsFile},
		HostKeyPolicy:     PolicyStrict,
		KeepaliveInterval: -1,
		ConnectTimeout:    20 * time.Second,
		IdleClose:         time.Minute,
		Logger:            zerolog.New(zerolog.NewTestWriter(t)),
	}
	if e := os.Getenv(EnvTestEngine); e != "" {
		// A second pass of the suite with another engine.
		engineOptions(t, e)(&o)
	}
	if mod != nil {
		mod(&o)
	}
	p, err := NewPool(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	prof := Profile{Name: "e2e", Host: "127.0.0.1", Port: s.Port, Share: true}
	return s, p, prof
}

const (
	logAcceptedPassword = "Accepted password for "
	logAcceptedKbd      = "Accepted keyboard-interactive/pam for "
	logAcceptedKey      = "Accepted publickey for "
	logFailedPassword   = "Failed password for "
	logFailedKbd        = "Failed keyboard-interactive"
	logChannel          = "server_request_direct_tcpip: originator"
)

func TestSSHDPassword(t *testing.T) {
	s, p, prof := e2e(t, testpeer.SSHDConfig{PasswordAuth: true, KbdInteractive: true, PubkeyAuth: true}, nil)
	echo := testpeer.EchoServer(t)
	c, err := p.Dial(context.Background(), prof, "", Credentials{User: s.User, Password: []byte(s.Password)}, echo)
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, s.Log())
	}
	echoOnce(t, c, "through real sshd")
	c.Close()
	if n := s.WaitLog(logChannel, 1, 10*time.Second); n != 1 {
		t.Fatalf("%d direct-tcpip channels in sshd log, want 1", n)
	}
	if n := s.CountLog(logAcceptedPassword + s.User); n != 1 {
		t.Fatalf("%d password logins, want 1", n)
	}
	if n := s.CountLog(logFailedPassword) + s.CountLog(logFailedKbd); n != 0 {
		t.Fatalf("%d failed logins", n)
	}
}

func TestSSHDKeyboardInteractiveOnly(t *testing.T) {
	s, p, prof := e2e(t, testpeer.SSHDConfig{KbdInteractive: true}, nil)
	echo := testpeer.EchoServer(t)
	c, err := p.Dial(context.Background(), prof, "", Credentials{User: s.User, Password: []byte(s.Password)}, echo)
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, s.Log())
	}
	echoOnce(t, c, "kbd")
	c.Close()
	if n := s.WaitLog(logAcceptedKbd+s.User, 1, 10*time.Second); n != 1 {
		t.Fatalf("%d keyboard-interactive logins, want 1\n%s", n, s.Log())
	}
	if snap := p.Snapshot(); len(snap) != 1 || snap[0].Method != AuthKeyboardInteractive {
		t.Fatalf("snapshot %+v", snap)
	}
}

func TestSSHDWrongPasswordTriedOnce(t *testing.T) {
	tests := []struct {
		name string
		cfg  testpeer.SSHDConfig
		auth []string
	}{
		{"password and kbd", testpeer.SSHDConfig{PasswordAuth: true, KbdInteractive: true}, nil},
		{"kbd first", testpeer.SSHDConfig{PasswordAuth: true, KbdInteractive: true}, []string{"keyboard-interactive", "password"}},
		{"kbd only", testpeer.SSHDConfig{KbdInteractive: true}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, p, prof := e2e(t, tc.cfg, nil)
			prof.Auth = tc.auth
			bad := Credentials{User: s.User, Password: []byte("not-" + s.Password)}
			var firstErr error
			for i := 0; i < 4; i++ {
				_, err := p.Open(context.Background(), prof, "", bad)
				if err == nil {
					t.Fatal("wrong password accepted")
				}
				if i == 0 {
					firstErr = err
					if !errors.Is(err, ErrAuthFailed) {
						t.Fatalf("first: %v", err)
					}
				} else if !errors.Is(err, ErrPasswordRejectedRecently) {
					t.Fatalf("attempt %d: %v, want ErrPasswordRejectedRecently", i, err)
				}
			}
			if strings.Contains(firstErr.Error(), string(bad.Password)) {
				t.Fatal("error shows the password")
			}
			// sshd logs the failure when the connection ends.
			s.WaitLog("Connection closed by authenticating user", 1, 10*time.Second)
			pw, kbd := s.CountLog(logFailedPassword), s.CountLog(logFailedKbd)
			if pw+kbd != 1 {
				t.Fatalf("sshd logged %d Failed password and %d Failed keyboard-interactive, want 1 in all\n%s", pw, kbd, s.Log())
			}
			if strings.Contains(s.Log(), string(bad.Password)) {
				t.Fatal("sshd log shows the password")
			}
		})
	}
}

// keygen makes a client key with ssh-keygen and authorizes it.
func keygen(t *testing.T, s *testpeer.SSHD, typ, format, passphrase string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "id_"+typ+"_"+format)
	args := []string{"-q", "-t", typ, "-N", passphrase, "-f", f}
	if format != "" {
		args = append(args, "-m", format)
	}
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	b, err := os.ReadFile(f + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AuthorizeKey(pub); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSSHDIdentityFiles(t *testing.T) {
	testpeer.RequireTool(t, "ssh-keygen")
	s, p, prof := e2e(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true}, nil)
	echo := testpeer.EchoServer(t)
	passFile := filepath.Join(t.TempDir(), "passphrase")
	if err := os.WriteFile(passFile, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, typ, format, pass string
	}{
		{"openssh encrypted", "ed25519", "", "correct horse"},
		{"pem rsa encrypted", "rsa", "PEM", "correct horse"},
		{"pem ecdsa", "ecdsa", "PEM", ""},
		{"pkcs8 rsa", "rsa", "PKCS8", ""},
		{"pkcs8 ecdsa", "ecdsa", "PKCS8", ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := keygen(t, s, tc.typ, tc.format, tc.pass)
			pr := prof
			pr.Name = fmt.Sprintf("key%d", i)
			pr.IdentityFiles = []string{filepath.Join(t.TempDir(), "missing"), key}
			pr.PassphraseFile = passFile
			c, err := p.Dial(context.Background(), pr, "", Credentials{User: s.User}, echo)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			echoOnce(t, c, tc.name)
			c.Close()
			if n := s.WaitLog(logAcceptedKey, i+1, 10*time.Second); n != i+1 {
				t.Fatalf("%d publickey logins, want %d", n, i+1)
			}
		})
	}
	if n := s.CountLog(logFailedPassword); n != 0 {
		t.Fatalf("%d password failures without a password", n)
	}
	// A wrong passphrase leaves no usable key: a clear auth error, no password tried.
	key := keygen(t, s, "ed25519", "", "another one")
	pr := prof
	pr.Name = "wrongpass"
	pr.IdentityFiles = []string{key}
	pr.PassphraseFile = passFile
	_, err := p.Open(context.Background(), pr, "", Credentials{User: s.User})
	if !errors.Is(err, ErrAuthFailed) || strings.Contains(err.Error(), "correct horse") {
		t.Fatalf("wrong passphrase: %v", err)
	}
}

func TestSSHDFallbackToKeyWithoutCredentials(t *testing.T) {
	s, p, prof := e2e(t, testpeer.SSHDConfig{PasswordAuth: true, KbdInteractive: true, PubkeyAuth: true}, nil)
	echo := testpeer.EchoServer(t)
	prof.IdentityFiles = []string{s.ClientKeyFile}
	c, err := p.Dial(context.Background(), prof, "", Credentials{User: s.User}, echo)
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, s.Log())
	}
	echoOnce(t, c, "key")
	c.Close()
	if n := s.WaitLog(logAcceptedKey+s.User, 1, 10*time.Second); n != 1 {
		t.Fatalf("%d publickey logins, want 1", n)
	}
	if n := s.CountLog("method password") + s.CountLog("method keyboard-interactive"); n != 0 {
		t.Fatalf("%d password-type auth requests without credentials", n)
	}
}

func TestSSHDAgent(t *testing.T) {
	agentPath := testpeer.RequireTool(t, "ssh-agent")
	addPath := testpeer.RequireTool(t, "ssh-add")
	s, _, prof := e2e(t, testpeer.SSHDConfig{PubkeyAuth: true}, nil)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command(agentPath, "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	agentDone := make(chan struct{})
	go func() { agent.Wait(); close(agentDone) }()
	t.Cleanup(func() {
		syscall.Kill(agent.Process.Pid, syscall.SIGTERM)
		<-agentDone
	})
	wait.Until(t, "agent socket", 10*time.Second, func() bool { _, err := os.Stat(sock); return err == nil })
	key := keygen(t, s, "ed25519", "", "")
	add := exec.Command(addPath, key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	p, err := NewPool(Options{KnownHosts: []string{s.KnownHostsFile}, KeepaliveInterval: -1, AgentSocket: sock,
		Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	prof.Agent = true
	echo := testpeer.EchoServer(t)
	c, err := p.Dial(context.Background(), prof, "", Credentials{User: s.User}, echo)
	if err != nil {
		t.Fatalf("dial with agent: %v\n%s", err, s.Log())
	}
	echoOnce(t, c, "agent")
	c.Close()
	if snap := p.Snapshot(); len(snap) != 1 || snap[0].Method != "publickey(agent)" {
		t.Fatalf("snapshot %+v", snap)
	}
}

func TestSSHDHostKeyRefused(t *testing.T) {
	s, _, prof := e2e(t, testpeer.SSHDConfig{PasswordAuth: true}, nil)
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	other := filepath.Join(t.TempDir(), "other")
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, newSigner(t).PublicKey())
	os.WriteFile(other, []byte(line+"\n"), 0o600)
	for _, tc := range []struct {
		file string
		want error
	}{{empty, ErrHostKeyUnknown}, {other, ErrHostKeyChanged}} {
		p, err := NewPool(Options{KnownHosts: []string{tc.file}, KeepaliveInterval: -1, Logger: zerolog.New(zerolog.NewTestWriter(t))})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Open(context.Background(), prof, "", Credentials{User: s.User, Password: []byte(s.Password)})
		p.Close()
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), Fingerprint(s.HostKeyPub)) {
			t.Fatalf("err = %v, want %v showing %s", err, tc.want, Fingerprint(s.HostKeyPub))
		}
	}
	if n := s.CountLog("userauth-request"); n != 0 {
		t.Fatalf("client authenticated to a refused server (%d requests)", n)
	}
}

func TestSSHDFiftyConcurrentOneConnection(t *testing.T) {
	s, p, prof := e2e(t, testpeer.SSHDConfig{PasswordAuth: true, KbdInteractive: true}, nil)
	echo := testpeer.EchoServer(t)
	cred := Credentials{User: s.User, Password: []byte(s.Password)}
	const n = 50
	var wg sync.WaitGroup
	conns := make([]net.Conn, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			conns[i], errs[i] = p.Dial(context.Background(), prof, "", cred, echo)
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
	}
	for i, c := range conns {
		echoOnce(t, c, fmt.Sprintf("session %d", i))
		c.Close()
	}
	if got := s.WaitLog(logChannel, n, 10*time.Second); got != n {
		t.Fatalf("sshd saw %d channels, want %d", got, n)
	}
	if got := s.CountLog(logAcceptedPassword); got != 1 {
		t.Fatalf("sshd saw %d logins for %d sessions, want 1", got, n)
	}
	if got := s.CountLog("Connection from 127.0.0.1"); got != 1 {
		t.Fatalf("sshd saw %d TCP connections, want 1", got)
	}
}

func TestSSHDTwoIdentitiesTwoConnections(t *testing.T) {
	s, p, prof := e2e(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true}, nil)
	echo := testpeer.EchoServer(t)
	prof.IdentityFiles = []string{s.ClientKeyFile}
	withPW := Credentials{User: s.User, Password: []byte(s.Password)}
	withKey := Credentials{User: s.User}
	var cs []net.Conn
	for i := 0; i < 6; i++ {
		cred := withPW
		if i%2 == 1 {
			cred = withKey
		}
		c, err := p.Dial(context.Background(), prof, "", cred, echo)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		echoOnce(t, c, "id")
		cs = append(cs, c)
	}
	snap := p.Snapshot()
	if len(snap) != 2 || snap[0].Channels != 3 || snap[1].Channels != 3 {
		t.Fatalf("snapshot %+v, want 2 connections with 3 channels each", snap)
	}
	for _, c := range cs {
		c.Close()
	}
	if a, k := s.CountLog(logAcceptedPassword), s.CountLog(logAcceptedKey); a != 1 || k != 1 {
		t.Fatalf("sshd saw %d password and %d key logins, want 1 and 1", a, k)
	}
	if got := s.WaitLog(logChannel, 6, 10*time.Second); got != 6 {
		t.Fatalf("%d channels, want 6", got)
	}
}

func TestSSHDRestartBetweenSessions(t *testing.T) {
	s, p, prof := e2e(t, testpeer.SSHDConfig{PasswordAuth: true}, nil)
	echo := testpeer.EchoServer(t)
	cred := Credentials{User: s.User, Password: []byte(s.Password)}
	c, err := p.Dial(context.Background(), prof, "", cred, echo)
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, c, "before")
	c.Close()
	s.Restart(t)
	c, err = p.Dial(context.Background(), prof, "", cred, echo)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	echoOnce(t, c, "after")
	c.Close()
	if n := s.CountLog(logAcceptedPassword); n != 2 {
		t.Fatalf("%d logins, want 2", n)
	}
}

func TestSSHDFrozenDetectedByKeepalive(t *testing.T) {
	s, p, prof := e2e(t, testpeer.SSHDConfig{PasswordAuth: true}, func(o *Options) {
		o.KeepaliveInterval = 250 * time.Millisecond
		o.KeepaliveMax = 4
		o.ConnectTimeout = 3 * time.Second
	})
	echo := testpeer.EchoServer(t)
	cred := Credentials{User: s.User, Password: []byte(s.Password)}
	l, err := p.Open(context.Background(), prof, "", cred)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	first := l.ID()
	s.Freeze()
	wait.Until(t, "keepalive to drop the frozen connection", 20*time.Second, func() bool { return len(p.Snapshot()) == 0 })
	// While frozen, a new session fails within connect_timeout instead of hanging.
	_, err = p.Dial(context.Background(), prof, "", cred, echo)
	if !errors.Is(err, ErrServerUnreachable) {
		t.Fatalf("dial to frozen sshd: %v, want ErrServerUnreachable", err)
	}
	s.Thaw()
	// A thawed sshd first works off its backlog; on a loaded machine the
	// first attempts may time out. Only transport failures are retried: a
	// rejected password would show as ErrPasswordRejectedRecently.
	var c net.Conn
	for attempt := 0; attempt < 5; attempt++ {
		c, err = p.Dial(context.Background(), prof, "", cred, echo)
		if err == nil || !(errors.Is(err, ErrServerUnreachable) || errors.Is(err, ErrTunnelClosed)) {
			break
		}
		t.Logf("attempt %d after thaw: %v", attempt, err)
	}
	if err != nil {
		t.Fatalf("after thaw: %v\n%s", err, s.Log())
	}
	echoOnce(t, c, "thawed")
	c.Close()
	if snap := p.Snapshot(); len(snap) != 1 || snap[0].ID == first {
		t.Fatalf("snapshot %+v", snap)
	}
}

func TestSSHDChannelRefusals(t *testing.T) {
	s, p, prof := e2e(t, testpeer.SSHDConfig{PasswordAuth: true, ExtraConfig: "PermitOpen 127.0.0.1:1 127.0.0.1:2 nonexistent.invalid:21"}, nil)
	l, err := p.Open(context.Background(), prof, "", Credentials{User: s.User, Password: []byte(s.Password)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct {
		addr string
		want error
	}{
		{"127.0.0.1:3", ErrProhibited},
		{"127.0.0.1:1", ErrConnectFailed},
		{"nonexistent.invalid:21", ErrUnreachable},
	} {
		_, err := l.Dial(context.Background(), "tcp", tc.addr)
		t.Logf("%s: %v", tc.addr, err)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.addr, err, tc.want)
		}
	}
}
