package openssh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Why a master could not start or ended. *MasterError wraps one of them.
var (
	// ErrHostKeyUnknown: known_hosts has no key for the server and the
	// policy is strict.
	ErrHostKeyUnknown = errors.New("openssh: host key unknown")
	// ErrHostKeyChanged: the server offers a key other than the one
	// known_hosts holds.
	ErrHostKeyChanged = errors.New("openssh: host key changed")
	// ErrAuthFailed: the server accepted no method, or asked for the
	// password a second time (the master is then ended before it answers).
	ErrAuthFailed = errors.New("openssh: authentication failed")
	// ErrServerUnreachable: no TCP connection or SSH handshake with the
	// server (refused, timed out, no route, name not resolved, the proxy
	// command failed).
	ErrServerUnreachable = errors.New("openssh: ssh server unreachable")
	// ErrMasterExited: the master exited after it had been ready (its
	// connection was lost or it was killed), or for a reason not listed
	// here (see Stderr).
	ErrMasterExited = errors.New("openssh: master exited")
	// ErrStartTimeout: the master did not become ready within StartTimeout.
	ErrStartTimeout = errors.New("openssh: master not ready in time")
	// ErrStopped: the master was ended by Stop.
	ErrStopped = errors.New("openssh: master stopped")
)

// MasterError tells why a master failed to start or ended. It never holds a
// secret: ssh does not print passwords, and the askpass exchange is not
// logged.
type MasterError struct {
	Server string // "host:port"
	User   string
	PID    int    // the master's process id, 0 if it never started
	Stderr string // ssh's last lines on stderr, for the operator
	// Prompts are the askpass prompts ssh showed, in order (no answers).
	Prompts []string
	Err     error // one of the sentinels above
}

// Error names the server, the user and the cause, with ssh's own words.
func (e *MasterError) Error() string {
	s := fmt.Sprintf("openssh: master for %s@%s: %s", e.User, e.Server, strings.TrimPrefix(e.Err.Error(), "openssh: "))
	if e.Stderr != "" {
		// The last two lines say it (a changed host key's banner
		// comes before them); Stderr keeps all of them.
		lines := strings.Split(strings.TrimSpace(e.Stderr), "\n")
		if len(lines) > 2 {
			lines = lines[len(lines)-2:]
		}
		s += ": " + strings.Join(lines, "; ")
	}
	return s
}

// Unwrap returns the sentinel.
func (e *MasterError) Unwrap() error { return e.Err }

// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
const stopGrace = 3 * time.Second

// Master is one running `ssh -M -N` process: an authenticated SSH connection
// that carries forwards through its control socket. It is safe for
// concurrent use.
type Master struct {
	opts   Options // without secrets
	dir    string  // private directory: control socket, config, askpass
	sock   string
	server string
	pid    int
	cmd    *exec.Cmd
	done   chan struct{} // closed once the process is reaped
	stderr *stderrLog
	ask    *askpassServer

	mu        sync.Mutex
	endErr    error // set before we end the master ourselves
	notListen bool  // StopListening succeeded: the socket is gone
	ready     bool  // it answered once: later ends are lost connections
	exitErr   error // why it ended, once done is closed
}

