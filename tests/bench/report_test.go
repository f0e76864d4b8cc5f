package bench

import (
	"math"
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

func TestMarkdown(t *testing.T) {
	rep := &Report{Written: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Machine: []string{"CPUs: 2"},
		Method: []string{"How."}, Notes: []string{"seen"}, NotRun: []string{"x: failed"}, Plots: []string{"B.svg"}}
	rep.Add(
		Row{Section: "A", Name: "thr|oughput", Label: "thr", Unit: "MB/s", Ours: []float64{100, 200, 300}, RefName: "loopback", Ref: []float64{400}},
		Row{Section: "B", Name: "memory", Unit: "KiB", Ours: []float64{30}},
		Row{Section: "A", Name: "second", Unit: "ms", Ours: []float64{2}, RefName: "ref", Ref: []float64{1}},
	)
	md := rep.Markdown()
	for _, want := range []string{
		"2026-01-02 03:04 UTC",
		"- CPUs: 2",
		"How.",
		"| thr\\|oughput (3 runs) | 200 MB/s (100–300) | loopback | 400 MB/s (400–400) | 0.50 |",
		"| memory (1 runs) | 30.0 KiB (30.0–30.0) | — | — | — |",
		"| second (1 runs) | 2.00 ms (2.00–2.00) | ref | 1.00 ms (1.00–1.00) | 2.00 |",
		"![B.svg](B.svg)",
		"| thr | MB/s | 200 | 400 (loopback) | 0.50 |",
		"- seen",
		"- x: failed",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	// Rows of a section stay under its heading, in the order sections ran.
	a, b, second := strings.Index(md, "## A"), strings.Index(md, "## B"), strings.Index(md, "| second")
	if !(a < second && second < b) {
		t.Errorf("section order wrong:\n%s", md)
	}
}
