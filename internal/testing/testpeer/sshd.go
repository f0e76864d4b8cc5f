// Package testpeer starts real peer daemons (OpenSSH sshd, vsftpd) on
// loopback for end-to-end tests, each with its own configuration, keys and
// log file, and stops them when the test ends.
package testpeer

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// TestUser is the local account that EnsureTestUser creates for logins.
const TestUser = "socksdtest"

// testUserPasswordFile keeps the random password of TestUser so that test
// processes running in parallel agree on it.
const testUserPasswordFile = "/var/lib/socksd-test/password"

// startTimeout bounds how long StartSSHD waits for sshd to accept connections.
const startTimeout = 15 * time.Second

// SSHDConfig selects the authentication methods and extras of a test sshd.
type SSHDConfig struct {
	PasswordAuth   bool   // PasswordAuthentication yes
	KbdInteractive bool   // KbdInteractiveAuthentication yes
	PubkeyAuth     bool   // PubkeyAuthentication yes
	ExtraConfig    string // appended verbatim to sshd_config
	ListenAddr     string // IP to listen on; default 127.0.0.1
	Port           int    // 0 = pick a free port
	NetNS          string // run inside this network namespace (ip netns exec)
	HostKeyTypes   []string
	SFTP           SFTPSubsystem // the sftp subsystem; zero = none (see sshdsftp.go)
}

// SSHD is a running OpenSSH server started by StartSSHD.
type SSHD struct {
	Addr           string        // "IP:port" the server listens on
	Port           int           // the listening port
	HostKeyPub     ssh.PublicKey // the server's (first) host key
	HostKeys       []ssh.PublicKey
	KnownHostsFile string // a known_hosts file holding the server's host keys
	LogPath        string // sshd's log (LogLevel DEBUG1)
	ConfigPath     string // the sshd_config in use
	Dir            string // the server's private directory
	User           string // the test user (TestUser)
	Password       string // the test user's password
	ClientKeyFile  string // an unencrypted ed25519 client key authorized for User
	AuthorizedKeys string // the AuthorizedKeysFile sshd reads

	cfg        SSHDConfig
	mu         sync.Mutex
	cmd        *exec.Cmd
	done       chan struct{}
	prevListen int
}

// RequireTool skips the test when the named executable is missing, or fails
// it when the environment variable CI is "true".
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	Missing(t, "testpeer: %s not found", name)
	return ""
}

