package socksd

import (
	"context"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
)

const redirectConfig = `
[server]
listen = ["127.0.0.1:0", "0.0.0.0:0"]
allow_clients = ["127.0.0.0/8"]
[console]
socket = ""
[profiles.p]
host = "ssh.test"
port = 22
user = "batch"
auth = ["publickey"]
[[rules]]
name = "tunnel"
to = ["127.0.0.2"]
action = "tunnel"
profile = "p"
[[rules]]
name = "direct"
to = ["127.0.0.4"]
action = "direct"
[[rules]]
name = "socks-user"
users = ["JOB1"]
action = "direct"
[[rules]]
name = "rest"
action = "block"
`

// redirectedConn hands the daemon a connection as a TPROXY listener would:
// its local address, on a listener of the test at dest, is where the
// client was going. It returns the client's end.
func redirectedConn(t *testing.T, td *testDaemon, dest string) net.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", dest)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	h := redirectListener{Listener: ln, kind: kindTProxy}.handle(td.Daemon)
	td.handlers.Add(1)
	go func() {
		defer td.handlers.Done()
		h(context.Background(), sc)
	}()
	return c
}

// TestRedirectedRouting checks that a redirected connection goes through
// allow_clients and the rules as a SOCKS CONNECT with no user, and that it
// gets no SOCKS reply: the bytes of the upstream, or the close.
func TestRedirectedRouting(t *testing.T) {
	f := &fakeDialer{echo: testpeer.EchoServer(t)}
	// The test's clients are in its own process: the loop check would
	// refuse them (TestRedirectLoop).
	notSelf := func(*net.TCPConn) (bool, error) { return false, nil }
	td := newTestDaemon(t, redirectConfig, f)
	td.peerIsSelf = notSelf
	tests := []struct {
		name, dest string
		action     string // "" = closed
		result     string
		logID      string
	}{
		{"tunnel", "127.0.0.2:0", "tunnel", "ok", "SOX0102I"},
		{"direct", "127.0.0.4:0", "direct", "ok", "SOX0102I"},
		// No SOCKS user: a rule with users never matches.
		{"blocked", "127.0.0.3:0", "", "blocked", "SOX0703I"},
		{"not-allowed-client", "127.0.0.4:0", "", "refused", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "not-allowed-client" {
				// A second daemon whose allow_clients leaves the client out.
				td := newTestDaemon(t, strings.Replace(redirectConfig, `["127.0.0.0/8"]`, `["127.0.0.9/32"]`, 1), f)
				td.peerIsSelf = notSelf
				c := redirectedConn(t, td, tc.dest)
				redirExpectClosed(t, c)
				wait.Until(t, "SOX0103W", waitTimeout, func() bool { return len(td.log.find(withID("SOX0103W"))) == 1 })
				return
			}
			c := redirectedConn(t, td, tc.dest)
			dest := c.RemoteAddr().String()
			if tc.action == "" {
				redirExpectClosed(t, c)
			} else {
				echoes(t, c) // the first bytes back are the echo: no SOCKS reply came first
				c.Close()
			}
			ev := td.log.waitEnd(t, dest)
			if str(ev, "origin") != "redirect" || str(ev, "result") != tc.result || (tc.action != "" && str(ev, "action") != tc.action) ||
				str(ev, "user") != "" || str(ev, "command") != "connect" {
				t.Errorf("session end %v", ev)
			}
			if tc.logID != "" && len(td.log.find(withID(tc.logID))) == 0 {
				t.Errorf("no %s logged", tc.logID)
			}
		})
	}
}

// redirExpectClosed reads from c until the daemon closes it, and fails if
// anything comes first.
func redirExpectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	if n, err := c.Read(make([]byte, 16)); err != io.EOF {
		t.Fatalf("read %d bytes, %v; want the connection closed with nothing sent", n, err)
	}
}

// TestOwnListener checks which original destinations are the daemon's own
// listeners: the exact address, and any address of this host for a
// listener on the unspecified address.
func TestOwnListener(t *testing.T) {
	td := newTestDaemon(t, redirectConfig, &fakeDialer{})
	addrs := td.Addrs()
	lo, any := addrPortOf(addrs[0]), addrPortOf(addrs[1])
	tests := []struct {
		dest netip.AddrPort
		want bool
	}{
		{lo, true},
		{netip.AddrPortFrom(lo.Addr(), lo.Port()+1), lo.Port()+1 == any.Port()},
		{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), lo.Port()), false},
		{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.7"), any.Port()), true},
		{netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), any.Port()), false}, // TEST-NET: never this host's
	}
	for _, tc := range tests {
		if got := td.ownListener(tc.dest); got != tc.want {
			t.Errorf("ownListener(%s) = %v, want %v", tc.dest, got, tc.want)
		}
	}
}

// TestRedirectLoop checks that a redirected connection that comes from
// the daemon's own process is closed before any rule is applied.
func TestRedirectLoop(t *testing.T) {
	f := &fakeDialer{echo: testpeer.EchoServer(t)}
	td := newTestDaemon(t, redirectConfig, f)
	c := redirectedConn(t, td, "127.0.0.4:0") // direct: a loop would dial again
	redirExpectClosed(t, c)
	wait.Until(t, "SOX0704W", waitTimeout, func() bool { return len(td.log.find(withID("SOX0704W"))) == 1 })
	if calls := f.take(); len(calls) != 0 {
		t.Errorf("the looped connection was dialed: %v", calls)
	}
}

// TestRedirectListeners checks that the redirect listeners open with the
// daemon (SOX0700I), that RedirectAddrs names the REDIRECT ones, that a
// connection made to one directly is refused, and that a reload which
// changes them says they stay until a restart.
func TestRedirectListeners(t *testing.T) {
	td := newTestDaemon(t, strings.Replace(redirectConfig, "[server]\n", "[server]\nredirect_listen = [\"127.0.0.1:0\"]\n", 1), &fakeDialer{})
	wait.Until(t, "SOX0700I", waitTimeout, func() bool { return len(td.log.find(withID("SOX0700I"))) == 1 })
	addrs := td.RedirectAddrs()
	if len(addrs) != 1 {
		t.Fatalf("RedirectAddrs = %v", addrs)
	}
	c, err := net.DialTimeout("tcp", addrs[0].String(), waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	redirExpectClosed(t, c)
	// Without a redirection the kernel names the listener itself, or
	// nothing at all (no connection tracking here).
	wait.Until(t, "SOX0702W or SOX0701W", waitTimeout, func() bool {
		return len(td.log.find(withID("SOX0702W")))+len(td.log.find(withID("SOX0701W"))) == 1
	})
	lines := td.ConfigSummary()
	if err := td.Reload(); err != nil { // the embedded default: no redirect_listen
		t.Fatal(err)
	}
	if !slices.Contains(lines, "REDIRECT   127.0.0.1:0") {
		t.Errorf("DISPLAY CONFIG has no REDIRECT line: %q", lines)
	}
	if len(td.log.find(withID("SOX0705W"))) != 1 {
		t.Errorf("no SOX0705W after a reload that dropped redirect_listen")
	}
	if len(td.RedirectAddrs()) != 1 {
		t.Errorf("the reload changed the redirect listeners")
	}
}
