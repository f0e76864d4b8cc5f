package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeSource is a Source over a list of live sessions that a test changes.
type fakeSource struct {
	mu   sync.Mutex
	live []fakeSession
}

type fakeSession struct {
	origin, action string
	up, down       int64
}

func (f *fakeSource) set(l ...fakeSession) {
	f.mu.Lock()
	f.live = l
	f.mu.Unlock()
}

func (f *fakeSource) source() Source {
	return Source{
		Sessions: func(yield func(origin, action string, up, down int64)) {
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, s := range f.live {
				yield(s.origin, s.action, s.up, s.down)
			}
		},
		SSH: func(yield func(engine string)) {
			yield("builtin")
			yield("builtin")
			yield("openssh")
		},
		Engines: func(yield func(profile, engine string)) { yield("partner", "openssh") },
	}
}

// scrape returns the text exposition of the Set's socksd_ metrics.
func scrape(t *testing.T, s *Set) string {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler(s, func() error { return nil }).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	var keep []string
	for l := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(l, "socksd_") {
			keep = append(keep, strings.TrimSuffix(l, "\n"))
		}
	}
	return strings.Join(keep, "\n")
}

func hasLine(t *testing.T, text, line string) {
	t.Helper()
	if !slices.Contains(strings.Split(text, "\n"), line) {
		t.Errorf("no line %q in:\n%s", line, text)
	}
}

