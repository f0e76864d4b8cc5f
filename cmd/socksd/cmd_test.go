package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"socksd/console"
)

// cmdTarget is a console.Target for the cmd tests.
type cmdTarget struct {
	mu    sync.Mutex
	calls []string
}

func (f *cmdTarget) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *cmdTarget) Calls() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, "; ")
}

func (f *cmdTarget) Sessions() []console.SessionInfo {
	return []console.SessionInfo{{ID: 1, User: "JOB1", Client: "127.0.0.1:4000", Dest: "127.0.0.1:21",
		Rule: "ftp", Action: "ftp-tunnel", State: "relay", Started: time.Now()}}
}
func (f *cmdTarget) Tunnels() []console.TunnelInfo   { return nil }
func (f *cmdTarget) Forwards() []console.ForwardInfo { return nil }
func (f *cmdTarget) Rules() []console.RuleInfo {
	return []console.RuleInfo{{Index: 1, Name: "ftp", Action: "ftp-tunnel", Summary: "port 21"}}
}
func (f *cmdTarget) Stats() console.Stats    { return console.Stats{Started: time.Now(), Active: 1} }
func (f *cmdTarget) ConfigSummary() []string { return []string{"listen 127.0.0.1:1080"} }
func (f *cmdTarget) Version() string         { return "test" }
func (f *cmdTarget) Listeners() []console.ListenerInfo {
	return []console.ListenerInfo{{Kind: console.ListenerSOCKS, Addr: "127.0.0.1:1080"}}
}
func (f *cmdTarget) Reload() error              { f.record("Reload"); return errors.New("config: x.toml:3: bad") }
func (f *cmdTarget) SetLogLevel(string) error   { return nil }
func (f *cmdTarget) Trace(bool, uint64) error   { return nil }
func (f *cmdTarget) DropTunnel(id string) error { return fmt.Errorf("socksd: no tunnel %s", id) }
func (f *cmdTarget) Quiesce() error             { f.record("Quiesce"); return nil }
func (f *cmdTarget) Resume() error              { return nil }
func (f *cmdTarget) Stop(immediate bool)        { f.record(fmt.Sprintf("Stop(%v)", immediate)) }
func (f *cmdTarget) Cancel(id uint64) error {
	f.record(fmt.Sprintf("Cancel(%d)", id))
	if id != 1 {
		return fmt.Errorf("socksd: session %d not found", id)
	}
	return nil
}

// startConsole serves a console for target on a socket in a temporary
// directory and returns the socket's path.
func startConsole(t *testing.T, target console.Target) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	ln, err := console.ListenSocket(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- console.New(target, zerolog.Nop()).ServeSocket(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return path
}

func TestRunCmd(t *testing.T) {
	target := &cmdTarget{}
	path := startConsole(t, target)
	t.Setenv("SOCKSD_CONSOLE", "")
	tests := []struct {
		name   string
		args   []string
		env    string // $SOCKSD_CONSOLE
		code   int
		stdout string // prefix of stdout
		stderr string // part of stderr
	}{
		{"display", []string{"--socket", path, "D SESSIONS"}, "", 0, "SOX0410I DISPLAY SESSIONS: 1 active\n", ""},
		{"words", []string{"-socket=" + path, "d", "v"}, "", 0, "SOX0416I socksd version test\n", ""},
		{"flag after", []string{"D", "V", "--socket", path}, "", 0, "SOX0416I", ""},
		{"env", []string{"D V"}, path, 0, "SOX0416I", ""},
		{"flag beats env", []string{"--socket", path, "D V"}, "/nonexistent/x.sock", 0, "SOX0416I", ""},
		{"dashdash", []string{"--socket", path, "--", "CANCEL", "SESSION=1"}, "", 0, "SOX0406I session 1 cancelled", ""},
		{"refused", []string{"--socket", path, "CANCEL SESSION=9"}, "", 1, "SOX0403E command failed: socksd: session 9 not found", ""},
		{"reload rejected", []string{"--socket", path, "RELOAD"}, "", 1, "SOX0004E configuration rejected, old rules stay: config: x.toml:3: bad", ""},
		{"malformed", []string{"--socket", path, "FROB"}, "", 1, "SOX0402E", ""},
		{"no daemon", []string{"--socket", filepath.Join(t.TempDir(), "none.sock"), "D V"}, "", 1, "", "SOX0420E control socket "},
		{"default path", []string{"D V"}, "", 1, "", "SOX0420E control socket /run/socksd/console.sock: "},
		{"no text", []string{"--socket", path}, "", 2, "", "no command given"},
		{"blank text", []string{"--socket", path, "  "}, "", 2, "", "no command given"},
		{"bad flag", []string{"--sock", path, "D V"}, "", 2, "", "unknown flag --sock"},
		{"missing value", []string{"D V", "--socket"}, "", 2, "", "needs a value"},
		{"bad timeout", []string{"--timeout", "soon", "D V"}, "", 2, "", "positive duration"},
		{"help", []string{"--help"}, "", 0, "usage: socksd cmd", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "default path" {
				if _, err := os.Lstat(defaultConsoleSocket); err == nil {
					t.Skip("a daemon may be listening on the default socket")
				}
			}
			t.Setenv("SOCKSD_CONSOLE", tt.env)
			var out, errOut bytes.Buffer
			code := runCmd(tt.args, &out, &errOut)
			if code != tt.code || !strings.HasPrefix(out.String(), tt.stdout) || !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("runCmd(%q) = %d\nstdout: %s\nstderr: %s\nwant %d, stdout prefix %q, stderr with %q",
					tt.args, code, out.String(), errOut.String(), tt.code, tt.stdout, tt.stderr)
			}
		})
	}
	if got, want := target.Calls(), "Cancel(1); Cancel(9); Reload"; got != want {
		t.Errorf("calls = %s, want %s", got, want)
	}
}

func TestRunCmdQuiesceAndStop(t *testing.T) {
	target := &cmdTarget{}
	path := startConsole(t, target)
	for _, text := range []string{"QUIESCE", "P", "STOP IMMEDIATE"} {
		var out, errOut bytes.Buffer
		if code := runCmd([]string{"--socket", path, text}, &out, &errOut); code != 0 {
			t.Fatalf("%s: exit %d: %s%s", text, code, out.String(), errOut.String())
		}
	}
	if got, want := target.Calls(), "Quiesce; Stop(false); Stop(true)"; got != want {
		t.Errorf("calls = %s, want %s", got, want)
	}
}
