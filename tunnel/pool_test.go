package tunnel

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"socksd/internal/testing/wait"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"

	"socksd/internal/testing/testpeer"
)

func TestShareOneIdentity(t *testing.T) {
	s := newTestServer(t)
	p := testPool(t, s, nil)
	echo := testpeer.EchoServer(t)
	prof := testProfile(s)
	cred := Credentials{User: "alice", Password: []byte("s3cret")}
	const n = 30
	var wg sync.WaitGroup
	errs := make(chan error, n)
	conns := make(chan net.Conn, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := p.Dial(context.Background(), prof, "ignored", cred, echo)
			if err != nil {
				errs <- err
				return
			}
			conns <- c
		}()
	}
	wg.Wait()
	close(errs)
	close(conns)
	for err := range errs {
		t.Fatalf("dial: %v", err)
	}
	i := 0
	for c := range conns {
		echoOnce(t, c, fmt.Sprintf("hello %d", i))
		i++
	}
	pw, _, sconns, chans := s.counts()
	if sconns != 1 || pw != 1 || chans != n {
		t.Fatalf("server saw %d connections, %d password attempts, %d channels; want 1, 1, %d", sconns, pw, chans, n)
	}
	snap := p.Snapshot()
	if len(snap) != 1 || snap[0].Channels != n || snap[0].TotalChannels != n || snap[0].Method != AuthPassword {
		t.Fatalf("snapshot = %+v", snap)
	}
	if snap[0].BytesUp == 0 || snap[0].BytesDown != snap[0].BytesUp {
		t.Fatalf("byte counts in=%d out=%d", snap[0].BytesDown, snap[0].BytesUp)
	}
}

func TestIdentitiesDoNotShare(t *testing.T) {
	s := newTestServer(t)
	s.authKeys = nil
	p := testPool(t, s, nil)
	echo := testpeer.EchoServer(t)
	prof := testProfile(s)
	good := Credentials{User: "alice", Password: []byte("s3cret")}
	l1, err := p.Open(context.Background(), prof, "", good)
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close()
	l2, err := p.Open(context.Background(), prof, "", good)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l1.ID() != l2.ID() {
		t.Fatalf("same identity on %s and %s", l1.ID(), l2.ID())
	}
	// Another profile name is another identity.
	other := prof
	other.Name = "other"
	l3, err := p.Open(context.Background(), other, "", good)
	if err != nil {
		t.Fatal(err)
	}
	defer l3.Close()
	if l3.ID() == l1.ID() {
		t.Fatal("another profile shared the connection")
	}
	// A wrong password for the same user never rides the good connection.
	_, err = p.Open(context.Background(), prof, "", Credentials{User: "alice", Password: []byte("guess")})
	if !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("wrong password: err = %v, want ErrAuthFailed", err)
	}
	// Unshared profiles get their own connection each time.
	unshared := prof
	unshared.Share = false
	l4, err := p.Open(context.Background(), unshared, "", good)
	if err != nil {
		t.Fatal(err)
	}
	l5, err := p.Open(context.Background(), unshared, "", good)
	if err != nil {
		t.Fatal(err)
	}
	if l4.ID() == l5.ID() || l4.ID() == l1.ID() {
		t.Fatalf("unshared leases on %s, %s (shared %s)", l4.ID(), l5.ID(), l1.ID())
	}
	c, err := l4.Dial(context.Background(), "tcp", echo)
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, c, "x")
	c.Close()
	l4.Close()
	l5.Close()
	// An unshared connection closes as soon as nothing uses it.
	wait.Until(t, "unshared connections to close", 10*time.Second, func() bool { return len(p.Snapshot()) == 2 })
	_, _, conns, _ := s.counts()
	if conns != 4 {
		t.Fatalf("server saw %d authenticated connections, want 4", conns)
	}
}

