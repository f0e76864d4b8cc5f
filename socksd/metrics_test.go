package socksd

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"socksd/config"
	"socksd/internal/testing/wait"
	"socksd/metrics"
	"socksd/socks"
	"socksd/tunnel"
)

// scrapeSet returns the socksd_ lines of set's /metrics.
func scrapeSet(t *testing.T, set *metrics.Set) []string {
	t.Helper()
	rec := httptest.NewRecorder()
	metrics.Handler(set, func() error { return nil }).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	var out []string
	for l := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(l, "socksd_") {
			out = append(out, strings.TrimSuffix(l, "\n"))
		}
	}
	return out
}

func TestHandshakeReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("socks: handshake: %w", socks.ErrVersion), "version"},
		{fmt.Errorf("socks: %w", socks.ErrMethod), "method"},
		{fmt.Errorf("socks: %w", socks.ErrAuth), "auth"},
		{fmt.Errorf("socks: %w", socks.ErrCommand), "command"},
		{fmt.Errorf("socks: %w", socks.ErrAddressType), "address_type"},
		{fmt.Errorf("socks: %w", socks.ErrMalformed), "malformed"},
		{fmt.Errorf("socks: %w", socks.ErrTooLong), "malformed"},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, "timeout"},
		{fmt.Errorf("socks: read: %w", io.EOF), "closed"},
		{fmt.Errorf("socks: read: %w", io.ErrUnexpectedEOF), "closed"},
		{errors.New("something else"), "other"},
	}
	for _, tt := range tests {
		if got := handshakeReason(tt.err); got != tt.want {
			t.Errorf("handshakeReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestOnDialCounts(t *testing.T) {
	d := &Daemon{}
	d.metrics = metrics.New(metrics.Info{}, metrics.Source{})
	open := func(host string) error { e, _ := failureOf(host); return e }
	d.onDial("builtin", "password", nil)
	d.onDial("openssh", "publickey", nil)
	d.onDial("builtin", "", open("hostkey-changed"))
	d.onDial("builtin", "", open("hostkey-unknown"))
	d.onDial("openssh", "", open("auth"))
	d.onDial("builtin", "", open("sshdown"))
	d.onDial("builtin", "", tunnel.ErrPoolClosed)
	lines := scrapeSet(t, d.metrics)
	for _, want := range []string{
		`socksd_ssh_connections_opened_total{engine="builtin"} 1`,
		`socksd_ssh_connections_opened_total{engine="openssh"} 1`,
		`socksd_ssh_logins_total{method="password",result="ok"} 1`,
		`socksd_ssh_logins_total{method="publickey",result="ok"} 1`,
		`socksd_ssh_logins_total{method="password",result="rejected"} 1`,
		`socksd_ssh_host_key_failures_total{reason="changed"} 1`,
		`socksd_ssh_host_key_failures_total{reason="unknown"} 1`,
		`socksd_ssh_connection_failures_total{engine="builtin",reason="host_key"} 2`,
		`socksd_ssh_connection_failures_total{engine="openssh",reason="auth"} 1`,
		`socksd_ssh_connection_failures_total{engine="builtin",reason="unreachable"} 1`,
		`socksd_ssh_connection_failures_total{engine="builtin",reason="other"} 1`,
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("no %s in\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

// metricsConfig is testConfig with a metrics listener and a block rule.
const metricsConfig = `
[server]
listen = ["127.0.0.1:0"]
handshake_timeout = "500ms"
[console]
socket = ""
[metrics]
listen = "127.0.0.1:0"
[[rules]]
name = "no-port-9"
ports = ["9"]
action = "block"
[[rules]]
name = "loopback"
to = ["127.0.0.0/8"]
action = "direct"
`

// get fetches path from the daemon's metrics listener.
func get(t *testing.T, d *Daemon, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: waitTimeout}
	resp, err := c.Get("http://" + d.MetricsAddr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDaemonMetrics runs a daemon with [metrics] listen: a running direct
// session's bytes show before it ends, a block is counted by rule, and
// /readyz follows QUIESCE, RESUME and a stop.
func TestDaemonMetrics(t *testing.T) {
	td := newTestDaemon(t, metricsConfig, nil)
	d := td.Daemon
	if d.MetricsAddr() == nil {
		t.Fatal("no metrics listener")
	}
	wait.Until(t, "SOX0800I", waitTimeout, func() bool { return len(td.log.find(withID("SOX0800I"))) == 1 })
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	c, rep := socksConnect(t, td.addr, nil, 5, socks.CmdConnect, socks.AddrFromNet(echo.Addr()), "", "")
	if rep != socks.RepSucceeded {
		t.Fatalf("CONNECT: %v", rep)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitTimeout))
	payload := strings.Repeat("x", 1000)
	if _, err := io.WriteString(c, payload); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, len(payload))); err != nil {
		t.Fatal(err)
	}
	// The session still runs: its bytes are there.
	wait.Until(t, "live bytes in /metrics", waitTimeout, func() bool {
		_, body := get(t, d, "/metrics")
		return strings.Contains(body, `socksd_bytes_total{action="direct",direction="up"} 1000`) &&
			strings.Contains(body, `socksd_sessions_in_flight{action="direct",origin="socks"} 1`)
	})
	c.Close()

	_, rep = socksConnect(t, td.addr, nil, 5, socks.CmdConnect, socks.Addr{Host: "127.0.0.1", Port: 9}, "", "")
	if rep != socks.RepNotAllowed {
		t.Fatalf("CONNECT to port 9: %v", rep)
	}
	wait.Until(t, "the block in /metrics", waitTimeout, func() bool {
		_, body := get(t, d, "/metrics")
		return strings.Contains(body, `socksd_sessions_total{action="block",origin="socks",result="blocked",rule="no-port-9"} 1`) &&
			strings.Contains(body, `socksd_sessions_total{action="direct",origin="socks",result="ok",rule="loopback"} 1`) &&
			strings.Contains(body, `socksd_bytes_total{action="direct",direction="down"} 1000`)
	})

	tests := []struct {
		do   func()
		code int
		body string
	}{
		{func() {}, http.StatusOK, "ready\n"},
		{func() { d.Quiesce() }, http.StatusServiceUnavailable, "not ready: " + errQuiesced.Error() + "\n"},
		{func() { d.Resume() }, http.StatusOK, "ready\n"},
	}
	for i, tt := range tests {
		tt.do()
		if code, body := get(t, d, "/readyz"); code != tt.code || body != tt.body {
			t.Errorf("step %d: /readyz = %d %q, want %d %q", i, code, body, tt.code, tt.body)
		}
	}
	if code, _ := get(t, d, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if want := "METRICS    listen " + d.MetricsAddr().String() + " (/metrics, /healthz, /readyz)"; !slices.Contains(d.ConfigSummary(), want) {
		t.Errorf("D CONFIG lacks %q: %q", want, d.ConfigSummary())
	}
	// A stop with a session running: /readyz says so while it drains.
	c2, rep := socksConnect(t, td.addr, nil, 5, socks.CmdConnect, socks.AddrFromNet(echo.Addr()), "", "")
	if rep != socks.RepSucceeded {
		t.Fatalf("CONNECT: %v", rep)
	}
	defer c2.Close()
	d.Stop(false)
	if code, body := get(t, d, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "stopping") {
		t.Errorf("/readyz while draining = %d %q", code, body)
	}
	c2.Close()
	select {
	case <-d.Done():
	case <-time.After(waitTimeout):
		t.Fatal("daemon did not stop")
	}
	if _, err := net.DialTimeout("tcp", d.MetricsAddr().String(), time.Second); err == nil {
		t.Error("metrics listener still open after the stop")
	}
}

func TestNoMetricsListener(t *testing.T) {
	td := newTestDaemon(t, testConfig, nil)
	if td.metrics != nil || td.MetricsAddr() != nil {
		t.Error("metrics without [metrics] listen")
	}
	if !slices.Contains(td.ConfigSummary(), "METRICS    off") {
		t.Errorf("D CONFIG without metrics: %q", td.ConfigSummary())
	}
}

// newUnstartedDaemon builds a daemon for the configuration text that logs
// to sink, without listening.
func newUnstartedDaemon(t *testing.T, text string, sink *logSink) *Daemon {
	t.Helper()
	cfg, err := config.Parse("test.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, Options{Logger: zerolog.New(sink), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMetricsListenFails(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := strings.Replace(metricsConfig, `listen = "127.0.0.1:0"`, fmt.Sprintf("listen = %q", busy.Addr()), 1)
	td := &logSink{}
	d := newUnstartedDaemon(t, cfg, td)
	if err := d.Listen(); err == nil || !strings.HasPrefix(err.Error(), "socksd: metrics: listen") {
		t.Fatalf("Listen with the metrics port taken: %v", err)
	}
	if len(td.find(withID("SOX0801E"))) != 1 {
		t.Error("SOX0801E not logged")
	}
	if a := d.Addrs(); len(a) != 0 {
		t.Errorf("SOCKS listeners %v kept after the metrics listener failed", a)
	}
}
