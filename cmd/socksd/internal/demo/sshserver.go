package demo

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHConfig configures an [SSHServer].
type SSHConfig struct {
	// User is the only user that may log in.
	User string
	// Password logs User in with the password method; "" disables it.
	Password string
	// AuthorizedKey logs User, and each of KeyUsers, in with the
	// publickey method; nil disables it.
	AuthorizedKey ssh.PublicKey
	// KeyUsers are further users that may log in with AuthorizedKey only
	// (socksd logs in as "anonymous" with its key for an anonymous job).
	KeyUsers []string
	// HostKey is the server's key; nil generates an ed25519 key.
	HostKey ssh.Signer
	// DialTimeout bounds each direct-tcpip connect; 0 means 10s.
	DialTimeout time.Duration
}

// SSHStats counts what an [SSHServer] did.
type SSHStats struct {
	PasswordLogins  int64 // accepted password logins
	PublicKeyLogins int64 // accepted public-key logins
	Refused         int64 // refused password or public-key attempts
	Channels        int64 // direct-tcpip channels that reached their target
	Rejected        int64 // channels and global requests refused
}

// SSHServer is a small SSH server for the demo, listening on a loopback
// port: one user, password or public-key login, and direct-tcpip channels
// to loopback targets only, spliced both ways with half-close. It refuses
// every other channel type, and every global request except
// keepalive@openssh.com.
type SSHServer struct {
	cfg     SSHConfig
	ln      net.Listener
	sshCfg  *ssh.ServerConfig
	hostKey ssh.Signer

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	dialed map[string]bool // local addresses of the connections made for channels

	pwLogins, keyLogins, refused, channels, rejected atomic.Int64
}

// StartSSHServer listens on 127.0.0.1 on a free port and serves until Close.
func StartSSHServer(cfg SSHConfig) (*SSHServer, error) {
	if cfg.User == "" || (cfg.Password == "" && cfg.AuthorizedKey == nil) {
		return nil, errors.New("demo: ssh server: a user and a password or an authorized key are required")
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	hostKey := cfg.HostKey
	if hostKey == nil {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("demo: ssh host key: %w", err)
		}
		if hostKey, err = ssh.NewSignerFromKey(priv); err != nil {
			return nil, fmt.Errorf("demo: ssh host key: %w", err)
		}
	}
	s := &SSHServer{cfg: cfg, hostKey: hostKey, dialed: make(map[string]bool)}
	s.sshCfg = &ssh.ServerConfig{
		PasswordCallback:  s.checkPassword,
		PublicKeyCallback: s.checkKey,
		AuthLogCallback:   s.logAuth,
		ServerVersion:     "SSH-2.0-socksd-demo",
	}
	s.sshCfg.AddHostKey(hostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: ssh listen: %w", err)
	}
	s.ln = ln
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr returns the listening address.
func (s *SSHServer) Addr() netip.AddrPort {
	return s.ln.Addr().(*net.TCPAddr).AddrPort()
}

// HostKey returns the server's public host key.
func (s *SSHServer) HostKey() ssh.PublicKey { return s.hostKey.PublicKey() }

// KnownHostsLine returns the known_hosts line for this server's address
// and host key.
func (s *SSHServer) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr().String())}, s.HostKey())
}

// Stats returns the counters so far.
func (s *SSHServer) Stats() SSHStats {
	return SSHStats{
		PasswordLogins:  s.pwLogins.Load(),
		PublicKeyLogins: s.keyLogins.Load(),
		Refused:         s.refused.Load(),
		Channels:        s.channels.Load(),
		Rejected:        s.rejected.Load(),
	}
}

// Dialed reports whether the server opened, for a channel, a connection
// whose local address is addr. A target that sees addr as its peer was
// reached through this server.
func (s *SSHServer) Dialed(addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dialed[addr]
}

// Close stops the server, ends every connection and channel, and waits
// for its goroutines.
func (s *SSHServer) Close() error {
	s.cancel()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *SSHServer) checkPassword(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
	userOK := subtle.ConstantTimeCompare([]byte(c.User()), []byte(s.cfg.User)) == 1
	pwOK := s.cfg.Password != "" && subtle.ConstantTimeCompare(pw, []byte(s.cfg.Password)) == 1
	if userOK && pwOK {
		return &ssh.Permissions{}, nil
	}
	return nil, errors.New("demo: password refused")
}

