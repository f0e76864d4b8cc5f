package metrics

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// dashboardFile is the Grafana dashboard shipped with socksd.
const dashboardFile = "../packaging/grafana-dashboard.json"

// exercised returns a Set in which every metric has a sample, so that
// gathering it names every family.
func exercised() *Set {
	f := &fakeSource{}
	f.set(fakeSession{"socks", "direct", 1, 1})
	s := New(Info{Version: "test"}, f.source())
	s.SessionStarted("socks")
	s.SessionEnded("socks", "direct", "r", "ok", 1, 1)
	s.HandshakeFailed("version")
	s.RuleHit("r", "direct")
	s.SSHOpened("builtin", "password")
	s.SSHFailed("builtin", SSHHostKeyUnknown, "")
	s.SSHFailed("builtin", SSHAuth, "password")
	s.FTPTransfer("RETR", 226, "ftp", 1, 1)
	s.Reloaded(true)
	return s
}

// TestDashboard checks that the dashboard is valid JSON and that every
// PromQL expression in it names only metrics that socksd exports.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	names, err := exercised().Names()
	if err != nil {
		t.Fatal(err)
	}
	exprs := promExprs(dash)
	if len(exprs) < 10 {
		t.Fatalf("%s: only %d PromQL expressions found", dashboardFile, len(exprs))
	}
	used := map[string]bool{}
	for _, e := range exprs {
		ms := metricNames(e)
		if len(ms) == 0 {
			t.Errorf("expression names no metric: %s", e)
		}
		for _, m := range ms {
			used[m] = true
			if !slices.Contains(names, m) {
				t.Errorf("expression names %s, which socksd does not export: %s", m, e)
			}
		}
	}
	// The list: sessions, bytes, transfers, SSH logins and
	// failures, blocked requests (sessions_total by result).
	for _, m := range []string{"socksd_sessions_in_flight", "socksd_sessions_total", "socksd_bytes_total",
		"socksd_ftp_transfers_total", "socksd_ssh_logins_total", "socksd_ssh_connection_failures_total",
		"socksd_ssh_host_key_failures_total"} {
		if !used[m] {
			t.Errorf("the dashboard does not show %s", m)
		}
	}
}

// promExprs returns every "expr" string of a Grafana dashboard (panel
// targets and annotations).
func promExprs(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "expr" {
				out = append(out, s)
				continue
			}
			out = append(out, promExprs(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, promExprs(x)...)
		}
	}
	return out
}

// promKeywords are PromQL words that are not metric names: the first six
// take a label list; the aggregation operators may come before their
// by/without clause rather than their parenthesis.
var promKeywords = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
	"and", "or", "unless", "offset", "inf", "nan",
	"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
	"quantile", "limitk", "limit_ratio"}

// metricNames returns the metric names in a PromQL expression: the
// identifiers outside strings, label matchers ({...}) and ranges ([...])
// that are neither functions (followed by "("), keywords, nor the label
// lists of by/without/on/ignoring/group_left/group_right.
func metricNames(expr string) []string {
	var out []string
	isStart := func(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
	isPart := func(c byte) bool { return isStart(c) || (c >= '0' && c <= '9') }
	skipTo := func(i int, close byte) int { // i is just past the opener
		for ; i < len(expr) && expr[i] != close; i++ {
			if expr[i] == '"' || expr[i] == '\'' {
				q := expr[i]
				for i++; i < len(expr) && expr[i] != q; i++ {
					if expr[i] == '\\' {
						i++
					}
				}
			}
		}
		return i + 1
	}
	skipLabels := false
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipTo(i+1, c)
		case c == '{':
			i = skipTo(i+1, '}')
		case c == '[':
			i = skipTo(i+1, ']')
		case c == '(' && skipLabels:
			skipLabels = false
			i = skipTo(i+1, ')')
		case c >= '0' && c <= '9':
			for i < len(expr) && (isPart(expr[i]) || expr[i] == '.') {
				i++ // a number, with an exponent or a unit suffix
			}
		case isStart(c) && (i == 0 || expr[i-1] != '$'):
			j := i
			for j < len(expr) && isPart(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && expr[k] == ' ' {
				k++
			}
			switch {
			case slices.Contains(promKeywords[:6], strings.ToLower(word)):
				skipLabels = true
			case slices.Contains(promKeywords, strings.ToLower(word)):
			case k < len(expr) && expr[k] == '(':
			default:
				out = append(out, word)
			}
			i = j
		case c == '$':
			for i++; i < len(expr) && isPart(expr[i]); i++ {
			}
		default:
			i++
		}
	}
	return out
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`socksd_bytes_total`, []string{"socksd_bytes_total"}},
		{`sum by (rule) (rate(socksd_sessions_total{result="blocked",rule=~"a|b"}[$__rate_interval]))`, []string{"socksd_sessions_total"}},
		{`histogram_quantile(0.95, sum by (le) (rate(x_bucket{i="}"}[5m])))`, []string{"x_bucket"}},
		{`sum(rate(a_sum[1m])) / on (job) group_left (version) b_count offset 5m`, []string{"a_sum", "b_count"}},
		{`time() - process_start_time_seconds{job=~"$job"} > 1e3`, []string{"process_start_time_seconds"}},
		{`a or bool b`, []string{"a", "b"}},
		{`sum without (x) (c) * count(d)`, []string{"c", "d"}},
	}
	for _, tt := range tests {
		if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}
