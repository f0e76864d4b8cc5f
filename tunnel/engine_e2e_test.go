package tunnel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh/knownhosts"

	"socksd/internal/relay"
	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
	"socksd/socks"
	"socksd/tunnel/openssh"
)

// TestMain lets the test binary serve as socksd's helpers: ssh runs it as
// the askpass program (through a link named openssh.AskpassName) and as
// the ProxyCommand of a via (`__proxy`).
func TestMain(m *testing.M) {
	if code, ok := HelperMain(os.Args, os.Stdin, os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

var allEngines = []string{EngineBuiltin, EngineOpenSSH}

// EnvTestEngine names the engine for a pass of the end-to-end tests that
// use e2e (SOCKSD_TEST_ENGINE=openssh); unset = builtin.
const EnvTestEngine = "SOCKSD_TEST_ENGINE"

// engineOptions sets the pool up for engine: the test binary as socksd's
// program and a short runtime directory.
func engineOptions(t *testing.T, engine string) func(*Options) {
	t.Helper()
	if engine == EngineOpenSSH {
		path := testpeer.RequireTool(t, "ssh")
		v, err := DetectOpenSSH(context.Background(), path)
		if err != nil || !v.Suitable() {
			testpeer.Missing(t, "no OpenSSH %d.%d or later: %q %v", MinOpenSSH[0], MinOpenSSH[1], v.Text, err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "se")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return func(o *Options) {
		o.Engine = engine
		o.Program = exe
		o.RuntimeDir = dir
	}
}

// e2eEngine is e2e with the given engine.
func e2eEngine(t *testing.T, engine string, cfg testpeer.SSHDConfig, mod func(*Options)) (*testpeer.SSHD, *Pool, Profile) {
	t.Helper()
	set := engineOptions(t, engine)
	return e2e(t, cfg, func(o *Options) {
		set(o)
		if mod != nil {
			mod(o)
		}
	})
}

// processGone reports whether no process has this PID any more.
func processGone(pid int) bool {
	return syscall.Kill(pid, 0) == syscall.ESRCH
}

func TestEngineDialShareSnapshot(t *testing.T) {
	for _, engine := range allEngines {
		t.Run(engine, func(t *testing.T) {
			s, p, prof := e2eEngine(t, engine, testpeer.SSHDConfig{PasswordAuth: true, KbdInteractive: true, PubkeyAuth: true}, nil)
			echo := testpeer.EchoServer(t)
			cred := Credentials{User: s.User, Password: []byte(s.Password)}
			var leases []*Lease
			for i := 0; i < 3; i++ {
				l, err := p.Open(context.Background(), prof, "", cred)
				if err != nil {
					t.Fatalf("open %d: %v\n%s", i, err, s.Log())
				}
				if l.Engine() != engine {
					t.Fatalf("Engine() = %q, want %q", l.Engine(), engine)
				}
				c, err := l.Dial(context.Background(), "tcp", echo)
				if err != nil {
					t.Fatalf("dial %d: %v", i, err)
				}
				echoOnce(t, c, fmt.Sprintf("%s %d", engine, i))
				c.Close()
				leases = append(leases, l)
			}
			snap := p.Snapshot()
			if len(snap) != 1 || snap[0].Engine != engine || snap[0].Leases != 3 || (engine == EngineOpenSSH) != (snap[0].PID != 0) {
				t.Fatalf("snapshot %+v, want one %s connection with 3 leases", snap, engine)
			}
			if n := s.CountLog(logAcceptedPassword); n != 1 {
				t.Fatalf("%d logins for 3 sessions, want 1", n)
			}
			// Another identity (the key, no password) never shares it.
			kp := prof
			kp.IdentityFiles = []string{s.ClientKeyFile}
			l, err := p.Open(context.Background(), kp, "", Credentials{User: s.User})
			if err != nil {
				t.Fatalf("open with key: %v", err)
			}
			if l.ID() == leases[0].ID() {
				t.Fatal("two identities share a connection")
			}
			leases = append(leases, l)
			snap = p.Snapshot()
			if len(snap) != 2 {
				t.Fatalf("snapshot %+v, want 2 connections", snap)
			}
			if engine == EngineOpenSSH && snap[0].PID == snap[1].PID {
				t.Fatalf("two identities share master %d", snap[0].PID)
			}
			for _, l := range leases {
				l.Close()
			}
			pids := pidsOf(snap)
			p.Close()
			for _, pid := range pids {
				if !processGone(pid) {
					t.Fatalf("master %d still there after Close", pid)
				}
			}
		})
	}
}

func pidsOf(snap []TunnelInfo) []int {
	var out []int
	for _, ti := range snap {
		if ti.PID != 0 {
			out = append(out, ti.PID)
		}
	}
	return out
}

func TestEngineSubsystem(t *testing.T) {
	for _, engine := range allEngines {
		t.Run(engine, func(t *testing.T) {
			s, p, prof := e2eEngine(t, engine, sftpServerConfig("internal-sftp", ""), nil)
			l, err := p.Open(context.Background(), prof, "", Credentials{User: s.User, Password: []byte(s.Password)})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			rw, err := l.Subsystem(context.Background(), "sftp")
			if err != nil {
				t.Fatalf("sftp subsystem: %v\n%s", err, s.Log())
			}
			// SSH_FXP_INIT version 3; the server answers SSH_FXP_VERSION.
			if _, err := rw.Write([]byte{0, 0, 0, 5, 1, 0, 0, 0, 3}); err != nil {
				t.Fatal(err)
			}
			hdr := make([]byte, 5)
			if _, err := io.ReadFull(rw, hdr); err != nil || hdr[4] != 2 {
				t.Fatalf("sftp version reply %v %v", hdr, err)
			}
			rw.Close()
		})
	}
}

func TestEngineHostKeyRefused(t *testing.T) {
	for _, engine := range allEngines {
		t.Run(engine, func(t *testing.T) {
			set := engineOptions(t, engine)
			s := testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true})
			empty := filepath.Join(t.TempDir(), "empty")
			os.WriteFile(empty, nil, 0o600)
			other := filepath.Join(t.TempDir(), "other")
			os.WriteFile(other, []byte(knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, newSigner(t).PublicKey())+"\n"), 0o600)
			prof := Profile{Name: "hk", Host: "127.0.0.1", Port: s.Port, Share: true}
			for _, tc := range []struct {
				file string
				want error
			}{{empty, ErrHostKeyUnknown}, {other, ErrHostKeyChanged}} {
				o := Options{KnownHosts: []string{tc.file}, KeepaliveInterval: -1, Logger: zerolog.New(zerolog.NewTestWriter(t))}
				set(&o)
				p, err := NewPool(o)
				if err != nil {
					t.Fatal(err)
				}
				_, err = p.Open(context.Background(), prof, "", Credentials{User: s.User, Password: []byte(s.Password)})
				p.Close()
				var hk *HostKeyError
				if !errors.As(err, &hk) || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), Fingerprint(s.HostKeyPub)) {
					t.Fatalf("err = %v, want a HostKeyError %v showing %s", err, tc.want, Fingerprint(s.HostKeyPub))
				}
			}
			if n := s.CountLog("userauth-request"); n != 0 {
				t.Fatalf("client authenticated to a refused server (%d requests)", n)
			}
		})
	}
}

