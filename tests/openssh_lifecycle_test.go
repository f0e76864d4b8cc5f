package tests

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
)

// masterPIDs returns the openssh masters' PIDs that D TUNNELS shows.
func masterPIDs(t *testing.T, d *testpeer.Socksd) []int {
	t.Helper()
	var pids []int
	for _, row := range mustCmd(t, d, "D TUNNELS", "SOX0412I").rows(t) {
		if pid, err := strconv.Atoi(row["PID"]); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}

// sshAlive says whether pid is a live (not zombie) ssh process.
func sshAlive(pid int) bool {
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "ssh" {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}

// lifecycleDaemon is socksd on the openssh engine with a console socket,
// tunnelling everything through the test's sshd.
func lifecycleDaemon(t *testing.T) (*testpeer.SSHD, *testpeer.Socksd) {
	t.Helper()
	requireOpenSSH(t)
	s := testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true})
	d := testpeer.StartSocksd(t, socksdBin, strings.Replace(opensshConfig(t, s, "", ""), `socket = ""`, `socket = "{{SOCKET}}"`, 1))
	return s, d
}

// echoThrough sends a line through a SOCKS connection to an echo server
// and reads it back; the connection is returned open.
func echoThrough(t *testing.T, d *testpeer.Socksd, s *testpeer.SSHD, echo string) net.Conn {
	t.Helper()
	c, err := socks5Dialer(t, d, s.User, s.Password).Dial("tcp", echo)
	if err != nil {
		t.Fatalf("through socksd: %v", err)
	}
	c.SetDeadline(time.Now().Add(waitTimeout))
	msg := []byte("ping through the master\n")
	if _, err := c.Write(msg); err != nil {
		c.Close()
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		c.Close()
		t.Fatalf("echo: %q, %v", got, err)
	}
	return c
}

// oneMaster checks that D TUNNELS shows exactly the daemon's ssh children
// (by /proc ppid), and that there is one, and returns it.
func oneMaster(t *testing.T, d *testpeer.Socksd) []int {
	t.Helper()
	shown, children := masterPIDs(t, d), sshMasters(d.PID())
	slices.Sort(children)
	if len(shown) != 1 || !slices.Equal(shown, children) {
		t.Fatalf("D TUNNELS shows masters %v, the daemon's ssh children are %v; want the same one", shown, children)
	}
	if !sshAlive(shown[0]) {
		t.Fatalf("master %d is not a live ssh process", shown[0])
	}
	return shown
}

// mastersGone waits until none of pids is a live ssh process.
func mastersGone(t *testing.T, pids []int, after string) {
	t.Helper()
	if !wait.For(waitTimeout, func() bool { return !slices.ContainsFunc(pids, sshAlive) }) {
		t.Errorf("ssh masters still running %s: %v", after, slices.DeleteFunc(slices.Clone(pids), func(p int) bool { return !sshAlive(p) }))
	}
}

// TestOpenSSHNoMasterAfterStop: STOP (sessions ended first) and STOP
// IMMEDIATE (a session still open) end the daemon's ssh masters with it.
func TestOpenSSHNoMasterAfterStop(t *testing.T) {
	for _, stop := range []string{"STOP", "STOP IMMEDIATE"} {
		t.Run(strings.ReplaceAll(stop, " ", "_"), func(t *testing.T) {
			s, d := lifecycleDaemon(t)
			c := echoThrough(t, d, s, testpeer.EchoServer(t))
			defer c.Close()
			masters := oneMaster(t, d)
			if stop == "STOP" {
				c.Close()
				wait.Until(t, "the session to end", waitTimeout, func() bool {
					return len(mustCmd(t, d, "D SESSIONS", "SOX0410I").rows(t)) == 0
				})
			}
			mustCmd(t, d, stop, "SOX0404I")
			if code := d.Wait(waitTimeout); code != 0 {
				t.Fatalf("socksd after %s: exit code %d, want 0", stop, code)
			}
			mastersGone(t, masters, "after "+stop)
		})
	}
}

