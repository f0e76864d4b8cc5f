package openssh

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
)

// sshd log lines (LogLevel DEBUG1).
const (
	logAcceptedPassword = "Accepted password for "
	logAcceptedKey      = "Accepted publickey for "
	logFailedPassword   = "Failed password for "
	logFailedKbd        = "Failed keyboard-interactive"
	logChannel          = "server_request_direct_tcpip: originator"
)

// askpassProgram is the test binary itself: TestMain runs it as the helper.
func askpassProgram(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// privateDir is a short 0700 directory (socket paths are limited).
func privateDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "osh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// rig starts a real sshd and returns options for a master that trusts it
// and logs in with the rig's client key.
func rig(t *testing.T, cfg testpeer.SSHDConfig) (*testpeer.SSHD, Options) {
	t.Helper()
	testpeer.RequireTool(t, "ssh")
	s := testpeer.StartSSHD(t, cfg)
	return s, Options{
		Dir:            privateDir(t),
		Askpass:        askpassProgram(t),
		Host:           "127.0.0.1",
		Port:           s.Port,
		User:           s.User,
		KnownHosts:     []string{s.KnownHostsFile},
		IdentityFiles:  []string{s.ClientKeyFile},
		ConnectTimeout: 10 * time.Second,
		StartTimeout:   30 * time.Second,
	}
}

func start(t *testing.T, o Options) *Master {
	t.Helper()
	m, err := Start(context.Background(), o)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(m.Stop)
	return m
}

// clientPair returns both ends of a loopback TCP connection: the client's
// and the accepted one that socksd would hand to the master.
func clientPair(t *testing.T) (client, accepted *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); a.Close() })
	return c.(*net.TCPConn), a.(*net.TCPConn)
}

func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestMasterKeyLoginAlive(t *testing.T) {
	s, o := rig(t, testpeer.SSHDConfig{PubkeyAuth: true})
	nc := testpeer.RequireTool(t, "nc")
	tests := []struct {
		name    string
		mod     func(*Options)
		wantLog string
	}{
		{"plain", func(*Options) {}, ""},
		{"cipher and keepalive", func(o *Options) {
			o.Ciphers = "aes128-gcm@openssh.com"
			o.KeepaliveInterval = 15 * time.Second
			o.KeepaliveMax = 2
		}, "kex: client->server cipher: aes128-gcm@openssh.com"},
		{"proxy command", func(o *Options) { o.ProxyCommand = nc + " %h %p" }, ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oo := o
			oo.Dir = privateDir(t)
			tc.mod(&oo)
			m := start(t, oo)
			pid, err := m.Alive(ctxT(t, 10*time.Second))
			if err != nil || pid != m.PID() {
				t.Fatalf("alive: pid %d err %v, want %d", pid, err, m.PID())
			}
			if n := s.CountLog(logAcceptedKey + s.User); n != i+1 {
				t.Fatalf("%d publickey logins, want %d", n, i+1)
			}
			if tc.wantLog != "" && s.CountLog(tc.wantLog) == 0 {
				t.Fatalf("sshd's log has no %q", tc.wantLog)
			}
			fi, err := os.Stat(m.SocketPath())
			if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm()&0o077 != 0 {
				t.Fatalf("control socket: %v %v", fi.Mode(), err)
			}
			if err := checkPrivateDir(m.dir); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestForwardByteExact moves a few MiB each way through the master, from
// a client socket handed over by descriptor, and checks the bytes and the
// kernel's counts. "upload" half-closes from the client first (STOR);
// "download" has the server close first (RETR): the master then ends the
// forward itself and the client must see EOF.
func TestForwardByteExact(t *testing.T) {
	s, o := rig(t, testpeer.SSHDConfig{PubkeyAuth: true})
	m := start(t, o)
	const up, down = 3<<20 + 17, 5<<20 + 3
	upData, downData := testpeer.Data(up, 7), testpeer.Data(down, 8)
	for _, tc := range []struct {
		name       string
		clientEOF  bool // the client half-closes after sending
		sendUp     int
		wantDownTo int
	}{
		{"both ways, client closes first", true, up, down},
		{"download, server closes first", false, 0, down},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan []byte, 1)
			target := testpeer.ServeTCP(t, func(c net.Conn) {
				done := make(chan []byte, 1)
				go func() {
					if !tc.clientEOF {
						done <- nil
						return
					}
					b, _ := io.ReadAll(c)
					done <- b
				}()
				c.Write(downData) //nolint:errcheck
				got <- <-done
				c.(*net.TCPConn).CloseWrite() //nolint:errcheck
			})
			host, port := splitHostPort(t, target)
			client, accepted := clientPair(t)
			f, err := m.Forward(ctxT(t, 10*time.Second), accepted, host, port)
			if err != nil {
				t.Fatalf("forward: %v\n%s", err, s.Log())
			}
			readc := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(client)
				readc <- b
			}()
			if tc.sendUp > 0 {
				mustWrite(t, client, upData[:tc.sendUp])
			}
			if tc.clientEOF {
				client.CloseWrite() //nolint:errcheck
			}
			var b []byte
			select {
			case b = <-readc:
			case <-time.After(60 * time.Second):
				t.Fatal("client saw no EOF")
			}
			if !bytes.Equal(b, downData) {
				t.Fatalf("client read %d bytes, want %d identical", len(b), len(downData))
			}
			if r := <-got; !bytes.Equal(r, upData[:tc.sendUp]) && tc.clientEOF {
				t.Fatalf("server read %d bytes, want %d identical", len(r), tc.sendUp)
			}
			if err := f.Wait(ctxT(t, 30*time.Second)); err != nil {
				t.Fatalf("wait: %v", err)
			}
			c, err := f.Counts()
			if err != nil {
				t.Fatal(err)
			}
			if c.Received != uint64(tc.sendUp) || c.Sent != uint64(down) {
				t.Fatalf("counts %+v, want received %d sent %d", c, tc.sendUp, down)
			}
		})
	}
	if n := s.CountLog(logChannel); n != 2 {
		t.Fatalf("%d direct-tcpip channels in sshd's log, want 2", n)
	}
	if _, err := m.Alive(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("master after the forwards: %v", err)
	}
}

