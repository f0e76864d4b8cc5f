// Command bench measures socksd side by side with a reference in the same
// run and writes BENCHMARKS.md. `make bench` runs it.
//
// Every figure is a median of repeated runs measured here; each row shows
// the ratio to its reference.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"socksd/internal/testpeer"
)

// row is one line of the report.
type row struct {
	Section, Name  string
	Unit           string
	Ours, Ref      []float64 // per run
	RefName        string
	HigherIsBetter bool
	Note           string
}

// env is what every section gets.
type env struct {
	bin  string
	dir  string
	runs int
	size int64
	logf func(format string, args ...any)
}

// section is one benchmark group.
type section struct {
	name string
	run  func(e *env) ([]row, error)
}

func main() {
	out := flag.String("out", "BENCHMARKS.md", "report file")
	runs := flag.Int("runs", 5, "repetitions per measurement")
	sizeMB := flag.Int("size", 512, "MiB per bulk transfer")
	only := flag.String("only", "", "run only sections whose name contains this")
	flag.Parse()

	dir, err := os.MkdirTemp("", "socksd-bench-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	bin, err := testpeer.BuildSocksd(dir)
	if err != nil {
		fatal(err)
	}
	e := &env{bin: bin, dir: dir, runs: *runs, size: int64(*sizeMB) << 20,
		logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }}

	var rows []row
	var failed []string
	for _, s := range sections() {
		if *only != "" && !strings.Contains(s.name, *only) {
			continue
		}
		e.logf("== %s", s.name)
		r, err := s.run(e)
		if err != nil {
			e.logf("   failed: %v", err)
			failed = append(failed, fmt.Sprintf("%s: %v", s.name, err))
			continue
		}
		rows = append(rows, r...)
	}
	if err := os.WriteFile(*out, []byte(report(rows, failed, e)), 0o644); err != nil {
		fatal(err)
	}
	abs, _ := filepath.Abs(*out)
	e.logf("wrote %s", abs)
	if len(failed) > 0 {
		os.Exit(1)
	}
}

func sections() []section {
	return []section{
		{"direct relay", benchDirect},
		{"idle sessions", benchIdle},
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// median returns the median, min and max of xs.
func median(xs []float64) (med, lo, hi float64) {
	if len(xs) == 0 {
		return 0, 0, 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

func report(rows []row, failed []string, e *env) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "# socksd benchmarks\n\n")
	fmt.Fprintf(&b, "Written by `make bench` (`go run ./tests/bench`) on %s, host %s, %s/%s, %d CPUs, Go %s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), host, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(&b, "Every figure was measured in this run: the median of %d runs, with min–max; the ratio compares medians (socksd ÷ reference).\n", e.runs)
	fmt.Fprintf(&b, "The machine is shared and noisy: read ratios, not single timings.\n\n")
	section := ""
	for _, r := range rows {
		if r.Section != section {
			section = r.Section
			fmt.Fprintf(&b, "\n## %s\n\n| measurement | socksd (median, min–max) | reference | reference (median, min–max) | ratio |\n|---|---|---|---|---|\n", section)
		}
		om, olo, ohi := median(r.Ours)
		ref := "—"
		ratio := "—"
		if len(r.Ref) > 0 {
			rm, rlo, rhi := median(r.Ref)
			ref = fmt.Sprintf("%.1f %s (%.1f–%.1f)", rm, r.Unit, rlo, rhi)
			if rm != 0 {
				ratio = fmt.Sprintf("%.2f", om/rm)
			}
		}
		name := r.Name
		if r.Note != "" {
			name += " — " + r.Note
		}
		fmt.Fprintf(&b, "| %s | %.1f %s (%.1f–%.1f) | %s | %s | %s |\n", name, om, r.Unit, olo, ohi, r.RefName, ref, ratio)
	}
	if len(failed) > 0 {
		fmt.Fprintf(&b, "\n## Not measured in this run\n\n")
		for _, f := range failed {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	return b.String()
}
