package testpeer

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ReferenceCipher is the cipher the benchmarks pin on both socksd's
// x/crypto/ssh client and OpenSSH's ssh, so that they compare like with like.
const ReferenceCipher = "aes128-gcm@openssh.com"

// SSHDynamic is an OpenSSH client running `ssh -N -D` against a test sshd:
// a SOCKS5 proxy that carries every connection through one SSH connection.
// It is the reference socksd is measured against.
type SSHDynamic struct {
	Addr string // the SOCKS listener, "127.0.0.1:port"

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	stderr bytes.Buffer
}

// StartSSHDynamic starts `ssh -N -D` on a free loopback port, logging in to
// s as its test user with the harness's client key and cipher
// ReferenceCipher, checking the host key strictly, and reading no user
// configuration. It returns once the SOCKS port accepts and stops the
// client when the test ends.
func StartSSHDynamic(t testing.TB, s *SSHD) *SSHDynamic {
	t.Helper()
	sshPath := RequireTool(t, "ssh")
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t, "127.0.0.1")))
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		t.Fatalf("testpeer: sshd address %q: %v", s.Addr, err)
	}
	d := &SSHDynamic{Addr: listen, done: make(chan struct{})}
	d.cmd = exec.Command(sshPath, "-N", "-F", "/dev/null", "-D", listen,
		"-c", ReferenceCipher,
		"-i", s.ClientKeyFile,
		"-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile="+s.KnownHostsFile,
		"-o", "StrictHostKeyChecking=yes",
		"-o", "ExitOnForwardFailure=yes",
		"-o", "ControlMaster=no",
		"-o", "ControlPath=none",
		"-o", "Compression=no",
		"-p", strconv.Itoa(s.Port),
		"-l", s.User,
		host)
	d.cmd.Stderr = &lockedBuffer{mu: &d.mu, b: &d.stderr}
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("testpeer: start ssh -D: %v", err)
	}
	go func() {
		_ = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(d.Stop)
	if err := d.waitListening(startTimeout); err != nil {
		d.Stop()
		t.Fatalf("testpeer: ssh -D did not start: %v\nstderr: %s", err, d.Stderr())
	}
	return d
}

// waitListening polls the SOCKS port until it accepts, ssh exits, or the
// timeout passes.
func (d *SSHDynamic) waitListening(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", d.Addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-d.done:
			return errors.New("ssh exited")
		case <-tick.C:
		}
	}
	return fmt.Errorf("port %s not listening within %v", d.Addr, timeout)
}

// PID returns the process id of the ssh client.
func (d *SSHDynamic) PID() int { return d.cmd.Process.Pid }

// Stderr returns what ssh has written to its standard error so far.
func (d *SSHDynamic) Stderr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

// Stop ends the client (SIGTERM, then SIGKILL after five seconds) and waits
// for it to exit.
func (d *SSHDynamic) Stop() {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return
	case <-time.After(5 * time.Second):
	}
	_ = d.cmd.Process.Kill()
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
	}
}

// lockedBuffer is an io.Writer into a buffer guarded by a mutex.
type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