func TestMaxChannelsOpensNewConnection(t *testing.T) {
	s := newTestServer(t)
	p := testPool(t, s, nil)
	echo := testpeer.EchoServer(t)
	prof := testProfile(s)
	prof.MaxChannels = 2
	cred := Credentials{User: "alice", Password: []byte("s3cret")}
	var cs []net.Conn
	for i := 0; i < 5; i++ {
		c, err := p.Dial(context.Background(), prof, "", cred, echo)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	if n := len(p.Snapshot()); n != 3 {
		t.Fatalf("%d connections for 5 channels with max 2, want 3", n)
	}
	for _, info := range p.Snapshot() {
		if info.Channels > 2 {
			t.Fatalf("%s carries %d channels", info.ID, info.Channels)
		}
	}
	for _, c := range cs {
		c.Close()
	}
	// A freed slot is reused instead of a new connection.
	c, err := p.Dial(context.Background(), prof, "", cred, echo)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, _, conns, _ := s.counts(); conns != 3 {
		t.Fatalf("server saw %d connections, want 3", conns)
	}
}

// An FTP session reserves two channels (control and data, which must ride
// the same connection): the data channels never push a connection past
// max_channels.
func TestSessionChannelsReserveRoom(t *testing.T) {
	s := newTestServer(t)
	p := testPool(t, s, nil)
	echo := testpeer.EchoServer(t)
	prof := testProfile(s)
	prof.MaxChannels = 4
	prof.SessionChannels = 2
	cred := Credentials{User: "alice", Password: []byte("s3cret")}
	var conns []net.Conn
	for i := 0; i < 5; i++ {
		l, err := p.Open(context.Background(), prof, "", cred)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		for j := 0; j < 2; j++ { // control, then data
			c, err := l.Dial(context.Background(), "tcp", echo)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	snap := p.Snapshot()
	if len(snap) != 3 {
		t.Fatalf("%d connections for 5 two-channel sessions with max 4, want 3", len(snap))
	}
	for _, info := range snap {
		if info.Channels > 4 {
			t.Fatalf("%s carries %d channels, more than max_channels", info.ID, info.Channels)
		}
	}
}

func TestIdleClose(t *testing.T) {
	s := newTestServer(t)
	p := testPool(t, s, func(o *Options) { o.IdleClose = 50 * time.Millisecond })
	echo := testpeer.EchoServer(t)
	cred := Credentials{User: "alice", Password: []byte("s3cret")}
	l, err := p.Open(context.Background(), testProfile(s), "", cred)
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.Dial(context.Background(), "tcp", echo)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	// The open channel keeps the connection.
	echoOnce(t, c, "still here")
	c.Close()
	wait.Until(t, "idle connection to close", 10*time.Second, func() bool { return len(p.Snapshot()) == 0 })
	// The next session reconnects.
	c, err = p.Dial(context.Background(), testProfile(s), "", cred, echo)
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, c, "again")
	c.Close()
	if _, _, conns, _ := s.counts(); conns != 2 {
		t.Fatalf("server saw %d connections, want 2", conns)
	}
}

func TestKeepaliveDetectsFrozenServer(t *testing.T) {
	s := newTestServer(t)
	p := testPool(t, s, func(o *Options) {
		o.KeepaliveInterval = 20 * time.Millisecond
		o.KeepaliveMax = 3
	})
	echo := testpeer.EchoServer(t)
	cred := Credentials{User: "alice", Password: []byte("s3cret")}
	l, err := p.Open(context.Background(), testProfile(s), "", cred)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	first := l.ID()
	open, err := l.Dial(context.Background(), "tcp", echo)
	if err != nil {
		t.Fatal(err)
	}
	s.frozen.Store(true)
	wait.Until(t, "frozen connection to be dropped", 10*time.Second, func() bool { return len(p.Snapshot()) == 0 })
	if _, err := l.Dial(context.Background(), "tcp", echo); !errors.Is(err, ErrTunnelClosed) {
		t.Fatalf("dial on dropped connection: %v, want ErrTunnelClosed", err)
	}
	if _, err := open.Read(make([]byte, 1)); !errors.Is(err, ErrTunnelClosed) || errors.Is(err, context.Canceled) {
		t.Fatalf("read on a channel of the dropped connection: %v, want ErrTunnelClosed", err)
	}
	open.Close()
	s.frozen.Store(false)
	c, err := p.Dial(context.Background(), testProfile(s), "", cred, echo)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echoOnce(t, c, "reconnected")
	snap := p.Snapshot()
	if len(snap) != 1 || snap[0].ID == first {
		t.Fatalf("snapshot after reconnect: %+v", snap)
	}
}

func TestKeepaliveKeepsLiveServer(t *testing.T) {
	s := newTestServer(t)
	p := testPool(t, s, func(o *Options) {
		// Generous: a loaded machine must not look like a dead server.
		o.KeepaliveInterval = 50 * time.Millisecond
		o.KeepaliveMax = 20
	})
	l, err := p.Open(context.Background(), testProfile(s), "", Credentials{User: "alice", Password: []byte("s3cret")})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Wait until the server has answered many keepalives; the connection
	// must still be there.
	c := p.byIDForTest(l.ID())
	wait.Until(t, "keepalives", 10*time.Second, func() bool { return c.keepaliveReplies.Load() >= 5 })
	if len(p.Snapshot()) != 1 {
		t.Fatal("a live connection was dropped")
	}
}

func TestServerRestartReconnects(t *testing.T) {
	s := newTestServer(t)
	p := testPool(t, s, nil)
	echo := testpeer.EchoServer(t)
	cred := Credentials{User: "alice", Password: []byte("s3cret")}
	c, err := p.Dial(context.Background(), testProfile(s), "", cred, echo)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.closeConns()
	wait.Until(t, "dead connection to leave the pool", 10*time.Second, func() bool { return len(p.Snapshot()) == 0 })
	c, err = p.Dial(context.Background(), testProfile(s), "", cred, echo)
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, c, "back")
	c.Close()
}

func TestPasswordOfferedOnce(t *testing.T) {
	tests := []struct {
		name        string
		pw, kbd     bool
		auth        []string
		wantPW      int
		wantKbd     int
		kbdPrompt   string
		wantTried   string
		rejectAfter bool
	}{
		{name: "password then kbd", pw: true, kbd: true, auth: []string{"password", "keyboard-interactive"}, wantPW: 1, rejectAfter: true},
		{name: "kbd then password", pw: true, kbd: true, auth: []string{"keyboard-interactive", "password"}, wantKbd: 1, rejectAfter: true},
		{name: "kbd only server", kbd: true, auth: []string{"password", "keyboard-interactive"}, wantKbd: 1, rejectAfter: true},
		{name: "password only server", pw: true, auth: []string{"keyboard-interactive", "password"}, wantPW: 1, rejectAfter: true},
		{name: "kbd other prompt", kbd: true, kbdPrompt: "Verification code: ", auth: []string{"keyboard-interactive"}, rejectAfter: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, func(s *testServer) {
				s.password_, s.kbd, s.pubkey = tc.pw, tc.kbd, false
				if tc.kbdPrompt != "" {
					s.kbdPrompt = tc.kbdPrompt
				}
			})
			p := testPool(t, s, nil)
			prof := testProfile(s)
			prof.Auth = tc.auth
			bad := Credentials{User: "alice", Password: []byte("wrong")}
			_, err := p.Open(context.Background(), prof, "", bad)
			var ae *AuthError
			if !errors.As(err, &ae) || !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("first attempt: %v, want *AuthError ErrAuthFailed", err)
			}
			if strings.Contains(err.Error(), "wrong") {
				t.Fatalf("error shows the password: %v", err)
			}
			for i := 0; i < 3; i++ {
				_, err = p.Open(context.Background(), prof, "", bad)
				if tc.rejectAfter && !errors.Is(err, ErrPasswordRejectedRecently) {
					t.Fatalf("retry %d: %v, want ErrPasswordRejectedRecently", i, err)
				}
			}
			pw, kbd, _, _ := s.counts()
			if tc.rejectAfter && (pw != tc.wantPW || kbd != tc.wantKbd) {
				t.Fatalf("server saw %d password and %d keyboard-interactive attempts, want %d and %d", pw, kbd, tc.wantPW, tc.wantKbd)
			}
			if !tc.rejectAfter && (pw != 0 || kbd != 0) {
				t.Fatalf("password sent to a non-password prompt: %d/%d", pw, kbd)
			}
			// The right password is not blocked by the wrong one's memory.
			if tc.rejectAfter {
				l, err := p.Open(context.Background(), prof, "", Credentials{User: "alice", Password: []byte("s3cret")})
				if err != nil {
					t.Fatalf("good password after a bad one: %v", err)
				}
				l.Close()
			}
		})
	}
}