func TestEngineWrongPasswordTriedOnce(t *testing.T) {
	for _, engine := range allEngines {
		t.Run(engine, func(t *testing.T) {
			// The default auth list: password, keyboard-interactive, publickey.
			s, p, prof := e2eEngine(t, engine, testpeer.SSHDConfig{PasswordAuth: true, KbdInteractive: true}, nil)
			bad := Credentials{User: s.User, Password: []byte("not-" + s.Password)}
			for i := 0; i < 3; i++ {
				_, err := p.Open(context.Background(), prof, "", bad)
				var ae *AuthError
				switch {
				case i == 0 && (!errors.As(err, &ae) || !errors.Is(err, ErrAuthFailed) || !ae.PasswordRejected):
					t.Fatalf("first: %v, want an AuthError with the password rejected", err)
				case i > 0 && !errors.Is(err, ErrPasswordRejectedRecently):
					t.Fatalf("attempt %d: %v, want ErrPasswordRejectedRecently", i, err)
				}
				if err != nil && strings.Contains(err.Error(), string(bad.Password)) {
					t.Fatal("error shows the password")
				}
			}
			s.WaitLog("Connection closed by authenticating user", 1, 10*time.Second)
			if n := s.CountLog(logFailedPassword) + s.CountLog(logFailedKbd); n != 1 {
				t.Fatalf("sshd logged %d failures, want 1\n%s", n, s.Log())
			}
		})
	}
}

