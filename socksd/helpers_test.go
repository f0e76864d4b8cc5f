package socksd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"

	"socksd/config"
	"socksd/ftp"
	"socksd/internal/relay"
	"socksd/internal/testing/wait"
	"socksd/socks"
	"socksd/tunnel"
)

// waitTimeout bounds every wait of these tests.
const waitTimeout = 10 * time.Second

// logSink keeps the daemon's JSON log events in order.
type logSink struct {
	mu     sync.Mutex
	events []map[string]any
}

// Write takes one event; zerolog writes each event with one call.
func (l *logSink) Write(p []byte) (int, error) {
	var ev map[string]any
	if err := json.Unmarshal(p, &ev); err != nil {
		ev = map[string]any{"message": "unparsed: " + string(p)}
	}
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
	return len(p), nil
}

// all returns the events so far.
func (l *logSink) all() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// find returns the events for which match is true.
func (l *logSink) find(match func(ev map[string]any) bool) []map[string]any {
	var out []map[string]any
	for _, ev := range l.all() {
		if match(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// withID matches the events of message id.
func withID(id string) func(map[string]any) bool {
	return func(ev map[string]any) bool { return strings.HasPrefix(str(ev, "message"), id+" ") }
}

// index returns the position of the first event that match accepts, or -1.
func (l *logSink) index(match func(ev map[string]any) bool) int {
	return slices.IndexFunc(l.all(), match)
}

// waitEnd waits for the session_end event of the session to dest.
func (l *logSink) waitEnd(t *testing.T, dest string) map[string]any {
	t.Helper()
	var ev map[string]any
	wait.Until(t, "the end of the session to "+dest, waitTimeout, func() bool {
		evs := l.find(func(ev map[string]any) bool { return ev["event"] == "session_end" && ev["dest"] == dest })
		if len(evs) > 0 {
			ev = evs[0]
		}
		return ev != nil
	})
	return ev
}

// str returns field k of ev as a string.
func str(ev map[string]any, k string) string {
	s, _ := ev[k].(string)
	return s
}

// testDaemon is a daemon serving on loopback with a JSON log in memory.
type testDaemon struct {
	*Daemon
	addr string
	log  *logSink
}

// newTestDaemon starts a daemon for the configuration text. A non-nil dial
// replaces its dialer.
func newTestDaemon(t *testing.T, text string, dial dialer) *testDaemon {
	t.Helper()
	cfg, err := config.Parse("test.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return startTestDaemon(t, cfg, "", dial)
}

// startTestDaemon starts a daemon for cfg, read from path ("" = none). A
// non-nil dial replaces its dialer.
func startTestDaemon(t *testing.T, cfg *config.Config, path string, dial dialer) *testDaemon {
	t.Helper()
	sink := &logSink{}
	d, err := New(cfg, Options{ConfigPath: path, Logger: zerolog.New(sink), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if dial != nil {
		d.dial = dial
	}
	if err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go d.Serve(ctx)
	t.Cleanup(func() {
		cancel()
		select {
		case <-d.Done():
		case <-time.After(30 * time.Second):
			t.Error("daemon did not stop")
		}
	})
	return &testDaemon{Daemon: d, addr: d.Addrs()[0].String(), log: sink}
}

// fakeDialer stands in for net.Dialer and the SSH pool. What it does
// depends on the destination host's first label (see failures); any other
// destination is connected to an echo server on loopback.
type fakeDialer struct {
	echo string

	mu    sync.Mutex
	calls []string
}

// fakeFailures are the errors the fake dialer gives, by the first label
// of the destination host. "dial" failures come from Direct or a lease's
// Dial; "open" failures from Tunnel.
var fakeFailures = map[string]struct {
	open, dial error
}{
	"refused":  {dial: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}},
	"netdown":  {dial: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}},
	"firewall": {dial: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EACCES)}},
	"nxdomain": {dial: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "nxdomain", IsNotFound: true}}},
	"timeout":  {dial: fmt.Errorf("dial: %w", context.DeadlineExceeded)},
	"hostkey-changed": {open: &tunnel.HostKeyError{Host: "ssh.test:22", KeyType: "ssh-ed25519", Fingerprint: "SHA256:new",
		Known: []string{"ssh-ed25519 SHA256:old (known_hosts:1)"}, Err: tunnel.ErrHostKeyChanged}},
	"hostkey-unknown": {open: &tunnel.HostKeyError{Host: "ssh.test:22", KeyType: "ssh-ed25519", Fingerprint: "SHA256:new", Err: tunnel.ErrHostKeyUnknown}},
	"auth":            {open: &tunnel.AuthError{Server: "ssh.test:22", User: "job1", Tried: []string{"password"}, Err: tunnel.ErrAuthFailed}},
	"sshdown":         {open: fmt.Errorf("tunnel: dial ssh.test:22: %w", tunnel.ErrServerUnreachable)},
	"prohibited":      {dial: &tunnel.ChannelError{Addr: "prohibited", Reason: ssh.Prohibited, Message: "administratively prohibited"}},
	"chanrefused":     {dial: &tunnel.ChannelError{Addr: "chanrefused", Reason: ssh.ConnectionFailed, Message: "Connection refused"}},
	"noroute":         {dial: &tunnel.ChannelError{Addr: "noroute", Reason: ssh.ConnectionFailed, Message: "No route to host"}},
	"nosftp":          {open: &tunnel.SessionError{Server: "ssh.test:22", Tunnel: "T0001", Subsystem: "sftp", Err: tunnel.ErrSubsystemRefused}},
}