func TestRejectMemoryExpires(t *testing.T) {
	s := newTestServer(t, func(s *testServer) { s.kbd, s.pubkey = false, false })
	p := testPool(t, s, func(o *Options) { o.RejectMemory = time.Millisecond })
	prof := testProfile(s)
	bad := Credentials{User: "alice", Password: []byte("wrong")}
	if _, err := p.Open(context.Background(), prof, "", bad); !errors.Is(err, ErrAuthFailed) {
		t.Fatal(err)
	}
	wait.Until(t, "memory to expire", 5*time.Second, func() bool {
		return !p.rejects.rejected(keyedHash(p.hmacKey, []byte("reject"), []byte(s.addr), []byte("alice"), []byte("wrong")), time.Now())
	})
	if _, err := p.Open(context.Background(), prof, "", bad); !errors.Is(err, ErrAuthFailed) || errors.Is(err, ErrPasswordRejectedRecently) {
		t.Fatalf("after expiry: %v, want a fresh ErrAuthFailed", err)
	}
	if pw, _, _, _ := s.counts(); pw != 2 {
		t.Fatalf("password attempts = %d, want 2", pw)
	}
}

func TestChannelErrorsTyped(t *testing.T) {
	s := newTestServer(t)
	p := testPool(t, s, nil)
	l, err := p.Open(context.Background(), testProfile(s), "", Credentials{User: "alice", Password: []byte("s3cret")})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a := ln.Addr().String()
		ln.Close()
		return a
	}()
	tests := []struct {
		addr string
		want error
	}{
		{"prohibited.invalid:21", ErrProhibited},
		{"unreachable.invalid:21", ErrUnreachable},
		{closed, ErrConnectFailed},
	}
	for _, tc := range tests {
		_, err := l.Dial(context.Background(), "tcp", tc.addr)
		var ce *ChannelError
		if !errors.As(err, &ce) || !errors.Is(err, tc.want) {
			t.Errorf("Dial(%s) = %v, want %v", tc.addr, err, tc.want)
		}
	}
	for _, bad := range []string{"nohost", ":21", "h:0", "h:99999"} {
		if _, err := l.Dial(context.Background(), "tcp", bad); err == nil {
			t.Errorf("Dial(%q) succeeded", bad)
		}
	}
	if _, err := l.Dial(context.Background(), "udp", "h:53"); err == nil {
		t.Error("udp dial succeeded")
	}
	if info := p.Snapshot(); len(info) != 1 || info[0].Channels != 0 {
		t.Fatalf("failed channels still counted: %+v", info)
	}
}