// TestMasterPasswordThroughAskpass logs in with the password, which ssh
// fetches once through the askpass helper (the test binary).
func TestMasterPasswordThroughAskpass(t *testing.T) {
	s, o := rig(t, testpeer.SSHDConfig{PasswordAuth: true, KbdInteractive: true, PubkeyAuth: true})
	o.IdentityFiles = nil
	pw := []byte(s.Password)
	o.Password = pw
	m := start(t, o)
	// sshd's monitor may write the line just after the client has its answer.
	if n := s.WaitLog(logAcceptedPassword+s.User, 1, 10*time.Second); n != 1 {
		t.Fatalf("%d password logins, want 1\n%s", n, s.Log())
	}
	if n := s.CountLog(logFailedPassword) + s.CountLog(logFailedKbd); n != 0 {
		t.Fatalf("%d failed logins", n)
	}
	if got := m.ask.refused(); len(got) != 0 {
		t.Fatalf("askpass refused %v", got)
	}
	m.ask.mu.Lock()
	left := m.ask.password
	m.ask.mu.Unlock()
	if left != nil {
		t.Fatal("the server still holds the password after answering")
	}
	if string(pw) != s.Password {
		t.Fatal("Start changed the caller's slice")
	}
}

// TestMasterWrongPasswordOnce: with the default auth list ssh asks again
// (keyboard-interactive) after sshd rejects the password; the master is
// ended at that second prompt, so sshd logs one failure only.
func TestMasterWrongPasswordOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		auth []string
	}{
		{"default auth list", nil},
		{"keyboard-interactive first", []string{AuthKeyboardInteractive, AuthPassword}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, o := rig(t, testpeer.SSHDConfig{PasswordAuth: true, KbdInteractive: true})
			o.IdentityFiles = nil
			o.Auth = tc.auth
			o.Password = []byte("not-" + s.Password)
			_, err := Start(context.Background(), o)
			if !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("start: %v, want ErrAuthFailed", err)
			}
			if strings.Contains(err.Error(), "not-"+s.Password) {
				t.Fatal("error shows the password")
			}
			s.WaitLog("Connection closed by authenticating user", 1, 10*time.Second)
			pw, kbd := s.CountLog(logFailedPassword), s.CountLog(logFailedKbd)
			if pw+kbd != 1 {
				t.Fatalf("sshd logged %d Failed password and %d Failed keyboard-interactive, want 1 in all\n%s", pw, kbd, s.Log())
			}
			var me *MasterError
			if !errors.As(err, &me) || len(me.Prompts) != 2 {
				t.Fatalf("prompts %q, want two (the second one ended the master)", me.Prompts)
			}
			t.Logf("error: %v; prompts %q", err, me.Prompts)
		})
	}
}

