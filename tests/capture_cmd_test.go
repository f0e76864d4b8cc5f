package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
)

// captureCmd is `socksd capture ARGS...` in the client namespace of s.
// nsenter changes only the network namespace: `ip netns exec` would mount
// a fresh /sys and hide the cgroup v2 hierarchy. The daemon of
// captureSite has no control socket, so the listener is given.
func captureCmd(t *testing.T, s *site, args ...string) *exec.Cmd {
	t.Helper()
	nsenter := testpeer.RequireTool(t, "nsenter")
	full := append([]string{"--net=" + s.topo.ClientNSPath, socksdBin, "capture",
		"--socket", t.TempDir() + "/none.sock",
		"--redirect", fmt.Sprintf("127.0.0.1:%d,[::1]:%d", redirectPort, redirectPort)}, args...)
	return exec.Command(nsenter, full...)
}

// noCaptureLeft fails when the cgroup or the nftables table of the
// capture with process id pid is still there.
func noCaptureLeft(t *testing.T, s *site, pid int) {
	t.Helper()
	name := fmt.Sprintf("socksd_capture_%d", pid)
	for _, root := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		if _, err := os.Stat(root + "/" + name); err == nil {
			t.Errorf("cgroup %s/%s left behind", root, name)
		}
	}
	out, err := s.topo.Command(s.topo.Client, "nft", "list", "tables").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list tables: %v: %s", err, out)
	}
	if strings.Contains(string(out), name) {
		t.Errorf("nftables table %s left behind:\n%s", name, out)
	}
}

