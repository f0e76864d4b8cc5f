package testpeer

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// VSFTPDConfig selects the features of a test vsftpd.
type VSFTPDConfig struct {
	ListenAddr  string // IP to listen on; default 127.0.0.1
	Port        int    // 0 = pick a free port (2121 inside a namespace)
	WriteEnable bool   // write_enable: allow STOR, APPE, DELE, MKD...
	PortEnable  bool   // port_enable: allow active mode (PORT/EPRT)
	NoPasv      bool   // pasv_enable=NO
	PasvMin     int    // pasv_min_port; 0 = pick a range of 20 ports
	PasvMax     int    // pasv_max_port
	Anonymous   bool   // anonymous_enable with Root as anon_root
	NetNS       string // run inside this network namespace (ip netns exec)
	ExtraConfig string // appended verbatim to the configuration
}

// VSFTPD is a running vsftpd started by StartVSFTPD.
type VSFTPD struct {
	Addr       string // "IP:port" of the control listener
	Port       int
	Root       string // the login directory of User; test files go here
	User       string // the local test user (TestUser)
	Password   string // its password
	LogPath    string // vsftpd_log_file with log_ftp_protocol=YES
	ConfigPath string
	PasvMin    int
	PasvMax    int

	cfg  VSFTPDConfig
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// StartVSFTPD starts vsftpd in the foreground on a free loopback port for
// the local test user, logging the FTP protocol, and kills it (by PID and
// process group) when the test ends. Files in Root are visible to the user
// right after login.
func StartVSFTPD(t testing.TB, cfg VSFTPDConfig) *VSFTPD {
	t.Helper()
	Track(t) // a failure names the evidence directory, where the log goes
	bin := RequireTool(t, "vsftpd")
	if cfg.NetNS != "" {
		RequireTool(t, "ip")
		RequireTool(t, "ss")
	}
	userName, password := EnsureTestUser(t)
	u, err := user.Lookup(userName)
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1"
	}
	dir := t.TempDir()
	v := &VSFTPD{
		User:       userName,
		Password:   password,
		LogPath:    filepath.Join(dir, "vsftpd.log"),
		ConfigPath: filepath.Join(dir, "vsftpd.conf"),
		cfg:        cfg,
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	// The login root lives in a directory the test user can traverse (the
	// test's temporary directory and its parent are 0700 by default).
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatalf("testpeer: %v", err)
		}
	}
	v.Root = filepath.Join(dir, "root")
	if err := os.Mkdir(v.Root, 0o755); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	if err := os.Chown(v.Root, uid, gid); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	v.Port = cfg.Port
	if v.Port == 0 {
		if cfg.NetNS != "" {
			v.Port = 2121
		} else {
			v.Port = FreePort(t, cfg.ListenAddr)
		}
	}
	v.Addr = net.JoinHostPort(cfg.ListenAddr, strconv.Itoa(v.Port))
	v.PasvMin, v.PasvMax = cfg.PasvMin, cfg.PasvMax
	if v.PasvMin == 0 {
		v.PasvMin, v.PasvMax = pickPortRange(cfg.ListenAddr, 20, cfg.NetNS != "")
	}
	conf := fmt.Sprintf(`# vsftpd for socksd tests
listen=YES
listen_ipv6=NO
listen_address=%s
listen_port=%d
background=NO
seccomp_sandbox=NO
local_enable=YES
local_root=%s
write_enable=%s
local_umask=022
anonymous_enable=%s
anon_root=%s
no_anon_password=YES
pasv_enable=%s
pasv_min_port=%d
pasv_max_port=%d
port_enable=%s
connect_from_port_20=NO
secure_chroot_dir=%s
pam_service_name=vsftpd
userlist_enable=NO
log_ftp_protocol=YES
xferlog_enable=YES
xferlog_std_format=NO
vsftpd_log_file=%s
dual_log_enable=NO
syslog_enable=NO
use_localtime=NO
ssl_enable=NO
max_clients=200
max_per_ip=200
idle_session_timeout=600
data_connection_timeout=120
%s
`, cfg.ListenAddr, v.Port, v.Root, yesNoUpper(cfg.WriteEnable), yesNoUpper(cfg.Anonymous), v.Root,
		yesNoUpper(!cfg.NoPasv), v.PasvMin, v.PasvMax, yesNoUpper(cfg.PortEnable), empty, v.LogPath, cfg.ExtraConfig)
	if err := os.WriteFile(v.ConfigPath, []byte(conf), 0o600); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	if err := v.start(bin); err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		v.Stop()
		if t.Failed() {
			Keep(t, "vsftpd.log", v.Log()) // evidence only, never the test's output
		}
	})
	return v
}

