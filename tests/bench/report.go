package bench

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Section is one table of the report.
type Section struct {
	Title      string // the heading: the feature measured, never an issue number
	About      string // the sentence under the heading: what its rows compare
	Diagnostic bool   // its rows explain another figure: under Diagnostics, out of the summary and the plots
}

// The report's sections. A diagnostic section's About says what it
// diagnoses.
var (
	SecDirect = Section{Title: "Direct relay (rule `direct`)",
		About: "socksd relaying a connection itself, without SSH, against plain loopback TCP between the same sender and receiver. Higher MB/s is better; a ratio of 1 would mean socksd costs nothing."}
	SecIdle = Section{Title: "Memory of idle sessions",
		About: "What one more idle session costs in resident memory, with many open. Lower KiB is better."}
	SecTunnel = Section{Title: "SSH tunnel (rule `tunnel`)",
		About: "socksd carrying SOCKS5 connections over its shared SSH connection, against OpenSSH `ssh -N -D` logged in to the same sshd with the same cipher: the set-up of a session (lower is better) and bulk download throughput (higher is better)."}
	SecFTP = Section{Title: "FTP jobs through the SSH tunnel (rule `ftp-tunnel`)",
		About: "An FTP client (jlaffaye/ftp) through socksd's FTP-aware tunnel, against the same client through `ssh -N -D` to the same sshd. The rows marked \"against the ceiling\" compare instead with the same client talking to vsftpd directly."}
	SecTunnelDiag = Section{Title: "Tunnel download taken apart", Diagnostic: true,
		About: "These rows diagnose where the tunnel's bulk download differs from `ssh -N -D`: the same download through socksd's tunnel package alone, in the benchmark's own process (no SOCKS handshake, no relay), read plainly and then with a read deadline re-armed before every read, as a relay keeping an idle timeout would. If the plain reads already trail `ssh -N -D`, the difference lies in the SSH client (socksd's tunnel package and x/crypto/ssh); if only the reads with a deadline trail, re-arming the deadline costs it; if neither, it lies in the SOCKS layer or the relay."}
)

// Sections lists every section the benchmarks fill, in report order.
var Sections = []Section{SecDirect, SecIdle, SecTunnel, SecFTP, SecSFTP, SecSFTPDelay, SecMetrics, SecTunnelDiag, SecSFTPDelayDiag}

// Row is one line of the report: a measurement of socksd and of its
// reference, each repeated, in the same unit.
type Row struct {
	Section Section   // the table the row belongs to
	Name    string    // what was measured
	Label   string    // a short name for the plots
	Unit    string    // "MB/s", "ms", "KiB"...
	Ours    []float64 // socksd, one value per run
	RefName string    // what the reference is; "" when there is none
	Ref     []float64 // the reference, one value per run
	Ceiling bool      // the reference is an upper bound (raw FTP), not a competitor
	// Goal is the ratio socksd ÷ reference the row aims at (0 = none): at
	// least Goal where higher is better, at most Goal where lower is. The
	// report says whether the run met it; nothing asserts it.
	Goal float64
	// Bound is the most (unit "MB/s": the least) socksd's median may be
	// (0 = none), a goal in the row's own unit for rows without a
	// reference.
	Bound float64
	// Engine is socksd's SSH engine in the row ("builtin", "openssh"; ""
	// when the row uses no SSH).
	Engine string
}

// GoalMet reports whether the row's ratio reaches its goal; ok is false
// when the row has no goal or no ratio.
func (r Row) GoalMet() (met, ok bool) {
	if r.Bound > 0 {
		o := Summarize(r.Ours)
		if !o.Valid {
			return false, false
		}
		if HigherIsBetter(r.Unit) {
			return o.Median >= r.Bound, true
		}
		return o.Median <= r.Bound, true
	}
	x, has := r.Ratio()
	if r.Goal <= 0 || !has {
		return false, false
	}
	if HigherIsBetter(r.Unit) {
		return x >= r.Goal, true
	}
	return x <= r.Goal, true
}