func TestHalfClose(t *testing.T) {
	s := newTestServer(t)
	p := testPool(t, s, nil)
	echo := testpeer.EchoServer(t)
	c, err := p.Dial(context.Background(), testProfile(s), "", Credentials{User: "alice", Password: []byte("s3cret")}, echo)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "last words" {
		t.Fatalf("after CloseWrite read %q, %v", b, err)
	}
}

func TestDropAndClose(t *testing.T) {
	s := newTestServer(t)
	p := testPool(t, s, nil)
	echo := testpeer.EchoServer(t)
	cred := Credentials{User: "alice", Password: []byte("s3cret")}
	c, err := p.Dial(context.Background(), testProfile(s), "", cred, echo)
	if err != nil {
		t.Fatal(err)
	}
	id := p.Snapshot()[0].ID
	if err := p.Drop("T9999"); !errors.Is(err, ErrNoSuchTunnel) {
		t.Fatalf("Drop unknown: %v", err)
	}
	if err := p.Drop(strings.ToLower(id)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, ErrTunnelClosed) || !errors.Is(err, context.Canceled) {
		t.Fatalf("read after DROP: %v, want ErrTunnelClosed and context.Canceled (not the destination's EOF)", err)
	}
	c.Close()
	if n := len(p.Snapshot()); n != 0 {
		t.Fatalf("%d connections after drop", n)
	}
	if _, err := p.Dial(context.Background(), testProfile(s), "", cred, echo); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if n := len(p.Snapshot()); n != 0 {
		t.Fatalf("%d connections after Close", n)
	}
	if _, err := p.Open(context.Background(), testProfile(s), "", cred); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("Open after Close: %v", err)
	}
}

