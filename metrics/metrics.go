// Package metrics holds socksd's Prometheus collectors and the HTTP
// listener that serves them (/metrics) with the health (/healthz) and
// readiness (/readyz) endpoints.
//
// A Set has its own registry: nothing is registered with the client
// library's global default. The daemon owns one Set and calls its methods
// where events happen; what is only known while the daemon runs (the live
// sessions' bytes, the open SSH connections, each profile's engine) a
// Source gives at scrape time, so that the relay's hot path does nothing
// for metrics and a long transfer's bytes still move while it runs. Every
// counting method of a nil *Set does nothing: a daemon without [metrics]
// pays nothing.
package metrics

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// namespace is the prefix of every metric socksd defines.
const namespace = "socksd"

// Source gives the values that the daemon knows only while it runs. Its
// functions are called at scrape time, each with a yield function, and
// must not block for long.
type Source struct {
	// Sessions yields each live session: how it came in, its action ("" while
	// none is decided yet) and its bytes so far, client to destination (up)
	// and back (down).
	Sessions func(yield func(origin, action string, up, down int64))
	// SSH yields the engine of each open SSH connection.
	SSH func(yield func(engine string))
	// Engines yields each SSH profile with the engine it uses.
	Engines func(yield func(profile, engine string))
}

// Set is socksd's metrics: the collectors and their registry.
type Set struct {
	reg *prometheus.Registry
	src Source

	sessionsStarted   *prometheus.CounterVec
	sessions          *prometheus.CounterVec
	handshakeFailures *prometheus.CounterVec
	ruleHits          *prometheus.CounterVec
	sshOpened         *prometheus.CounterVec
	sshFailures       *prometheus.CounterVec
	sshLogins         *prometheus.CounterVec
	hostKeyFailures   *prometheus.CounterVec
	ftpTransfers      *prometheus.CounterVec
	ftpBytes          *prometheus.HistogramVec
	ftpDuration       *prometheus.HistogramVec
	reloads           *prometheus.CounterVec

	mu    sync.Mutex
	ended map[bytesKey]int64 // bytes of ended sessions
	shown map[bytesKey]int64 // the highest value each bytes series has shown
}

// bytesKey names one series of socksd_bytes_total.
type bytesKey struct{ direction, action string }

// Info is what socksd_build_info shows.
type Info struct {
	Version string // socksd's version; the Go version is the runtime's
}

// The descriptions of the metrics a Source feeds.
var (
	bytesDesc = prometheus.NewDesc(namespace+"_bytes_total",
		"Bytes moved by sessions, by direction (up: client to destination, down: back) and action, the running sessions' bytes included.",
		[]string{"direction", "action"}, nil)
	inFlightDesc = prometheus.NewDesc(namespace+"_sessions_in_flight",
		"Sessions running now, by origin and action (none: not routed yet).",
		[]string{"origin", "action"}, nil)
	sshOpenDesc = prometheus.NewDesc(namespace+"_ssh_connections_open",
		"SSH connections open now, by engine.",
		[]string{"engine"}, nil)
	engineDesc = prometheus.NewDesc(namespace+"_engine_info",
		"The SSH engine each profile uses; always 1.",
		[]string{"profile", "engine"}, nil)
)