// Start runs a master for o and returns once its control socket answers
// MUX_C_ALIVE_CHECK (that is, once it has authenticated). ssh runs in its
// own session and process group, with SIGTERM as its parent-death signal,
// so that it does not outlive this process. Errors are *MasterError (or
// ErrBadOptions).
func Start(ctx context.Context, o Options) (*Master, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	sshPath := o.SSH
	if sshPath == "" {
		sshPath = "ssh"
	}
	sshPath, err := exec.LookPath(sshPath)
	if err != nil {
		return nil, fmt.Errorf("openssh: %w", err)
	}
	if err := checkPrivateDir(o.Dir); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(o.Dir, "m")
	if err != nil {
		return nil, fmt.Errorf("openssh: %w", err)
	}
	m := &Master{
		dir:    dir,
		sock:   filepath.Join(dir, "ctl"),
		server: net.JoinHostPort(o.Host, strconv.Itoa(o.port())),
		done:   make(chan struct{}),
		stderr: newStderrLog(),
	}
	// ssh appends ".XXXXXXXXXXXXXXXX" to the control path while it binds.
	if len(m.sock)+17 >= 108 {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: control socket path %q too long", ErrBadOptions, m.sock)
	}
	// Without a password, password methods would only make ssh ask, and
	// the askpass server would end the master: leave them out.
	if o.Password == nil {
		o.Auth = withoutPasswordMethods(o.Auth)
		if len(o.Auth) == 0 {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("%w: no password and no other authentication method", ErrBadOptions)
		}
	}
	m.ask, err = newAskpassServer(filepath.Join(dir, "ask"), o.Password, o.Passphrase, func() { m.abort(ErrAuthFailed) }, nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	env := o.Env
	o.Password, o.Passphrase, o.Env = nil, nil, nil
	m.opts = o
	link := filepath.Join(dir, AskpassName)
	cfg := filepath.Join(dir, "ssh_config")
	if err := os.Symlink(o.Askpass, link); err != nil {
		m.cleanup()
		return nil, fmt.Errorf("openssh: askpass link: %w", err)
	}
	if err := os.WriteFile(cfg, []byte(o.sshConfig(m.sock)), 0o600); err != nil {
		m.cleanup()
		return nil, fmt.Errorf("openssh: %w", err)
	}

	cmd := exec.Command(sshPath, "-M", "-S", m.sock, "-N", "-F", cfg, "-p", strconv.Itoa(o.port()), "-l", o.User, "--", o.Host)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"SSH_ASKPASS=" + link,
		"SSH_ASKPASS_REQUIRE=force",
		EnvAskpassSocket + "=" + m.ask.path,
		EnvAskpassToken + "=" + m.ask.token,
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Dir = dir
	cmd.SysProcAttr = procAttr()
	// A pipe of our own, not StderrPipe: Wait must not wait for the
	// askpass helper, which inherits ssh's stderr and may outlive it.
	pr, pw, err := os.Pipe()
	if err != nil {
		m.cleanup()
		return nil, fmt.Errorf("openssh: %w", err)
	}
	cmd.Stderr = pw
	m.cmd = cmd
	started := make(chan error, 1)
	// Pdeathsig fires when the thread that forked exits, not the process:
	// fork from a locked thread that lives until the child is reaped.
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		err := cmd.Start()
		pw.Close()
		if err != nil {
			pr.Close()
			started <- err
			return
		}
		m.pid = cmd.Process.Pid
		m.ask.setMasterPID(m.pid)
		started <- nil
		eof := make(chan struct{})
		go func() {
			m.stderr.readFrom(pr)
			pr.Close()
			close(eof)
		}()
		err = cmd.Wait()
		// ssh wrote its last words before it exited; a helper of its
		// may still hold the pipe, so the wait for EOF is bounded (and
		// skipped when we ended it: its words do not matter then).
		m.mu.Lock()
		ended := m.endErr != nil
		m.mu.Unlock()
		if !ended {
			t := time.NewTimer(2 * time.Second)
			select {
			case <-eof:
			case <-t.C:
			}
			t.Stop()
		}
		m.mu.Lock()
		m.exitErr = m.classify(err)
		m.mu.Unlock()
		close(m.done)
		m.ask.close() // after done: a handler may be waiting in abort
	}()
	if err := <-started; err != nil {
		m.cleanup()
		return nil, fmt.Errorf("openssh: start ssh: %w", err)
	}
	if err := m.waitReady(ctx); err != nil {
		m.Stop()
		return nil, err
	}
	m.mu.Lock()
	m.ready = true
	m.mu.Unlock()
	// Authenticated: ssh asks nothing more. Erase the secrets now, not when
	// the master ends (a key may have logged in before the password was
	// asked for); later prompts find no helper socket and get no answer.
	m.ask.close()
	return m, nil
}