func TestEvents(t *testing.T) {
	s := New(Info{Version: "1.2.3"}, Source{})
	s.SessionStarted("socks")
	s.SessionStarted("socks")
	s.SessionStarted("forward")
	s.SessionEnded("socks", "block", "deny-all", "blocked", 0, 0)
	s.SessionEnded("socks", "direct", "web", "ok", 10, 20)
	s.SessionEnded("socks", "", "", "failed", 0, 0) // a handshake that failed
	s.HandshakeFailed("version")
	s.RuleHit("web", "direct")
	s.SSHOpened("builtin", "password")
	s.SSHFailed("builtin", SSHAuth, "publickey")
	s.SSHFailed("openssh", SSHHostKeyChanged, "")
	s.SSHFailed("builtin", SSHUnreachable, "")
	s.FTPTransfer("retr", 226, "ftp", 5000, 0.5)
	s.FTPTransfer("XYZ", 0, "sftp", 0, 0.001)
	s.Reloaded(true)
	s.Reloaded(false)
	text := scrape(t, s)
	for _, l := range []string{
		`socksd_sessions_started_total{origin="socks"} 2`,
		`socksd_sessions_started_total{origin="forward"} 1`,
		`socksd_sessions_total{action="block",origin="socks",result="blocked",rule="deny-all"} 1`,
		`socksd_sessions_total{action="none",origin="socks",result="failed",rule="none"} 1`,
		`socksd_bytes_total{action="direct",direction="up"} 10`,
		`socksd_bytes_total{action="direct",direction="down"} 20`,
		`socksd_socks_handshake_failures_total{reason="version"} 1`,
		`socksd_rule_hits_total{action="direct",rule="web"} 1`,
		`socksd_ssh_connections_opened_total{engine="builtin"} 1`,
		`socksd_ssh_logins_total{method="password",result="ok"} 1`,
		`socksd_ssh_logins_total{method="publickey",result="rejected"} 1`,
		`socksd_ssh_host_key_failures_total{reason="changed"} 1`,
		`socksd_ssh_connection_failures_total{engine="openssh",reason="host_key"} 1`,
		`socksd_ssh_connection_failures_total{engine="builtin",reason="unreachable"} 1`,
		`socksd_ssh_connection_failures_total{engine="builtin",reason="auth"} 1`,
		`socksd_ftp_transfers_total{class="2xx",command="RETR",protocol="ftp"} 1`,
		`socksd_ftp_transfers_total{class="none",command="other",protocol="sftp"} 1`,
		`socksd_ftp_transfer_bytes_bucket{command="RETR",le="8192"} 1`,
		`socksd_ftp_transfer_bytes_bucket{command="RETR",le="1024"} 0`,
		`socksd_ftp_transfer_bytes_sum{command="RETR"} 5000`,
		`socksd_ftp_transfer_duration_seconds_count{command="RETR"} 1`,
		`socksd_reloads_total{result="ok"} 1`,
		`socksd_reloads_total{result="rejected"} 1`,
		`socksd_build_info{goversion="` + runtime.Version() + `",version="1.2.3"} 1`,
	} {
		hasLine(t, text, l)
	}
	probs, err := testutil.GatherAndLint(s.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		if strings.HasPrefix(p.Metric, "socksd_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

// TestLiveBytes checks that the bytes of running sessions show while they
// run, and that a session ending between scrapes never makes the counter
// go down.
func TestLiveBytes(t *testing.T) {
	f := &fakeSource{}
	s := New(Info{}, f.source())
	f.set(fakeSession{"socks", "tunnel", 100, 1000}, fakeSession{"socks", "", 0, 0})
	text := scrape(t, s)
	hasLine(t, text, `socksd_bytes_total{action="tunnel",direction="down"} 1000`)
	hasLine(t, text, `socksd_sessions_in_flight{action="tunnel",origin="socks"} 1`)
	hasLine(t, text, `socksd_sessions_in_flight{action="none",origin="socks"} 1`)
	hasLine(t, text, `socksd_ssh_connections_open{engine="builtin"} 2`)
	hasLine(t, text, `socksd_ssh_connections_open{engine="openssh"} 1`)
	hasLine(t, text, `socksd_engine_info{engine="openssh",profile="partner"} 1`)

	f.set(fakeSession{"socks", "tunnel", 200, 5000})
	hasLine(t, scrape(t, s), `socksd_bytes_total{action="tunnel",direction="down"} 5000`)

	// The session has left the live ones, its end is not counted yet.
	f.set()
	text = scrape(t, s)
	hasLine(t, text, `socksd_bytes_total{action="tunnel",direction="down"} 5000`)
	if strings.Contains(text, "socksd_sessions_in_flight{") {
		t.Errorf("sessions in flight after every session ended:\n%s", text)
	}
	s.SessionEnded("socks", "tunnel", "r", "ok", 250, 6000)
	hasLine(t, scrape(t, s), `socksd_bytes_total{action="tunnel",direction="down"} 6000`)
	hasLine(t, scrape(t, s), `socksd_bytes_total{action="tunnel",direction="up"} 250`)

	// A second session adds to the first's.
	f.set(fakeSession{"redirect", "tunnel", 1, 4})
	hasLine(t, scrape(t, s), `socksd_bytes_total{action="tunnel",direction="down"} 6004`)
}

func TestNilSet(t *testing.T) {
	var s *Set
	s.SessionStarted("socks")
	s.SessionEnded("socks", "direct", "r", "ok", 1, 1)
	s.HandshakeFailed("x")
	s.RuleHit("r", "direct")
	s.SSHOpened("builtin", "password")
	s.SSHFailed("builtin", SSHAuth, "password")
	s.FTPTransfer("RETR", 226, "ftp", 1, 1)
	s.Reloaded(true)
}

func TestHealth(t *testing.T) {
	var notReady error
	h := Handler(New(Info{}, Source{}), func() error { return notReady })
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	tests := []struct {
		path     string
		notReady error
		code     int
		body     string
	}{
		{"/healthz", nil, http.StatusOK, "ok\n"},
		{"/healthz", errors.New("quiesced"), http.StatusOK, "ok\n"},
		{"/readyz", nil, http.StatusOK, "ready\n"},
		{"/readyz", errors.New("quiesced"), http.StatusServiceUnavailable, "not ready: quiesced\n"},
		{"/nothing", nil, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		notReady = tt.notReady
		code, body := get(tt.path)
		if code != tt.code || (tt.body != "" && body != tt.body) {
			t.Errorf("%s (not ready: %v) = %d %q, want %d %q", tt.path, tt.notReady, code, body, tt.code, tt.body)
		}
	}
}

func TestServer(t *testing.T) {
	srv, err := Listen("127.0.0.1:0", Handler(New(Info{}, Source{}), func() error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	resp, err := http.Get("http://" + srv.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "socksd_build_info") {
		t.Errorf("/metrics has no socksd_build_info:\n%s", b)
	}
	if _, err := Listen(srv.Addr().String(), http.NotFoundHandler()); err == nil || !strings.HasPrefix(err.Error(), "metrics: ") {
		t.Errorf("second listener on the same port: %v", err)
	}
	srv.Close()
	if err := <-done; err != nil {
		t.Errorf("Serve after Close: %v", err)
	}
}