func TestConnectTimeout(t *testing.T) {
	// A server that accepts TCP but never speaks SSH.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	p, err := NewPool(Options{ConnectTimeout: 100 * time.Millisecond, KeepaliveInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, err = p.Open(context.Background(), Profile{Name: "x", Host: "127.0.0.1", Port: port, Share: true}, "", Credentials{User: "u", Password: []byte("p")})
	if !errors.Is(err, ErrServerUnreachable) {
		t.Fatalf("err = %v, want ErrServerUnreachable", err)
	}
}

func TestOpenResolvesHostAndUser(t *testing.T) {
	s := newTestServer(t)
	p := testPool(t, s, nil)
	prof := Profile{Name: "dest", Port: s.port, Share: true}
	l, err := p.Open(context.Background(), prof, "127.0.0.1", Credentials{User: "alice", Password: []byte("s3cret")})
	if err != nil {
		t.Fatal(err)
	}
	if l.Server() != s.addr || l.User() != "alice" {
		t.Fatalf("server %s user %s", l.Server(), l.User())
	}
	l.Close()
	prof.User = "alice"
	l, err = p.Open(context.Background(), prof, "127.0.0.1", Credentials{User: "jobuser", Password: []byte("s3cret")})
	if err != nil {
		t.Fatalf("profile user: %v", err)
	}
	l.Close()
	bad := []struct {
		prof Profile
		dest string
		cred Credentials
	}{
		{Profile{Name: "nohost", Port: s.port}, "", Credentials{User: "a"}},
		{Profile{Name: "nouser", Port: s.port}, "127.0.0.1", Credentials{}},
		{Profile{Name: "badauth", Port: s.port, Auth: []string{"hostbased"}}, "127.0.0.1", Credentials{User: "a"}},
		{Profile{Name: "dupauth", Port: s.port, Auth: []string{"password", "password"}}, "127.0.0.1", Credentials{User: "a"}},
		{Profile{Name: "badport", Port: 70000}, "127.0.0.1", Credentials{User: "a"}},
		{Profile{Name: "badvia", Port: s.port, Via: "http://x:1"}, "127.0.0.1", Credentials{User: "a"}},
	}
	for _, b := range bad {
		if _, err := p.Open(context.Background(), b.prof, b.dest, b.cred); !errors.Is(err, ErrBadProfile) {
			t.Errorf("profile %s: err = %v, want ErrBadProfile", b.prof.Name, err)
		}
	}
}

func TestCredentialsHidePassword(t *testing.T) {
	c := Credentials{User: "bob", Password: []byte("hunter2")}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprint(&c)} {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("password shown: %s", s)
		}
	}
	if b, _ := c.MarshalText(); strings.Contains(string(b), "hunter2") {
		t.Fatal("MarshalText shows the password")
	}
}