// withoutPasswordMethods returns auth (or DefaultAuth) without password and
// keyboard-interactive.
func withoutPasswordMethods(auth []string) []string {
	if len(auth) == 0 {
		auth = DefaultAuth
	}
	var out []string
	for _, a := range auth {
		if a != AuthPassword && a != AuthKeyboardInteractive {
			out = append(out, a)
		}
	}
	return out
}

// checkPrivateDir makes sure dir is a directory of this user that nobody
// else can enter.
func checkPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("openssh: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 || !ok || int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%w: %s must be a directory of uid %d with mode 0700", ErrBadOptions, dir, os.Getuid())
	}
	return nil
}

// waitReady polls the control socket with MUX_C_ALIVE_CHECK until it
// answers, the process ends, or the start timeout passes.
func (m *Master) waitReady(ctx context.Context) error {
	timeout := m.opts.StartTimeout
	if timeout <= 0 {
		timeout = m.opts.ConnectTimeout + time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(m.sock); err == nil {
			actx, acancel := context.WithTimeout(ctx, 5*time.Second)
			pid, err := m.Alive(actx)
			acancel()
			if err == nil && pid == m.pid {
				return nil
			}
		}
		select {
		case <-m.done:
			return m.Err()
		case <-ctx.Done():
			return m.fail(errors.Join(ErrStartTimeout, ctx.Err()))
		case <-tick.C:
		}
	}
}

func (m *Master) fail(err error) *MasterError {
	return &MasterError{Server: m.server, User: m.opts.User, PID: m.pid, Stderr: m.stderr.text(), Prompts: m.ask.asked(), Err: err}
}

// classify maps the way ssh ended to a typed error.
func (m *Master) classify(waitErr error) error {
	if m.endErr != nil {
		return m.fail(m.endErr)
	}
	text := m.stderr.text()
	var sentinel error
	switch {
	case m.ready: // it ran: whatever ssh says, the connection was lost
		sentinel = ErrMasterExited
		if waitErr != nil {
			sentinel = fmt.Errorf("%w: %v", ErrMasterExited, waitErr)
		}
	case strings.Contains(text, "REMOTE HOST IDENTIFICATION HAS CHANGED"):
		sentinel = ErrHostKeyChanged
	case strings.Contains(text, "host key is known for") || strings.Contains(text, "Host key verification failed"):
		sentinel = ErrHostKeyUnknown
	case strings.Contains(text, "Permission denied (") || strings.Contains(text, "Too many authentication failures"):
		sentinel = ErrAuthFailed
	case unreachable(text):
		sentinel = ErrServerUnreachable
	default:
		sentinel = ErrMasterExited
		if waitErr != nil {
			sentinel = fmt.Errorf("%w: %v", ErrMasterExited, waitErr)
		}
	}
	return m.fail(sentinel)
}

