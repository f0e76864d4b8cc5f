package bench

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Row is one line of the report: a measurement of socksd and of its
// reference, each repeated, in the same unit.
type Row struct {
	Section string    // the table the row belongs to
	Name    string    // what was measured
	Label   string    // a short name for the plots
	Unit    string    // "MB/s", "ms", "KiB"...
	Ours    []float64 // socksd, one value per run
	RefName string    // what the reference is; "" when there is none
	Ref     []float64 // the reference, one value per run
	Ceiling bool      // the reference is an upper bound (raw FTP), not a competitor
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

// Report is what TestBenchmarks writes to BENCHMARKS.md.
type Report struct {
	Written  time.Time
	Machine  []string // "CPUs: 2", "Go: go1.26", ...
	Method   []string // how the figures were taken, one paragraph each
	Rows     []Row
	Notes    []string // facts observed in the run, e.g. the ciphers sshd negotiated
	NotRun   []string // sections that failed or were skipped, with why
	Plots    []string // SVG file names next to the report
	Sections []string // section titles in the order they ran
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

// Markdown renders the report: the machine, the method, one table per
// section, the notes, the plots and what was not measured.
func (rep *Report) Markdown() string {
	var b strings.Builder
	b.WriteString("# socksd benchmarks\n\n")
	fmt.Fprintf(&b, "Written by `make bench` on %s. Every figure below was measured in that one run.\n\n",
		rep.Written.UTC().Format("2006-01-02 15:04 UTC"))
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
	if len(rep.Rows) > 0 {
		b.WriteString("## Summary\n\n")
		b.WriteString("| measurement | unit | socksd | reference | ratio |\n|---|---|---|---|---|\n")
		for _, r := range rep.Rows {
			o, f := Summarize(r.Ours), Summarize(r.Ref)
			ours, ref, ratio := "—", "—", "—"
			if o.Valid {
				ours = num(o.Median)
			}
			if f.Valid {
				ref = num(f.Median) + " (" + refShort(r.RefName) + ")"
			}
			if x, ok := r.Ratio(); ok {
				ratio = fmt.Sprintf("%.2f", x)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdEscape(r.Label), r.Unit, ours, mdEscape(ref), ratio)
		}
		b.WriteString("\nMedians; the tables below give min–max, the number of runs and the exact measurement.\n\n")
	}
	for _, sec := range rep.Sections {
		fmt.Fprintf(&b, "## %s\n\n", sec)
		b.WriteString("| measurement | socksd median (min–max) | reference | reference median (min–max) | ratio socksd ÷ reference |\n")
		b.WriteString("|---|---|---|---|---|\n")
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
				ratio = fmt.Sprintf("%.2f", x)
			}
			fmt.Fprintf(&b, "| %s (%d runs) | %s | %s | %s | %s |\n",
				mdEscape(r.Name), o.N, cell(o, r.Unit), mdEscape(ref), cell(f, r.Unit), ratio)
		}
		b.WriteString("\n")
	}
	if len(rep.Plots) > 0 {
		b.WriteString("## Plots\n\n")
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

// mdEscape keeps a table cell in its column.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