func (s *SSHServer) checkKey(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if s.cfg.AuthorizedKey != nil && (c.User() == s.cfg.User || slices.Contains(s.cfg.KeyUsers, c.User())) &&
		bytes.Equal(key.Marshal(), s.cfg.AuthorizedKey.Marshal()) {
		return &ssh.Permissions{}, nil
	}
	return nil, errors.New("demo: public key refused")
}

// logAuth counts logins. x/crypto/ssh calls it once per attempt that
// carries credentials (a public-key query without a signature included).
func (s *SSHServer) logAuth(c ssh.ConnMetadata, method string, err error) {
	switch {
	case method == "none":
	case err == nil && method == "password":
		s.pwLogins.Add(1)
	case err == nil && method == "publickey":
		s.keyLogins.Add(1)
	case err != nil && (method == "password" || method == "publickey"):
		s.refused.Add(1)
	}
}

func (s *SSHServer) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A passing accept error: go on unless the server is closing.
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
		}()
	}
}

// serveConn runs one SSH connection until it ends or the server closes.
func (s *SSHServer) serveConn(c net.Conn) {
	defer c.Close()
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	sconn, chans, reqs, err := ssh.NewServerConn(c, s.sshCfg)
	if err != nil {
		return
	}
	c.SetDeadline(time.Time{})
	defer sconn.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for req := range reqs {
			ok := req.Type == "keepalive@openssh.com"
			if !ok {
				s.rejected.Add(1)
			}
			if req.WantReply {
				req.Reply(ok, nil)
			}
		}
	}()
	for nc := range chans {
		if nc.ChannelType() != "direct-tcpip" {
			s.rejected.Add(1)
			nc.Reject(ssh.UnknownChannelType, "only direct-tcpip channels are served")
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.directTCPIP(ctx, nc)
		}()
	}
	// The connection ended: end its channels' target connections too.
	cancel()
}

// directTCPIPMsg is the extra data of a direct-tcpip channel open
// (RFC 4254 section 7.2).
type directTCPIPMsg struct {
	Host     string
	Port     uint32
	OrigHost string
	OrigPort uint32
}

// parseTarget checks a direct-tcpip target: a loopback address and a
// port in 1..65535.
func parseTarget(extra []byte) (netip.AddrPort, error) {
	var m directTCPIPMsg
	if err := ssh.Unmarshal(extra, &m); err != nil {
		return netip.AddrPort{}, fmt.Errorf("demo: direct-tcpip request: %w", err)
	}
	ip, err := netip.ParseAddr(m.Host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return netip.AddrPort{}, fmt.Errorf("demo: direct-tcpip to %q: the demo server connects to loopback addresses only", m.Host)
	}
	if m.Port == 0 || m.Port > 65535 {
		return netip.AddrPort{}, fmt.Errorf("demo: direct-tcpip port %d out of range", m.Port)
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(m.Port)), nil
}

func (s *SSHServer) directTCPIP(ctx context.Context, nc ssh.NewChannel) {
	target, err := parseTarget(nc.ExtraData())
	if err != nil {
		s.rejected.Add(1)
		nc.Reject(ssh.Prohibited, err.Error())
		return
	}
	d := net.Dialer{Timeout: s.cfg.DialTimeout}
	up, err := d.DialContext(ctx, "tcp", target.String())
	if err != nil {
		s.rejected.Add(1)
		nc.Reject(ssh.ConnectionFailed, "connect "+target.String()+" failed")
		return
	}
	s.mu.Lock()
	s.dialed[up.LocalAddr().String()] = true
	s.mu.Unlock()
	ch, chReqs, err := nc.Accept()
	if err != nil {
		up.Close()
		return
	}
	s.channels.Add(1)
	go ssh.DiscardRequests(chReqs)
	splice(ctx, ch, up.(*net.TCPConn))
}

// splice copies both ways until both directions ended, passing each EOF on
// as a half-close. An error in either direction, or ctx ending, closes
// both.
func splice(ctx context.Context, ch ssh.Channel, up *net.TCPConn) {
	closeBoth := func() {
		ch.Close()
		up.Close()
	}
	stop := context.AfterFunc(ctx, closeBoth)
	defer stop()
	defer closeBoth()
	errs := make(chan error, 2)
	go func() {
		_, err := io.Copy(up, ch)
		if err == nil {
			err = up.CloseWrite()
		}
		errs <- err
	}()
	go func() {
		_, err := io.Copy(ch, up)
		if err == nil {
			err = ch.CloseWrite()
		}
		errs <- err
	}()
	for range 2 {
		if err := <-errs; err != nil {
			closeBoth()
		}
	}
}