func (p *Pool) byIDForTest(id string) *tconn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.byID[id]
}

func TestNoUsableMethodDoesNotConnect(t *testing.T) {
	s := newTestServer(t)
	p := testPool(t, s, nil)
	prof := testProfile(s)
	prof.IdentityFiles = []string{"/nonexistent/id_ed25519"}
	_, err := p.Open(context.Background(), prof, "", Credentials{User: "alice"})
	var ae *AuthError
	if !errors.As(err, &ae) || !errors.Is(err, ErrAuthFailed) || !strings.Contains(err.Error(), "no password given") {
		t.Fatalf("err = %v", err)
	}
	prof.Auth = []string{AuthPassword}
	if _, err := p.Open(context.Background(), prof, "", Credentials{User: "alice"}); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("password-only profile without a password: %v", err)
	}
	if _, _, conns, _ := s.counts(); conns != 0 {
		t.Fatalf("server saw %d connections", conns)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.accepted != 0 {
		t.Fatalf("server accepted %d TCP connections", s.accepted)
	}
}

func TestPasswordOutcomeUnknownIsNotRemembered(t *testing.T) {
	stall := make(chan struct{})
	s := newTestServer(t, func(s *testServer) { s.kbd, s.pubkey, s.stall = false, false, stall })
	var log logBuffer
	p := testPool(t, s, func(o *Options) { o.ConnectTimeout = 200 * time.Millisecond; o.Logger = zerolog.New(&log) })
	prof := testProfile(s)
	good := Credentials{User: "alice", Password: []byte("s3cret")}
	// The server does not answer the password before connect_timeout.
	_, err := p.Open(context.Background(), prof, "", good)
	if !errors.Is(err, ErrServerUnreachable) || errors.Is(err, ErrAuthFailed) {
		t.Fatalf("stalled password check: %v, want ErrServerUnreachable", err)
	}
	want := `"level":"warn","server":"` + s.addr + `","user":"alice","profile":"test","message":"SOX0213W SSH connection to ` + s.addr + ` for user alice lost after the password was sent; outcome unknown"`
	if !strings.Contains(log.String(), want) || strings.Contains(log.String(), "s3cret") {
		t.Errorf("log lacks %s (or shows the password):\n%s", want, log.String())
	}
	close(stall)
	// Not remembered as rejected: the next attempt goes to the server (a
	// loaded machine may need more than the short connect_timeout).
	var l *Lease
	for attempt := 0; attempt < 10; attempt++ {
		l, err = p.Open(context.Background(), prof, "", good)
		if !errors.Is(err, ErrServerUnreachable) {
			break
		}
	}
	if err != nil {
		t.Fatalf("after the stall: %v", err)
	}
	l.Close()
}

func TestPasswordAnsweredByDisconnectIsRemembered(t *testing.T) {
	s := newTestServer(t, func(s *testServer) { s.kbd, s.pubkey, s.maxTries = false, false, 1 })
	p := testPool(t, s, nil)
	prof := testProfile(s)
	bad := Credentials{User: "alice", Password: []byte("wrong")}
	if _, err := p.Open(context.Background(), prof, "", bad); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("first: %v, want ErrAuthFailed", err)
	}
	if _, err := p.Open(context.Background(), prof, "", bad); !errors.Is(err, ErrPasswordRejectedRecently) {
		t.Fatalf("second: %v, want ErrPasswordRejectedRecently", err)
	}
	if pw, _, _, _ := s.counts(); pw != 1 {
		t.Fatalf("%d password attempts, want 1", pw)
	}
}