// New returns a Set whose scrape-time values come from src (a nil
// function of src yields nothing).
func New(info Info, src Source) *Set {
	s := &Set{
		reg:   prometheus.NewRegistry(),
		src:   src,
		ended: map[bytesKey]int64{},
		shown: map[bytesKey]int64{},
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
		s.reg.MustRegister(v)
		return v
	}
	s.sessionsStarted = counter("sessions_started_total",
		"Sessions started (admitted past allow_clients, the handshake and the limits), by origin.", "origin")
	s.sessions = counter("sessions_total",
		"Connections ended, by origin, action, rule and result (ok, blocked, refused, failed, cancelled).",
		"origin", "action", "rule", "result")
	s.handshakeFailures = counter("socks_handshake_failures_total",
		"SOCKS handshakes that failed, by reason.", "reason")
	s.ruleHits = counter("rule_hits_total", "Requests that matched a rule, by rule and action.", "rule", "action")
	s.sshOpened = counter("ssh_connections_opened_total", "SSH connections opened, by engine.", "engine")
	s.sshFailures = counter("ssh_connection_failures_total",
		"SSH connections that could not be opened, by engine and reason (host_key, auth, unreachable, other).",
		"engine", "reason")
	s.sshLogins = counter("ssh_logins_total",
		"SSH logins by method and result (ok; rejected, with the last method the server rejected, or none).",
		"method", "result")
	s.hostKeyFailures = counter("ssh_host_key_failures_total",
		"SSH connections refused because of the server's host key, by reason (changed, unknown).", "reason")
	s.ftpTransfers = counter("ftp_transfers_total",
		"FTP transfers (RETR, STOR, STOU, APPE, LIST, NLST, MLSD) by command, class of the final reply (2xx, 4xx, 5xx, none) and protocol (ftp, sftp).",
		"command", "class", "protocol")
	s.ftpBytes = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "ftp_transfer_bytes", Help: "Bytes of each FTP transfer's data connection, by command.",
		Buckets: prometheus.ExponentialBuckets(1024, 8, 10), // 1 KiB to 128 GiB
	}, []string{"command"})
	s.ftpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "ftp_transfer_duration_seconds", Help: "Duration of each FTP transfer, by command.",
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 10), // 10 ms to 44 min
	}, []string{"command"})
	s.reg.MustRegister(s.ftpBytes, s.ftpDuration)
	s.reloads = counter("reloads_total", "Configuration reloads, by result (ok, rejected).", "result")
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info", Help: "socksd's version and the Go version it was built with; always 1.",
		ConstLabels: prometheus.Labels{"version": info.Version, "goversion": runtime.Version()},
	})
	build.Set(1)
	s.reg.MustRegister(build, liveCollector{s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return s
}

// Registry returns the Set's registry.
func (s *Set) Registry() *prometheus.Registry { return s.reg }

// Names returns the names of the metric families the Set exports now, as
// PromQL sees them (histograms also as NAME_bucket, NAME_sum, NAME_count).
// A family with labels shows only once one of its series has a value.
func (s *Set) Names() ([]string, error) {
	mfs, err := s.reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("metrics: gather: %w", err)
	}
	var out []string
	for _, mf := range mfs {
		out = append(out, mf.GetName())
		if t := mf.GetType().String(); t == "HISTOGRAM" || t == "SUMMARY" {
			out = append(out, mf.GetName()+"_sum", mf.GetName()+"_count")
			if t == "HISTOGRAM" {
				out = append(out, mf.GetName()+"_bucket")
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// label turns an empty value into "none".
func label(v string) string {
	if v == "" {
		return "none"
	}
	return v
}

// SessionStarted counts a session admitted past the ACL, the handshake
// and the limits.
func (s *Set) SessionStarted(origin string) {
	if s == nil {
		return
	}
	s.sessionsStarted.WithLabelValues(label(origin)).Inc()
}

// SessionEnded counts a connection that ended, with its bytes. It is
// called after the session left the live sessions the Source yields.
func (s *Set) SessionEnded(origin, action, rule, result string, up, down int64) {
	if s == nil {
		return
	}
	action = label(action)
	s.sessions.WithLabelValues(label(origin), action, label(rule), result).Inc()
	if up == 0 && down == 0 {
		return
	}
	s.mu.Lock()
	s.ended[bytesKey{"up", action}] += up
	s.ended[bytesKey{"down", action}] += down
	s.mu.Unlock()
}

// HandshakeFailed counts a SOCKS handshake that failed for reason.
func (s *Set) HandshakeFailed(reason string) {
	if s == nil {
		return
	}
	s.handshakeFailures.WithLabelValues(reason).Inc()
}

// RuleHit counts a request that matched rule, whose action is action.
func (s *Set) RuleHit(rule, action string) {
	if s == nil {
		return
	}
	s.ruleHits.WithLabelValues(rule, action).Inc()
}

// SSHOpened counts an SSH connection opened with engine, logged in by
// method.
func (s *Set) SSHOpened(engine, method string) {
	if s == nil {
		return
	}
	s.sshOpened.WithLabelValues(label(engine)).Inc()
	s.sshLogins.WithLabelValues(label(method), "ok").Inc()
}

// The reasons SSHFailed takes.
const (
	SSHHostKeyChanged = "host_key_changed" // the server's host key differs from the known one
	SSHHostKeyUnknown = "host_key_unknown" // the server's host key is not known
	SSHAuth           = "auth"             // the server rejected every method; method is the last one tried
	SSHUnreachable    = "unreachable"      // the server could not be reached
	SSHOther          = "other"
)

// SSHFailed counts an SSH connection that could not be opened for reason
// (one of the SSH* constants); method is the last login method rejected,
// for SSHAuth.
func (s *Set) SSHFailed(engine, reason, method string) {
	if s == nil {
		return
	}
	switch reason {
	case SSHHostKeyChanged, SSHHostKeyUnknown:
		s.hostKeyFailures.WithLabelValues(strings.TrimPrefix(reason, "host_key_")).Inc()
		reason = "host_key"
	case SSHAuth:
		s.sshLogins.WithLabelValues(label(method), "rejected").Inc()
	}
	s.sshFailures.WithLabelValues(label(engine), reason).Inc()
}

// ftpCommands are the commands an FTP transfer is counted by; any other
// is counted as "other", so that a label never takes a value a client
// chose.
var ftpCommands = []string{"RETR", "STOR", "STOU", "APPE", "LIST", "NLST", "MLSD"}

// FTPTransfer counts one FTP transfer: its command, the final reply code
// the job got (0 when the session ended first), whether it was served by
// "ftp" (ftp-tunnel) or "sftp" (ftp-sftp), its data bytes and duration in
// seconds.
func (s *Set) FTPTransfer(command string, code int, protocol string, bytes int64, seconds float64) {
	if s == nil {
		return
	}
	command = strings.ToUpper(command)
	if !slices.Contains(ftpCommands, command) {
		command = "other"
	}
	class := "none"
	if code >= 100 && code < 600 {
		class = fmt.Sprintf("%dxx", code/100)
	}
	s.ftpTransfers.WithLabelValues(command, class, label(protocol)).Inc()
	s.ftpBytes.WithLabelValues(command).Observe(float64(bytes))
	s.ftpDuration.WithLabelValues(command).Observe(seconds)
}

// Reloaded counts a configuration reload that was applied (ok) or
// rejected.
func (s *Set) Reloaded(ok bool) {
	if s == nil {
		return
	}
	res := "ok"
	if !ok {
		res = "rejected"
	}
	s.reloads.WithLabelValues(res).Inc()
}

// liveCollector collects what the Source gives at scrape time.
type liveCollector struct{ s *Set }

// Describe sends the descriptions of the scrape-time metrics.
func (c liveCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- bytesDesc
	ch <- inFlightDesc
	ch <- sshOpenDesc
	ch <- engineDesc
}

// Collect reads the Source.
func (c liveCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	type flight struct{ origin, action string }
	inFlight := map[flight]int{}
	live := map[bytesKey]int64{}
	if s.src.Sessions != nil {
		s.src.Sessions(func(origin, action string, up, down int64) {
			action = label(action)
			inFlight[flight{label(origin), action}]++
			live[bytesKey{"up", action}] += up
			live[bytesKey{"down", action}] += down
		})
	}
	for k, n := range inFlight {
		ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(n), k.origin, k.action)
	}
	for k, v := range s.bytesTotals(live) {
		ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.CounterValue, float64(v), k.direction, k.action)
	}
	if s.src.SSH != nil {
		open := map[string]int{}
		s.src.SSH(func(engine string) { open[label(engine)]++ })
		for e, n := range open {
			ch <- prometheus.MustNewConstMetric(sshOpenDesc, prometheus.GaugeValue, float64(n), e)
		}
	}
	if s.src.Engines != nil {
		s.src.Engines(func(profile, engine string) {
			ch <- prometheus.MustNewConstMetric(engineDesc, prometheus.GaugeValue, 1, profile, label(engine))
		})
	}
}

// bytesTotals adds the live sessions' bytes to the ended sessions' and
// returns each series, never lower than it was shown before: a session
// leaves the live ones just before its bytes join the ended ones, and a
// scrape in between must not see the counter go down.
func (s *Set) bytesTotals(live map[bytesKey]int64) map[bytesKey]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[bytesKey]int64, len(s.shown)+len(live))
	for k, v := range s.ended {
		out[k] = v
	}
	for k, v := range live {
		out[k] += v
	}
	for k, v := range out {
		if v < s.shown[k] {
			out[k] = s.shown[k]
		} else {
			s.shown[k] = v
		}
	}
	for k, v := range s.shown {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out
}