// failureOf returns the fake failures for addr or host.
func failureOf(hostOrAddr string) (open, dial error) {
	host := hostOrAddr
	if h, _, err := net.SplitHostPort(hostOrAddr); err == nil {
		host = h
	}
	label, _, _ := strings.Cut(host, ".")
	f := fakeFailures[label]
	return f.open, f.dial
}

func (f *fakeDialer) record(format string, args ...any) {
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

// take returns the calls so far and forgets them.
func (f *fakeDialer) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.calls
	f.calls = nil
	return out
}

// Direct fails as fakeFailures says, or connects to the echo server.
func (f *fakeDialer) Direct(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	f.record("direct %s", addr)
	if _, err := failureOf(addr); err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", f.echo)
}

// Tunnel fails as fakeFailures says, or returns a lease whose channels go
// to the echo server over loopback TCP.
func (f *fakeDialer) Tunnel(ctx context.Context, prof tunnel.Profile, destHost string, cred tunnel.Credentials) (lease, error) {
	f.record("tunnel %s %s@%s password=%v", prof.Name, cred.User, destHost, len(cred.Password) > 0)
	if err, _ := failureOf(destHost); err != nil {
		return nil, err
	}
	return &fakeLease{f: f}, nil
}

// Subsystems fails as fakeFailures says for Tunnel, or returns a lease
// whose subsystem channels go to the echo server over loopback TCP.
func (f *fakeDialer) Subsystems(ctx context.Context, prof tunnel.Profile, destHost string, cred tunnel.Credentials, name string, n int) (ftp.Subsystems, error) {
	f.record("subsystems %s %s@%s password=%v %s %d", prof.Name, cred.User, destHost, len(cred.Password) > 0, name, n)
	if err, _ := failureOf(destHost); err != nil {
		return nil, err
	}
	return &fakeSubsystems{fakeLease{f: f}}, nil
}

// fakeSubsystems is what the fake dialer's Subsystems returns.
type fakeSubsystems struct{ fakeLease }

func (s *fakeSubsystems) Subsystem(ctx context.Context, name string) (io.ReadWriteCloser, error) {
	s.f.record("subsystem %s", name)
	var d net.Dialer
	return d.DialContext(ctx, "tcp", s.f.echo)
}

// fakeLease is a lease of the fake dialer.
type fakeLease struct{ f *fakeDialer }

func (l *fakeLease) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	l.f.record("channel %s", addr)
	if _, err := failureOf(addr); err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", l.f.echo)
}

