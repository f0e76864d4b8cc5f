package tunnel

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testServer is an in-process x/crypto/ssh server on loopback TCP that
// counts what clients do.
type testServer struct {
	t        testing.TB
	addr     string
	port     int
	hostKey  ssh.Signer
	user     string
	password string
	// which methods are offered
	password_ bool
	kbd       bool
	pubkey    bool
	kbdPrompt string // prompt for keyboard-interactive; default "Password: "
	authKeys  []ssh.PublicKey
	hostCert  *ssh.Certificate
	extraKeys []ssh.Signer  // more host keys
	maxTries  int           // ServerConfig.MaxAuthTries
	stall     chan struct{} // password checks wait for this to close

	frozen atomic.Bool // stop answering global requests

	mu          sync.Mutex
	pwAttempts  int
	kbdAttempts int
	conns       int // successful logins
	accepted    int // TCP connections
	channels    int // direct-tcpip channels opened
	refused     int // channel requests the client refused (chatty.invalid)
	live        []ssh.Conn
	ln          net.Listener
}

type serverOpt func(*testServer)

func newTestServer(t testing.TB, opts ...serverOpt) *testServer {
	t.Helper()
	s := &testServer{t: t, user: "alice", password: "s3cret", password_: true, kbd: true, pubkey: true, kbdPrompt: "Password: "}
	for _, o := range opts {
		o(s)
	}
	if s.hostKey == nil {
		s.hostKey = newSigner(t)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	s.addr = ln.Addr().String()
	s.port = ln.Addr().(*net.TCPAddr).Port
	go s.serve()
	t.Cleanup(s.close)
	return s
}

func newSigner(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *testServer) close() {
	s.ln.Close()
	s.mu.Lock()
	live := s.live
	s.mu.Unlock()
	for _, c := range live {
		c.Close()
	}
}

// closeConns ends every live server connection (a server restart).
func (s *testServer) closeConns() {
	s.mu.Lock()
	live := s.live
	s.live = nil
	s.mu.Unlock()
	for _, c := range live {
		c.Close()
	}
}

// authed counts a successful login; it runs before the server tells the
// client, so a client that saw success always finds it counted.
func (s *testServer) authed() {
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
}

func (s *testServer) counts() (pw, kbd, conns, channels int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pwAttempts, s.kbdAttempts, s.conns, s.channels
}

func (s *testServer) config() *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{MaxAuthTries: s.maxTries}
	if s.password_ {
		cfg.PasswordCallback = func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			s.mu.Lock()
			s.pwAttempts++
			stall := s.stall
			s.mu.Unlock()
			if stall != nil {
				<-stall
			}
			if c.User() == s.user && string(pw) == s.password {
				s.authed()
				return nil, nil
			}
			return nil, errors.New("wrong password")
		}
	}
	if s.kbd {
		cfg.KeyboardInteractiveCallback = func(c ssh.ConnMetadata, ch ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			ans, err := ch("", "", []string{s.kbdPrompt}, []bool{false})
			if err != nil {
				return nil, err
			}
			s.mu.Lock()
			s.kbdAttempts++
			s.mu.Unlock()
			if c.User() == s.user && len(ans) == 1 && ans[0] == s.password {
				s.authed()
				return nil, nil
			}
			return nil, errors.New("wrong answer")
		}
	}
	if s.pubkey {
		cfg.PublicKeyCallback = func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, a := range s.authKeys {
				if string(a.Marshal()) == string(k.Marshal()) && c.User() == s.user {
					s.conns++ // called once per key and connection; our client always signs
					return nil, nil
				}
			}
			return nil, errors.New("unknown key")
		}
	}
	if s.hostCert != nil {
		cs, err := ssh.NewCertSigner(s.hostCert, s.hostKey)
		if err != nil {
			s.t.Error(err)
		}
		cfg.AddHostKey(cs)
	} else {
		cfg.AddHostKey(s.hostKey)
	}
	for _, k := range s.extraKeys {
		cfg.AddHostKey(k)
	}
	return cfg
}

