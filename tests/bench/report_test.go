package bench

import (
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name          string
		in            []float64
		valid         bool
		med, min, max float64
		n             int
	}{
		{"empty", nil, false, 0, 0, 0, 0},
		{"one", []float64{3}, true, 3, 3, 3, 1},
		{"odd unsorted", []float64{5, 1, 3}, true, 3, 1, 5, 3},
		{"even", []float64{4, 1, 3, 2}, true, 2.5, 1, 4, 4},
		{"non-finite ignored", []float64{nan, 2, inf, 4}, true, 3, 2, 4, 2},
		{"only non-finite", []float64{nan, inf}, false, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Summarize(tt.in)
			if s.Valid != tt.valid || s.N != tt.n || s.Median != tt.med || s.Min != tt.min || s.Max != tt.max {
				t.Errorf("Summarize(%v) = %+v", tt.in, s)
			}
		})
	}
	in := []float64{3, 1, 2}
	Summarize(in)
	if in[0] != 3 || in[1] != 1 {
		t.Errorf("Summarize reordered its input: %v", in)
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		name      string
		ours, ref []float64
		want      float64
		ok        bool
	}{
		{"medians", []float64{100, 300, 200}, []float64{400, 400}, 0.5, true},
		{"no reference", []float64{1}, nil, 0, false},
		{"no runs", nil, []float64{1}, 0, false},
		{"zero reference", []float64{1}, []float64{0}, 0, false},
	}
	for _, tt := range tests {
		got, ok := Row{Ours: tt.ours, Ref: tt.ref}.Ratio()
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s: Ratio = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNum(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{1234.6, "1235"}, {99.94, "99.9"}, {12.34, "12.3"}, {1.234, "1.23"}, {0.01234, "0.012"}, {0, "0.000"},
	}
	for _, tt := range tests {
		if got := num(tt.in); got != tt.want {
			t.Errorf("num(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// issueRef matches a reference to an issue ("#8", "issue 7", "issues 4 and
// 7"), which a report's reader cannot follow.
var issueRef = regexp.MustCompile(`(?i)#[0-9]+|\bissues? +[0-9]`)

func TestMarkdown(t *testing.T) {
	const commit = "commit 0123456789abcdef0123456789abcdef01234567"
	secA, secB := Section{Title: "A", About: "About A."}, Section{Title: "B"}
	secD := Section{Title: "Taken apart", About: "These rows diagnose X.", Diagnostic: true}
	rep := &Report{Written: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Commit: commit, Intro: "Compares this with that.",
		Machine: []string{"CPUs: 2"}, Method: []string{"How."}, Notes: []string{"seen"}, NotRun: []string{"x: failed"}, Plots: []string{"B.svg"}}
	rep.Add(
		Row{Section: secA, Name: "thr|oughput", Label: "thr", Unit: "MB/s", Ours: []float64{100, 200, 300}, RefName: "plain loopback", Ref: []float64{400}},
		Row{Section: secD, Name: "diagnostic reads", Label: "diagrow", Unit: "MB/s", Ours: []float64{350}, RefName: "`ssh -N -D`", Ref: []float64{400}},
		Row{Section: secB, Name: "memory", Unit: "KiB", Ours: []float64{30}},
		Row{Section: secA, Name: "second", Unit: "ms", Ours: []float64{2}, RefName: "ref", Ref: []float64{1}},
		Row{Section: secB, Name: "goal row", Label: "goalrow", Unit: "MB/s", Ours: []float64{90}, RefName: "r", Ref: []float64{30}, Goal: 3},
		Row{Section: secB, Name: "missed goal", Label: "missed", Unit: "ms", Ours: []float64{2}, RefName: "r", Ref: []float64{1}, Goal: 1},
		Row{Section: secB, Name: "own cpu", Label: "own", Unit: "s/GiB", Ours: []float64{0.01}, Bound: 0.05, Engine: "openssh"},
	)
	md := rep.Markdown()
	for _, want := range []string{
		"Compares this with that.",
		"2026-01-02 03:04 UTC, measuring " + commit + ".",
		"- CPUs: 2",
		"How.",
		"About A.",
		"| thr\\|oughput (3 runs) | — | 200 MB/s (100–300) | plain loopback | 400 MB/s (400–400) | 0.50 (higher is better) |",
		"| memory (1 runs) | — | 30.0 KiB (30.0–30.0) | — | — | — |",
		"| second (1 runs) | — | 2.00 ms (2.00–2.00) | ref | 1.00 ms (1.00–1.00) | 2.00 (lower is better) |",
		"![B.svg](B.svg)",
		"| thr | — | MB/s | 200 | 400 (loopback) | 0.50 | higher |",
		"| second | — | ms | 2.00 | 1.00 (ref) | 2.00 | lower |",
		"## Diagnostics\n",
		"### Taken apart\n\nThese rows diagnose X.",
		"| diagnostic reads (1 runs) |",
		"- seen",
		"- x: failed",
		"| goal row (1 runs) | — | 90.0 MB/s (90.0–90.0) | r | 30.0 MB/s (30.0–30.0) | 3.00 (higher is better); goal ≥ 3.00: met |",
		"| missed | — | ms | 2.00 | 1.00 (r) | 2.00 (goal ≤ 1.00: not met) | lower |",
		"| own | openssh | s/GiB | 0.010 | — | goal ≤ 0.050 s/GiB: met | — |",
		"| own cpu (1 runs) | openssh | 0.010 s/GiB (0.010–0.010) | — | — | goal ≤ 0.050 s/GiB: met |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	// Rows of a section stay under its heading, in the order sections ran;
	// the diagnostics come after every other section.
	a, b, second, diag := strings.Index(md, "## A"), strings.Index(md, "## B"), strings.Index(md, "| second ("), strings.Index(md, "## Diagnostics")
	if !(a < second && second < b && b < diag) {
		t.Errorf("section order wrong:\n%s", md)
	}
	// The summary table holds no diagnostic row.
	sum := md[strings.Index(md, "## Summary"):]
	sum = sum[:strings.Index(sum[1:], "\n## ")+1]
	if strings.Contains(sum, "diagrow") || strings.Contains(sum, "diagnostic reads") {
		t.Errorf("a diagnostic row is in the summary:\n%s", sum)
	}
	if !strings.Contains(sum, "| thr |") {
		t.Errorf("summary lacks its rows:\n%s", sum)
	}
	if strings.Contains(md, "dirty") {
		t.Errorf("report says dirty:\n%s", md)
	}
}

// TestReportText checks the text every report carries: the section
// headings and sentences, the introduction and the method name features,
// never issues; each section says what it measures, and a diagnostic one
// what it diagnoses; the ratio's direction and the terms are explained.
func TestReportText(t *testing.T) {
	opt, err := OptionsFromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	rep := &Report{Commit: "commit x", Intro: intro(opt), Terms: terms, Method: method(opt, true)}
	for _, sec := range Sections {
		if sec.About == "" {
			t.Errorf("section %q has no sentence saying what it measures", sec.Title)
		}
		if sec.Diagnostic && !strings.Contains(sec.About, "diagnose") {
			t.Errorf("diagnostic section %q does not say what it diagnoses: %q", sec.Title, sec.About)
		}
		rep.Add(Row{Section: sec, Name: "n", Label: "l", Unit: "MB/s", Ours: []float64{1}, RefName: "r", Ref: []float64{1}})
	}
	md := rep.Markdown()
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "#") && issueRef.MatchString(l) {
			t.Errorf("heading names an issue: %q", l)
		}
	}
	if m := issueRef.FindString(md); m != "" {
		t.Errorf("report names an issue (%q):\n%s", m, md)
	}
	// The introduction says what was compared with what, where and how.
	for _, want := range []string{"the ceiling", "`ssh -N -D`", "same cipher", "CPU cores", "median of 5 runs"} {
		if !strings.Contains(rep.Intro, want) {
			t.Errorf("introduction lacks %q: %q", want, rep.Intro)
		}
	}
	// The terms the tables use are defined before the first table.
	first := strings.Index(md, "\n| ")
	for _, term := range []string{"**ceiling**", "**ratio**", "**set-up**", "**idle session**", "**shared SSH connection**", "higher is better"} {
		if i := strings.Index(md, term); i < 0 || i > first {
			t.Errorf("%q not defined before the first table:\n%s", term, md)
		}
	}
}

// TestMeasured reads this tree's commit as TestBenchmarks does.
func TestMeasured(t *testing.T) {
	got := measured("BENCHMARKS.md")
	if !regexp.MustCompile(`^commit [0-9a-f]{40}( with uncommitted changes \(.+\))?$`).MatchString(got) {
		t.Errorf("measured = %q", got)
	}
}