// Missing skips the test, or fails it under CI=true, where everything a
// test needs must be there (make deps installs it; make test runs as root).
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// EnsureTestUser creates the local user TestUser with a home directory and a
// random password (kept in a root-only file so parallel test processes share
// it) and returns its name and password. It needs root.
func EnsureTestUser(t testing.TB) (user, password string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "testpeer: creating %s needs root", TestUser)
	}
	useradd := RequireTool(t, "useradd")
	chpasswd := RequireTool(t, "chpasswd")
	if err := os.MkdirAll(filepath.Dir(testUserPasswordFile), 0o700); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	lock, err := os.OpenFile(testUserPasswordFile+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("testpeer: lock: %v", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck

	if _, err := exec.Command("id", "-u", TestUser).Output(); err != nil {
		out, err := exec.Command(useradd, "-m", "-s", "/bin/sh", TestUser).CombinedOutput()
		if err != nil {
			t.Fatalf("testpeer: useradd: %v: %s", err, out)
		}
	}
	pw, err := os.ReadFile(testUserPasswordFile)
	password = strings.TrimSpace(string(pw))
	if err != nil || password == "" {
		b := make([]byte, 12)
		if _, err := rand.Read(b); err != nil {
			t.Fatalf("testpeer: %v", err)
		}
		password = "Pw" + hex.EncodeToString(b)
		if err := os.WriteFile(testUserPasswordFile, []byte(password+"\n"), 0o600); err != nil {
			t.Fatalf("testpeer: %v", err)
		}
	}
	cmd := exec.Command(chpasswd)
	cmd.Stdin = strings.NewReader(TestUser + ":" + password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testpeer: chpasswd: %v: %s", err, out)
	}
	return TestUser, password
}

// FreePort returns a TCP port on ip that was free a moment ago.
func FreePort(t testing.TB, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("testpeer: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartSSHD starts an OpenSSH sshd on a free loopback port with its own host
// keys, configuration and log, for the test user, and stops it when the test
// ends.
func StartSSHD(t testing.TB, cfg SSHDConfig) *SSHD {
	t.Helper()
	Track(t) // a failure names the evidence directory, where the log goes
	sshdPath := RequireTool(t, "sshd")
	keygen := RequireTool(t, "ssh-keygen")
	if cfg.NetNS != "" {
		RequireTool(t, "ip")
	}
	user, password := EnsureTestUser(t)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("testpeer: /run/sshd: %v", err)
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1"
	}
	if len(cfg.HostKeyTypes) == 0 {
		cfg.HostKeyTypes = []string{"ed25519"}
	}
	// sshd reads the authorized keys as the user, so the directory must be
	// reachable by others (t.TempDir's parent is 0700).
	dir, err := os.MkdirTemp("", "socksd-sshd-")
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	s := &SSHD{
		Dir:            dir,
		User:           user,
		Password:       password,
		LogPath:        filepath.Join(dir, "sshd.log"),
		ConfigPath:     filepath.Join(dir, "sshd_config"),
		KnownHostsFile: filepath.Join(dir, "known_hosts"),
		ClientKeyFile:  filepath.Join(dir, "id_client"),
		AuthorizedKeys: filepath.Join(dir, "authorized_keys"),
		cfg:            cfg,
	}
	var hostKeyLines []string
	for _, typ := range cfg.HostKeyTypes {
		f := filepath.Join(dir, "ssh_host_"+typ+"_key")
		if out, err := exec.Command(keygen, "-q", "-t", typ, "-N", "", "-f", f).CombinedOutput(); err != nil {
			t.Fatalf("testpeer: ssh-keygen %s: %v: %s", typ, err, out)
		}
		pub, err := readPublicKey(f + ".pub")
		if err != nil {
			t.Fatalf("testpeer: %v", err)
		}
		s.HostKeys = append(s.HostKeys, pub)
		hostKeyLines = append(hostKeyLines, "HostKey "+f)
	}
	s.HostKeyPub = s.HostKeys[0]
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", s.ClientKeyFile).CombinedOutput(); err != nil {
		t.Fatalf("testpeer: ssh-keygen client: %v: %s", err, out)
	}
	clientPub, err := os.ReadFile(s.ClientKeyFile + ".pub")
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	if err := os.WriteFile(s.AuthorizedKeys, clientPub, 0o644); err != nil {
		t.Fatalf("testpeer: %v", err)
	}

	s.Port = cfg.Port
	if s.Port == 0 {
		if cfg.NetNS != "" {
			s.Port = 2222
		} else {
			s.Port = FreePort(t, cfg.ListenAddr)
		}
	}
	s.Addr = net.JoinHostPort(cfg.ListenAddr, strconv.Itoa(s.Port))
	if err := s.writeKnownHosts(); err != nil {
		t.Fatalf("testpeer: %v", err)
	}

	conf := fmt.Sprintf(`# sshd for socksd tests
ListenAddress %s
Port %d
%s
PidFile none
UsePAM yes
PermitRootLogin no
StrictModes no
AuthorizedKeysFile %s
PasswordAuthentication %s
KbdInteractiveAuthentication %s
PubkeyAuthentication %s
AllowTcpForwarding yes
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
MaxStartups 100:30:200
%sMaxAuthTries 6
LoginGraceTime 30
ClientAliveInterval 0
LogLevel DEBUG1
AllowUsers %s
%s%s
`, cfg.ListenAddr, s.Port, strings.Join(hostKeyLines, "\n"), s.AuthorizedKeys,
		yesNo(cfg.PasswordAuth), yesNo(cfg.KbdInteractive), yesNo(cfg.PubkeyAuth), cfg.SFTP.maxSessionsLine(),
		user, cfg.SFTP.subsystemLine(t), cfg.ExtraConfig)
	if err := os.WriteFile(s.ConfigPath, []byte(conf), 0o600); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	if out, err := exec.Command(sshdPath, "-t", "-f", s.ConfigPath).CombinedOutput(); err != nil {
		t.Fatalf("testpeer: sshd -t: %v: %s", err, out)
	}
	if err := s.start(sshdPath); err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			Keep(t, "sshd.log", s.Log()) // evidence only, never the test's output
		}
	})
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func readPublicKey(path string) (ssh.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return nil, fmt.Errorf("testpeer: %s: %w", path, err)
	}
	return k, nil
}

// writeKnownHosts writes the server's host keys under its address.
func (s *SSHD) writeKnownHosts() error {
	var b bytes.Buffer
	for _, k := range s.HostKeys {
		b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, k))
		b.WriteByte('\n')
	}
	return os.WriteFile(s.KnownHostsFile, b.Bytes(), 0o600)
}

