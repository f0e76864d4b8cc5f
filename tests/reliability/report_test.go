package reliability

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Report sections, in the order the report lists them.
const (
	secFault    = "Faults"
	secLoad     = "Load"
	secSecurity = "Security and hostile input"
)

var sectionOrder = []string{secFault, secLoad, secSecurity}

// fragment is one test case's observations, written as JSON into the
// fragment directory and assembled by writeReport.
type fragment struct {
	Section  string      `json:"section"`
	Case     string      `json:"case"`
	Test     string      `json:"test"`
	Tried    []string    `json:"tried"`
	Observed []string    `json:"observed"`
	Figures  [][2]string `json:"figures"`
	Result   string      `json:"result"` // pass, FAIL, skipped
	Duration string      `json:"duration"`
}

// recorder collects one test's observations; it is safe for concurrent use
// by the goroutines of that test.
type recorder struct {
	t       testing.TB
	started time.Time
	mu      sync.Mutex
	f       fragment
}

// record starts the observations of a test case; they are written when the
// test ends, with its result.
func record(t testing.TB, section, title string) *recorder {
	t.Helper()
	r := &recorder{t: t, started: time.Now(), f: fragment{Section: section, Case: title, Test: t.Name()}}
	t.Cleanup(r.write)
	return r
}

// tried notes what the test did to the daemon.
func (r *recorder) tried(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.f.Tried = append(r.f.Tried, fmt.Sprintf(format, args...))
}

// saw notes an observation, and logs it.
func (r *recorder) saw(format string, args ...any) {
	r.t.Helper()
	s := fmt.Sprintf(format, args...)
	r.t.Log(s)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.f.Observed = append(r.f.Observed, s)
}

// figure notes a measured value under a name.
func (r *recorder) figure(name string, value any) {
	r.t.Helper()
	v := fmt.Sprint(value)
	r.t.Logf("%s: %s", name, v)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.f.Figures = append(r.f.Figures, [2]string{name, v})
}

func (r *recorder) write() {
	r.mu.Lock()
	f := r.f
	r.mu.Unlock()
	switch {
	case r.t.Failed():
		f.Result = "FAIL"
	case r.t.Skipped():
		f.Result = "skipped"
	default:
		f.Result = "pass"
	}
	f.Duration = time.Since(r.started).Round(100 * time.Millisecond).String()
	dir := os.Getenv(fragEnv)
	if dir == "" {
		return
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		r.t.Errorf("reliability: fragment: %v", err)
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(f.Test+"--"+f.Case) + ".json"
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		r.t.Errorf("reliability: fragment: %v", err)
	}
}

// readFragments loads every fragment in dir.
func readFragments(dir string) ([]fragment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []fragment
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var f fragment
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		out = append(out, f)
	}
	rank := map[string]int{}
	for i, s := range sectionOrder {
		rank[s] = i
	}
	sort.SliceStable(out, func(i, j int) bool {
		if rank[out[i].Section] != rank[out[j].Section] {
			return rank[out[i].Section] < rank[out[j].Section]
		}
		if out[i].Test != out[j].Test {
			return out[i].Test < out[j].Test
		}
		return out[i].Case < out[j].Case
	})
	return out, nil
}

// moduleRoot returns the directory of go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a module")
	}
	return filepath.Dir(mod), nil
}