func TestMasterHostKeys(t *testing.T) {
	s, o := rig(t, testpeer.SSHDConfig{PubkeyAuth: true})
	other := testpeer.StartSSHD(t, testpeer.SSHDConfig{PubkeyAuth: true})
	empty := privateDir(t) + "/known_hosts"
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// other's key written under s's address: a changed key.
	kh, err := os.ReadFile(other.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	changed := privateDir(t) + "/known_hosts"
	line := strings.Replace(string(kh), strconv.Itoa(other.Port), strconv.Itoa(s.Port), 1)
	if err := os.WriteFile(changed, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		kh   string
		want error
	}{
		{"unknown", empty, ErrHostKeyUnknown},
		{"changed", changed, ErrHostKeyChanged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oo := o
			oo.Dir = privateDir(t)
			oo.KnownHosts = []string{tc.kh}
			_, err := Start(context.Background(), oo)
			if !errors.Is(err, tc.want) {
				t.Fatalf("start: %v, want %v", err, tc.want)
			}
			t.Logf("error: %v", err)
		})
	}
	t.Run("accept-new", func(t *testing.T) {
		oo := o
		oo.Dir = privateDir(t)
		fresh := privateDir(t) + "/known_hosts"
		oo.KnownHosts = []string{fresh}
		oo.AcceptNew = true
		m := start(t, oo)
		m.Stop()
		b, err := os.ReadFile(fresh)
		if err != nil || !strings.Contains(string(b), "[127.0.0.1]:"+strconv.Itoa(s.Port)) {
			t.Fatalf("known_hosts after accept-new: %q %v", b, err)
		}
	})
	if n := s.CountLog(logAcceptedKey); n != 1 {
		t.Fatalf("%d logins, want only the accept-new one", n)
	}
}

func TestMasterUnreachable(t *testing.T) {
	testpeer.RequireTool(t, "ssh")
	o := Options{
		Dir:            privateDir(t),
		Askpass:        askpassProgram(t),
		Host:           "127.0.0.1",
		Port:           testpeer.FreePort(t, "127.0.0.1"),
		User:           "nobody",
		KnownHosts:     []string{"/dev/null"},
		ConnectTimeout: 5 * time.Second,
	}
	for _, tc := range []struct {
		name string
		mod  func(*Options)
	}{
		{"refused", func(*Options) {}},
		{"proxy command fails", func(o *Options) { o.ProxyCommand = "false" }},
		{"unresolvable", func(o *Options) { o.Host = "no-such-host.invalid" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oo := o
			tc.mod(&oo)
			_, err := Start(context.Background(), oo)
			if !errors.Is(err, ErrServerUnreachable) {
				t.Fatalf("start: %v, want ErrServerUnreachable", err)
			}
			t.Logf("error: %v", err)
		})
	}
}

// TestClientProxyMode opens a direct-tcpip channel and an sftp subsystem
// through the master's proxy mode.
func TestClientProxyMode(t *testing.T) {
	s, o := rig(t, testpeer.SSHDConfig{PubkeyAuth: true, ExtraConfig: "Subsystem sftp internal-sftp"})
	m := start(t, o)
	c, err := m.Client(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	defer c.Close()
	echo := testpeer.EchoServer(t)
	conn, err := c.Dial("tcp", echo)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	mustWrite(t, conn, []byte("through the master"))
	buf := make([]byte, len("through the master"))
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "through the master" {
		t.Fatalf("echo: %q %v", buf, err)
	}
	conn.Close()

	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatalf("sftp: %v", err)
	}
	defer sc.Close()
	want := testpeer.Data(1<<20+1, 3)
	path := privateDir(t) + "/f"
	os.Chmod(path[:strings.LastIndexByte(path, '/')], 0o777) //nolint:errcheck // the test user writes there
	w, err := sc.Create(path)
	if err != nil {
		t.Fatalf("sftp create: %v", err)
	}
	if _, err := w.Write(want); err != nil {
		t.Fatal(err)
	}
	w.Close()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("file through sftp: %d bytes, %v", len(got), err)
	}
	if n := s.CountLog("subsystem"); n == 0 {
		t.Fatalf("no subsystem in sshd's log\n%s", s.Log())
	}
	t.Logf("sshd: %d subsystem lines", s.CountLog("subsystem"))
}