func TestEngineUnreachable(t *testing.T) {
	for _, engine := range allEngines {
		t.Run(engine, func(t *testing.T) {
			set := engineOptions(t, engine)
			o := Options{KnownHosts: []string{filepath.Join(t.TempDir(), "kh")}, KeepaliveInterval: -1, ConnectTimeout: 5 * time.Second, Logger: zerolog.New(zerolog.NewTestWriter(t))}
			set(&o)
			p, err := NewPool(o)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			prof := Profile{Name: "down", Host: "127.0.0.1", Port: testpeer.FreePort(t, "127.0.0.1"), Share: true}
			_, err = p.Open(context.Background(), prof, "", Credentials{User: "nobody", Password: []byte("pw")})
			if !errors.Is(err, ErrServerUnreachable) {
				t.Fatalf("err = %v, want ErrServerUnreachable", err)
			}
		})
	}
}

func TestEngineChannelRefused(t *testing.T) {
	for _, engine := range allEngines {
		t.Run(engine, func(t *testing.T) {
			s, p, prof := e2eEngine(t, engine, testpeer.SSHDConfig{PasswordAuth: true, ExtraConfig: "PermitOpen 127.0.0.1:1"}, nil)
			l, err := p.Open(context.Background(), prof, "", Credentials{User: s.User, Password: []byte(s.Password)})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			for _, tc := range []struct {
				addr string
				want error
			}{{"127.0.0.1:3", ErrProhibited}, {"127.0.0.1:1", ErrConnectFailed}} {
				_, err := l.Dial(context.Background(), "tcp", tc.addr)
				var ce *ChannelError
				if !errors.As(err, &ce) || !errors.Is(err, tc.want) {
					t.Errorf("Dial %s: %v, want %v", tc.addr, err, tc.want)
				}
				// Splice: the same refusal; Ready was called (openssh) or not (builtin).
				client, server := tcpPair(t)
				ready := 0
				_, err = l.Splice(context.Background(), tc.addr, server, SpliceOptions{Ready: func() error { ready++; return nil }})
				if !errors.As(err, &ce) || !errors.Is(err, tc.want) {
					t.Errorf("Splice %s: %v, want %v", tc.addr, err, tc.want)
				}
				if want := map[string]int{EngineBuiltin: 0, EngineOpenSSH: 1}[engine]; ready != want {
					t.Errorf("Ready called %d times, want %d", ready, want)
				}
				client.Close()
				server.Close()
			}
		})
	}
}

// tcpPair returns both ends of a loopback TCP connection; server is what a
// daemon would have accepted.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan *net.TCPConn, 1)
	go func() {
		c, _ := ln.AcceptTCP()
		acc <- c
	}()
	client, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	server = <-acc
	if server == nil {
		t.Fatal("accept failed")
	}
	return client, server
}

// destination is a server for one connection that reports what it read.
// sinkFirst: it reads everything until EOF, then sends reply and closes;
// otherwise it sends reply and closes its sending side at once, then reads
// the client's bytes to the end.
func destination(t *testing.T, reply []byte, sinkFirst bool) (addr string, got <-chan []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if sinkFirst {
			b, _ := io.ReadAll(c)
			ch <- b
			c.Write(reply)
			return
		}
		c.Write(reply)
		c.(*net.TCPConn).CloseWrite()
		b, _ := io.ReadAll(c)
		ch <- b
	}()
	return ln.Addr().String(), ch
}

