package tunnel

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"socksd/internal/testing/testpeer"
	"socksd/socks"
)

// socksProxy is a minimal SOCKS4/5 CONNECT proxy on loopback that records
// the requests it served.
type socksProxy struct {
	addr   string
	refuse bool
	mu     sync.Mutex
	seen   []socks.Request
}

func newSOCKSProxy(t *testing.T, refuse bool) *socksProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	sp := &socksProxy{addr: ln.Addr().String(), refuse: refuse}
	cfg := socks.ServerConfig{Methods: []socks.Method{socks.MethodUserPass, socks.MethodNone}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := socks.ReadRequest(c, cfg)
				if err != nil {
					return
				}
				sp.mu.Lock()
				sp.seen = append(sp.seen, *req)
				sp.mu.Unlock()
				if sp.refuse {
					socks.WriteReply(c, req.Version, socks.RepNotAllowed, socks.Addr{})
					return
				}
				up, err := net.Dial("tcp", req.Dest.String())
				if err != nil {
					socks.WriteReply(c, req.Version, socks.RepConnectionRefused, socks.Addr{})
					return
				}
				defer up.Close()
				socks.WriteReply(c, req.Version, socks.RepSucceeded, socks.AddrFromNet(up.LocalAddr()))
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	return sp
}

func (sp *socksProxy) requests() []socks.Request {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return append([]socks.Request(nil), sp.seen...)
}

func TestVia(t *testing.T) {
	s := newTestServer(t)
	echo := testpeer.EchoServer(t)
	tests := []struct {
		name     string
		via      func(proxy string) string
		host     string // ssh host as named in the profile
		version  int
		user     string
		password string
	}{
		{"socks5", func(p string) string { return "socks5://" + p }, "127.0.0.1", 5, "", ""},
		{"socks5 auth", func(p string) string { return "socks5://relay:pw@" + p }, "127.0.0.1", 5, "relay", "pw"},
		{"socks5 hostname", func(p string) string { return "socks5://" + p }, "localhost", 5, "", ""},
		{"socks4", func(p string) string { return "socks4://job1@" + p }, "127.0.0.1", 4, "job1", ""},
		{"socks4a hostname", func(p string) string { return "socks4a://" + p }, "localhost", 4, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sp := newSOCKSProxy(t, false)
			p := testPool(t, s, func(o *Options) {
				// Trust the key under both names.
				o.KnownHosts = []string{writeFile(t,
					line("[127.0.0.1]:"+strconv.Itoa(s.port), s.hostKey.PublicKey()),
					line("[localhost]:"+strconv.Itoa(s.port), s.hostKey.PublicKey()))}
			})
			prof := Profile{Name: "via", Host: tc.host, Port: s.port, Via: socks.ProxyURL(tc.via(sp.addr)), Share: true}
			c, err := p.Dial(context.Background(), prof, "", Credentials{User: "alice", Password: []byte("s3cret")}, echo)
			if err != nil {
				t.Fatalf("dial via %s: %v", prof.Via, err)
			}
			echoOnce(t, c, "via proxy")
			c.Close()
			reqs := sp.requests()
			if len(reqs) != 1 {
				t.Fatalf("proxy saw %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			want := net.JoinHostPort(tc.host, strconv.Itoa(s.port))
			if r.Version != tc.version || r.Dest.String() != want || r.User != tc.user || string(r.Password) != tc.password {
				t.Fatalf("proxy saw version %d dest %s user %q (password set %v); want %d %s %q",
					r.Version, r.Dest, r.User, len(r.Password) > 0, tc.version, want, tc.user)
			}
		})
	}
}

func TestViaFailures(t *testing.T) {
	s := newTestServer(t)
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a := ln.Addr().String()
		ln.Close()
		return a
	}()
	refusing := newSOCKSProxy(t, true)
	for _, via := range []string{"socks5://" + closed, "socks4://" + closed, "socks5://" + refusing.addr, "socks4://" + refusing.addr} {
		p := testPool(t, s, nil)
		prof := testProfile(s)
		prof.Via = socks.ProxyURL(via)
		_, err := p.Open(context.Background(), prof, "", Credentials{User: "alice", Password: []byte("s3cret")})
		if !errors.Is(err, ErrServerUnreachable) {
			t.Errorf("via %s: %v, want ErrServerUnreachable", via, err)
		}
	}
	if _, _, conns, _ := s.counts(); conns != 0 {
		t.Fatalf("server saw %d connections", conns)
	}
}

// A profile's via is checked by socks.ParseProxyURL, the one parser of
// proxy URLs; its error never shows the password.
func TestProfileValidateVia(t *testing.T) {
	for _, tc := range []struct {
		via string
		ok  bool
	}{
		{"socks5://h:1080", true},
		{"SOCKS5H://u:p@h:1", true},
		{"socks4a://job@[::1]:1080", true},
		{"socks5://h", true}, // port 1080
		{"socks4://u:topsecret@h:1", false},
		{"http://h:1", false},
		{"socks5://u:topsecret@h:0", false},
		{"socks5://u:topsecret@h:1/path", false},
		{"socks5://u:topsecret@h:bad", false},
	} {
		prof := Profile{Name: "p", Via: socks.ProxyURL(tc.via)}
		err := prof.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("via %q: Validate() = %v, want ok=%v", tc.via, err, tc.ok)
		}
		if err != nil && (strings.Contains(err.Error(), "topsecret") || !errors.Is(err, ErrBadProfile)) {
			t.Errorf("via %q: error %v shows the password or is not ErrBadProfile", tc.via, err)
		}
	}
}
