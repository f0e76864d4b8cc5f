package testpeer

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Evidence of a failed test (the daemon's log with its goroutine dump, the
// peers' logs, long command replies) is kept in files, never in the test's
// output: CI shows only the tail of `go test`, and a dump there buries the
// reason. A tracked test that fails ends its output with one summary line,
// and EndRun ends the package's output with the list of failed tests and
// where their evidence is.

// evidence is the state of one test process.
var evidence struct {
	mu      sync.Mutex
	root    string // one directory per test process, made on first use
	rootErr error
	tests   map[testing.TB]*tracked // running tests that Track registered
	failed  []*tracked              // failed tests, in the order they ended
}

// tracked is one test that Track registered.
type tracked struct {
	name    string
	start   time.Time
	notes   []string
	elapsed time.Duration
	dir     string
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// evidenceRoot returns the process's evidence directory, made on first use
// as $TMPDIR/socksd-evidence-PACKAGE-*; it outlives the test process.
func evidenceRoot() (string, error) {
	evidence.mu.Lock()
	defer evidence.mu.Unlock()
	if evidence.root == "" && evidence.rootErr == nil {
		pkg := "test"
		if wd, err := os.Getwd(); err == nil {
			pkg = unsafeName.ReplaceAllString(filepath.Base(wd), "_")
		}
		evidence.root, evidence.rootErr = os.MkdirTemp("", "socksd-evidence-"+pkg+"-")
	}
	return evidence.root, evidence.rootErr
}

// EvidenceDir returns the directory that keeps t's evidence, made on first
// use below the process's evidence directory; it outlives the test.
func EvidenceDir(t testing.TB) (string, error) {
	root, err := evidenceRoot()
	if err != nil {
		return "", fmt.Errorf("testpeer: evidence directory: %w", err)
	}
	dir := filepath.Join(root, unsafeName.ReplaceAllString(t.Name(), "_"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("testpeer: evidence directory: %w", err)
	}
	return dir, nil
}

// Keep writes text into t's evidence directory as name (name-2, name-3 …
// when a file of that name is already there) and returns the file's path,
// or "" when it could not be written (the reason is logged in one line).
func Keep(t testing.TB, name, text string) string {
	dir, err := EvidenceDir(t)
	if err != nil {
		t.Log(err)
		return ""
	}
	ext := filepath.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for i := 1; i <= 100; i++ {
		p := filepath.Join(dir, name)
		if i > 1 {
			p = filepath.Join(dir, fmt.Sprintf("%s-%d%s", base, i, ext))
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err == nil {
			_, err = f.WriteString(text)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			t.Logf("testpeer: keep %s: %v", name, err)
			return ""
		}
		return p
	}
	t.Logf("testpeer: keep %s: too many files of that name in %s", name, dir)
	return ""
}

// Track has t, if it fails, end its output with a line naming the test,
// its Summary notes and its evidence directory, and has EndRun list it.
// Call it before the test registers other cleanups (they run first, so
// that what they keep is in place before the line). A second call for the
// same test does nothing.
func Track(t testing.TB) {
	evidence.mu.Lock()
	if evidence.tests == nil {
		evidence.tests = map[testing.TB]*tracked{}
	}
	if _, ok := evidence.tests[t]; ok {
		evidence.mu.Unlock()
		return
	}
	tr := &tracked{name: t.Name(), start: time.Now()}
	evidence.tests[t] = tr
	evidence.mu.Unlock()
	t.Cleanup(func() {
		evidence.mu.Lock()
		delete(evidence.tests, t)
		evidence.mu.Unlock()
		if !t.Failed() {
			return
		}
		dir, err := EvidenceDir(t)
		if err != nil {
			dir = err.Error()
		}
		evidence.mu.Lock()
		tr.elapsed, tr.dir = time.Since(tr.start).Round(100*time.Millisecond), dir
		evidence.failed = append(evidence.failed, tr)
		line := tr.line("its errors are the lines above")
		evidence.mu.Unlock()
		t.Log(line)
	})
}

// Summary adds a short note (counts, the first errors) to the line that
// ends t's output if it fails; t must be tracked.
func Summary(t testing.TB, format string, args ...any) {
	evidence.mu.Lock()
	defer evidence.mu.Unlock()
	if tr := evidence.tests[t]; tr != nil {
		tr.notes = append(tr.notes, fmt.Sprintf(format, args...))
	}
}

// line is the one-line summary of a failed test, with where its errors
// are when it has no notes; evidence.mu is held.
func (tr *tracked) line(where string) string {
	notes := where
	if len(tr.notes) > 0 {
		notes = strings.Join(tr.notes, "; ")
	}
	return fmt.Sprintf("FAILED %s after %v: %s; evidence (daemon and peer logs, dumps) in %s", tr.name, tr.elapsed, notes, tr.dir)
}

// EndRun ends the package's test output: when code says the run failed,
// it prints a short summary of the failed tests and where their evidence
// is; when it passed, it removes the evidence directory. It returns code,
// for os.Exit.
func EndRun(code int) int {
	endRun(os.Stdout, code)
	return code
}

func endRun(w io.Writer, code int) {
	evidence.mu.Lock()
	root := evidence.root
	var lines []string
	for _, tr := range evidence.failed {
		lines = append(lines, tr.line("its errors are above, after --- FAIL: "+tr.name))
	}
	evidence.mu.Unlock()
	if code == 0 {
		if root != "" {
			os.RemoveAll(root)
		}
		return
	}
	pkg := "this package"
	if wd, err := os.Getwd(); err == nil {
		pkg = filepath.Base(wd)
	}
	fmt.Fprintf(w, "=== SUMMARY %s: %d tracked test(s) failed (exit code %d)\n", pkg, len(lines), code)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	if len(lines) == 0 {
		fmt.Fprintln(w, "no tracked test failed: the failure is in a test that started no daemon or peer, or in TestMain; its errors are above")
	}
	if root != "" {
		fmt.Fprintf(w, "evidence of this run: %s\n", root)
	}
}