// TestOpenSSHNoMasterAfterDaemonKilled: SIGKILL of the daemon itself
// (no shutdown code runs) still ends its masters (Pdeathsig).
func TestOpenSSHNoMasterAfterDaemonKilled(t *testing.T) {
	s, d := lifecycleDaemon(t)
	c := echoThrough(t, d, s, testpeer.EchoServer(t))
	defer c.Close()
	masters := oneMaster(t, d)
	d.Signal(syscall.SIGKILL)
	select {
	case <-d.Done():
	case <-time.After(waitTimeout):
		t.Fatal("socksd did not die of SIGKILL")
	}
	mastersGone(t, masters, "after SIGKILL of socksd")
}

// TestOpenSSHNoMasterAfter200Sessions: 200 tunnel sessions of one
// identity (8 at a time) share one master, no other ssh child of the
// daemon appears, and none is left after STOP.
func TestOpenSSHNoMasterAfter200Sessions(t *testing.T) {
	s, d := lifecycleDaemon(t)
	echo := testpeer.EchoServer(t)
	echoThrough(t, d, s, echo).Close()
	first := oneMaster(t, d)
	const sessions, parallel = 200, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	next := make(chan int, sessions)
	for i := 0; i < sessions; i++ {
		next <- i
	}
	close(next)
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := echoOnce(d, s, echo, i); err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d sessions failed, first: %s", len(errs), sessions, errs[0])
	}
	wait.Until(t, "the sessions to end", waitTimeout, func() bool {
		return len(mustCmd(t, d, "D SESSIONS", "SOX0410I").rows(t)) == 0
	})
	if n := s.WaitLog("server_request_direct_tcpip", sessions+1, waitTimeout); n < sessions+1 {
		t.Errorf("sshd opened %d direct-tcpip channels, want %d", n, sessions+1)
	}
	if ms := oneMaster(t, d); !slices.Equal(ms, first) {
		t.Errorf("master after %d sessions %v, want the first one %v", sessions, ms, first)
	}
	mustCmd(t, d, "STOP", "SOX0404I")
	if code := d.Wait(waitTimeout); code != 0 {
		t.Fatalf("socksd after STOP: exit code %d, want 0", code)
	}
	mastersGone(t, first, "after 200 sessions and STOP")
}

// echoOnce is one session of TestOpenSSHNoMasterAfter200Sessions.
func echoOnce(d *testpeer.Socksd, s *testpeer.SSHD, echo string, i int) error {
	dl, err := proxy.SOCKS5("tcp", d.Addr, &proxy.Auth{User: s.User, Password: s.Password}, &net.Dialer{Timeout: 30 * time.Second})
	if err != nil {
		return err
	}
	c, err := dl.Dial("tcp", echo)
	if err != nil {
		return fmt.Errorf("session %d: %w", i, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitTimeout))
	msg := []byte(fmt.Sprintf("session %d\n", i))
	if _, err := c.Write(msg); err != nil {
		return fmt.Errorf("session %d: %w", i, err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		return fmt.Errorf("session %d: echo %q, %v", i, got, err)
	}
	return nil
}

// TestEngineViaDante: a profile's via proxy is Dante; with each engine
// the SSH connection goes through it (Dante logs the CONNECT to sshd)
// and a tunnel session works.
func TestEngineViaDante(t *testing.T) {
	for _, engine := range []string{"builtin", "openssh"} {
		t.Run(engine, func(t *testing.T) {
			requireOpenSSH(t)
			dante := testpeer.StartDante(t)
			s := testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true})
			cfg := opensshConfig(t, s, "", "")
			cfg = strings.Replace(cfg, `engine = "openssh"`, fmt.Sprintf("engine = %q", engine), 1)
			cfg = strings.Replace(cfg, "[profiles.gw]\n", fmt.Sprintf("[profiles.gw]\nvia = \"socks5://%s\"\n", dante.Addr), 1)
			d := testpeer.StartSocksd(t, socksdBin, cfg)
			echoThrough(t, d, s, testpeer.EchoServer(t)).Close()
			// Dante writes an address as host.port.
			if !dante.Log.WaitCount(fmt.Sprintf("127.0.0.1.%d", s.Port), 1, waitTimeout) {
				t.Errorf("Dante logged no connection to sshd (port %d):\n%s", s.Port, dante.Log.String())
			}
		})
	}
}