// start runs sshd in the foreground and waits (bounded) until it accepts.
func (s *SSHD) start(sshdPath string) error {
	var stderr strings.Builder
	cmd, done, err := startProc("sshd", []string{sshdPath, "-D", "-E", s.LogPath, "-f", s.ConfigPath}, s.cfg.NetNS, &lockedWriter{w: &stderr})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	if err := s.waitListening(done); err != nil {
		s.Stop()
		log, _ := os.ReadFile(s.LogPath)
		return fmt.Errorf("testpeer: sshd did not start: %w\nstderr: %s\nlog: %s", err, stderr.String(), log)
	}
	return nil
}

// waitListening waits for the log line that says sshd listens (or, outside a
// namespace, for the port to accept), bounded by startTimeout.
func (s *SSHD) waitListening(done <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	want := fmt.Sprintf("Server listening on %s port %d", s.cfg.ListenAddr, s.Port)
	for time.Now().Before(deadline) {
		if s.CountLog(want) > s.listenLines() {
			return nil
		}
		select {
		case <-done:
			return errors.New("sshd exited")
		case <-tick.C:
		}
	}
	return fmt.Errorf("no %q within %v", want, startTimeout)
}

// listenLines is the number of "Server listening" lines from earlier runs
// (Restart appends to the same log).
func (s *SSHD) listenLines() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prevListen
}

// Stop kills sshd and every process it forked, and waits for it to exit.
func (s *SSHD) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	KillTree(cmd.Process.Pid)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	s.mu.Lock()
	s.prevListen = s.countLogLocked(fmt.Sprintf("Server listening on %s port %d", s.cfg.ListenAddr, s.Port))
	s.mu.Unlock()
}

// Restart stops sshd and starts it again on the same port with the same keys.
func (s *SSHD) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	sshdPath := RequireTool(t, "sshd")
	deadline := time.Now().Add(startTimeout)
	var err error
	for attempt := 0; attempt < 50 && time.Now().Before(deadline); attempt++ {
		if err = s.start(sshdPath); err == nil {
			return
		}
	}
	t.Fatalf("testpeer: restart: %v", err)
}

// Freeze stops sshd and all its per-connection processes with SIGSTOP, so
// that it accepts TCP data but never answers.
func (s *SSHD) Freeze() { s.signalAll(syscall.SIGSTOP) }

// Thaw resumes a frozen sshd with SIGCONT.
func (s *SSHD) Thaw() { s.signalAll(syscall.SIGCONT) }

func (s *SSHD) signalAll(sig syscall.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	// A process may fork while we signal: repeat until a fresh listing holds
	// no process we have not signalled (bounded).
	signalled := map[int]bool{}
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for round := 0; round < 100 && time.Now().Before(deadline); round++ {
		pids := append([]int{cmd.Process.Pid}, Descendants(cmd.Process.Pid)...)
		fresh := 0
		for _, pid := range pids {
			if !signalled[pid] {
				signalled[pid] = true
				fresh++
				_ = syscall.Kill(pid, sig)
			}
		}
		if sig != syscall.SIGSTOP {
			if fresh == 0 {
				return
			}
			continue
		}
		// Signals are delivered asynchronously: wait until no process can
		// run user code any more (stopped, zombie, gone, or in the kernel
		// with the stop pending, e.g. a vfork parent whose child we stopped).
		for _, pid := range pids {
			for !frozenState(ProcState(pid)) && time.Now().Before(deadline) {
				<-tick.C
			}
		}
		if fresh == 0 {
			return
		}
	}
}

// frozenState reports a /proc state in which a SIGSTOPped process runs no
// more user code.
func frozenState(st string) bool {
	switch st {
	case "T", "t", "Z", "D", "":
		return true
	}
	return false
}

// ProcState returns the one-letter state of a process from /proc (R, S, T,
// Z...), or "" when it does not exist.
func ProcState(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// PID returns the process id of the listening sshd, or 0 when stopped.
func (s *SSHD) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// CountLog returns how many lines of sshd's log contain substr.
func (s *SSHD) CountLog(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.countLogLocked(substr)
}

func (s *SSHD) countLogLocked(substr string) int { return countLines(s.LogPath, substr) }

// WaitLog waits until sshd's log holds at least n lines containing substr,
// bounded by timeout, and returns the count seen last.
func (s *SSHD) WaitLog(substr string, n int, timeout time.Duration) int {
	return waitCount(func() int { return s.CountLog(substr) }, n, timeout)
}

// Log returns sshd's log so far (for failure messages).
func (s *SSHD) Log() string {
	b, _ := os.ReadFile(s.LogPath)
	return string(b)
}

// AuthorizeKey appends a public key to the test user's authorized keys.
func (s *SSHD) AuthorizeKey(pub ssh.PublicKey) error {
	f, err := os.OpenFile(s.AuthorizedKeys, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(ssh.MarshalAuthorizedKey(pub)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