// goalText says the row's goal and whether it was met ("" without a goal).
func (r Row) goalText() string {
	if r.Goal <= 0 && r.Bound <= 0 {
		return ""
	}
	sign := "≥"
	if !HigherIsBetter(r.Unit) {
		sign = "≤"
	}
	verdict := "not measured"
	if met, ok := r.GoalMet(); ok && met {
		verdict = "met"
	} else if ok {
		verdict = "not met"
	}
	if r.Bound > 0 {
		return fmt.Sprintf("goal %s %s %s: %s", sign, num(r.Bound), r.Unit, verdict)
	}
	return fmt.Sprintf("goal %s %.2f: %s", sign, r.Goal, verdict)
}

// Stats summarizes repeated runs.
type Stats struct {
	N        int
	Median   float64
	Min, Max float64
	Valid    bool // false when there were no runs
}

// Summarize returns the median, minimum and maximum of xs. Non-finite
// values are ignored.
func Summarize(xs []float64) Stats {
	s := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return Stats{}
	}
	sort.Float64s(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Stats{N: n, Median: med, Min: s[0], Max: s[n-1], Valid: true}
}

// Ratio returns median(ours) ÷ median(ref), and false when either side
// has no runs or the reference median is zero.
func (r Row) Ratio() (float64, bool) {
	o, f := Summarize(r.Ours), Summarize(r.Ref)
	if !o.Valid || !f.Valid || f.Median == 0 {
		return 0, false
	}
	return o.Median / f.Median, true
}

// num formats x with a precision that suits its magnitude.
func num(x float64) string {
	a := math.Abs(x)
	switch {
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	case a >= 1:
		return fmt.Sprintf("%.2f", x)
	default:
		return fmt.Sprintf("%.3f", x)
	}
}

// cell formats a summary as "median unit (min–max)", or "—".
func cell(s Stats, unit string) string {
	if !s.Valid {
		return "—"
	}
	return fmt.Sprintf("%s %s (%s–%s)", num(s.Median), unit, num(s.Min), num(s.Max))
}

// HigherIsBetter reports whether a larger value of unit is better, and so
// whether a ratio socksd ÷ reference above 1 favours socksd.
func HigherIsBetter(unit string) bool { return unit == "MB/s" }

// better says which way a ratio of unit favours socksd.
func better(unit string) string {
	if HigherIsBetter(unit) {
		return "higher"
	}
	return "lower"
}

// Report is what TestBenchmarks writes to BENCHMARKS.md.
type Report struct {
	Written  time.Time
	Commit   string   // the commit measured: "commit <hash>", perhaps "with uncommitted changes (...)"
	Intro    string   // what was compared with what, where: the report's first paragraph
	Terms    []string // the words the tables use, each defined, before their first use
	Machine  []string // "CPUs: 2", "Go: go1.26", ...
	Method   []string // how the figures were taken, one paragraph each
	Rows     []Row
	Notes    []string  // facts observed in the run, e.g. the ciphers sshd negotiated
	NotRun   []string  // sections that failed or were skipped, with why
	Plots    []string  // SVG file names next to the report
	Sections []Section // sections in the order they ran
}

// Add appends rows, remembering the order of their sections.
func (rep *Report) Add(rows ...Row) {
	for _, r := range rows {
		found := false
		for _, s := range rep.Sections {
			if s == r.Section {
				found = true
				break
			}
		}
		if !found {
			rep.Sections = append(rep.Sections, r.Section)
		}
		rep.Rows = append(rep.Rows, r)
	}
}