// TestForwardMasterKilled: a master killed in the middle of a forward (or
// one whose server died) makes Wait return ErrMasterGone, and the client
// sees a reset, not an EOF.
func TestForwardMasterKilled(t *testing.T) {
	for _, tc := range []struct {
		name string
		kill func(t *testing.T, s *testpeer.SSHD, m *Master)
	}{
		{"master SIGKILL", func(t *testing.T, _ *testpeer.SSHD, m *Master) {
			if err := syscall.Kill(m.PID(), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}},
		{"server gone", func(_ *testing.T, s *testpeer.SSHD, _ *Master) { s.Stop() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, o := rig(t, testpeer.SSHDConfig{PubkeyAuth: true})
			m := start(t, o)
			chunk := testpeer.Data(64<<10, 9)
			target := testpeer.ServeTCP(t, func(c net.Conn) {
				for i := 0; i < 100000; i++ { // endless enough; ends when the channel dies
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			})
			host, port := splitHostPort(t, target)
			client, accepted := clientPair(t)
			f, err := m.Forward(ctxT(t, 10*time.Second), accepted, host, port)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(client, make([]byte, 1<<20)); err != nil {
				t.Fatal(err)
			}
			tc.kill(t, s, m)
			if err := f.Wait(ctxT(t, 30*time.Second)); !errors.Is(err, ErrMasterGone) {
				t.Fatalf("wait: %v, want ErrMasterGone", err)
			}
			if _, err = io.Copy(io.Discard, client); err == nil {
				t.Fatal("client saw a clean EOF after the master died")
			}
			c, _ := f.Counts()
			if c.Sent < 1<<20 {
				t.Fatalf("counts %+v, want at least 1 MiB sent", c)
			}
			<-m.Done()
			if err := m.Err(); !errors.Is(err, ErrMasterExited) {
				t.Fatalf("master error %v", err)
			}
			t.Logf("master: %v", m.Err())
		})
	}
}

// TestForwardCloseOne: Fwd.Close ends that forward only; the master and
// another forward go on.
func TestForwardCloseOne(t *testing.T) {
	_, o := rig(t, testpeer.SSHDConfig{PubkeyAuth: true})
	m := start(t, o)
	echo := testpeer.EchoServer(t)
	host, port := splitHostPort(t, echo)
	c1, a1 := clientPair(t)
	c2, a2 := clientPair(t)
	f1, err := m.Forward(ctxT(t, 10*time.Second), a1, host, port)
	if err != nil {
		t.Fatal(err)
	}
	f2, err := m.Forward(ctxT(t, 10*time.Second), a2, host, port)
	if err != nil {
		t.Fatal(err)
	}
	if f1.Close(); !errors.Is(f1.Wait(context.Background()), ErrForwardClosed) {
		t.Fatalf("wait after close: %v", f1.Wait(context.Background()))
	}
	if _, err := io.Copy(io.Discard, c1); err == nil {
		t.Fatal("closed forward's client saw a clean EOF")
	}
	mustWrite(t, c2, []byte("still here"))
	buf := make([]byte, 10)
	if _, err := io.ReadFull(c2, buf); err != nil || string(buf) != "still here" {
		t.Fatalf("other forward: %q %v", buf, err)
	}
	if k, _ := f2.Counts(); k.Received != 10 || k.Sent != 10 {
		t.Fatalf("other forward's counts %+v", k)
	}
	if _, err := m.Alive(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestForwardRefused: a destination that refuses gives ErrForwardRefused
// with the master's reason.
func TestForwardRefused(t *testing.T) {
	_, o := rig(t, testpeer.SSHDConfig{PubkeyAuth: true})
	m := start(t, o)
	_, accepted := clientPair(t)
	_, err := m.Forward(ctxT(t, 10*time.Second), accepted, "127.0.0.1", testpeer.FreePort(t, "127.0.0.1"))
	var me *MuxError
	if !errors.Is(err, ErrForwardRefused) || !errors.As(err, &me) {
		t.Fatalf("forward: %v, want ErrForwardRefused", err)
	}
	if !strings.Contains(me.Detail, "Connection refused") {
		t.Fatalf("detail %q", me.Detail)
	}
	t.Logf("error: %v", err)
	if _, err := m.Alive(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestMasterStop: Stop leaves no process of the master (nor of its
// children) and removes its directory; Terminate and StopListening work
// through the socket.
func TestMasterStop(t *testing.T) {
	_, o := rig(t, testpeer.SSHDConfig{PubkeyAuth: true})
	t.Run("stop", func(t *testing.T) {
		m := start(t, o)
		pid := m.PID()
		m.Stop()
		if st := testpeer.ProcState(pid); st != "" {
			t.Fatalf("master %d still there (state %s)", pid, st)
		}
		if _, err := os.Stat(m.dir); !os.IsNotExist(err) {
			t.Fatalf("directory left: %v", err)
		}
		if !errors.Is(m.Err(), ErrStopped) {
			t.Fatalf("err %v", m.Err())
		}
		m.Stop()
	})
	t.Run("terminate", func(t *testing.T) {
		m := start(t, o)
		if err := m.Terminate(ctxT(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		if st := testpeer.ProcState(m.PID()); st != "" {
			t.Fatalf("master still there (state %s)", st)
		}
	})
	t.Run("stop listening", func(t *testing.T) {
		m := start(t, o)
		echo := testpeer.EchoServer(t)
		host, port := splitHostPort(t, echo)
		c, a := clientPair(t)
		f, err := m.Forward(ctxT(t, 10*time.Second), a, host, port)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.StopListening(ctxT(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Alive(ctxT(t, 5*time.Second)); !errors.Is(err, ErrMasterGone) {
			t.Fatalf("alive after stop listening: %v", err)
		}
		mustWrite(t, c, []byte("go on"))
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("forward after stop listening: %v", err)
		}
		c.CloseWrite() //nolint:errcheck
		if err := f.Wait(ctxT(t, 30*time.Second)); err != nil {
			t.Fatalf("forward after stop listening ended with %v", err)
		}
		// Drained: the master exits once its last channel has closed.
		select {
		case <-m.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("master still there after its last forward")
		}
	})
}

// envTestDaemon makes the test binary a stand-in daemon: it starts a
// master with the options (JSON) in this variable, prints its PID and
// waits for stdin to close.
const envTestDaemon = "OPENSSH_TEST_DAEMON"

func testDaemon(opts string) int {
	var o Options
	if err := json.Unmarshal([]byte(opts), &o); err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	m, err := Start(context.Background(), o)
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	fmt.Println("PID", m.PID())
	io.Copy(io.Discard, os.Stdin) //nolint:errcheck
	m.Stop()
	return 0
}

// TestMasterDiesWithDaemon: a SIGKILLed daemon takes its master with it
// (Pdeathsig), although the master runs in its own session.
func TestMasterDiesWithDaemon(t *testing.T) {
	_, o := rig(t, testpeer.SSHDConfig{PubkeyAuth: true})
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	exe := askpassProgram(t)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envTestDaemon+"="+string(b))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()         //nolint:errcheck
	defer cmd.Process.Kill() //nolint:errcheck
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "PID ") {
		t.Fatalf("daemon said %q (%v)", line, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[4:]))
	if err != nil || testpeer.ProcState(pid) == "" {
		t.Fatalf("master pid %q: %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait() //nolint:errcheck
	// The master is reparented and reaped by init (or the subreaper),
	// so it may linger as a zombie for a moment.
	wait.Until(t, "master gone after the daemon was killed", 10*time.Second, func() bool {
		st := testpeer.ProcState(pid)
		return st == "" || st == "Z"
	})
}

// TestMasterSocksdAskpass logs in with a password through the real socksd
// binary as the askpass helper (argv[0] socksd-askpass).
func TestMasterSocksdAskpass(t *testing.T) {
	testpeer.RequireTool(t, "go")
	bin, err := testpeer.BuildSocksd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, o := rig(t, testpeer.SSHDConfig{PasswordAuth: true, KbdInteractive: true})
	o.IdentityFiles = nil
	o.Askpass = bin
	o.Password = []byte(s.Password)
	start(t, o)
	if n := s.CountLog(logAcceptedPassword + s.User); n != 1 {
		t.Fatalf("%d password logins, want 1", n)
	}
}

// TestForwardsParallel: many forwards at once, each on its own control
// connection, leave no socket behind.
func TestForwardsParallel(t *testing.T) {
	_, o := rig(t, testpeer.SSHDConfig{PubkeyAuth: true})
	m := start(t, o)
	const n = 24
	data := testpeer.Data(256<<10, 4)
	target := testpeer.ServeTCP(t, func(c net.Conn) {
		io.Copy(c, c)                 //nolint:errcheck
		c.(*net.TCPConn).CloseWrite() //nolint:errcheck
	})
	host, port := splitHostPort(t, target)
	fdsBefore := openFDs(t)
	errc := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			errc <- func() error {
				client, accepted := clientPairNoCleanup()
				if client == nil {
					return errors.New("no client pair")
				}
				defer client.Close()
				f, err := m.Forward(context.Background(), accepted, host, port)
				if err != nil {
					accepted.Close()
					return err
				}
				go func() {
					client.Write(data)  //nolint:errcheck
					client.CloseWrite() //nolint:errcheck
				}()
				b, err := io.ReadAll(client)
				if err != nil || !bytes.Equal(b, data) {
					return fmt.Errorf("echo: %d bytes, %v", len(b), err)
				}
				if err := f.Wait(context.Background()); err != nil {
					return err
				}
				if c, _ := f.Counts(); c.Received != uint64(len(data)) || c.Sent != uint64(len(data)) {
					return fmt.Errorf("counts %+v", c)
				}
				return nil
			}()
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if !wait.For(10*time.Second, func() bool { return openFDs(t) <= fdsBefore }) {
		t.Fatalf("%d sockets open, %d before the forwards", openFDs(t), fdsBefore)
	}
}

func clientPairNoCleanup() (client, accepted *net.TCPConn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil
	}
	a, err := ln.Accept()
	if err != nil {
		c.Close()
		return nil, nil
	}
	return c.(*net.TCPConn), a.(*net.TCPConn)
}

// openFDs counts this process's open sockets (io.Copy's splice keeps
// pooled pipes that only the garbage collector closes).
func openFDs(t *testing.T) int {
	t.Helper()
	e, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range e {
		if l, _ := os.Readlink("/proc/self/fd/" + d.Name()); strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// TestMasterKeys: an encrypted key's passphrase goes in through askpass;
// without a password the password methods are left out, so a server that
// offers them sees no failed attempt.
func TestMasterKeys(t *testing.T) {
	s, o := rig(t, testpeer.SSHDConfig{PasswordAuth: true, KbdInteractive: true, PubkeyAuth: true})
	key := filepath.Join(privateDir(t), "id_enc")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "correct horse", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AuthorizeKey(pk); err != nil {
		t.Fatal(err)
	}
	t.Run("plain key, default auth list, no password", func(t *testing.T) {
		oo := o
		oo.Dir = privateDir(t)
		m := start(t, oo)
		if p := m.ask.asked(); len(p) != 0 {
			t.Fatalf("askpass prompts %q", p)
		}
	})
	t.Run("encrypted key", func(t *testing.T) {
		oo := o
		oo.Dir = privateDir(t)
		oo.IdentityFiles = []string{key}
		oo.Passphrase = []byte("correct horse")
		m := start(t, oo)
		if p := m.ask.asked(); len(p) != 1 || !strings.Contains(p[0], "passphrase") {
			t.Fatalf("askpass prompts %q", p)
		}
	})
	if n := s.CountLog(logAcceptedKey + s.User); n != 2 {
		t.Fatalf("%d publickey logins, want 2", n)
	}
	if n := s.CountLog(logFailedPassword) + s.CountLog(logFailedKbd); n != 0 {
		t.Fatalf("%d failed password logins", n)
	}
	t.Run("no method left", func(t *testing.T) {
		oo := o
		oo.Auth = []string{AuthPassword}
		if _, err := Start(context.Background(), oo); !errors.Is(err, ErrBadOptions) {
			t.Fatalf("start: %v", err)
		}
	})
}

// TestForwardOpenBounded: a server that never confirms the channel (sshd
// frozen) does not hold Forward beyond its context; the caller keeps the
// socket, and the master serves the next forward once the server answers.
func TestForwardOpenBounded(t *testing.T) {
	s, o := rig(t, testpeer.SSHDConfig{PubkeyAuth: true})
	m := start(t, o)
	echo := testpeer.EchoServer(t)
	host, port := splitHostPort(t, echo)
	_, accepted := clientPair(t)
	s.Freeze()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := m.Forward(ctx, accepted, host, port)
	s.Thaw()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("forward to a frozen server: %v, want DeadlineExceeded", err)
	}
	if _, err := ReadCounts(accepted); err != nil {
		t.Fatalf("the caller's socket: %v", err)
	}
	c2, a2 := clientPair(t)
	f, err := m.Forward(ctxT(t, 30*time.Second), a2, host, port)
	if err != nil {
		t.Fatalf("forward after thaw: %v", err)
	}
	mustWrite(t, c2, []byte("thawed"))
	buf := make([]byte, 6)
	if _, err := io.ReadFull(c2, buf); err != nil || string(buf) != "thawed" {
		t.Fatalf("echo %q %v", buf, err)
	}
	f.Close()
}