// TestCaptureCommand runs curl and nc under `socksd capture`, with no
// SOCKS setting: their connections reach a server that the client
// namespace reaches only through sshd (proved by sshd's direct-tcpip log);
// a blocked destination is refused; the same curl without capture is not
// captured. Nothing is left behind after a normal end, after SIGKILL of
// the command, and after SIGTERM of capture.
func TestCaptureCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		testpeer.Missing(t, "capture: needs root")
	}
	testpeer.RequireTool(t, "nc")
	s, d := captureSite(t)
	uname, _ := testpeer.EnsureTestUser(t)
	web := fmt.Sprintf("http://%s:%d/", s.ftpIP, webPort)
	target := fmt.Sprintf("target %s port %d", s.ftpIP, webPort)
	dest := fmt.Sprintf("dest=%s:%d", s.ftpIP, webPort)

	run := func(t *testing.T, args ...string) (string, string, int, int) {
		t.Helper()
		cmd := captureCmd(t, s, append([]string{"--user", uname, "--"}, args...)...)
		code, out, errs := runFiles(t, cmd, 2*time.Minute)
		return out, errs, code, cmd.Process.Pid
	}

	t.Run("curl", func(t *testing.T) {
		channels := s.sshd.CountLog(target)
		started := logLines(d, "event=session_start", "origin=redirect", dest)
		out, errs, code, pid := run(t, "curl", "-sS", "--max-time", "30", web)
		if code != 0 || out != "hello from the ftp host\n" {
			t.Fatalf("exit %d, output %q\n%s", code, out, errs)
		}
		if n := s.sshd.WaitLog(target, channels+1, 20*time.Second); n <= channels {
			t.Errorf("sshd logged no direct-tcpip channel to the web server")
		}
		waitLog(t, d, started+1, "event=session_start", "origin=redirect", dest)
		if !strings.Contains(errs, "SOX0721I") {
			t.Errorf("no SOX0721I from capture:\n%s", errs)
		}
		noCaptureLeft(t, s, pid)
	})
	t.Run("nc", func(t *testing.T) {
		channels := s.sshd.CountLog(target)
		out, errs, code, pid := run(t, "sh", "-c",
			fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | nc -N -w 30 %s %d`, s.ftpIP, webPort))
		if code != 0 || !strings.HasSuffix(out, "hello from the ftp host\n") {
			t.Fatalf("exit %d, output %q\n%s", code, out, errs)
		}
		if n := s.sshd.WaitLog(target, channels+1, 20*time.Second); n <= channels {
			t.Errorf("sshd logged no direct-tcpip channel for nc")
		}
		noCaptureLeft(t, s, pid)
	})
	t.Run("blocked", func(t *testing.T) {
		blocked := logLines(d, "SOX0703I", fmt.Sprintf("%s:%d", s.ftpIP, blockedPort))
		_, errs, code, pid := run(t, "curl", "-sS", "--max-time", "10", fmt.Sprintf("http://%s:%d/", s.ftpIP, blockedPort))
		if code == 0 {
			t.Errorf("curl to a blocked destination succeeded\n%s", errs)
		}
		waitLog(t, d, blocked+1, "SOX0703I", fmt.Sprintf("%s:%d", s.ftpIP, blockedPort))
		noCaptureLeft(t, s, pid)
	})
	t.Run("not captured without capture", func(t *testing.T) {
		started := logLines(d, "event=session_start", dest)
		if out, err := testpeer.RunBounded(s.topo.Command(s.topo.Client, "curl", "-sS", "--max-time", "3", web), time.Minute); err == nil {
			t.Errorf("curl without capture reached the FTP host: %q", out)
		}
		if n := logLines(d, "event=session_start", dest); n != started {
			t.Errorf("curl without capture came to socksd")
		}
	})
	t.Run("SIGKILL of the command", func(t *testing.T) {
		_, errs, code, pid := run(t, "sh", "-c", "sleep 300 & kill -KILL $$")
		if code != 128+int(syscall.SIGKILL) {
			t.Errorf("exit %d, want %d\n%s", code, 128+int(syscall.SIGKILL), errs)
		}
		if !strings.Contains(errs, "SOX0722W") {
			t.Errorf("the sleep left behind was not reported:\n%s", errs)
		}
		noCaptureLeft(t, s, pid)
	})
	t.Run("SIGTERM of capture", func(t *testing.T) {
		cmd := captureCmd(t, s, "--", "sleep", "300")
		errFile := filepath.Join(t.TempDir(), "stderr")
		f, err := os.Create(errFile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stderr = f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var waitErr error
		done := make(chan struct{})
		go func() { waitErr = cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			select {
			case <-done:
			default:
				cmd.Process.Kill()
				<-done
			}
		})
		stderr := func() string { b, _ := os.ReadFile(errFile); return string(b) }
		if !wait.For(30*time.Second, func() bool { return strings.Contains(stderr(), "SOX0721I") }) {
			t.Fatalf("capture did not start:\n%s", stderr())
		}
		cmd.Process.Signal(syscall.SIGTERM) // nsenter execs socksd: same process
		select {
		case <-done:
			err = waitErr
		case <-time.After(time.Minute):
			t.Fatalf("capture did not end after SIGTERM:\n%s", stderr())
		}
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 128+int(syscall.SIGTERM) {
			t.Errorf("capture ended with %v, want exit %d\n%s", err, 128+int(syscall.SIGTERM), stderr())
		}
		noCaptureLeft(t, s, cmd.Process.Pid)
	})
}

// runFiles runs cmd with its output and error output in files (a process
// it leaves behind cannot hold a pipe of the test open), kills it after
// limit, and returns its exit status and both outputs.
func runFiles(t *testing.T, cmd *exec.Cmd, limit time.Duration) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	var files [2]*os.File
	for i, n := range []string{"stdout", "stderr"} {
		f, err := os.Create(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files[i] = f
	}
	cmd.Stdout, cmd.Stderr = files[0], files[1]
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not end within %v", cmd.Args, limit)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", cmd.Args, err)
	}
	out, _ := os.ReadFile(files[0].Name())
	errs, _ := os.ReadFile(files[1].Name())
	return code, string(out), string(errs)
}