func (s *testServer) serve() {
	cfg := s.config()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.accepted++
		s.mu.Unlock()
		go s.handle(c, cfg)
	}
}

func (s *testServer) handle(c net.Conn, cfg *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		c.Close()
		return
	}
	s.mu.Lock()
	s.live = append(s.live, sc)
	s.mu.Unlock()
	go func() {
		for r := range reqs {
			if s.frozen.Load() {
				continue // never reply: a hung server
			}
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}()
	for nc := range chans {
		if nc.ChannelType() != "direct-tcpip" {
			nc.Reject(ssh.UnknownChannelType, "no")
			continue
		}
		var req struct {
			Host       string
			Port       uint32
			OriginHost string
			OriginPort uint32
		}
		if err := ssh.Unmarshal(nc.ExtraData(), &req); err != nil {
			nc.Reject(ssh.ConnectionFailed, "bad request")
			continue
		}
		if req.Host == "prohibited.invalid" {
			nc.Reject(ssh.Prohibited, "administratively prohibited")
			continue
		}
		if req.Host == "unreachable.invalid" {
			nc.Reject(ssh.ConnectionFailed, "No route to host")
			continue
		}
		if req.Host == "chatty.invalid" {
			go s.chatty(nc)
			continue
		}
		target, err := net.Dial("tcp", net.JoinHostPort(req.Host, strconv.Itoa(int(req.Port))))
		if err != nil {
			nc.Reject(ssh.ConnectionFailed, "Connection refused")
			continue
		}
		// Count before accepting, so the client never sees an uncounted channel.
		s.mu.Lock()
		s.channels++
		s.mu.Unlock()
		ch, creqs, err := nc.Accept()
		if err != nil {
			target.Close()
			continue
		}
		go ssh.DiscardRequests(creqs)
		go func() {
			io.Copy(target, ch)
			target.(*net.TCPConn).CloseWrite()
		}()
		go func() {
			io.Copy(ch, target)
			ch.CloseWrite()
			ch.Close()
			target.Close()
		}()
	}
}

// chattyRequests is how many channel requests a chatty.invalid channel
// sends: more than x/crypto queues per channel (16), so a client that
// does not drain them stalls its whole connection.
const chattyRequests = 40

// chatty serves a direct-tcpip channel to chatty.invalid: it sends
// chattyRequests channel requests that want a reply, counts the refusals,
// then writes "ok" and closes.
func (s *testServer) chatty(nc ssh.NewChannel) {
	ch, creqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	go ssh.DiscardRequests(creqs)
	for i := 0; i < chattyRequests; i++ {
		ok, err := ch.SendRequest("chatter@test", true, nil)
		if err != nil {
			return
		}
		if !ok {
			s.mu.Lock()
			s.refused++
			s.mu.Unlock()
		}
	}
	ch.Write([]byte("ok"))
	ch.CloseWrite()
}

// knownHostsFor writes a known_hosts file trusting the server's key.
func (s *testServer) knownHostsFor(t testing.TB) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(s.addr)}, s.hostKey.PublicKey())
	if err := os.WriteFile(f, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// testPool returns a pool trusting the server, with short timers.
func testPool(t testing.TB, s *testServer, mod func(*Options)) *Pool {
	t.Helper()
	o := Options{
		KnownHosts:        []string{s.knownHostsFor(t)},
		HostKeyPolicy:     PolicyStrict,
		KeepaliveInterval: -1,
		ConnectTimeout:    10 * time.Second,
		IdleClose:         time.Minute,
		Logger:            zerolog.New(zerolog.NewTestWriter(t)),
	}
	if mod != nil {
		mod(&o)
	}
	p, err := NewPool(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func testProfile(s *testServer) Profile {
	return Profile{Name: "test", Host: "127.0.0.1", Port: s.port, Share: true}
}

// echoOnce writes msg through c and reads it back.
func echoOnce(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(buf) != msg {
		t.Fatalf("echo = %q, want %q", buf, msg)
	}
}