func yesNoUpper(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

// pickPortRange returns n consecutive ports that were free a moment ago
// (inside a namespace nothing can be checked from here; any range will do).
func pickPortRange(ip string, n int, inNS bool) (int, int) {
	for attempt := 0; attempt < 50; attempt++ {
		base := 20000 + rand.IntN(30000)
		if inNS {
			return base, base + n - 1
		}
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return base, base + n - 1
		}
	}
	return 40000, 40000 + n - 1
}

// start runs vsftpd and waits (bounded) until its port accepts.
func (v *VSFTPD) start(bin string) error {
	var stderr strings.Builder
	cmd, done, err := startProc("vsftpd", []string{bin, v.ConfigPath}, v.cfg.NetNS, &lockedWriter{w: &stderr})
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.cmd, v.done = cmd, done
	v.mu.Unlock()
	if err := v.waitListening(done); err != nil {
		v.Stop()
		return fmt.Errorf("testpeer: vsftpd did not start: %w\noutput: %s", err, stderr.String())
	}
	return nil
}

// lockedWriter serializes writes from the process's stdout and stderr.
type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// waitListening polls, bounded by startTimeout, until the control port
// accepts (inside a namespace: until ss shows the listener).
func (v *VSFTPD) waitListening(done <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		if v.listening() {
			return nil
		}
		select {
		case <-done:
			return errors.New("vsftpd exited")
		case <-tick.C:
		}
	}
	return fmt.Errorf("port %d not listening within %v", v.Port, startTimeout)
}

func (v *VSFTPD) listening() bool {
	if v.cfg.NetNS != "" {
		out, err := exec.Command("ip", "netns", "exec", v.cfg.NetNS, "ss", "-Hltn", "sport = :"+strconv.Itoa(v.Port)).Output()
		return err == nil && strings.Contains(string(out), "LISTEN")
	}
	c, err := net.DialTimeout("tcp", v.Addr, time.Second)
	if err != nil {
		return false
	}
	// Read the greeting so that vsftpd does not log a broken session.
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _ = bufio.NewReader(c).ReadString('\n')
	c.Close()
	return true
}

// Stop kills vsftpd and the session processes it forked (its process
// group), and waits for it to exit.
func (v *VSFTPD) Stop() {
	v.mu.Lock()
	cmd, done := v.cmd, v.done
	v.cmd = nil
	v.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	// The whole tree: vsftpd's session processes may have left its group,
	// and a session left running would finish a transfer meant to be cut.
	KillTree(cmd.Process.Pid)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// PID returns the process id of vsftpd, or 0 when stopped.
func (v *VSFTPD) PID() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cmd == nil || v.cmd.Process == nil {
		return 0
	}
	return v.cmd.Process.Pid
}

// CountLog returns how many lines of vsftpd's log contain substr.
func (v *VSFTPD) CountLog(substr string) int { return countLines(v.LogPath, substr) }

// WaitLog waits until vsftpd's log holds at least n lines containing substr,
// bounded by timeout, and returns the count seen last.
func (v *VSFTPD) WaitLog(substr string, n int, timeout time.Duration) int {
	return waitCount(func() int { return v.CountLog(substr) }, n, timeout)
}

// Log returns vsftpd's log so far (for failure messages).
func (v *VSFTPD) Log() string {
	b, _ := os.ReadFile(v.LogPath)
	return string(b)
}

// WriteFile creates a file under Root owned by the test user.
func (v *VSFTPD) WriteFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(v.Root, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	if u, err := user.Lookup(v.User); err == nil {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		_ = os.Chown(p, uid, gid)
	}
	return p
}