// unreachable reports ssh's words for a server it could not reach or
// handshake with.
func unreachable(text string) bool {
	for _, s := range []string{
		"connect to host", "Could not resolve hostname", "Connection refused",
		"Connection timed out", "No route to host", "Network is unreachable",
		"kex_exchange_identification", "Connection closed by", "Connection reset by",
		"banner exchange", "proxy dialog", "Broken pipe",
	} {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

// lostConnection reports ssh's words for a connection that ended under it.
func lostConnection(text string) bool {
	for _, s := range []string{"closed by remote host", "Broken pipe", "Timeout, server", "Connection reset", "packet_write", "Disconnected"} {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

// PID is the master's process id.
func (m *Master) PID() int { return m.pid }

// AuthMethod is the method that logged the master in, as ssh names it
// ("password", "keyboard-interactive", "publickey"), from its line
// `Authenticated to HOST (...) using "METHOD".`; "" when it said none.
func (m *Master) AuthMethod() string {
	text := m.stderr.text()
	const mark = `) using "`
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "Authenticated to ") {
			continue
		}
		if i := strings.LastIndex(line, mark); i >= 0 {
			method, _, _ := strings.Cut(line[i+len(mark):], `"`)
			return method
		}
	}
	return ""
}

// Said reports whether ssh wrote text on stderr (in the lines it keeps).
func (m *Master) Said(text string) bool { return strings.Contains(m.stderr.text(), text) }

// Prompts are the askpass prompts ssh showed while it started, in order
// (never the answers): a password prompt means the password was sent.
func (m *Master) Prompts() []string { return m.ask.asked() }

// SocketPath is the master's control socket.
func (m *Master) SocketPath() string { return m.sock }

// Done is closed once the master process has ended and been reaped.
func (m *Master) Done() <-chan struct{} { return m.done }

// Err is why the master ended (*MasterError), or nil while it runs.
func (m *Master) Err() error {
	select {
	case <-m.done:
	default:
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.exitErr
}

// Alive sends MUX_C_ALIVE_CHECK on a fresh control connection and returns
// the PID the master reports. An error wrapping ErrMasterGone means the
// master is gone.
func (m *Master) Alive(ctx context.Context) (int, error) {
	c, err := dialMux(ctx, m.sock)
	if err != nil {
		return 0, err
	}
	defer c.close()
	pid, err := c.aliveCheck(ctx)
	if err != nil {
		return 0, errors.Join(ErrMasterGone, err)
	}
	return pid, nil
}

// StopListening asks the master to remove its control socket and accept no
// new requests (MUX_C_STOP_LISTENING); running forwards go on, and the
// master exits by itself once the last one has ended (ssh -N does so): a
// drain. Alive and Client fail from then on.
func (m *Master) StopListening(ctx context.Context) error {
	c, err := dialMux(ctx, m.sock)
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.expectOK(ctx, "stop listening", muxCStopListening); err != nil {
		return err
	}
	m.mu.Lock()
	m.notListen = true
	m.mu.Unlock()
	return nil
}

// gone tells whether the master has died, for a forward whose control
// connection just closed: the master answers MUX_C_ALIVE_CHECK while it
// runs. After StopListening it cannot answer, and it exits by itself once
// its last channel has closed (status 255 and no message, as ssh -N does);
// a short, bounded wait on the process tells that apart from a death (a
// signal, or ssh's words for a lost connection).
func (m *Master) gone() error {
	m.mu.Lock()
	listening := !m.notListen
	m.mu.Unlock()
	if listening {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := m.Alive(ctx)
		return err
	}
	t := time.NewTimer(drainExitWait)
	defer t.Stop()
	select {
	case <-m.done:
		st := m.cmd.ProcessState
		if st != nil && st.Exited() && !lostConnection(m.stderr.text()) {
			return nil
		}
		return ErrMasterGone
	case <-t.C:
		return nil
	}
}

// drainExitWait bounds how long a forward that ends after StopListening
// waits to see whether the master exits.
const drainExitWait = 200 * time.Millisecond

// Terminate asks the master to exit (MUX_C_TERMINATE) and waits, bounded by
// ctx, until it has. Stop does the same by signal and needs no socket.
func (m *Master) Terminate(ctx context.Context) error {
	m.setEndErr(ErrStopped)
	c, err := dialMux(ctx, m.sock)
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.expectOK(ctx, "terminate", muxCTerminate); err != nil {
		return err
	}
	select {
	case <-m.done:
		m.cleanup()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("openssh: terminate: %w", ctx.Err())
	}
}

// Client opens a control connection in proxy mode (MUX_C_PROXY, through
// golang.org/x/crypto/ssh's NewControlClientConn) and returns an
// ssh.Client on it: its channels (Dial, sessions, subsystems such as sftp)
// go through the master. Their bytes pass through this process, without
// encryption of its own. Close the client when done; the master stays.
func (m *Master) Client(ctx context.Context) (*ssh.Client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", m.sock)
	if err != nil {
		return nil, fmt.Errorf("openssh: control socket: %w", errors.Join(ErrMasterGone, err))
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl) //nolint:errcheck
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) }) //nolint:errcheck
	conn, chans, reqs, err := ssh.NewControlClientConn(wipeConn{c})
	stop()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("openssh: proxy mode: %w", ctxErr(ctx, err))
	}
	c.SetDeadline(time.Time{}) //nolint:errcheck
	return ssh.NewClient(conn, chans, reqs), nil
}