// TestEngineSpliceDestinationClosesFirst: the destination sends a little,
// closes its side, and reads on while the client uploads. The builtin
// engine carries the upload whole. OpenSSH's stdio forward stops reading
// the client at the destination's end of data (channels.c force_drain),
// so with openssh the upload may be cut: then Splice must say so
// (ErrInputDropped), never report a clean end with bytes missing.
func TestEngineSpliceDestinationClosesFirst(t *testing.T) {
	for _, engine := range allEngines {
		t.Run(engine, func(t *testing.T) {
			s, p, prof := e2eEngine(t, engine, testpeer.SSHDConfig{PasswordAuth: true}, nil)
			l, err := p.Open(context.Background(), prof, "", Credentials{User: s.User, Password: []byte(s.Password)})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			up, down := testpeer.Data(32<<20, 3), []byte("bye\n")
			addr, got := destination(t, down, false)
			client, server := tcpPair(t)
			defer client.Close()
			sp, err := l.Splice(context.Background(), addr, server, SpliceOptions{IdleTimeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				client.Write(up)
				client.CloseWrite()
			}()
			if back, err := io.ReadAll(client); !bytes.Equal(back, down) {
				t.Logf("client read %q, %v", back, err) // a cut upload may reset the connection first
			}
			res := sp.Wait()
			var dest []byte
			select {
			case dest = <-got:
			case <-time.After(time.Minute):
				t.Fatal("the destination did not finish reading")
			}
			whole := bytes.Equal(dest, up)
			switch {
			case engine == EngineBuiltin && (!whole || res.Err != nil):
				t.Fatalf("builtin: destination got %d of %d bytes, Wait: %v", len(dest), len(up), res.Err)
			case whole && res.Err != nil:
				t.Fatalf("the upload arrived whole, but Wait: %v", res.Err)
			case !whole && res.Err == nil:
				t.Fatalf("the destination got %d of %d bytes, and Wait reported a clean end (up %d)", len(dest), len(up), res.Up)
			case !whole && !errors.Is(res.Err, openssh.ErrInputDropped):
				t.Fatalf("the destination got %d of %d bytes; Wait: %v, want ErrInputDropped", len(dest), len(up), res.Err)
			case !whole && res.Up != int64(len(dest)):
				t.Errorf("bytes up %d, but the destination got %d", res.Up, len(dest))
			}
			t.Logf("destination got %d of %d bytes; Wait: %v", len(dest), len(up), res.Err)
		})
	}
}

func TestEngineSpliceExact(t *testing.T) {
	for _, engine := range allEngines {
		t.Run(engine, func(t *testing.T) {
			s, p, prof := e2eEngine(t, engine, testpeer.SSHDConfig{PasswordAuth: true}, nil)
			l, err := p.Open(context.Background(), prof, "", Credentials{User: s.User, Password: []byte(s.Password)})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			up, down := testpeer.Data(3<<20+17, 1), testpeer.Data(5<<20+3, 2)
			addr, got := destination(t, down, true)
			client, server := tcpPair(t)
			defer client.Close()
			var ctrs [2]relay.Counters
			var traced [2]atomic.Int64 // up, down: what Trace was told
			const hello = "ready\n"
			sp, err := l.Splice(context.Background(), addr, server, SpliceOptions{
				IdleTimeout: time.Minute,
				Counters:    []*relay.Counters{&ctrs[0], &ctrs[1]},
				Trace: func(up bool, n int) {
					if up {
						traced[0].Add(int64(n))
					} else {
						traced[1].Add(int64(n))
					}
				},
				Ready: func() error { _, err := server.Write([]byte(hello)); return err },
			})
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				client.Write(up)
				client.CloseWrite()
			}()
			all, err := io.ReadAll(client)
			if err != nil {
				t.Fatalf("client read: %v", err)
			}
			res := sp.Wait()
			if res.Err != nil {
				t.Fatalf("Wait: %v", res.Err)
			}
			if !bytes.Equal(all, append([]byte(hello), down...)) {
				t.Fatalf("client got %d bytes, want %d (reply then data)", len(all), len(hello)+len(down))
			}
			if b := <-got; !bytes.Equal(b, up) {
				t.Fatalf("destination got %d bytes, want %d", len(b), len(up))
			}
			// The Ready reply is the caller's, not the splice's.
			if res.Up != int64(len(up)) || res.Down != int64(len(down)) {
				t.Fatalf("counts up %d down %d, want %d %d", res.Up, res.Down, len(up), len(down))
			}
			for i := range ctrs {
				if ctrs[i].Up.Load() != res.Up || ctrs[i].Down.Load() != res.Down {
					t.Fatalf("counter %d: up %d down %d, want %d %d", i, ctrs[i].Up.Load(), ctrs[i].Down.Load(), res.Up, res.Down)
				}
			}
			// TRACE sees every byte too (openssh: from the kernel's counts).
			if traced[0].Load() != res.Up || traced[1].Load() != res.Down {
				t.Fatalf("traced up %d down %d, want %d %d", traced[0].Load(), traced[1].Load(), res.Up, res.Down)
			}
		})
	}
}