func TestConcurrentWrongPasswordOnce(t *testing.T) {
	s := newTestServer(t, func(s *testServer) { s.pubkey = false })
	p := testPool(t, s, nil)
	bad := Credentials{User: "alice", Password: []byte("wrong")}
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			prof := testProfile(s)
			prof.Share = i%2 == 0 // unshared and other profile names too
			prof.Name = fmt.Sprintf("p%d", i%3)
			_, err := p.Open(context.Background(), prof, "", bad)
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrAuthFailed) && !errors.Is(err, ErrPasswordRejectedRecently) {
			t.Fatalf("err = %v", err)
		}
	}
	if pw, kbd, _, _ := s.counts(); pw+kbd != 1 {
		t.Fatalf("server saw %d password and %d keyboard-interactive attempts for %d concurrent sessions, want 1 in all", pw, kbd, n)
	}
}

// writeKey writes an OpenSSH private key file for a new ed25519 key and
// returns its path and signer.
func writeKey(t *testing.T, passphrase string) (string, ssh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(f, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return f, s
}

func TestAuthOrder(t *testing.T) {
	keyFile, signer := writeKey(t, "")
	tests := []struct {
		auth       []string
		cred       Credentials
		wantMethod string
		wantPW     int
	}{
		{[]string{"publickey", "password"}, Credentials{User: "alice", Password: []byte("s3cret")}, "publickey(identity files)", 0},
		{[]string{"password", "publickey"}, Credentials{User: "alice", Password: []byte("s3cret")}, "password", 1},
		{[]string{"keyboard-interactive", "publickey"}, Credentials{User: "alice", Password: []byte("s3cret")}, "keyboard-interactive", 0},
		// No password from the application: straight to the key.
		{[]string{"password", "keyboard-interactive", "publickey"}, Credentials{User: "alice"}, "publickey(identity files)", 0},
		// A wrong password falls through to the key, and is remembered.
		{[]string{"password", "publickey"}, Credentials{User: "alice", Password: []byte("wrong")}, "publickey(identity files)", 1},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.auth, ",")+"/"+tc.cred.String(), func(t *testing.T) {
			s := newTestServer(t, func(s *testServer) { s.authKeys = []ssh.PublicKey{signer.PublicKey()} })
			var log logBuffer
			p := testPool(t, s, func(o *Options) { o.Logger = zerolog.New(&log) })
			prof := testProfile(s)
			prof.Auth = tc.auth
			prof.IdentityFiles = []string{keyFile}
			l, err := p.Open(context.Background(), prof, "", tc.cred)
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			if snap := p.Snapshot(); len(snap) != 1 || snap[0].Method != tc.wantMethod {
				t.Fatalf("method %+v, want %s", snap, tc.wantMethod)
			}
			if pw, _, _, _ := s.counts(); pw != tc.wantPW {
				t.Fatalf("%d password attempts, want %d", pw, tc.wantPW)
			}
			want := `{"level":"warn","server":"` + s.addr + `","user":"alice","profile":"test","message":"SOX0212W password for user alice at ` + s.addr + ` was rejected; logged in by publickey(identity files) instead"`
			if got := strings.Contains(log.String(), want); got != (string(tc.cred.Password) == "wrong") {
				t.Errorf("SOX0212W logged: %v; log:\n%s", got, log.String())
			}
			if string(tc.cred.Password) == "wrong" {
				if _, err := p.Open(context.Background(), prof, "", tc.cred); !errors.Is(err, ErrPasswordRejectedRecently) {
					t.Fatalf("rejected password used again: %v", err)
				}
			}
		})
	}
}

