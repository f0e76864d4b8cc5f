package tests

import (
	"crypto/sha256"
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

// captureCmd is `socksd capture ARGS...` in the client namespace of s,
// asking daemon d over its control socket where its redirect listener is.
// nsenter changes only the network namespace: `ip netns exec` would mount
// a fresh /sys and hide the cgroup v2 hierarchy.
func captureCmd(t *testing.T, s *site, d *testpeer.Socksd, args ...string) *exec.Cmd {
	t.Helper()
	nsenter := testpeer.RequireTool(t, "nsenter")
	full := append([]string{"--net=" + s.topo.ClientNSPath, socksdBin, "capture", "--socket", d.Socket}, args...)
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
	s, d := redirSite(t)
	uname, _ := testpeer.EnsureTestUser(t)
	web := fmt.Sprintf("http://%s:%d/", s.ftpIP, redirWebPort)
	target := fmt.Sprintf("target %s port %d", s.ftpIP, redirWebPort)
	dest := fmt.Sprintf("dest=%s:%d", s.ftpIP, redirWebPort)

	run := func(t *testing.T, args ...string) (string, string, int, int) {
		t.Helper()
		cmd := captureCmd(t, s, d, append([]string{"--user", uname, "--"}, args...)...)
		code, out, errs := runFiles(t, cmd, 2*time.Minute)
		return out, errs, code, cmd.Process.Pid
	}

	t.Run("curl", func(t *testing.T) {
		channels := s.sshd.CountLog(target)
		started := redirLogLines(d, "event=session_start", "origin=redirect", dest)
		out, errs, code, pid := run(t, "curl", "-sS", "--max-time", "30", web)
		if code != 0 || out != "hello from the ftp host\n" {
			t.Fatalf("exit %d, output %q\n%s", code, out, errs)
		}
		if n := s.sshd.WaitLog(target, channels+1, 20*time.Second); n <= channels {
			t.Errorf("sshd logged no direct-tcpip channel to the web server")
		}
		redirWaitLog(t, d, started+1, "event=session_start", "origin=redirect", dest)
		if !strings.Contains(errs, "SOX0721I") {
			t.Errorf("no SOX0721I from capture:\n%s", errs)
		}
		noCaptureLeft(t, s, pid)
	})
	t.Run("curl IPv6", func(t *testing.T) {
		target6 := fmt.Sprintf("target %s port %d", redirFTPIPv6, redirWebPort)
		channels := s.sshd.CountLog(target6)
		out, errs, code, pid := run(t, "curl", "-sS", "--max-time", "30", fmt.Sprintf("http://[%s]:%d/", redirFTPIPv6, redirWebPort))
		if code != 0 || out != "hello from the ftp host\n" {
			t.Fatalf("exit %d, output %q\n%s", code, out, errs)
		}
		if n := s.sshd.WaitLog(target6, channels+1, 20*time.Second); n <= channels {
			t.Errorf("sshd logged no direct-tcpip channel to the web server's IPv6 address")
		}
		redirWaitLog(t, d, 1, "event=session_start", "origin=redirect", fmt.Sprintf("dest=[%s]:%d", redirFTPIPv6, redirWebPort))
		noCaptureLeft(t, s, pid)
	})
	t.Run("nc", func(t *testing.T) {
		channels := s.sshd.CountLog(target)
		out, errs, code, pid := run(t, "sh", "-c",
			fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | nc -N -w 30 %s %d`, s.ftpIP, redirWebPort))
		if code != 0 || !strings.HasSuffix(out, "hello from the ftp host\n") {
			t.Fatalf("exit %d, output %q\n%s", code, out, errs)
		}
		if n := s.sshd.WaitLog(target, channels+1, 20*time.Second); n <= channels {
			t.Errorf("sshd logged no direct-tcpip channel for nc")
		}
		noCaptureLeft(t, s, pid)
	})
	t.Run("blocked", func(t *testing.T) {
		blocked := redirLogLines(d, "SOX0703I", fmt.Sprintf("%s:%d", s.ftpIP, redirBlockedPort))
		_, errs, code, pid := run(t, "curl", "-sS", "--max-time", "10", fmt.Sprintf("http://%s:%d/", s.ftpIP, redirBlockedPort))
		if code == 0 {
			t.Errorf("curl to a blocked destination succeeded\n%s", errs)
		}
		redirWaitLog(t, d, blocked+1, "SOX0703I", fmt.Sprintf("%s:%d", s.ftpIP, redirBlockedPort))
		noCaptureLeft(t, s, pid)
	})
	t.Run("redirect given, no control socket", func(t *testing.T) {
		channels := s.sshd.CountLog(target)
		cmd := exec.Command(testpeer.RequireTool(t, "nsenter"), "--net="+s.topo.ClientNSPath, socksdBin, "capture",
			"--socket", filepath.Join(t.TempDir(), "none.sock"),
			"--redirect", fmt.Sprintf("127.0.0.1:%d,[::1]:%d", redirListenPort, redirListenPort),
			"--user", uname, "--", "curl", "-sS", "--max-time", "30", web)
		code, out, errs := runFiles(t, cmd, 2*time.Minute)
		if code != 0 || out != "hello from the ftp host\n" {
			t.Fatalf("exit %d, output %q\n%s", code, out, errs)
		}
		if !strings.Contains(errs, "SOX0730W") {
			t.Errorf("no SOX0730W for the missing control socket:\n%s", errs)
		}
		if n := s.sshd.WaitLog(target, channels+1, 20*time.Second); n <= channels {
			t.Errorf("sshd logged no direct-tcpip channel to the web server")
		}
		noCaptureLeft(t, s, cmd.Process.Pid)
	})
	t.Run("no daemon", func(t *testing.T) {
		cmd := exec.Command(socksdBin, "capture", "--socket", filepath.Join(t.TempDir(), "none.sock"), "--", "true")
		code, _, errs := runFiles(t, cmd, time.Minute)
		if code != 1 || !strings.Contains(errs, "SOX0420E") {
			t.Errorf("exit %d, want 1 with SOX0420E:\n%s", code, errs)
		}
	})
	t.Run("not captured without capture", func(t *testing.T) {
		started := redirLogLines(d, "event=session_start", dest)
		if out, err := testpeer.RunBounded(s.topo.Command(s.topo.Client, "curl", "-sS", "--max-time", "3", web), time.Minute); err == nil {
			t.Errorf("curl without capture reached the FTP host: %q", out)
		}
		if n := redirLogLines(d, "event=session_start", dest); n != started {
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
	t.Run("SIGTERM of capture, command ignores it", func(t *testing.T) {
		cmd, stderr, done := startCapture(t, s, d, "sh", "-c", `trap "" TERM; echo SIGTERM-ignored >&2; sleep 300; exit 0`)
		if !wait.For(30*time.Second, func() bool { return strings.Contains(stderr(), "SIGTERM-ignored") }) {
			t.Fatalf("the command did not set SIGTERM aside:\n%s", stderr())
		}
		cmd.Process.Signal(syscall.SIGTERM)
		err := waitCapture(t, done, stderr)
		// sh ignores SIGTERM: after the grace time everything is killed.
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 128+int(syscall.SIGKILL) {
			t.Errorf("capture ended with %v, want exit %d\n%s", err, 128+int(syscall.SIGKILL), stderr())
		}
		if !strings.Contains(stderr(), "SOX0723W") {
			t.Errorf("no SOX0723W for the processes killed:\n%s", stderr())
		}
		noCaptureLeft(t, s, cmd.Process.Pid)
	})
	t.Run("leftover of a killed capture", func(t *testing.T) {
		cmd, stderr, done := startCapture(t, s, d, "sleep", "300")
		cmd.Process.Kill() // capture cannot clean up: the cgroup, its sleep and the table stay
		waitCapture(t, done, stderr)
		name := fmt.Sprintf("socksd_capture_%d", cmd.Process.Pid)
		if out, _ := s.topo.Command(s.topo.Client, "nft", "list", "tables").CombinedOutput(); !strings.Contains(string(out), name) {
			t.Fatalf("no table %s after SIGKILL of capture; the test proves nothing:\n%s", name, out)
		}
		code, _, errs := runFiles(t, captureCmd(t, s, d, "--", "true"), time.Minute)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, errs)
		}
		for _, want := range []string{"SOX0732W", "SOX0725I capture: removed leftover nftables table inet " + name,
			"SOX0725I capture: removed leftover cgroup "} {
			if !strings.Contains(errs, want) {
				t.Errorf("the next capture did not report %q:\n%s", want, errs)
			}
		}
		noCaptureLeft(t, s, cmd.Process.Pid)
	})
	t.Run("SIGTERM of capture", func(t *testing.T) {
		cmd, stderr, done := startCapture(t, s, d, "sleep", "300")
		cmd.Process.Signal(syscall.SIGTERM) // nsenter execs socksd: the same process
		err := waitCapture(t, done, stderr)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 128+int(syscall.SIGTERM) {
			t.Errorf("capture ended with %v, want exit %d\n%s", err, 128+int(syscall.SIGTERM), stderr())
		}
		if !strings.Contains(stderr(), "SOX0728I") {
			t.Errorf("no SOX0728I for the signal passed on:\n%s", stderr())
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

// TestCaptureCommandFTP runs curl and lftp, with no SOCKS setting, under
// `socksd capture`: login, LIST, STOR and RETR of 16 MiB byte-exact,
// passive and active, across namespaces, through ftp-tunnel.
func TestCaptureCommandFTP(t *testing.T) {
	if os.Geteuid() != 0 {
		testpeer.Missing(t, "capture: needs root")
	}
	testpeer.RequireTool(t, "lftp")
	s, d := redirSite(t)
	uname, _ := testpeer.EnsureTestUser(t)
	home := testpeer.UserDir(t)
	data := testpeer.Data(16<<20, 19)
	want := sha256.Sum256(data)
	src := filepath.Join(home, "up.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("ftp://%s:%d/", s.ftpIP, s.ftpd.Port)
	captured := func(t *testing.T, args ...string) string {
		t.Helper()
		cmd := captureCmd(t, s, d, append([]string{"--user", uname, "--", "env", "HOME=" + home}, args...)...)
		code, out, errs := runFiles(t, cmd, 3*time.Minute)
		if strings.Contains(errs, s.ftpd.Password) {
			t.Errorf("the password reached capture's messages")
		}
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", args[0], code, strings.ReplaceAll(out+errs, s.ftpd.Password, "********"))
		}
		noCaptureLeft(t, s, cmd.Process.Pid)
		return out
	}
	check := func(t *testing.T, name, dst string) {
		t.Helper()
		checkCopies(t, s.ftpd.Root, name, dst, want)
		os.Remove(filepath.Join(s.ftpd.Root, name))
		os.Remove(dst)
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"curl-epsv", nil},
		{"curl-pasv", []string{"--disable-epsv"}},
		{"curl-active", []string{"--ftp-port", "-"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			curl := func(args ...string) string {
				return captured(t, append(append([]string{"curl", "-sS", "--max-time", "120", "--user", s.ftpd.User + ":" + s.ftpd.Password}, c.args...), args...)...)
			}
			name, dst := c.name+".bin", filepath.Join(home, c.name+".down")
			curl("-T", src, base+name)
			if listing := curl(base); !strings.Contains(listing, name) {
				t.Errorf("LIST does not show %s: %q", name, listing)
			}
			curl("-o", dst, base+name)
			check(t, name, dst)
		})
	}
	for _, mode := range []string{"on", "off"} {
		t.Run("lftp-passive-"+mode, func(t *testing.T) {
			name, dst := "lftp-"+mode+".bin", filepath.Join(home, "lftp-"+mode+".down")
			script := fmt.Sprintf("set ftp:passive-mode %s; set net:max-retries 1; set net:timeout 60; put %s -o %s; get %s -o %s; cls -1; bye",
				mode, src, name, name, dst)
			out := captured(t, "lftp", "-u", s.ftpd.User+","+s.ftpd.Password, "-e", script, base)
			if !strings.Contains(out, name) {
				t.Errorf("LIST does not show %s: %q", name, out)
			}
			check(t, name, dst)
		})
	}
	// Every connection reached vsftpd through the SSH server, active mode
	// was converted, and the control sessions came in by redirect.
	if n := s.ftpd.CountLog(`Client "` + s.clientIP + `"`); n != 0 {
		t.Errorf("vsftpd saw %d connections from the client host", n)
	}
	if s.ftpd.CountLog(`Client "`) == 0 {
		t.Errorf("vsftpd's log shows no clients; the check above proves nothing")
	}
	if n := s.ftpd.CountLog(`"PORT `) + s.ftpd.CountLog(`"EPRT `); n != 0 {
		t.Errorf("vsftpd received %d PORT/EPRT commands; active mode was not converted", n)
	}
	if strings.Contains(d.Log.String(), s.ftpd.Password) {
		t.Errorf("the password reached socksd's log")
	}
	if n := redirLogLines(d, "event=session_start", "origin=redirect", fmt.Sprintf("dest=%s:%d", s.ftpIP, s.ftpd.Port)); n < 3*3+2 {
		t.Errorf("%d redirected FTP control sessions, want at least %d", n, 3*3+2)
	}
}

// startCapture starts `socksd capture -- ARGS...` (as root) in the client
// namespace, waits for SOX0721I, and returns the command, its error
// output so far, and a channel closed when it has ended.
func startCapture(t *testing.T, s *site, d *testpeer.Socksd, args ...string) (*exec.Cmd, func() string, <-chan error) {
	t.Helper()
	cmd := captureCmd(t, s, d, append([]string{"--"}, args...)...)
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
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() { done <- cmd.Wait(); close(finished) }()
	t.Cleanup(func() {
		select {
		case <-finished:
		default:
			cmd.Process.Kill()
			<-finished
		}
	})
	stderr := func() string { b, _ := os.ReadFile(errFile); return string(b) }
	if !wait.For(30*time.Second, func() bool { return strings.Contains(stderr(), "SOX0721I") }) {
		t.Fatalf("capture did not start:\n%s", stderr())
	}
	return cmd, stderr, done
}

// waitCapture waits (bounded) for a capture started by startCapture.
func waitCapture(t *testing.T, done <-chan error, stderr func() string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("capture did not end:\n%s", stderr())
		return nil
	}
}
