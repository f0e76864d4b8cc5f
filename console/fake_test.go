package console

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// base is the fixed "now" of the tests.
var base = time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)

// fakeTarget is a Target that records the calls made on it.
type fakeTarget struct {
	mu        sync.Mutex
	calls     []string
	reloadErr error
	quiesced  bool
	stopped   chan bool   // receives Stop's argument
	events    chan string // receives every recorded call
}

func newFake() *fakeTarget {
	return &fakeTarget{stopped: make(chan bool, 8), events: make(chan string, 64)}
}

func (f *fakeTarget) record(format string, args ...any) {
	call := fmt.Sprintf(format, args...)
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	select {
	case f.events <- call:
	default:
	}
}

// waitCall waits for the call want to be recorded, failing the test after
// a generous deadline.
func (f *fakeTarget) waitCall(t testing.TB, want string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case got := <-f.events:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("call %s did not happen; calls so far: %s", want, f.Calls())
		}
	}
}

// syncBuffer is a log sink that tests can read while the console writes,
// and wait on.
type syncBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{writes: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.writes <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the buffer contains want.
func (b *syncBuffer) waitFor(t testing.TB, want string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(b.String(), want) {
		select {
		case <-b.writes:
		case <-deadline:
			t.Fatalf("log never contained %q:\n%s", want, b.String())
		}
	}
}

// Calls returns the calls recorded so far, joined by "; ".
func (f *fakeTarget) Calls() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, "; ")
}

func (f *fakeTarget) Sessions() []SessionInfo {
	return []SessionInfo{
		{ID: 12, User: "PAYJOB1", Client: "127.0.0.1:40112", Dest: "ftp.partner.example:21",
			Rule: "ftp-partner", Action: "ftp-tunnel", SSHServer: "ftp.partner.example:22", State: "relay",
			BytesDown: 1536, BytesUp: 52428800, Started: base.Add(-125 * time.Second), Trace: true, Origin: "socks"},
		{ID: 3, User: "", Client: "[::1]:5000", Dest: "10.1.2.3:443", Rule: "direct-web",
			Action: "direct", State: "relay", BytesDown: 99, BytesUp: 0, Started: base.Add(-3 * time.Hour), Origin: "redirect"},
	}
}

func (f *fakeTarget) Tunnels() []TunnelInfo {
	return []TunnelInfo{{ID: "ssh-1", Server: "ftp.partner.example:22", User: "payjob1", Profile: "partner", Engine: "openssh", PID: 4242,
		Channels: 2, TotalChannels: 17, Opened: base.Add(-10 * time.Minute), LastUsed: base.Add(-5 * time.Second)},
		{ID: "ssh-2", Server: "10.20.0.5:2222", User: "batch", Profile: "default", Engine: "builtin",
			Channels: 0, TotalChannels: 1, Opened: base.Add(-26 * time.Hour)}}
}

func (f *fakeTarget) Forwards() []ForwardInfo {
	return []ForwardInfo{
		{Name: "mail", Listen: "127.0.0.1:2525", To: "mail.internal:25", Profile: "gw", Listening: true, Sessions: 2, Total: 31},
		{Name: "[::1]:5432", Listen: "[::1]:5432", To: "[2001:db8::5]:5432", Profile: "partner"},
	}
}

func (f *fakeTarget) Rules() []RuleInfo {
	return []RuleInfo{
		{Index: 1, Name: "ftp-partner", Action: "ftp-tunnel", Summary: "to ftp.partner.example ports 21", Hits: 1042},
		{Index: 2, Name: "everything-else", Action: "block", Summary: "any", Hits: 7},
	}
}

func (f *fakeTarget) Stats() Stats {
	return Stats{Started: base.Add(-50 * time.Hour), Active: 2, Total: 1049, Refused: 3, Blocked: 7,
		Failed: 1, BytesDown: 5 << 30, BytesUp: 123456, Tunnels: 2, Goroutines: 41, OpenFDs: 19,
		Quiesced: f.isQuiesced(), MaxSessions: 2048}
}

func (f *fakeTarget) isQuiesced() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.quiesced
}

func (f *fakeTarget) ConfigSummary() []string {
	return []string{"listen 127.0.0.1:1080", "rules 2", "console socket /run/socksd/console.sock"}
}

func (f *fakeTarget) Version() string { return "1.0.0-test" }

func (f *fakeTarget) Listeners() []ListenerInfo {
	return []ListenerInfo{
		{Kind: ListenerSOCKS, Addr: "127.0.0.1:1080"},
		{Kind: ListenerRedirect, Addr: "127.0.0.1:1090"},
		{Kind: ListenerRewrite, Addr: "127.0.0.1:*"},
	}
}

func (f *fakeTarget) Reload() error {
	f.record("Reload")
	return f.reloadErr
}

func (f *fakeTarget) SetLogLevel(level string) error {
	f.record("SetLogLevel(%s)", level)
	return nil
}

func (f *fakeTarget) Trace(on bool, session uint64) error {
	f.record("Trace(%v,%d)", on, session)
	if session == 404 {
		return errors.New("socksd: session 404 not found")
	}
	return nil
}

func (f *fakeTarget) Cancel(session uint64) error {
	f.record("Cancel(%d)", session)
	if session != 12 && session != 3 {
		return fmt.Errorf("socksd: session %d not found", session)
	}
	return nil
}

func (f *fakeTarget) DropTunnel(id string) error {
	f.record("DropTunnel(%s)", id)
	if id != "ssh-1" {
		return fmt.Errorf("socksd: tunnel %s not found", id)
	}
	return nil
}

func (f *fakeTarget) Quiesce() error {
	f.record("Quiesce")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.quiesced {
		return errors.New("socksd: already quiesced")
	}
	f.quiesced = true
	return nil
}

func (f *fakeTarget) Resume() error {
	f.record("Resume")
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.quiesced {
		return errors.New("socksd: not quiesced")
	}
	f.quiesced = false
	return nil
}

func (f *fakeTarget) Stop(immediate bool) {
	f.record("Stop(%v)", immediate)
	f.stopped <- immediate
}
