package socksd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"socksd/config"
	"socksd/console"
	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
)

// forwardConfig is a configuration with a SOCKS listener on a free port,
// a rule set that blocks everything, and the forwards given as
// "listen=to" pairs, carried by profile p.
func forwardConfig(allow string, fwds ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[server]\nlisten = [\"127.0.0.1:0\"]\nallow_clients = [%q]\n[console]\nsocket = \"\"\n", allow)
	b.WriteString("[profiles.p]\nhost = \"ssh.test\"\nuser = \"fwduser\"\nauth = [\"publickey\"]\n")
	b.WriteString("[[rules]]\nname = \"nothing\"\naction = \"block\"\n")
	for i, f := range fwds {
		listen, to, _ := strings.Cut(f, "=")
		fmt.Fprintf(&b, "[[forwards]]\nname = \"f%d\"\nlisten = %q\nto = %q\nprofile = \"p\"\n", i+1, listen, to)
	}
	return b.String()
}

// forwardDaemon is a daemon whose configuration is a file, so that Reload
// reads it again.
type forwardDaemon struct {
	*testDaemon
	path string
}

func newForwardDaemon(t *testing.T, text string, dial dialer) *forwardDaemon {
	t.Helper()
	path := filepath.Join(t.TempDir(), "socksd.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return &forwardDaemon{startTestDaemon(t, cfg, path, dial), path}
}

// reload writes text as the configuration and reloads it.
func (d *forwardDaemon) reload(t *testing.T, text string) {
	t.Helper()
	if err := os.WriteFile(d.path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
}

// dialForward connects to a forward's listener.
func dialForward(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// forwardInfo returns D FORWARDS' entry for name.
func forwardInfo(t *testing.T, d *Daemon, name string) console.ForwardInfo {
	t.Helper()
	for _, f := range d.Forwards() {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("D FORWARDS has no %s: %+v", name, d.Forwards())
	return console.ForwardInfo{}
}

// TestForwardCarriesThroughProfile: a connection to a forward is a session
// with origin forward, rule forward:NAME and action tunnel, carried through
// the profile's SSH connection (Tunnel, then Splice of a channel to the
// forward's destination) whatever the rules say; D FORWARDS counts it.
func TestForwardCarriesThroughProfile(t *testing.T) {
	fake := &fakeDialer{echo: testpeer.EchoServer(t)}
	listen := fmt.Sprintf("127.0.0.1:%d", testpeer.FreePort(t, "127.0.0.1"))
	d := newForwardDaemon(t, forwardConfig("127.0.0.0/8", listen+"=mail.internal:25"), fake)

	c := dialForward(t, listen)
	c.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := c.Read(b); err != nil || string(b) != "ping" {
		t.Fatalf("echo: %q %v", b, err)
	}
	var live []console.SessionInfo
	wait.Until(t, "the session in D SESSIONS", waitTimeout, func() bool { live = d.Sessions(); return len(live) == 1 })
	if s := live[0]; s.Origin != "forward" || s.Rule != "forward:f1" || s.Action != "tunnel" || s.Dest != "mail.internal:25" || s.SSHServer != "ssh.test:22" {
		t.Errorf("D SESSIONS: %+v", s)
	}
	if f := forwardInfo(t, d.Daemon, "f1"); !f.Listening || f.Sessions != 1 || f.Total != 1 || f.Listen != listen || f.To != "mail.internal:25" || f.Profile != "p" {
		t.Errorf("D FORWARDS during the session: %+v", f)
	}
	echoes(t, c)
	ev := d.log.waitEnd(t, "mail.internal:25")
	if str(ev, "origin") != "forward" || str(ev, "rule") != "forward:f1" || str(ev, "action") != "tunnel" || str(ev, "result") != "ok" ||
		str(ev, "ssh_server") != "ssh.test:22" || ev["bytes_up"] != float64(8) || ev["bytes_down"] != float64(8) {
		t.Errorf("session_end: %v", ev)
	}
	if calls := fake.take(); strings.Join(calls, "; ") != "tunnel p @mail.internal password=false; channel mail.internal:25; release" {
		t.Errorf("dialer calls %q", calls)
	}
	wait.Until(t, "D FORWARDS to show no running session", waitTimeout, func() bool { return forwardInfo(t, d.Daemon, "f1").Sessions == 0 })
	if f := forwardInfo(t, d.Daemon, "f1"); f.Total != 1 {
		t.Errorf("D FORWARDS after the session: %+v", f)
	}
	if n := len(d.log.find(withID("SOX0740I"))); n != 1 {
		t.Errorf("SOX0740I logged %d times", n)
	}
	if st := d.Stats(); st.Total != 1 {
		t.Errorf("D STATS total %d", st.Total)
	}
}

// TestForwardRefusals: allow_clients, QUIESCE and a tunnel that cannot be
// built each close the forward's connection, with the message that says
// why.
func TestForwardRefusals(t *testing.T) {
	fake := &fakeDialer{echo: testpeer.EchoServer(t)}
	ok := fmt.Sprintf("127.0.0.1:%d", testpeer.FreePort(t, "127.0.0.1"))
	down := fmt.Sprintf("127.0.0.1:%d", testpeer.FreePort(t, "127.0.0.1"))
	// The fake dialer cannot reach the SSH server for destination sshdown.*.
	text := forwardConfig("127.0.0.2/32", ok+"=mail.internal:25", down+"=sshdown.test:1")
	d := newForwardDaemon(t, text, fake)

	closed := func(t *testing.T, addr string) {
		t.Helper()
		c := dialForward(t, addr)
		c.SetDeadline(time.Now().Add(waitTimeout))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read %d %v, want the connection closed", n, err)
		}
	}
	// 127.0.0.1 is not in allow_clients.
	closed(t, ok)
	wait.Until(t, "SOX0103W", waitTimeout, func() bool { return len(d.log.find(withID("SOX0103W"))) == 1 })
	d.reload(t, strings.Replace(text, "127.0.0.2/32", "127.0.0.0/8", 1))

	d.Quiesce()
	closed(t, ok)
	wait.Until(t, "SOX0109W", waitTimeout, func() bool { return len(d.log.find(withID("SOX0109W"))) == 1 })
	d.Resume()

	closed(t, down)
	ev := d.log.waitEnd(t, "sshdown.test:1")
	if str(ev, "result") != "failed" || str(ev, "origin") != "forward" || !strings.Contains(str(ev, "error"), "unreachable") {
		t.Errorf("session_end of the failed tunnel: %v", ev)
	}
	if len(d.log.find(withID("SOX0211W"))) != 1 {
		t.Errorf("no SOX0211W for the SSH server that cannot be reached")
	}
	if calls := fake.take(); len(calls) != 1 || calls[0] != "tunnel p @sshdown.test password=false" {
		t.Errorf("dialer calls %q: only the failed tunnel", calls)
	}
	st := d.Stats()
	if st.Refused != 2 || st.Failed != 1 || st.Total != 1 {
		t.Errorf("D STATS refused %d failed %d total %d, want 2 1 1", st.Refused, st.Failed, st.Total)
	}
}

// TestForwardReload: a RELOAD opens an added forward and closes a removed
// one, whose running session goes on; a forward whose destination changed
// keeps its listener and takes the new destination for new sessions. A
// listen address that cannot be opened fails the start, and is logged at
// a RELOAD while the rest of the file is used.
func TestForwardReload(t *testing.T) {
	fake := &fakeDialer{echo: testpeer.EchoServer(t)}
	a := fmt.Sprintf("127.0.0.1:%d", testpeer.FreePort(t, "127.0.0.1"))
	b := fmt.Sprintf("127.0.0.1:%d", testpeer.FreePort(t, "127.0.0.1"))
	d := newForwardDaemon(t, forwardConfig("127.0.0.0/8", a+"=a.test:1"), fake)
	if _, err := net.DialTimeout("tcp", b, waitTimeout); err == nil {
		t.Fatalf("%s accepts before the RELOAD that adds it", b)
	}

	// A session on a, running through the RELOAD that removes a.
	ca := dialForward(t, a)
	wait.Until(t, "the session on a", waitTimeout, func() bool { return len(d.Sessions()) == 1 })
	d.reload(t, forwardConfig("127.0.0.0/8", b+"=b.test:2"))
	if len(d.log.find(withID("SOX0741I"))) != 1 || len(d.log.find(withID("SOX0740I"))) != 2 {
		t.Fatalf("RELOAD: SOX0741I %d, SOX0740I %d", len(d.log.find(withID("SOX0741I"))), len(d.log.find(withID("SOX0740I"))))
	}
	if ev := d.log.find(withID("SOX0741I"))[0]; ev["sessions"] != float64(1) || str(ev, "forward") != "f1" {
		t.Errorf("SOX0741I: %v", ev)
	}
	if c, err := net.DialTimeout("tcp", a, waitTimeout); err == nil {
		c.Close()
		t.Errorf("%s still accepts after the RELOAD that removed it", a)
	}
	echoes(t, ca)
	if ev := d.log.waitEnd(t, "a.test:1"); str(ev, "result") != "ok" {
		t.Errorf("the session of the removed forward: %v", ev)
	}
	echoes(t, dialForward(t, b))
	d.log.waitEnd(t, "b.test:2")
	if fs := d.Forwards(); len(fs) != 1 || fs[0].Listen != b || !fs[0].Listening || fs[0].Total != 1 {
		t.Errorf("D FORWARDS after the RELOAD: %+v", fs)
	}

	// Same listener, new destination.
	d.reload(t, forwardConfig("127.0.0.0/8", b+"=c.test:3"))
	if evs := d.log.find(withID("SOX0745I")); len(evs) != 1 || str(evs[0], "to") != "c.test:3" {
		t.Errorf("SOX0745I: %v", evs)
	}
	echoes(t, dialForward(t, b))
	d.log.waitEnd(t, "c.test:3")
	if f := forwardInfo(t, d.Daemon, "f1"); f.Total != 2 || f.To != "c.test:3" {
		t.Errorf("D FORWARDS after the change: %+v", f)
	}

	// A port that is taken: logged at a RELOAD, the rest goes on.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	d.reload(t, forwardConfig("127.0.0.0/8", b+"=c.test:3", taken.Addr().String()+"=d.test:4"))
	if evs := d.log.find(withID("SOX0742E")); len(evs) != 1 || str(evs[0], "forward") != "f2" {
		t.Errorf("SOX0742E: %v", evs)
	}
	if f := forwardInfo(t, d.Daemon, "f2"); f.Listening {
		t.Errorf("D FORWARDS shows the forward on a taken port listening: %+v", f)
	}
	echoes(t, dialForward(t, b))
	d.log.waitEnd(t, "c.test:3")

	// At the start, the same failure stops the daemon.
	cfg, err := config.Parse("taken.toml", []byte(forwardConfig("127.0.0.0/8", taken.Addr().String()+"=d.test:4")))
	if err != nil {
		t.Fatal(err)
	}
	d2, err := New(cfg, Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Listen(); err == nil || !strings.Contains(err.Error(), "forward f1") {
		t.Errorf("Listen with a taken forward port: %v", err)
	}
	if len(d2.Addrs()) != 0 {
		t.Errorf("the SOCKS listeners stay open after the failed start")
	}
}

// TestForwardCancelAndStop: CANCEL ends a forward's session; STOP closes
// the forward listeners and drains their sessions like any other.
func TestForwardCancelAndStop(t *testing.T) {
	fake := &fakeDialer{echo: testpeer.EchoServer(t)}
	a := fmt.Sprintf("127.0.0.1:%d", testpeer.FreePort(t, "127.0.0.1"))
	d := newForwardDaemon(t, forwardConfig("127.0.0.0/8", a+"=a.test:1"), fake)
	c := dialForward(t, a)
	var live []console.SessionInfo
	wait.Until(t, "the session", waitTimeout, func() bool { live = d.Sessions(); return len(live) == 1 })
	if err := d.Cancel(live[0].ID); err != nil {
		t.Fatal(err)
	}
	if ev := d.log.waitEnd(t, "a.test:1"); str(ev, "result") != "cancelled" {
		t.Errorf("session_end after CANCEL: %v", ev)
	}
	c.SetDeadline(time.Now().Add(waitTimeout))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("after CANCEL: read %d %v", n, err)
	}

	c2 := dialForward(t, a)
	wait.Until(t, "the second session", waitTimeout, func() bool { return len(d.Sessions()) == 1 })
	d.Stop(true)
	select {
	case <-d.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("STOP IMMEDIATE did not end the daemon")
	}
	c2.SetDeadline(time.Now().Add(waitTimeout))
	if n, err := c2.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("after STOP: read %d %v", n, err)
	}
	if c, err := net.DialTimeout("tcp", a, waitTimeout); err == nil {
		c.Close()
		t.Errorf("the forward still accepts after STOP")
	}
	if len(d.log.find(withID("SOX0741I"))) != 1 {
		t.Errorf("no SOX0741I at STOP")
	}
	// A RELOAD after the stop opens nothing.
	if err := d.syncForwards(d.state.Load().cfg, false); err != nil {
		t.Fatal(err)
	}
	if fs := d.Forwards(); len(fs) != 1 || fs[0].Listening {
		t.Errorf("D FORWARDS after STOP: %+v", fs)
	}
}
