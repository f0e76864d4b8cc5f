package bench

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"
)

// SecMetrics holds the cost of the metrics.
var SecMetrics = Section{Title: "Cost of metrics (`[metrics] listen`)",
	About: "The same socksd with its metrics listener on and off, side by side in the same run: on, it counts every session and transfer and is scraped once a second during the transfer (Prometheus usually scrapes every 15 s or more); off (`listen = \"\"`), it counts nothing. The direct relay's upload and an FTP RETR through `ftp-tunnel` with each engine. Higher MB/s and lower CPU per GiB are better for metrics on; a ratio of 1 means metrics cost nothing."}

// metricsRefName is the reference of the metrics rows.
const metricsRefName = "the same socksd with metrics off (`[metrics] listen = \"\"`)"

// scrapeInterval is how often a run with metrics on scrapes /metrics.
const scrapeInterval = time.Second

// withMetrics returns cfg with a [metrics] listener on a free loopback
// port, and the /metrics URL.
func withMetrics(t testing.TB, cfg string) (string, string) {
	addr := fmt.Sprintf("127.0.0.1:%d", testpeer.FreePort(t, "127.0.0.1"))
	return cfg + fmt.Sprintf("\n[metrics]\nlisten = %q\n", addr), "http://" + addr + "/metrics"
}

// scraper fetches a /metrics URL every scrapeInterval, as Prometheus
// would, until stopped.
type scraper struct {
	stopC chan struct{}
	done  chan struct{}
	n     int   // scrapes that succeeded
	err   error // the first failure
}

