package metrics

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// notifySocket binds a datagram socket as systemd's notify socket, sets
// NOTIFY_SOCKET to it for the test and returns it.
func notifySocket(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

// next reads the next notification, or fails the test after a deadline.
func next(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return string(buf[:n])
}

// fields splits a notification into its assignments.
func fields(t *testing.T, m string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(m, "\n"), "\n") {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("notification %q: line %q is no assignment", m, l)
		}
		out[k] = v
	}
	return out
}

func TestNotifierStates(t *testing.T) {
	c := notifySocket(t)
	n := NewNotifier(zerolog.Nop())
	tests := []struct {
		name string
		send func()
		want map[string]string // "" value: any value
	}{
		{"ready", n.Ready, map[string]string{"READY": "1"}},
		{"reloading", n.Reloading, map[string]string{"RELOADING": "1", "MONOTONIC_USEC": ""}},
		{"ready again", n.Ready, map[string]string{"READY": "1"}},
		{"stopping", n.Stopping, map[string]string{"STOPPING": "1"}},
	}
	for _, tc := range tests {
		tc.send()
		got := fields(t, next(t, c))
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
		for k, v := range tc.want {
			if g, ok := got[k]; !ok || (v != "" && g != v) {
				t.Errorf("%s: %s=%q, want %q (all: %v)", tc.name, k, g, v, got)
			}
		}
		if us, ok := got["MONOTONIC_USEC"]; ok {
			if v, err := strconv.ParseUint(us, 10, 64); err != nil || v == 0 {
				t.Errorf("%s: MONOTONIC_USEC=%q is not a positive number", tc.name, us)
			}
		}
	}
}

// TestNotifierWatchdog: WATCHDOG=1 comes repeatedly when WATCHDOG_USEC asks
// for it for this process, and not at all when WATCHDOG_PID names another.
func TestNotifierWatchdog(t *testing.T) {
	c := notifySocket(t)
	var logbuf bytes.Buffer
	n := NewNotifier(zerolog.New(&logbuf))

	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Watchdog(ctx); close(done) }()
	for i := 0; i < 3; i++ {
		if m := next(t, c); m != "WATCHDOG=1" {
			t.Fatalf("ping %d: %q, want WATCHDOG=1", i+1, m)
		}
	}
	cancel()
	<-done
	if !strings.Contains(logbuf.String(), "SOX0821I systemd watchdog on: WATCHDOG=1 every 100ms") {
		t.Errorf("log: %s", logbuf.String())
	}

	// Another process is watched: Watchdog returns at once, sends nothing.
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
	done = make(chan struct{})
	go func() { n.Watchdog(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watchdog for another PID did not return")
	}
	n.Ready() // a marker: the next datagram must be it, not a ping
	if m := next(t, c); m != "READY=1" {
		t.Errorf("got %q, want only READY=1", m)
	}
}

// TestNotifierWithoutSystemd: without NOTIFY_SOCKET nothing is sent or
// logged; with a socket that is gone, the failure is logged once.
func TestNotifierWithoutSystemd(t *testing.T) {
	var logbuf bytes.Buffer
	n := NewNotifier(zerolog.New(&logbuf))
	t.Setenv("NOTIFY_SOCKET", "")
	os.Unsetenv("NOTIFY_SOCKET")
	n.Ready()
	n.Stopping()
	if logbuf.Len() != 0 {
		t.Errorf("log without NOTIFY_SOCKET: %s", logbuf.String())
	}
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone.sock"))
	n.Ready()
	n.Reloading()
	if got := strings.Count(logbuf.String(), "SOX0820W"); got != 1 || !strings.Contains(logbuf.String(), "systemd notification READY=1 not sent") {
		t.Errorf("want one SOX0820W for READY=1, log: %s", logbuf.String())
	}
	var nilN *Notifier
	nilN.Ready() // a nil Notifier does nothing
	nilN.Watchdog(context.Background())
}
