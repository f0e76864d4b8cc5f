package demo

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Check is one verified fact of the demo.
type Check struct {
	Name   string
	OK     bool
	Detail string
}

// Result is the outcome of a demo run.
type Result struct {
	Checks []Check
}

// Passed reports whether there was at least one check and every check
// passed.
func (r *Result) Passed() bool {
	if len(r.Checks) == 0 {
		return false
	}
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Failed returns the checks that failed.
func (r *Result) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// transfer is one measured transfer, for the summary's table.
type transfer struct {
	Label string
	Bytes int64
	Took  time.Duration
	OK    bool
}

// printer writes the demo's sectioned output and keeps its checks and
// transfers. It is safe for concurrent use.
type printer struct {
	mu        sync.Mutex
	w         io.Writer
	quiet     bool
	section   int
	res       Result
	transfers []transfer
	copy      bytes.Buffer // everything written, for the secrets check
}

func (p *printer) write(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.copy.WriteString(s)
	io.WriteString(p.w, s)
}

// Section starts a numbered section.
func (p *printer) Section(title string) {
	p.mu.Lock()
	p.section++
	n := p.section
	p.mu.Unlock()
	line := fmt.Sprintf("== %d. %s ", n, title)
	if len(line) < 72 {
		line += strings.Repeat("=", 72-len(line))
	}
	p.write("\n" + line + "\n")
}

// Detailf prints an indented detail line, unless quiet.
func (p *printer) Detailf(format string, args ...any) {
	if p.quiet {
		return
	}
	p.write("  " + fmt.Sprintf(format, args...) + "\n")
}

// Block prints lines indented by prefix, unless quiet.
func (p *printer) Block(prefix, text string) {
	if p.quiet {
		return
	}
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return
	}
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		b.WriteString(prefix + l + "\n")
	}
	p.write(b.String())
}

// Check records and prints one check.
func (p *printer) Check(name string, ok bool, format string, args ...any) {
	detail := fmt.Sprintf(format, args...)
	p.mu.Lock()
	p.res.Checks = append(p.res.Checks, Check{Name: name, OK: ok, Detail: detail})
	p.mu.Unlock()
	mark := "PASS"
	if !ok {
		mark = "FAIL"
	}
	line := fmt.Sprintf("  [%s] %s", mark, name)
	if detail != "" {
		line += ": " + detail
	}
	p.write(line + "\n")
}

// Transfer records a measured transfer for the summary.
func (p *printer) Transfer(label string, n int64, took time.Duration, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.transfers = append(p.transfers, transfer{label, n, took, ok})
}

// transferTable formats the recorded transfers.
func (p *printer) transferTable() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "  %-28s %12s %10s %12s  %s\n", "TRANSFER", "BYTES", "TIME", "THROUGHPUT", "SHA-256")
	for _, t := range p.transfers {
		check := "match"
		if !t.OK {
			check = "DIFFER"
		}
		fmt.Fprintf(&b, "  %-28s %12d %10v %12s  %s\n", t.Label, t.Bytes, t.Took.Round(time.Millisecond), rate(t.Bytes, t.Took), check)
	}
	return b.String()
}

// Output returns everything written so far.
func (p *printer) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.copy.String()
}

// result returns a copy of the checks so far.
func (p *printer) result() *Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &Result{Checks: append([]Check(nil), p.res.Checks...)}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (the daemon's
// log).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rate formats a throughput.
func rate(n int64, d time.Duration) string {
	if d <= 0 {
		d = time.Microsecond
	}
	return fmt.Sprintf("%.1f MB/s", float64(n)/d.Seconds()/1e6)
}

// size formats a byte count.
func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// short is the first 16 hex digits of a digest.
func short(sum [32]byte) string { return fmt.Sprintf("%x", sum[:8]) }
