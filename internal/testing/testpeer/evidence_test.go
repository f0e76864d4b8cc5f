package testpeer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTB is a test whose failure, cleanups and log the test controls.
type fakeTB struct {
	testing.TB
	name     string
	failed   bool
	cleanups []func()
	logs     []string
}

func (f *fakeTB) Name() string      { return f.name }
func (f *fakeTB) Failed() bool      { return f.failed }
func (f *fakeTB) Helper()           {}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Log(args ...any)   { f.logs = append(f.logs, strings.TrimSpace(fmt.Sprintln(args...))) }
func (f *fakeTB) Logf(format string, args ...any) {
	f.logs = append(f.logs, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

// end runs the cleanups as the testing package does: last in, first out.
func (f *fakeTB) end() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// withRoot points the evidence directory at a fresh temporary one and
// forgets earlier failures, for the length of t.
func withRoot(t *testing.T) string {
	root := t.TempDir()
	evidence.mu.Lock()
	saved, savedFailed := evidence.root, evidence.failed
	evidence.root, evidence.failed = root, nil
	evidence.mu.Unlock()
	t.Cleanup(func() {
		evidence.mu.Lock()
		evidence.root, evidence.failed = saved, savedFailed
		evidence.mu.Unlock()
	})
	return root
}

func TestEvidence(t *testing.T) {
	tests := []struct {
		name     string
		fail     bool
		note     string
		wantLine []string // substrings of the test's last log line; nil = no line
	}{
		{name: "TestPasses", fail: false},
		{name: "TestFails", fail: true, wantLine: []string{"FAILED TestFails after", "its errors are the lines above", "evidence"}},
		{name: "TestFails/with a note", fail: true, note: "3 lost", wantLine: []string{"FAILED TestFails/with a note", ": 3 lost;", "TestFails_with_a_note"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := withRoot(t)
			f := &fakeTB{TB: t, name: tc.name}
			Track(f)
			Track(f) // a second call adds nothing
			if tc.note != "" {
				Summary(f, "%s", tc.note)
			}
			f.failed = tc.fail
			var kept string
			f.Cleanup(func() {
				if f.Failed() {
					kept = Keep(f, "socksd.log", "the log\n")
				}
			})
			f.end()
			if tc.wantLine == nil {
				if len(f.logs) != 0 {
					t.Errorf("a passing test logged %q", f.logs)
				}
				var out bytes.Buffer
				endRun(&out, 0)
				if out.Len() != 0 {
					t.Errorf("EndRun(0) printed %q", out.String())
				}
				if _, err := os.Stat(root); !os.IsNotExist(err) {
					t.Errorf("EndRun(0) left the evidence directory: %v", err)
				}
				return
			}
			if n := strings.Count(strings.Join(f.logs, "\n"), "FAILED"); n != 1 {
				t.Fatalf("want one FAILED line, got %d in %q", n, f.logs)
			}
			last := f.logs[len(f.logs)-1]
			for _, w := range tc.wantLine {
				if !strings.Contains(last, w) {
					t.Errorf("last line %q lacks %q", last, w)
				}
			}
			if b, err := os.ReadFile(kept); err != nil || string(b) != "the log\n" {
				t.Errorf("kept file %q: %q, %v", kept, b, err)
			}
			if !strings.HasPrefix(kept, root+string(filepath.Separator)) {
				t.Errorf("kept %q outside the evidence directory %q", kept, root)
			}
			var out bytes.Buffer
			endRun(&out, 1)
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[0], "=== SUMMARY") || !strings.HasPrefix(lines[1], "FAILED "+tc.name+" after") || lines[2] != "evidence of this run: "+root {
				t.Errorf("EndRun(1) printed %q", out.String())
			}
		})
	}
}

func TestKeepNamesApart(t *testing.T) {
	withRoot(t)
	f := &fakeTB{TB: t, name: "TestKeep"}
	var got []string
	for _, text := range []string{"one", "two", "three"} {
		got = append(got, filepath.Base(Keep(f, "socksd.log", text)))
	}
	want := []string{"socksd.log", "socksd-2.log", "socksd-3.log"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Keep named the files %q, want %q", got, want)
	}
}

func TestEndRunWithoutTrackedFailure(t *testing.T) {
	withRoot(t)
	var out bytes.Buffer
	endRun(&out, 1)
	if !strings.Contains(out.String(), "no tracked test failed") {
		t.Errorf("EndRun(1) with no tracked failure printed %q", out.String())
	}
}