// endless is a destination that sends until the connection breaks.
func endless(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 32<<10)
				for {
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestEngineMasterKilledMidSplice(t *testing.T) {
	s, p, prof := e2eEngine(t, EngineOpenSSH, testpeer.SSHDConfig{PasswordAuth: true}, nil)
	cred := Credentials{User: s.User, Password: []byte(s.Password)}
	l, err := p.Open(context.Background(), prof, "", cred)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, server := tcpPair(t)
	defer client.Close()
	var ctr relay.Counters
	sp, err := l.Splice(context.Background(), endless(t), server, SpliceOptions{Counters: []*relay.Counters{&ctr}})
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, client)
	wait.Until(t, "bytes counted while the forward runs", 20*time.Second, func() bool { return ctr.Down.Load() > 1<<20 })
	pid := p.Snapshot()[0].PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	res := sp.Wait()
	if res.Err == nil || !errors.Is(res.Err, ErrTunnelClosed) {
		t.Fatalf("Wait after the master was killed: %v, want an error wrapping ErrTunnelClosed", res.Err)
	}
	if res.Down < 1<<20 || ctr.Down.Load() != res.Down {
		t.Fatalf("down %d, counter %d", res.Down, ctr.Down.Load())
	}
	wait.Until(t, "the dead master dropped", 20*time.Second, func() bool { return len(p.Snapshot()) == 0 })
	// The next session starts a new master.
	l2, err := p.Open(context.Background(), prof, "", cred)
	if err != nil {
		t.Fatalf("open after the master died: %v", err)
	}
	defer l2.Close()
	c, err := l2.Dial(context.Background(), "tcp", testpeer.EchoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, c, "new master")
	c.Close()
	if snap := p.Snapshot(); len(snap) != 1 || snap[0].PID == pid {
		t.Fatalf("snapshot %+v", snap)
	}
}