// startScraper scrapes url at once and then every scrapeInterval.
func startScraper(url string) *scraper {
	s := &scraper{stopC: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 30 * time.Second}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(scrapeInterval)
		defer tick.Stop()
		for {
			if _, err := scrapeOnce(client, url); err != nil && s.err == nil {
				s.err = err
			} else if err == nil {
				s.n++
			}
			select {
			case <-s.stopC:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// stop ends the scraping and returns how many scrapes succeeded, or the
// first failure.
func (s *scraper) stop() (int, error) {
	close(s.stopC)
	<-s.done
	return s.n, s.err
}

// scrapeOnce fetches url and returns the body.
func scrapeOnce(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", fmt.Errorf("bench: scrape: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("bench: scrape: %d %w", resp.StatusCode, err)
	}
	return string(b), nil
}

// bytesTotal sums socksd_bytes_total of direction in a scrape.
func bytesTotal(body, direction string) float64 {
	var sum float64
	for l := range strings.Lines(body) {
		if strings.HasPrefix(l, "socksd_bytes_total{") && strings.Contains(l, `direction="`+direction+`"`) {
			f := strings.Fields(l)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

// checkCounted fails unless the daemon's /metrics counted at least want
// bytes in direction: the metrics were live during the runs.
func checkCounted(t testing.TB, url, direction string, want int64) {
	t.Helper()
	body, err := scrapeOnce(&http.Client{Timeout: 30 * time.Second}, url)
	if err != nil {
		t.Fatal(err)
	}
	if got := bytesTotal(body, direction); got < float64(want) {
		t.Fatalf("bench: /metrics counted %.0f bytes %s, want at least %d", got, direction, want)
	}
}

// BenchMetricsDirect measures the direct relay's upload through socksd
// with metrics on (scraped during the transfer) against the same socksd
// with metrics off.
func BenchMetricsDirect(t testing.TB, e *Env) []Row {
	off := testpeer.StartSocksd(t, e.Bin, directConfig)
	cfg, url := withMetrics(t, directConfig)
	on := testpeer.StartSocksd(t, e.Bin, cfg)
	addr, done := sink(t)
	dialOff, dialOn := socks5(t, off.Addr, "", ""), socks5(t, on.Addr, "", "")
	r := Row{Section: SecMetrics, Label: "direct, metrics on",
		Name: fmt.Sprintf("throughput, %d MiB upload through a `direct` rule, metrics on", e.Opt.SizeMiB),
		Unit: "MB/s", RefName: metricsRefName}
	for i := 0; i < e.Opt.Runs; i++ {
		for _, metricsOn := range order(i) {
			dial := dialOff
			if metricsOn {
				dial = dialOn
			}
			c, err := dial("tcp", addr)
			if err != nil {
				t.Fatalf("bench: dial (metrics on=%v): %v", metricsOn, err)
			}
			var sc *scraper
			if metricsOn {
				sc = startScraper(url)
			}
			v, err := push(c, e.Opt.Size(), done)
			if err != nil {
				t.Fatalf("bench: metrics on=%v: %v", metricsOn, err)
			}
			if metricsOn {
				if _, err := sc.stop(); err != nil {
					t.Fatal(err)
				}
				r.Ours = append(r.Ours, v)
			} else {
				r.Ref = append(r.Ref, v)
			}
		}
		e.Logf("metrics direct run %d: on %.0f MB/s, off %.0f MB/s", i+1, r.Ours[i], r.Ref[i])
	}
	checkCounted(t, url, "up", int64(e.Opt.Runs)*e.Opt.Size())
	return []Row{r}
}

// metricsPath is one socksd of the FTP metrics rows.
type metricsPath struct {
	engine string
	on     bool
	url    string // /metrics when on
	dial   dialFunc
	pid    int
}

// BenchMetricsFTP measures an FTP RETR through `ftp-tunnel` with metrics
// on (scraped during the transfer) against the same socksd with metrics
// off, with each engine: throughput and CPU per GiB.
func BenchMetricsFTP(t testing.TB, e *Env) []Row {
	v := e.FTP
	size := e.Opt.Size()
	writeServerFile(t, v, "metrics.bin", size)
	var paths []metricsPath
	for _, eng := range Engines {
		cfg := withEngine(ftpConfig(e.SSHD, v.Port), eng, 0)
		for _, on := range []bool{false, true} {
			p := metricsPath{engine: eng, on: on}
			c := cfg
			if on {
				c, p.url = withMetrics(t, cfg)
			}
			d := testpeer.StartSocksd(t, e.Bin, c)
			p.dial, p.pid = socks5(t, d.Addr, "", ""), d.PID()
			paths = append(paths, p)
		}
	}
	key := func(p metricsPath, what string) string { return fmt.Sprintf("%s %v %s", p.engine, p.on, what) }
	res := map[string][]float64{}
	for i := 0; i < e.Opt.Runs; i++ {
		for _, p := range rotate(paths, i) {
			c, err := ftpLogin(p.dial, v)
			if err != nil {
				t.Fatalf("%s metrics on=%v: %v", p.engine, p.on, err)
			}
			var sc *scraper
			if p.on {
				sc = startScraper(p.url)
			}
			m := startCPU(p.pid)
			r, err := retr(c, "metrics.bin", size)
			if err != nil {
				t.Fatalf("%s metrics on=%v: %v", p.engine, p.on, err)
			}
			cpu, err := m.stop(size)
			if err != nil {
				t.Fatalf("%s metrics on=%v: %v", p.engine, p.on, err)
			}
			if sc != nil {
				if _, err := sc.stop(); err != nil {
					t.Fatal(err)
				}
			}
			c.Quit()
			res[key(p, "RETR")] = append(res[key(p, "RETR")], r)
			res[key(p, "cpu")] = append(res[key(p, "cpu")], cpu.Total)
			e.Logf("metrics ftp run %d %-8s on=%-5v RETR %.0f MB/s %.3f s/GiB", i+1, p.engine, p.on, r, cpu.Total)
		}
	}
	var rows []Row
	for _, p := range paths {
		if !p.on {
			continue
		}
		checkCounted(t, p.url, "down", int64(e.Opt.Runs)*size)
		offKey := func(what string) string { return key(metricsPath{engine: p.engine}, what) }
		rows = append(rows,
			Row{Section: SecMetrics, Label: engineLabel("RETR, metrics on", p.engine), Engine: p.engine,
				Name: fmt.Sprintf("RETR of %d MiB through `ftp-tunnel`, metrics on", e.Opt.SizeMiB),
				Unit: "MB/s", Ours: res[key(p, "RETR")], RefName: metricsRefName, Ref: res[offKey("RETR")]},
			Row{Section: SecMetrics, Label: engineLabel("RETR CPU, metrics on", p.engine), Engine: p.engine,
				Name: "CPU per GiB of the RETR, socksd and its `ssh` children, metrics on",
				Unit: "s/GiB", Ours: res[key(p, "cpu")], RefName: metricsRefName, Ref: res[offKey("cpu")]})
	}
	return rows
}