// wipeConn erases what it was given to write once it is written. In proxy
// mode golang.org/x/crypto/ssh frames every packet in a buffer of its own
// (controlProxyWritePacket: a fresh cryptobyte builder, dropped after the
// one Write), so that buffer is the only copy of the packet outside the
// channel's reused one; wiping it keeps the bytes of an FTP PASS line from
// lingering in freed memory, as the builtin engine's encryption does. This
// bends io.Writer's rule that Write must not modify its argument, which
// holds only because no caller of this conn reads the buffer afterwards.
type wipeConn struct{ net.Conn }

// Write writes b and then zeroes it.
func (w wipeConn) Write(b []byte) (int, error) {
	n, err := w.Conn.Write(b)
	clear(b)
	return n, err
}

// abort ends the master at once (SIGKILL) for reason and waits until it is
// reaped. The askpass server uses it at a second password prompt, so that
// ssh never sends a second answer.
func (m *Master) abort(reason error) {
	m.setEndErr(reason)
	syscall.Kill(m.pid, syscall.SIGKILL) //nolint:errcheck
	<-m.done
}

func (m *Master) setEndErr(err error) {
	m.mu.Lock()
	if m.endErr == nil {
		m.endErr = err
	}
	m.mu.Unlock()
}

// Stop ends the master: SIGTERM to its PID, SIGKILL if it is still there
// after a grace period, then it waits until the process is reaped and
// removes the master's private directory. Forwards still open end with it.
// Stop is idempotent.
func (m *Master) Stop() {
	m.setEndErr(ErrStopped)
	select {
	case <-m.done:
	default:
		syscall.Kill(m.pid, syscall.SIGTERM) //nolint:errcheck
		t := time.NewTimer(stopGrace)
		select {
		case <-m.done:
		case <-t.C:
			syscall.Kill(m.pid, syscall.SIGKILL) //nolint:errcheck
			<-m.done
		}
		t.Stop()
	}
	m.cleanup()
}

func (m *Master) cleanup() {
	if m.ask != nil {
		m.ask.close()
	}
	os.RemoveAll(m.dir)
}

// stderrLog keeps the last lines ssh wrote to stderr, and hands lines
// about refused channels to forwards waiting for their reason.
type stderrLog struct {
	mu         sync.Mutex
	lines      []string
	openFailed chan string
}

const stderrKeep = 40

func newStderrLog() *stderrLog { return &stderrLog{openFailed: make(chan string, 64)} }

func (l *stderrLog) readFrom(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if i := strings.Index(line, ": open failed: "); i >= 0 && strings.HasPrefix(line, "channel ") {
			select {
			case l.openFailed <- line[i+len(": open failed: "):]:
			default:
			}
			continue
		}
		if strings.HasPrefix(line, "Transferred: ") || strings.HasPrefix(line, "Bytes per second: ") {
			continue // LogLevel VERBOSE's statistics at exit: they would hide the cause
		}
		l.mu.Lock()
		l.lines = append(l.lines, line)
		if len(l.lines) > stderrKeep {
			l.lines = l.lines[len(l.lines)-stderrKeep:]
		}
		l.mu.Unlock()
	}
	io.Copy(io.Discard, r) //nolint:errcheck
}

// dropOpenFailed discards the "open failed" reasons not yet taken.
func (l *stderrLog) dropOpenFailed() {
	for i := 0; i < cap(l.openFailed); i++ {
		select {
		case <-l.openFailed:
		default:
			return
		}
	}
}

func (l *stderrLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