func TestEncryptedIdentityFile(t *testing.T) {
	keyFile, signer := writeKey(t, "open sesame")
	passFile := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(passFile, []byte("open sesame\r\n"), 0o600)
	wrongFile := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrongFile, []byte("nope\n"), 0o600)
	s := newTestServer(t, func(s *testServer) { s.authKeys = []ssh.PublicKey{signer.PublicKey()} })
	for _, tc := range []struct {
		name, pass string
		ok         bool
		warning    string // the SOX0215W reason
	}{
		{"right passphrase", passFile, true, ""},
		{"wrong passphrase", wrongFile, false, "it cannot be decrypted with passphrase_file"},
		{"no passphrase file", "", false, "it is encrypted and no passphrase_file is set"},
		{"missing passphrase file", "/nonexistent/pass", false, "it is encrypted and passphrase_file cannot be read: open /nonexistent/pass: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log logBuffer
			p := testPool(t, s, func(o *Options) { o.Logger = zerolog.New(&log) })
			defer func() {
				want := "SOX0215W identity file " + keyFile + " skipped: " + tc.warning + `"`
				if tc.warning != "" && !strings.Contains(log.String(), want) {
					t.Errorf("log lacks %s:\n%s", want, log.String())
				}
				if strings.Contains(log.String(), "open sesame") || strings.Contains(log.String(), "nope") {
					t.Errorf("log shows a passphrase:\n%s", log.String())
				}
			}()
			prof := testProfile(s)
			prof.IdentityFiles = []string{keyFile}
			prof.PassphraseFile = tc.pass
			l, err := p.Open(context.Background(), prof, "", Credentials{User: "alice"})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				l.Close()
				return
			}
			if !errors.Is(err, ErrAuthFailed) || strings.Contains(err.Error(), "open sesame") || strings.Contains(err.Error(), "nope") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestOpenCanceledWhileConnecting(t *testing.T) {
	stall := make(chan struct{})
	s := newTestServer(t, func(s *testServer) { s.kbd, s.pubkey, s.stall = false, false, stall })
	p := testPool(t, s, nil)
	prof := testProfile(s)
	cred := Credentials{User: "alice", Password: []byte("s3cret")}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := p.Open(ctx, prof, "", cred)
		errc <- err
	}()
	wait.Until(t, "the password to reach the server", 10*time.Second, func() bool { pw, _, _, _ := s.counts(); return pw == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Open = %v, want context.Canceled", err)
	}
	close(stall)
	// The connection completes anyway and waits, unleased, for the next session.
	wait.Until(t, "the abandoned connection to join the pool", 10*time.Second, func() bool {
		snap := p.Snapshot()
		return len(snap) == 1 && snap[0].Leases == 0
	})
	l, err := p.Open(context.Background(), prof, "", cred)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if pw, _, conns, _ := s.counts(); pw != 1 || conns != 1 {
		t.Fatalf("server saw %d password attempts and %d logins, want 1 and 1", pw, conns)
	}
}

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestAgentNotUsable: agent = true without a reachable ssh-agent is
// reported (SOX0214W) and the method is left out.
func TestAgentNotUsable(t *testing.T) {
	for _, tc := range []struct{ sock, reason string }{
		{"", "SSH_AUTH_SOCK is not set"},
		{"/nonexistent/agent.sock", "dial unix /nonexistent/agent.sock: connect: no such file or directory"},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			t.Setenv("SSH_AUTH_SOCK", "")
			var log logBuffer
			a := &authChain{log: zerolog.New(&log)}
			if _, ok := a.agentCandidate(tc.sock); ok {
				t.Fatal("an unusable agent became a candidate")
			}
			want := `{"level":"warn","message":"SOX0214W ssh-agent not usable: ` + tc.reason + `"`
			if !strings.Contains(log.String(), want) {
				t.Errorf("log lacks %s:\n%s", want, log.String())
			}
		})
	}
}

// TestUnreadableIdentityFile: a missing identity file is reported with its
// name once and the reason, and skipped.
func TestUnreadableIdentityFile(t *testing.T) {
	var log logBuffer
	missing := filepath.Join(t.TempDir(), "id_missing")
	if got := loadSigners(Profile{IdentityFiles: []string{missing}}, zerolog.New(&log)); len(got) != 0 {
		t.Fatalf("%d signers from a missing file", len(got))
	}
	want := `"message":"SOX0215W identity file ` + missing + ` skipped: cannot read it: open: no such file or directory"`
	if !strings.Contains(log.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, log.String())
	}
}
