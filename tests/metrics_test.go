package tests

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"golang.org/x/net/proxy"

	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
)

// metricsListenRE finds the address of the [metrics] listener in the log.
var metricsListenRE = regexp.MustCompile(`SOX0800I metrics listening on (\S+)`)

// metricsAddr waits for the daemon's SOX0800I and returns the address.
func metricsAddr(t *testing.T, d *testpeer.Socksd) string {
	t.Helper()
	line, ok := d.Log.WaitFor(metricsListenRE, waitTimeout, d.Done())
	if !ok {
		t.Fatalf("no SOX0800I in the log:\n%s", d.Log.String())
	}
	return metricsListenRE.FindStringSubmatch(line)[1]
}

// httpGet fetches path from the metrics listener and returns the status
// and body.
func httpGet(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// scrapeMetrics reads /metrics into a map from series ("name{labels}",
// labels as socksd writes them, sorted) to value.
func scrapeMetrics(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	code, body := httpGet(t, addr, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	out := map[string]float64{}
	for l := range strings.Lines(body) {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out
}

// sumSeries adds the values of the series of name whose labels contain
// every one of match (`key="value"`).
func sumSeries(m map[string]float64, name string, match ...string) float64 {
	var sum float64
	for k, v := range m {
		if !strings.HasPrefix(k, name+"{") && k != name {
			continue
		}
		ok := true
		for _, want := range match {
			if !strings.Contains(k, want) {
				ok = false
			}
		}
		if ok {
			sum += v
		}
	}
	return sum
}

// TestMetricsDuringFTPTransfer scrapes /metrics while a RETR through
// ftp-tunnel (real sshd and vsftpd) is held by a job that stops reading,
// and sees the bytes grow before the transfer ends; then the transfer,
// the SSH login and the engine are counted.
func TestMetricsDuringFTPTransfer(t *testing.T) {
	s := testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true})
	v := testpeer.StartVSFTPD(t, testpeer.VSFTPDConfig{})
	const size = 256 << 20
	f, err := os.Create(filepath.Join(v.Root, "big.bin"))
	if err == nil {
		err = f.Truncate(size) // sparse: vsftpd reads zeros
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg := ftpTunnelConfig(s, "", v.Port, "", `data = "socks"`) + "\n[metrics]\nlisten = \"127.0.0.1:0\"\n"
	d := testpeer.StartSocksd(t, socksdBin, cfg)
	addr := metricsAddr(t, d)
	if code, body := httpGet(t, addr, "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz = %d %q before any session", code, body)
	}

	c, err := ftp.Dial(v.Addr, ftp.DialWithDialFunc(socksDial(t, d.Addr, proxy.Direct)), ftp.DialWithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login(v.User, v.Password); err != nil {
		t.Fatalf("login through socksd: %v", err)
	}
	r, err := c.Retr("big.bin")
	if err != nil {
		t.Fatalf("RETR: %v", err)
	}
	down := func(m map[string]float64) float64 {
		return sumSeries(m, "socksd_bytes_total", `direction="down"`)
	}
	read := int64(0)
	readMore := func(n int64) {
		t.Helper()
		got, err := io.CopyN(io.Discard, r, n)
		read += got
		if err != nil {
			t.Fatalf("RETR: %v after %d bytes", err, read)
		}
	}
	// The job reads 1 MiB and stops: the buffers on the way fill, the
	// transfer stalls far from its end, and the bytes so far show.
	readMore(1 << 20)
	var first float64
	wait.Until(t, "bytes of the running transfer in /metrics", waitTimeout, func() bool {
		first = down(scrapeMetrics(t, addr))
		return first >= 1<<20
	})
	if first >= size {
		t.Fatalf("socksd_bytes_total down = %.0f before the job read more than %d of %d bytes", first, read, size)
	}
	m := scrapeMetrics(t, addr)
	if n := sumSeries(m, "socksd_sessions_in_flight", `action="ftp-data"`); n != 1 {
		t.Errorf("ftp-data sessions in flight = %v, want 1", n)
	}
	if n := sumSeries(m, "socksd_ftp_transfers_total"); n != 0 {
		t.Errorf("transfers counted before the first ended: %v", n)
	}
	// The job reads on: the counter grows while the transfer still runs.
	readMore(32 << 20)
	var second float64
	wait.Until(t, "the running transfer's bytes to grow in /metrics", waitTimeout, func() bool {
		second = down(scrapeMetrics(t, addr))
		return second > first+16<<20
	})
	if second >= size {
		t.Fatalf("socksd_bytes_total down = %.0f: the transfer ended before the second scrape", second)
	}
	t.Logf("bytes down in /metrics: %.0f, then %.0f, of %d", first, second, size)

	// The job reads the rest; the transfer ends and is counted.
	rest, err := io.Copy(io.Discard, r)
	if err != nil || read+rest != size {
		t.Fatalf("RETR: %v, %d of %d bytes", err, read+rest, size)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("RETR final reply: %v", err)
	}
	retr := `socksd_ftp_transfers_total{class="2xx",command="RETR",protocol="ftp"}`
	wait.Until(t, "the RETR in /metrics", waitTimeout, func() bool { return scrapeMetrics(t, addr)[retr] == 1 })
	m = scrapeMetrics(t, addr)
	if down(m) < size {
		t.Errorf("socksd_bytes_total down = %.0f after a %d-byte RETR", down(m), size)
	}
	if n := m[`socksd_ftp_transfer_bytes_count{command="RETR"}`]; n != 1 {
		t.Errorf("RETR bytes histogram count = %v", n)
	}
	if b := m[`socksd_ftp_transfer_bytes_sum{command="RETR"}`]; b != size {
		t.Errorf("RETR bytes histogram sum = %.0f, want %d", b, size)
	}
	if n := m[`socksd_ftp_transfer_duration_seconds_count{command="RETR"}`]; n != 1 {
		t.Errorf("RETR duration histogram count = %v", n)
	}
	engine := testpeer.Engine()
	if n := m[fmt.Sprintf(`socksd_ssh_connections_opened_total{engine=%q}`, engine)]; n != 1 {
		t.Errorf("SSH connections opened with %s = %v, want 1", engine, n)
	}
	if n := sumSeries(m, "socksd_ssh_logins_total", `result="ok"`); n != 1 {
		t.Errorf("SSH logins ok = %v, want 1", n)
	}
	if n := m[fmt.Sprintf(`socksd_ssh_connections_open{engine=%q}`, engine)]; n != 1 {
		t.Errorf("SSH connections open with %s = %v, want 1", engine, n)
	}
	if n := m[fmt.Sprintf(`socksd_engine_info{engine=%q,profile="ftphost"}`, engine)]; n != 1 {
		t.Errorf("engine info of profile ftphost: %v", n)
	}
	if n := m[`socksd_rule_hits_total{action="ftp-tunnel",rule="ftp"}`]; n != 1 {
		t.Errorf("hits of rule ftp = %v, want 1", n)
	}
	// No label carries the user, the password, a client address or the file.
	_, body := httpGet(t, addr, "/metrics")
	for _, secret := range []string{v.User, v.Password, "big.bin", "127.0.0.1"} {
		if strings.Contains(body, secret) {
			t.Errorf("/metrics shows %q", secret)
		}
	}
}

// metricsConsoleConfig is consoleConfig with a metrics listener.
const metricsConsoleConfig = consoleConfig + `
[metrics]
listen = "127.0.0.1:0"
`

// TestMetricsBlockedAndReadiness counts blocked requests by rule, a
// handshake failure and a reload, and checks that /readyz goes 503 on
// QUIESCE and 200 again on RESUME, without showing any configuration.
func TestMetricsBlockedAndReadiness(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, metricsConsoleConfig)
	addr := metricsAddr(t, d)
	dl, err := proxy.SOCKS5("tcp", d.Addr, nil, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := dl.Dial("tcp", "127.0.0.1:9"); err == nil || !strings.Contains(err.Error(), "not allowed") {
			t.Fatalf("CONNECT to port 9: %v, want a rule block", err)
		}
	}
	if _, err := dl.Dial("tcp", "192.0.2.1:80"); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("CONNECT to 192.0.2.1: %v, want a rule block", err)
	}
	// A handshake in a version socksd does not speak.
	if got, err := rawExchange(t, d.Addr, []byte{9, 9, 9}, 1); err == nil {
		t.Logf("version 9 handshake answered % x", got)
	}
	mustCmd(t, d, "RELOAD", "SOX0404I")

	var m map[string]float64
	deny := `socksd_sessions_total{action="block",origin="socks",result="blocked",rule="deny-port-9"}`
	wait.Until(t, "blocked sessions in /metrics", waitTimeout, func() bool {
		m = scrapeMetrics(t, addr)
		return m[deny] == 2 && sumSeries(m, "socksd_socks_handshake_failures_total") == 1
	})
	if n := m[`socksd_sessions_total{action="block",origin="socks",result="blocked",rule="rest"}`]; n != 1 {
		t.Errorf("sessions blocked by rule rest = %v, want 1", n)
	}
	if n := m[`socksd_rule_hits_total{action="block",rule="deny-port-9"}`]; n != 2 {
		t.Errorf("hits of deny-port-9 = %v, want 2", n)
	}
	if n := m[`socksd_socks_handshake_failures_total{reason="version"}`]; n != 1 {
		t.Errorf("handshake failures by version = %v, want 1", n)
	}
	if n := m[`socksd_sessions_started_total{origin="socks"}`]; n != 3 {
		t.Errorf("sessions started = %v, want 3", n)
	}
	if n := m[`socksd_reloads_total{result="ok"}`]; n != 1 {
		t.Errorf("reloads ok = %v, want 1", n)
	}
	if n := sumSeries(m, "socksd_build_info"); n != 1 {
		t.Errorf("socksd_build_info = %v", n)
	}

	ready := func(want int, wantBody string) {
		t.Helper()
		code, body := httpGet(t, addr, "/readyz")
		if code != want || !strings.Contains(body, wantBody) {
			t.Errorf("/readyz = %d %q, want %d with %q", code, body, want, wantBody)
		}
		for _, secret := range []string{d.Addr, d.Socket, "deny-port-9", "127.0.0.1"} {
			if strings.Contains(body, secret) {
				t.Errorf("/readyz shows %q: %q", secret, body)
			}
		}
		if code, body := httpGet(t, addr, "/healthz"); code != http.StatusOK {
			t.Errorf("/healthz = %d %q", code, body)
		}
	}
	ready(http.StatusOK, "ready")
	mustCmd(t, d, "QUIESCE", "SOX0005I")
	ready(http.StatusServiceUnavailable, "quiesced")
	mustCmd(t, d, "RESUME", "SOX0006I")
	ready(http.StatusOK, "ready")
}