func TestEngineSpliceCloseAndIdle(t *testing.T) {
	for _, engine := range allEngines {
		t.Run(engine, func(t *testing.T) {
			s, p, prof := e2eEngine(t, engine, testpeer.SSHDConfig{PasswordAuth: true}, nil)
			l, err := p.Open(context.Background(), prof, "", Credentials{User: s.User, Password: []byte(s.Password)})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			echo := testpeer.EchoServer(t)
			// Close ends this connection only; the master stays.
			client, server := tcpPair(t)
			sp, err := l.Splice(context.Background(), echo, server, SpliceOptions{})
			if err != nil {
				t.Fatal(err)
			}
			echoOnce(t, client, "before close")
			sp.Close()
			if res := sp.Wait(); res.Err == nil || res.Up != int64(len("before close")) {
				t.Fatalf("after Close: %+v, want an error and exact counts", res)
			}
			client.Close()
			// Idle: nothing moves, the splice ends with relay.ErrIdle.
			client, server = tcpPair(t)
			defer client.Close()
			sp, err = l.Splice(context.Background(), echo, server, SpliceOptions{IdleTimeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if res := sp.Wait(); !errors.Is(res.Err, relay.ErrIdle) {
				t.Fatalf("idle splice: %v, want relay.ErrIdle", res.Err)
			}
			c, err := l.Dial(context.Background(), "tcp", echo)
			if err != nil {
				t.Fatalf("the connection did not survive: %v", err)
			}
			echoOnce(t, c, "still there")
			c.Close()
		})
	}
}

func TestEngineDropAndIdleStopMaster(t *testing.T) {
	s, p, prof := e2eEngine(t, EngineOpenSSH, testpeer.SSHDConfig{PasswordAuth: true}, func(o *Options) { o.IdleClose = 300 * time.Millisecond })
	cred := Credentials{User: s.User, Password: []byte(s.Password)}
	l, err := p.Open(context.Background(), prof, "", cred)
	if err != nil {
		t.Fatal(err)
	}
	snap := p.Snapshot()
	if err := p.Drop(snap[0].ID); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if !processGone(snap[0].PID) {
		t.Fatalf("master %d still there after Drop", snap[0].PID)
	}
	l, err = p.Open(context.Background(), prof, "", cred)
	if err != nil {
		t.Fatal(err)
	}
	pid := p.Snapshot()[0].PID
	l.Close()
	wait.Until(t, "the idle master closed", 20*time.Second, func() bool { return len(p.Snapshot()) == 0 && processGone(pid) })
}

func TestEngineSpread(t *testing.T) {
	for _, engine := range allEngines {
		t.Run(engine, func(t *testing.T) {
			s, p, prof := e2eEngine(t, engine, testpeer.SSHDConfig{PasswordAuth: true}, nil)
			prof.Spread = 2
			cred := Credentials{User: s.User, Password: []byte(s.Password)}
			var ls []*Lease
			for i := 0; i < 4; i++ {
				l, err := p.Open(context.Background(), prof, "", cred)
				if err != nil {
					t.Fatal(err)
				}
				ls = append(ls, l)
			}
			snap := p.Snapshot()
			if len(snap) != 2 || snap[0].Leases != 2 || snap[1].Leases != 2 {
				t.Fatalf("snapshot %+v, want 2 connections with 2 leases each", snap)
			}
			if engine == EngineOpenSSH && (snap[0].PID == 0 || snap[0].PID == snap[1].PID) {
				t.Fatalf("masters %d and %d", snap[0].PID, snap[1].PID)
			}
			for _, l := range ls {
				l.Close()
			}
			if n := s.WaitLog(logAcceptedPassword, 2, 10*time.Second); n != 2 {
				t.Fatalf("%d logins, want 2", n)
			}
			// Many at once: sessions do not wait for the second
			// connection, and no more than spread open.
			par := prof
			par.Name = "parallel"
			const n = 8
			errs := make(chan error, n)
			leases := make(chan *Lease, n)
			for i := 0; i < n; i++ {
				go func() {
					l, err := p.Open(context.Background(), par, "", cred)
					errs <- err
					leases <- l
				}()
			}
			for i := 0; i < n; i++ {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
				defer (<-leases).Close()
			}
			total, conns := 0, 0
			for _, ti := range p.Snapshot() {
				if ti.Profile == "parallel" {
					conns++
					total += ti.Leases
				}
			}
			if conns != 2 || total != n {
				t.Fatalf("%d connections with %d leases, want 2 with %d", conns, total, n)
			}
		})
	}
}

func TestEngineVia(t *testing.T) {
	for _, engine := range allEngines {
		t.Run(engine, func(t *testing.T) {
			s, p, prof := e2eEngine(t, engine, testpeer.SSHDConfig{PasswordAuth: true}, nil)
			sp := newSOCKSProxy(t, false)
			prof.Via = socks.ProxyURL("socks5://relay:viasecret@" + sp.addr)
			l, err := p.Open(context.Background(), prof, "", Credentials{User: s.User, Password: []byte(s.Password)})
			if err != nil {
				var me *openssh.MasterError
				if errors.As(err, &me) {
					t.Logf("stderr: %s", me.Stderr)
				}
				t.Fatalf("open via: %v", err)
			}
			defer l.Close()
			c, err := l.Dial(context.Background(), "tcp", testpeer.EchoServer(t))
			if err != nil {
				t.Fatal(err)
			}
			echoOnce(t, c, "via")
			c.Close()
			reqs := sp.requests()
			if len(reqs) != 1 || reqs[0].User != "relay" || string(reqs[0].Password) != "viasecret" || reqs[0].Dest.String() != s.Addr {
				t.Fatalf("proxy saw %+v", reqs)
			}
			if engine == EngineOpenSSH {
				pid := p.Snapshot()[0].PID
				for _, q := range append([]int{pid}, testpeer.Descendants(pid)...) {
					b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", q))
					if bytes.Contains(b, []byte("viasecret")) {
						t.Fatalf("process %d has the via password in argv: %q", q, b)
					}
				}
			}
		})
	}
}

func TestEngineAutoAndParse(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{{"", true}, {"builtin", true}, {"openssh", true}, {"auto", true}, {"OpenSSH", false}, {"ssh", false}} {
		if _, err := ParseEngine(tc.in); (err == nil) != tc.ok {
			t.Errorf("ParseEngine(%q) = %v", tc.in, err)
		}
	}
	for _, tc := range []struct {
		out          string
		major, minor int
		ok, suitable bool
	}{
		{"OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024", 9, 2, true, true},
		{"OpenSSH_8.4p1, OpenSSL 1.1.1", 8, 4, true, true},
		{"OpenSSH_8.3p1 z/OS", 8, 3, true, false},
		{"OpenSSH_7.6p1, LibreSSL", 7, 6, true, false},
		{"OpenSSH_10.0p2", 10, 0, true, true},
		{"Sun_SSH_1.1", 0, 0, false, false},
	} {
		maj, min, ok := ParseOpenSSHVersion(tc.out)
		v := OpenSSHVersion{Major: maj, Minor: min}
		if maj != tc.major || min != tc.minor || ok != tc.ok || v.Suitable() != tc.suitable {
			t.Errorf("%q: %d.%d %v suitable %v", tc.out, maj, min, ok, v.Suitable())
		}
	}
	// auto without a usable ssh is builtin; openssh without one is an error.
	missing := filepath.Join(t.TempDir(), "no-ssh")
	p, err := NewPool(Options{OpenSSH: missing, Engine: EngineAuto, Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if e, err := p.EngineOf(Profile{}); e != EngineBuiltin || err != nil {
		t.Fatalf("auto without ssh: %s %v", e, err)
	}
	if e, err := p.EngineOf(Profile{Engine: EngineOpenSSH}); e != EngineOpenSSH || !errors.Is(err, ErrEngineUnavailable) {
		t.Fatalf("openssh without ssh: %s %v", e, err)
	}
	if _, err := exec.LookPath("ssh"); err == nil {
		p2, _ := NewPool(Options{Engine: EngineAuto, Logger: zerolog.New(zerolog.NewTestWriter(t))})
		defer p2.Close()
		v, derr := p2.OpenSSH()
		if e, _ := p2.EngineOf(Profile{}); (e == EngineOpenSSH) != (derr == nil && v.Suitable()) {
			t.Fatalf("auto with %q: %s", v.Text, e)
		}
	}
	// An OpenSSH older than 8.4 carries key-only profiles only.
	old, err := NewPool(Options{Engine: EngineAuto, Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	old.eng.detectOnce.Do(func() { old.eng.version = OpenSSHVersion{Path: "ssh", Text: "OpenSSH_8.2p1", Major: 8, Minor: 2} })
	keys := Profile{Auth: []string{AuthPublicKey}}
	for _, tc := range []struct {
		prof Profile
		want string
		err  bool
	}{
		{Profile{}, EngineBuiltin, false},
		{keys, EngineOpenSSH, false},
		{Profile{Auth: []string{AuthPublicKey}, PassphraseFile: "/p"}, EngineBuiltin, false},
		{Profile{Engine: EngineOpenSSH}, EngineOpenSSH, true},
		{Profile{Engine: EngineOpenSSH, Auth: []string{AuthPublicKey}}, EngineOpenSSH, false},
	} {
		if e, err := old.EngineOf(tc.prof); e != tc.want || (err != nil) != tc.err {
			t.Errorf("OpenSSH 8.2, profile %+v: %s %v", tc.prof, e, err)
		}
	}
	if _, err := NewPool(Options{Engine: "fast"}); err == nil {
		t.Fatal("NewPool took an unknown engine")
	}
	if err := (Profile{Name: "x", Engine: "fast", Spread: -1}).Check(); err == nil || !strings.Contains(err.Error(), "engine") || !strings.Contains(err.Error(), "spread") {
		t.Fatalf("Check: %v", err)
	}
}

func TestEngineFrozenServerKeepalive(t *testing.T) {
	for _, engine := range allEngines {
		t.Run(engine, func(t *testing.T) {
			var log logBuffer
			s, p, prof := e2eEngine(t, engine, testpeer.SSHDConfig{PasswordAuth: true}, func(o *Options) {
				o.KeepaliveInterval = time.Second
				o.KeepaliveMax = 2
				o.Logger = zerolog.New(&log)
			})
			l, err := p.Open(context.Background(), prof, "", Credentials{User: s.User, Password: []byte(s.Password)})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			pid := p.Snapshot()[0].PID
			s.Freeze()
			defer s.Thaw()
			wait.Until(t, "keepalive to drop the frozen connection", 30*time.Second, func() bool { return len(p.Snapshot()) == 0 })
			if !strings.Contains(log.String(), "SOX0207W") {
				t.Fatalf("no SOX0207W:\n%s", log.String())
			}
			if pid != 0 && !processGone(pid) {
				t.Fatalf("master %d still there", pid)
			}
		})
	}
}

// A wrong password with a key that works: logged in by the key, the
// password remembered as rejected (SOX0212W), and never sent again.
func TestEngineWrongPasswordKeyLogsIn(t *testing.T) {
	for _, engine := range allEngines {
		t.Run(engine, func(t *testing.T) {
			var log logBuffer
			s, p, prof := e2eEngine(t, engine, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true}, func(o *Options) { o.Logger = zerolog.New(&log) })
			prof.Auth = []string{AuthPassword, AuthPublicKey}
			prof.IdentityFiles = []string{s.ClientKeyFile}
			bad := Credentials{User: s.User, Password: []byte("not-" + s.Password)}
			l, err := p.Open(context.Background(), prof, "", bad)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer l.Close()
			if snap := p.Snapshot(); len(snap) != 1 || !strings.HasPrefix(snap[0].Method, AuthPublicKey) {
				t.Fatalf("snapshot %+v, want method publickey", snap)
			}
			if !strings.Contains(log.String(), "SOX0212W") {
				t.Fatalf("no SOX0212W:\n%s", log.String())
			}
			if _, err := p.Open(context.Background(), prof, "", bad); !errors.Is(err, ErrPasswordRejectedRecently) {
				t.Fatalf("second open: %v, want ErrPasswordRejectedRecently", err)
			}
			if n := s.CountLog(logFailedPassword); n != 1 {
				t.Fatalf("%d password failures, want 1", n)
			}
		})
	}
}

// A conn that is not a TCP socket cannot be handed to a master: the
// openssh engine relays it over a proxy-mode channel instead.
func TestEngineSpliceNotTCP(t *testing.T) {
	s, p, prof := e2eEngine(t, EngineOpenSSH, testpeer.SSHDConfig{PasswordAuth: true}, nil)
	l, err := p.Open(context.Background(), prof, "", Credentials{User: s.User, Password: []byte(s.Password)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, server := net.Pipe()
	var ctr relay.Counters
	sp, err := l.Splice(context.Background(), testpeer.EchoServer(t), server, SpliceOptions{Counters: []*relay.Counters{&ctr}})
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, client, "through a pipe")
	client.Close()
	res := sp.Wait()
	if res.Up != int64(len("through a pipe")) || ctr.Up.Load() != res.Up || res.Down != res.Up {
		t.Fatalf("result %+v, counter up %d", res, ctr.Up.Load())
	}
}

// accept-new records an unknown key (SOX0210I) with either engine, and the
// file then serves the strict policy.
func TestEngineAcceptNew(t *testing.T) {
	for _, engine := range allEngines {
		t.Run(engine, func(t *testing.T) {
			set := engineOptions(t, engine)
			s := testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true})
			kh := filepath.Join(t.TempDir(), "known_hosts")
			prof := Profile{Name: "an", Host: "127.0.0.1", Port: s.Port, Share: true}
			cred := Credentials{User: s.User, Password: []byte(s.Password)}
			for _, policy := range []string{PolicyAcceptNew, PolicyStrict} {
				var log logBuffer
				o := Options{KnownHosts: []string{kh}, HostKeyPolicy: policy, KeepaliveInterval: -1, Logger: zerolog.New(&log)}
				set(&o)
				p, err := NewPool(o)
				if err != nil {
					t.Fatal(err)
				}
				l, err := p.Open(context.Background(), prof, "", cred)
				if err != nil {
					p.Close()
					t.Fatalf("%s: %v", policy, err)
				}
				l.Close()
				p.Close()
				recorded := strings.Contains(log.String(), "SOX0210I") && strings.Contains(log.String(), Fingerprint(s.HostKeyPub))
				if recorded != (policy == PolicyAcceptNew) {
					t.Fatalf("%s: SOX0210I with the fingerprint logged: %v\n%s", policy, recorded, log.String())
				}
			}
		})
	}
}