// Splice carries conn to the echo server as the builtin engine does:
// the channel (Dial) first, then Ready, then a relay. Destinations whose
// first label is one of these act as the openssh engine can:
// "splicecut" fails after Ready (a master that dies once it has the
// socket); "splicebanner" writes a banner on conn as soon as Ready has
// returned (a master that relays the server's first bytes at once).
func (l *fakeLease) Splice(ctx context.Context, addr string, conn net.Conn, opt tunnel.SpliceOptions) (spliced, error) {
	up, err := l.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if opt.Ready != nil {
		if err := opt.Ready(); err != nil {
			up.Close()
			conn.Close()
			return nil, err
		}
	}
	switch {
	case strings.HasPrefix(addr, "splicecut."):
		up.Close()
		conn.Close()
		return nil, errFakeCut
	case strings.HasPrefix(addr, "splicebanner."):
		n, err := conn.Write([]byte(fakeBanner))
		for _, c := range opt.Counters {
			c.Down.Add(int64(n)) // the kernel counts what the master sent
		}
		if err != nil {
			up.Close()
			conn.Close()
			return nil, err
		}
	}
	s := &fakeSpliced{done: make(chan struct{})}
	ctx, s.cancel = context.WithCancel(ctx)
	go func() {
		defer close(s.done)
		var ctr relay.Counters
		s.res = relay.Relay(ctx, conn, up, relay.Options{IdleTimeout: opt.IdleTimeout, Counters: &ctr, Trace: opt.Trace})
		for _, c := range opt.Counters {
			// Exact at the end, as the openssh engine's counts are.
			c.Up.Add(s.res.Up)
			c.Down.Add(s.res.Down)
		}
	}()
	return s, nil
}

// fakeBanner is what the fake engine writes for "splicebanner".
const fakeBanner = "220 banner\r\n"

// errFakeCut is the fake engine's failure after Ready.
var errFakeCut = errors.New("tunnel: fake: master gone")

// fakeSpliced is a connection carried by the fake lease's Splice.
type fakeSpliced struct {
	cancel context.CancelFunc
	done   chan struct{}
	res    relay.Result
}

func (s *fakeSpliced) Wait() relay.Result { <-s.done; return s.res }
func (s *fakeSpliced) Close()             { s.cancel() }

func (l *fakeLease) Engine() string { return "builtin" }
func (l *fakeLease) Server() string { return "ssh.test:22" }
func (l *fakeLease) ID() string     { return "T0001" }
func (l *fakeLease) Close() error   { l.f.record("release"); return nil }

// socksConnect dials the daemon from local (nil: any loopback address) and
// sends a CONNECT (or BIND) to dest. It returns the connection and the
// reply code the client saw.
func socksConnect(t *testing.T, addr string, local net.Addr, version int, cmd socks.Command, dest socks.Addr, user, password string) (net.Conn, socks.Reply) {
	t.Helper()
	d := net.Dialer{LocalAddr: local, Timeout: waitTimeout}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(waitTimeout))
	defer c.SetDeadline(time.Time{})
	switch cmd {
	case socks.CmdConnect:
		_, err = socks.ClientHandshake(c, version, dest, user, password)
	case socks.CmdBind:
		_, err = socks.ClientBind(c, version, dest, user, password)
	case socks.CmdUDPAssociate:
		err = udpAssociate(c, dest)
	}
	return c, replyOf(t, err)
}

// udpAssociate sends a SOCKS5 UDP ASSOCIATE, which the client package
// does not offer, and reads the reply.
func udpAssociate(c net.Conn, dest socks.Addr) error {
	if _, err := c.Write([]byte{5, 1, 0}); err != nil {
		return err
	}
	b := make([]byte, 2)
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	ip, _ := dest.IP()
	msg := append([]byte{5, byte(socks.CmdUDPAssociate), 0, 1}, ip.AsSlice()...)
	msg = append(msg, byte(dest.Port>>8), byte(dest.Port))
	if _, err := c.Write(msg); err != nil {
		return err
	}
	rep := make([]byte, 10)
	if _, err := io.ReadFull(c, rep); err != nil {
		return err
	}
	if rep[1] != 0 {
		return &socks.ReplyError{Code: socks.Reply(rep[1])}
	}
	return nil
}

// replyOf returns the reply code of a client handshake's error.
func replyOf(t *testing.T, err error) socks.Reply {
	t.Helper()
	if err == nil {
		return socks.RepSucceeded
	}
	var re *socks.ReplyError
	if !errors.As(err, &re) {
		t.Fatalf("no SOCKS reply: %v", err)
	}
	return re.Code
}

// echoes checks that c carries bytes both ways, then ends the session
// cleanly: half-close, read to EOF.
func echoes(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "ping" {
		t.Fatalf("echo: %q %v", b, err)
	}
	c.(*net.TCPConn).CloseWrite()
	if rest, err := io.ReadAll(c); err != nil || len(rest) != 0 {
		t.Fatalf("after the echo: %q %v", rest, err)
	}
}
