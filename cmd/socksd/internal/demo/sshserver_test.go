package demo

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"socksd/internal/testing/testpeer"
)

// testKey makes an ed25519 signer.
func testKey(t *testing.T) ssh.Signer {
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

func startTestSSH(t *testing.T, key ssh.PublicKey) *SSHServer {
	t.Helper()
	s, err := StartSSHServer(SSHConfig{User: "job", Password: "right-pw", AuthorizedKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sshDial(s *SSHServer, user string, auth ...ssh.AuthMethod) (*ssh.Client, error) {
	return ssh.Dial("tcp", s.Addr().String(), &ssh.ClientConfig{
		User:            user,
		Auth:            auth,
		HostKeyCallback: ssh.FixedHostKey(s.HostKey()),
		Timeout:         10 * time.Second,
	})
}

func TestSSHDirectTCPIPHalfClose(t *testing.T) {
	clientKey := testKey(t)
	s := startTestSSH(t, clientKey.PublicKey())
	echo := testpeer.EchoServer(t)
	for _, tc := range []struct {
		name   string
		auth   ssh.AuthMethod
		wantPW int64
		wantPK int64
	}{
		{"password", ssh.Password("right-pw"), 1, 0},
		{"publickey", ssh.PublicKeys(clientKey), 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := sshDial(s, "job", tc.auth)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			c, err := cl.Dial("tcp", echo)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			msg := strings.Repeat("half-close through direct-tcpip\n", 4096)
			go func() {
				io.WriteString(c, msg)
				// The EOF must travel to the target, which then ends
				// its side: only a passed-on half-close ends the read.
				c.(interface{ CloseWrite() error }).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil || string(got) != msg {
				t.Fatalf("echo: %d of %d bytes, %v", len(got), len(msg), err)
			}
			st := s.Stats()
			if st.PasswordLogins != tc.wantPW || st.PublicKeyLogins != tc.wantPK {
				t.Errorf("stats %+v", st)
			}
		})
	}
	if st := s.Stats(); st.Channels != 2 {
		t.Errorf("channels %d, want 2", st.Channels)
	}
}

func TestSSHDialedRecordsPeer(t *testing.T) {
	s := startTestSSH(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cl, err := sshDial(s, "job", ssh.Password("right-pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c, err := cl.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if !s.Dialed(peer.RemoteAddr().String()) {
		t.Errorf("the server does not know %v", peer.RemoteAddr())
	}
	// A direct connection is not the SSH server's.
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if s.Dialed(d.LocalAddr().String()) {
		t.Errorf("a direct connection counted as the SSH server's")
	}
}

func TestSSHKeyUsers(t *testing.T) {
	key := testKey(t)
	s, err := StartSSHServer(SSHConfig{User: "job", Password: "right-pw", AuthorizedKey: key.PublicKey(), KeyUsers: []string{"anonymous"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cl, err := sshDial(s, "anonymous", ssh.PublicKeys(key))
	if err != nil {
		t.Fatalf("key user refused: %v", err)
	}
	cl.Close()
	// A key user has no password login.
	if cl, err := sshDial(s, "anonymous", ssh.Password("right-pw")); err == nil {
		cl.Close()
		t.Fatal("password login for a key user")
	}
	if st := s.Stats(); st.PublicKeyLogins != 1 || st.PasswordLogins != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestSSHAuthRefused(t *testing.T) {
	other := testKey(t)
	s := startTestSSH(t, testKey(t).PublicKey())
	for name, tc := range map[string]struct {
		user string
		auth ssh.AuthMethod
	}{
		"wrong password":   {"job", ssh.Password("wrong-pw")},
		"wrong user":       {"other", ssh.Password("right-pw")},
		"unauthorized key": {"job", ssh.PublicKeys(other)},
	} {
		t.Run(name, func(t *testing.T) {
			before := s.Stats().Refused
			cl, err := sshDial(s, tc.user, tc.auth)
			if err == nil {
				cl.Close()
				t.Fatal("login accepted")
			}
			if strings.Contains(err.Error(), "right-pw") {
				t.Errorf("the password reached an error: %v", err)
			}
			if s.Stats().Refused <= before {
				t.Errorf("refusal not counted")
			}
		})
	}
	if st := s.Stats(); st.PasswordLogins+st.PublicKeyLogins != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestSSHHostKeyStrict(t *testing.T) {
	s := startTestSSH(t, nil)
	// The known_hosts line names this server and key; another key fails.
	cb, err := knownhostsCallback(t, s.KnownHostsLine())
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ClientConfig{User: "job", Auth: []ssh.AuthMethod{ssh.Password("right-pw")}, HostKeyCallback: cb, Timeout: 10 * time.Second}
	cl, err := ssh.Dial("tcp", s.Addr().String(), cfg)
	if err != nil {
		t.Fatalf("known host refused: %v", err)
	}
	cl.Close()
	other := startTestSSH(t, nil)
	cb2, err := knownhostsCallback(t, strings.Replace(other.KnownHostsLine(), other.Addr().String(), s.Addr().String(), 1))
	if err != nil {
		t.Fatal(err)
	}
	cfg.HostKeyCallback = cb2
	if cl, err := ssh.Dial("tcp", s.Addr().String(), cfg); err == nil {
		cl.Close()
		t.Fatal("a different host key was accepted")
	}
}

func knownhostsCallback(t *testing.T, line string) (ssh.HostKeyCallback, error) {
	path := t.TempDir() + "/known_hosts"
	if err := os.WriteFile(path, []byte(line+"\n"), 0o600); err != nil {
		return nil, err
	}
	return knownhosts.New(path)
}

func TestSSHRefusesOtherChannelsAndRequests(t *testing.T) {
	s := startTestSSH(t, nil)
	cl, err := sshDial(s, "job", ssh.Password("right-pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	_, _, err = cl.OpenChannel("session", nil)
	var oc *ssh.OpenChannelError
	if !errors.As(err, &oc) || oc.Reason != ssh.UnknownChannelType {
		t.Errorf("session channel: %v", err)
	}
	// A non-loopback target is refused before any connection is made.
	payload := ssh.Marshal(directTCPIPMsg{Host: "192.0.2.1", Port: 21, OrigHost: "127.0.0.1", OrigPort: 1})
	_, _, err = cl.OpenChannel("direct-tcpip", payload)
	if !errors.As(err, &oc) || oc.Reason != ssh.Prohibited {
		t.Errorf("non-loopback direct-tcpip: %v", err)
	}
	ok, _, err := cl.SendRequest("tcpip-forward", true, ssh.Marshal(struct {
		Addr string
		Port uint32
	}{"127.0.0.1", 0}))
	if err != nil || ok {
		t.Errorf("tcpip-forward: ok=%v err=%v", ok, err)
	}
	ok, _, err = cl.SendRequest("keepalive@openssh.com", true, nil)
	if err != nil || !ok {
		t.Errorf("keepalive: ok=%v err=%v", ok, err)
	}
	if st := s.Stats(); st.Rejected != 3 {
		t.Errorf("rejected %d, want 3", st.Rejected)
	}
}

func TestSSHCloseEndsChannels(t *testing.T) {
	s, err := StartSSHServer(SSHConfig{User: "job", Password: "right-pw"})
	if err != nil {
		t.Fatal(err)
	}
	echo := testpeer.EchoServer(t)
	cl, err := sshDial(s, "job", ssh.Password("right-pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c, err := cl.Dial("tcp", echo)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "x")
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	// Close returns only when every goroutine ended; the open channel
	// must not hold it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(b); err == nil {
		t.Error("the channel still reads after Close")
	}
}

func TestStartSSHServerNeedsCredentials(t *testing.T) {
	if _, err := StartSSHServer(SSHConfig{User: "job"}); err == nil {
		t.Fatal("a server without any login method started")
	}
}

func TestParseTarget(t *testing.T) {
	msg := func(host string, port uint32) []byte {
		return ssh.Marshal(directTCPIPMsg{Host: host, Port: port, OrigHost: "127.0.0.1", OrigPort: 5})
	}
	tests := []struct {
		name  string
		extra []byte
		want  string
	}{
		{"ipv4 loopback", msg("127.0.0.1", 21), "127.0.0.1:21"},
		{"ipv4 loopback net", msg("127.3.2.1", 2121), "127.3.2.1:2121"},
		{"ipv6 loopback", msg("::1", 21), "[::1]:21"},
		{"mapped", msg("::ffff:127.0.0.1", 21), "127.0.0.1:21"},
		{"public", msg("192.0.2.1", 21), ""},
		{"name", msg("localhost", 21), ""},
		{"port 0", msg("127.0.0.1", 0), ""},
		{"port too big", msg("127.0.0.1", 70000), ""},
		{"garbage", []byte{0, 0, 0, 9, 'x'}, ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		got, err := parseTarget(tt.extra)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%s: accepted %v", tt.name, got)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("%s: %v, %v; want %s", tt.name, got, err, tt.want)
		}
	}
}

// FuzzParseTarget: any accepted target is a loopback address with a port.
func FuzzParseTarget(f *testing.F) {
	f.Add(ssh.Marshal(directTCPIPMsg{Host: "127.0.0.1", Port: 21, OrigHost: "127.0.0.1", OrigPort: 5}))
	f.Add(ssh.Marshal(directTCPIPMsg{Host: "192.0.2.1", Port: 21}))
	f.Add([]byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, extra []byte) {
		ap, err := parseTarget(extra)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "demo: ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if !ap.Addr().IsLoopback() || ap.Port() == 0 {
			t.Fatalf("accepted %v", ap)
		}
	})
}