// writeReport assembles the fragments into a Markdown report at out (a
// relative path is taken from the module root) and returns its path.
func writeReport(out, fragDir string, code int) (string, error) {
	frags, err := readFragments(fragDir)
	if err != nil {
		return "", err
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	var b bytes.Buffer
	renderReport(&b, frags, code, root)
	return out, os.WriteFile(out, b.Bytes(), 0o644)
}

// renderReport writes the report text.
func renderReport(b *bytes.Buffer, frags []fragment, code int, root string) {
	counts := map[string]int{}
	for _, f := range frags {
		counts[f.Result]++
	}
	b.WriteString("# socksd reliability report\n\n")
	b.WriteString("Written by `make reliability` (`go test -v -count=1 ./tests/reliability`). Every figure below was measured in this run,\n")
	b.WriteString("against the built binary and real peers (OpenSSH sshd, vsftpd) on loopback or in network namespaces made by the tests.\n\n")
	fmt.Fprintf(b, "- run: %s UTC, %s, %s/%s, %d CPUs, kernel %s\n", time.Now().UTC().Format("2006-01-02 15:04"),
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), kernel())
	fmt.Fprintf(b, "- cases: %d passed, %d failed, %d skipped; go test exit code %d\n", counts["pass"], counts["FAIL"], counts["skipped"], code)
	if code != 0 && counts["FAIL"] == 0 {
		b.WriteString("- a test failed outside the recorded cases: see the go test output\n")
	}
	b.WriteString("\n## Summary\n\n| section | case | result | time |\n|---|---|---|---|\n")
	for _, f := range frags {
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", f.Section, mdCell(f.Case), f.Result, f.Duration)
	}
	var findings []string
	for _, f := range frags {
		for _, o := range f.Observed {
			if strings.HasPrefix(o, "BUG:") || strings.HasPrefix(o, "FINDING:") {
				findings = append(findings, fmt.Sprintf("- **%s**: %s", f.Case, o))
			}
		}
	}
	if len(findings) > 0 {
		b.WriteString("\n## Findings\n\nWhat the cases below found wrong or worth knowing (each also under its case):\n\n")
		b.WriteString(strings.Join(findings, "\n") + "\n")
	}
	sec := ""
	for _, f := range frags {
		if f.Section != sec {
			sec = f.Section
			fmt.Fprintf(b, "\n## %s\n", sec)
		}
		fmt.Fprintf(b, "\n### %s — %s\n\n`%s`, %s\n\n", f.Case, f.Result, f.Test, f.Duration)
		if len(f.Tried) > 0 {
			b.WriteString("Tried:\n\n")
			for _, s := range f.Tried {
				fmt.Fprintf(b, "- %s\n", s)
			}
			b.WriteString("\n")
		}
		if len(f.Observed) > 0 {
			b.WriteString("Observed:\n\n")
			for _, s := range f.Observed {
				fmt.Fprintf(b, "- %s\n", s)
			}
			b.WriteString("\n")
		}
		if len(f.Figures) > 0 {
			b.WriteString("| figure | value |\n|---|---|\n")
			for _, kv := range f.Figures {
				fmt.Fprintf(b, "| %s | %s |\n", mdCell(kv[0]), mdCell(kv[1]))
			}
		}
	}
	b.WriteString("\n## Fuzz targets\n\n")
	b.WriteString("`make fuzz` runs each of these for FUZZTIME (a count of inputs, `-fuzztime 20000x` by default).\n")
	b.WriteString("Seeds are the files under `testdata/fuzz/<target>/` plus the `f.Add` calls.\n\n")
	b.WriteString("| package | target | seed files |\n|---|---|---|\n")
	targets, err := fuzzTargets(root)
	if err != nil {
		fmt.Fprintf(b, "\n(listing failed: %v)\n", err)
	}
	for _, ft := range targets {
		fmt.Fprintf(b, "| %s | %s | %d |\n", ft.pkg, ft.name, ft.seeds)
	}
}

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// fuzzTarget is one FuzzXxx function of the module.
type fuzzTarget struct {
	pkg, name string
	seeds     int // files in testdata/fuzz/<name>
}

// fuzzTargets lists the module's fuzz targets by parsing its test files:
// top-level functions named Fuzz* that take a *testing.F.
func fuzzTargets(root string) ([]fuzzTarget, error) {
	var out []fuzzTarget
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil // a file being edited by someone else: skip it
		}
		dir := filepath.Dir(path)
		rel, _ := filepath.Rel(root, dir)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Fuzz") || !takesF(fn) {
				continue
			}
			seeds, _ := os.ReadDir(filepath.Join(dir, "testdata", "fuzz", fn.Name.Name))
			out = append(out, fuzzTarget{pkg: "./" + filepath.ToSlash(rel), name: fn.Name.Name, seeds: len(seeds)})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].pkg != out[j].pkg {
			return out[i].pkg < out[j].pkg
		}
		return out[i].name < out[j].name
	})
	return out, err
}

// takesF reports whether fn's only parameter is a *testing.F.
func takesF(fn *ast.FuncDecl) bool {
	ps := fn.Type.Params.List
	if len(ps) != 1 || len(ps[0].Names) > 1 {
		return false
	}
	star, ok := ps[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "F"
}

// TestReportRendering checks the report writer itself: fragments are
// grouped by section, results counted, and the fuzz targets listed.
func TestReportRendering(t *testing.T) {
	dir := t.TempDir()
	for i, f := range []fragment{
		{Section: secSecurity, Case: "b|c", Test: "TestB", Result: "pass", Observed: []string{"x", "BUG: y"}},
		{Section: secFault, Case: "a", Test: "TestA", Result: "FAIL", Figures: [][2]string{{"bytes", "12"}}},
	} {
		b, _ := json.Marshal(f)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.json", i)), b, 0o600)
	}
	frags, err := readFragments(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(frags) != 2 || frags[0].Section != secFault {
		t.Fatalf("fragments not ordered by section: %+v", frags)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	renderReport(&b, frags, 1, root)
	text := b.String()
	for _, want := range []string{"1 passed, 1 failed, 0 skipped", "| Faults | a | FAIL |", `b\|c`, "| bytes | 12 |",
		"| ./socks | FuzzReadRequest |", "## Findings", "- **b|c**: BUG: y"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if strings.Index(text, "## Faults") > strings.Index(text, "## Security") {
		t.Errorf("sections out of order")
	}
}
