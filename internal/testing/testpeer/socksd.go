package testpeer

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BuildSocksd builds the socksd binary into dir and returns its path.
func BuildSocksd(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("testpeer: go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "socksd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/socksd")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testpeer: build socksd: %v\n%s", err, b)
	}
	return bin, nil
}

// Socksd is a socksd daemon started from the built binary.
type Socksd struct {
	Bin        string
	ConfigPath string
	Addr       string // the first SOCKS listener, host:port
	Socket     string // the console socket
	Log        *LogBuffer
	// Stdout is the daemon's standard output: the same buffer as Log,
	// except for a daemon started by StartSocksdWithStdin, whose standard
	// output (where the replies to stdin commands go) is kept apart.
	Stdout *LogBuffer
	stdin  io.WriteCloser // the pipe to the daemon's standard input, if any

	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	runDir string // the openssh engine's runtime_dir, removed by Kill
}

// StartSocksd writes configTOML to a file and starts `socksd serve -c`
// with it. The text may use {{SOCKET}} for a console socket path in the
// test's directory. It returns once the daemon reports it is ready; the
// daemon is killed at the end of the test if it still runs.
func StartSocksd(t testing.TB, bin, configTOML string, env ...string) *Socksd {
	t.Helper()
	Track(t)
	d, err := LaunchSocksd(bin, t.TempDir(), configTOML, env...)
	if d != nil {
		t.Cleanup(func() {
			ended := d.ended()
			d.Kill()
			d.keepLog(t, ended)
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// LaunchSocksd is StartSocksd for programs that are not tests (the
// benchmarks): the caller must Kill the daemon.
func LaunchSocksd(bin, dir, configTOML string, env ...string) (*Socksd, error) {
	return launchSocksd(launchOptions{}, bin, dir, configTOML, env...)
}

// StartSocksdWithStdin is StartSocksd with a pipe as the daemon's
// standard input, for `[console] stdin = true`: the test writes operator
// commands to the returned writer; closing it ends the daemon's input.
// The daemon's standard output goes to d.Stdout, apart from d.Log.
func StartSocksdWithStdin(t testing.TB, bin, configTOML string, env ...string) (*Socksd, io.WriteCloser) {
	t.Helper()
	Track(t)
	d, err := launchSocksd(launchOptions{stdin: true}, bin, t.TempDir(), configTOML, env...)
	if d != nil {
		t.Cleanup(func() {
			ended := d.ended()
			d.Kill()
			d.keepLog(t, ended)
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return d, d.stdin
}

// launchOptions adjust launchSocksd.
type launchOptions struct {
	// prefix is a command prefix such as "ip netns exec NS" (which execs,
	// so the PID stays socksd's).
	prefix []string
	// stdin gives the daemon a standard input pipe (Socksd.stdin) and a
	// standard output buffer of its own (Socksd.Stdout).
	stdin bool
}

// StartSocksdIn is StartSocksd inside network namespace ns.
func StartSocksdIn(t testing.TB, ns, bin, configTOML string, env ...string) *Socksd {
	t.Helper()
	Track(t)
	d, err := launchSocksd(launchOptions{prefix: []string{"ip", "netns", "exec", ns}}, bin, t.TempDir(), configTOML, env...)
	if d != nil {
		t.Cleanup(func() {
			ended := d.ended()
			d.Kill()
			d.keepLog(t, ended)
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// launchSocksd starts the daemon as opt says.
func launchSocksd(opt launchOptions, bin, dir, configTOML string, env ...string) (*Socksd, error) {
	d := &Socksd{Bin: bin, ConfigPath: filepath.Join(dir, "socksd.toml"), Socket: filepath.Join(dir, "console.sock"), Log: NewLogBuffer()}
	d.Stdout = d.Log
	if opt.stdin {
		d.Stdout = NewLogBuffer()
	}
	configTOML = strings.ReplaceAll(configTOML, "{{SOCKET}}", d.Socket)
	// A short directory for the openssh engine's control sockets: a
	// socket's path is limited to 108 bytes.
	runDir, err := os.MkdirTemp("", "ss")
	if err != nil {
		return nil, fmt.Errorf("testpeer: %w", err)
	}
	d.runDir = runDir
	configTOML = WithEngine(configTOML, d.runDir)
	started := false
	defer func() {
		if !started && d.runDir != "" {
			os.RemoveAll(d.runDir)
		}
	}()
	if err := os.WriteFile(d.ConfigPath, []byte(configTOML), 0o600); err != nil {
		return nil, fmt.Errorf("testpeer: %w", err)
	}
	args := append(append(append([]string(nil), opt.prefix...), bin), "serve", "-c", d.ConfigPath)
	d.cmd = exec.Command(args[0], args[1:]...)
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stdout = d.Stdout
	d.cmd.Stderr = d.Log
	if opt.stdin {
		var err error
		if d.stdin, err = d.cmd.StdinPipe(); err != nil {
			return nil, fmt.Errorf("testpeer: socksd stdin: %w", err)
		}
	}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("testpeer: start socksd: %w", err)
	}
	started = true // from here Kill removes d.runDir
	d.done = make(chan struct{})
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	line, ok := d.Log.WaitFor(readyRE, 30*time.Second, d.done)
	if !ok {
		return d, fmt.Errorf("testpeer: socksd did not become ready:\n%s", d.Log.String())
	}
	d.Addr = strings.Split(readyRE.FindStringSubmatch(line)[1], ",")[0]
	return d, nil
}

// ended says how the daemon ended if it did before the test's end ("" if
// it still runs): a daemon that died under a test is part of the evidence.
func (d *Socksd) ended() string {
	select {
	case <-d.done:
		if d.err != nil {
			return d.err.Error()
		}
		return "exit status 0"
	default:
		return ""
	}
}

// keepLog keeps the daemon's log (its standard error, with the goroutine
// dump of a SIGQUIT) and a standard output of its own in t's evidence
// directory when t failed, and logs one line naming the files: never the
// log itself, which would bury the test's errors in CI's short tail. ended
// is how the daemon ended before the test did, if it did.
func (d *Socksd) keepLog(t testing.TB, ended string) {
	if !t.Failed() {
		return
	}
	log := d.Log.String()
	how := ""
	if ended != "" {
		how = fmt.Sprintf("; the daemon (pid %d) had ended before the test: %s", d.PID(), ended)
		log += "--- testpeer" + how + "\n"
	}
	if p := Keep(t, "socksd.log", log); p != "" {
		t.Logf("socksd log (%d lines) kept in %s%s", strings.Count(log, "\n"), p, how)
	}
	if d.Stdout != d.Log {
		if p := Keep(t, "socksd-stdout.log", d.Stdout.String()); p != "" {
			t.Logf("socksd standard output kept in %s", p)
		}
	}
}

// Kill ends the daemon at once if it still runs, and waits for it.
func (d *Socksd) Kill() {
	select {
	case <-d.done:
	default:
		d.cmd.Process.Kill()
		<-d.done
	}
	if d.runDir != "" {
		os.RemoveAll(d.runDir)
	}
}

var readyRE = regexp.MustCompile(`SOX0002I socksd ready, listening on ([^ "]+)`)

// Signal sends sig to the daemon.
func (d *Socksd) Signal(sig syscall.Signal) { d.cmd.Process.Signal(sig) }

// Wait waits up to timeout for the daemon to exit and returns its exit
// code, or -1 if it is still running.
func (d *Socksd) Wait(timeout time.Duration) int {
	select {
	case <-d.done:
		return d.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		return -1
	}
}

// Done is closed when the daemon has exited.
func (d *Socksd) Done() <-chan struct{} { return d.done }

// PID returns the daemon's process id.
func (d *Socksd) PID() int { return d.cmd.Process.Pid }

// LogBuffer collects a process's output and lets a test wait for a line.
type LogBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

// NewLogBuffer returns an empty buffer.
func NewLogBuffer() *LogBuffer { return &LogBuffer{changed: make(chan struct{})} }

// Write appends p and wakes waiters.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return len(p), nil
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count returns how many lines contain substr.
func (b *LogBuffer) Count(substr string) int {
	n := 0
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// WaitFor waits until a line matches re, up to timeout or until stop is
// closed, and returns that line.
func (b *LogBuffer) WaitFor(re *regexp.Regexp, timeout time.Duration, stop <-chan struct{}) (string, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		ch := b.changed
		text := b.buf.String()
		b.mu.Unlock()
		for _, l := range strings.Split(text, "\n") {
			if re.MatchString(l) {
				return l, true
			}
		}
		select {
		case <-ch:
		case <-deadline.C:
			return "", false
		case <-stop:
			// One last look: the line may have come with the exit.
			if l, ok := b.match(re); ok {
				return l, true
			}
			return "", false
		}
	}
}

// WaitCount waits until at least n lines contain substr.
func (b *LogBuffer) WaitCount(substr string, n int, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		ch := b.changed
		b.mu.Unlock()
		if b.Count(substr) >= n {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

func (b *LogBuffer) match(re *regexp.Regexp) (string, bool) {
	for _, l := range strings.Split(b.String(), "\n") {
		if re.MatchString(l) {
			return l, true
		}
	}
	return "", false
}