// Markdown renders the report: what it compares, the commit and the
// machine, the method, the summary of the comparisons, one table per
// section, the diagnostics, the plots, the notes and what was not measured.
func (rep *Report) Markdown() string {
	var b strings.Builder
	b.WriteString("# socksd benchmarks\n\n")
	if rep.Intro != "" {
		b.WriteString(rep.Intro + "\n\n")
	}
	fmt.Fprintf(&b, "Written by `make bench` on %s, measuring %s. Every figure below was measured in that one run.\n\n",
		rep.Written.UTC().Format("2006-01-02 15:04 UTC"), rep.Commit)
	if len(rep.Terms) > 0 {
		b.WriteString("Terms used below:\n\n")
		for _, t := range rep.Terms {
			fmt.Fprintf(&b, "- %s\n", t)
		}
		b.WriteString("\n")
	}
	if len(rep.Machine) > 0 {
		b.WriteString("## Machine\n\n")
		for _, m := range rep.Machine {
			fmt.Fprintf(&b, "- %s\n", m)
		}
		b.WriteString("\n")
	}
	if len(rep.Method) > 0 {
		b.WriteString("## Method\n\n")
		for _, m := range rep.Method {
			fmt.Fprintf(&b, "%s\n\n", m)
		}
	}
	var main, diag []Section
	for _, sec := range rep.Sections {
		if sec.Diagnostic {
			diag = append(diag, sec)
		} else {
			main = append(main, sec)
		}
	}
	if len(main) > 0 {
		b.WriteString("## Summary\n\n")
		b.WriteString("The medians of socksd and of its reference, and their ratio socksd ÷ reference; the last column says which way the ratio favours socksd. ")
		b.WriteString("The sections below give each measurement exactly, with min–max and the number of runs; the diagnostic rows are under Diagnostics, not here.\n\n")
		b.WriteString("| measurement | engine | unit | socksd | reference | ratio socksd ÷ reference | better for socksd |\n|---|---|---|---|---|---|---|\n")
		for _, r := range rep.Rows {
			if r.Section.Diagnostic {
				continue
			}
			o, f := Summarize(r.Ours), Summarize(r.Ref)
			ours, ref, ratio, dir := "—", "—", "—", "—"
			if o.Valid {
				ours = num(o.Median)
			}
			if f.Valid {
				ref = num(f.Median) + " (" + refShort(r.RefName) + ")"
			}
			if x, ok := r.Ratio(); ok {
				ratio = fmt.Sprintf("%.2f", x)
				dir = better(r.Unit)
			}
			if g := r.goalText(); g != "" && ratio == "—" {
				ratio = g
			} else if g != "" {
				ratio += " (" + g + ")"
			}
			label := r.Label
			if label == "" {
				label = r.Name
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(label), engineCell(r.Engine), r.Unit, ours, mdEscape(ref), ratio, dir)
		}
		b.WriteString("\n")
	}
	for _, sec := range main {
		rep.section(&b, "##", sec)
	}
	if len(diag) > 0 {
		b.WriteString("## Diagnostics\n\n")
		b.WriteString("Rows that explain a figure above rather than stand as figures of their own. They are left out of the summary and the plots.\n\n")
		for _, sec := range diag {
			rep.section(&b, "###", sec)
		}
	}
	if len(rep.Plots) > 0 {
		b.WriteString("## Plots\n\n")
		b.WriteString("Drawn from the summary's rows (the diagnostics are left out).\n\n")
		for _, p := range rep.Plots {
			fmt.Fprintf(&b, "![%s](%s)\n\n", p, p)
		}
	}
	if len(rep.Notes) > 0 {
		b.WriteString("## Observed in this run\n\n")
		for _, n := range rep.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		b.WriteString("\n")
	}
	if len(rep.NotRun) > 0 {
		b.WriteString("## Not measured in this run\n\n")
		for _, n := range rep.NotRun {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// section writes the table of one section under a heading of the given
// level.
func (rep *Report) section(b *strings.Builder, level string, sec Section) {
	fmt.Fprintf(b, "%s %s\n\n", level, sec.Title)
	if sec.About != "" {
		fmt.Fprintf(b, "%s\n\n", sec.About)
	}
	b.WriteString("| measurement | engine | socksd median (min–max) | reference | reference median (min–max) | ratio socksd ÷ reference |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, r := range rep.Rows {
		if r.Section != sec {
			continue
		}
		o, f := Summarize(r.Ours), Summarize(r.Ref)
		ref := r.RefName
		if ref == "" {
			ref = "—"
		}
		ratio := "—"
		if x, ok := r.Ratio(); ok {
			ratio = fmt.Sprintf("%.2f (%s is better)", x, better(r.Unit))
		}
		if g := r.goalText(); g != "" && ratio == "—" {
			ratio = g
		} else if g != "" {
			ratio += "; " + g
		}
		fmt.Fprintf(b, "| %s (%d runs) | %s | %s | %s | %s | %s |\n",
			mdEscape(r.Name), o.N, engineCell(r.Engine), cell(o, r.Unit), mdEscape(ref), cell(f, r.Unit), ratio)
	}
	b.WriteString("\n")
}

// engineCell is the engine column's text.
func engineCell(engine string) string {
	if engine == "" {
		return "—"
	}
	return engine
}

// mdEscape keeps a table cell in its column.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
