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
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"socksd/internal/testing/gitrev"
	"socksd/internal/testing/testpeer"
)

// Report sections, in the order the report lists them.
const (
	secFault    = "Faults"
	secLoad     = "Load"
	secSecurity = "Security and hostile input"
)

var sectionOrder = []string{secFault, secLoad, secSecurity}

// sectionAbout says what each section's cases do, under its heading.
var sectionAbout = map[string]string{
	secFault:    "Each case breaks a peer (vsftpd, sshd) or the client on one lane while a witness transfer runs on another, then checks what socksd answered, that the witness was untouched, and that nothing leaked.",
	secLoad:     "Each case puts many sessions or connections on socksd at once and checks that every transfer arrived whole and that the limits hold.",
	secSecurity: "Each case tries something a client or a misconfiguration must not achieve and checks that socksd refused it, without leaking a secret.",
}

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
	testpeer.Track(t)
	r := &recorder{t: t, started: time.Now(), f: fragment{Section: section, Case: title, Test: t.Name()}}
	t.Cleanup(r.write)
	return r
}

// logObservation logs an observation in verbose runs (`make reliability`);
// otherwise it is only recorded, and kept with the evidence if the test
// fails, so that a failing test's output is its errors and its summary.
func (r *recorder) logObservation(s string) {
	r.t.Helper()
	if testing.Verbose() {
		r.t.Log(s)
	}
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
	r.logObservation(s)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.f.Observed = append(r.f.Observed, s)
}

// figure notes a measured value under a name.
func (r *recorder) figure(name string, value any) {
	r.t.Helper()
	v := fmt.Sprint(value)
	r.logObservation(name + ": " + v)
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
	if f.Result == "FAIL" {
		testpeer.Keep(r.t, "observations.md", renderCase(f))
	}
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

// measured reads, before the run, the commit the run measures; out is the
// report the run will write, which, like the other reports
// (gitrev.Reports), does not count as a change.
func measured(out string) string {
	root, err := moduleRoot()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	rev, err := gitrev.Read(root, append([]string{out}, gitrev.Reports...)...)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return rev.String()
}

// writeReport assembles the fragments into a Markdown report at out (a
// relative path is taken from the module root) and returns its path; rev
// is the commit measured, as measured returned it.
func writeReport(out, fragDir string, code int, rev string) (string, error) {
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
	renderReport(&b, frags, runFacts{Written: time.Now(), Rev: rev, Code: code}, root)
	return out, os.WriteFile(out, b.Bytes(), 0o644)
}

// runFacts are what the report says about the run as a whole.
type runFacts struct {
	Written time.Time
	Rev     string // the commit measured, e.g. "commit <hash>"
	Code    int    // go test's exit code
}

// introText says what the report is, for a reader who knows nothing of
// how it came about.
const introText = `This report shows how socksd behaves when things go wrong: a peer failing in the middle of a transfer
(Faults), many sessions at once (Load), and clients trying what they must not (Security and hostile input).
Each case starts the socksd binary built from the commit below and drives it against real peers, OpenSSH sshd
and vsftpd, on this machine's loopback interface or in network namespaces the test makes. It is not a
comparison with another program: a case passes when socksd did what the case expects, and its figures are
what that one run measured (each case runs once; nothing is a median).
`

// termsText defines the words the cases use.
const termsText = `Terms used below:

- **lane**: one path through socksd to an FTP server: an sshd of its own, the vsftpd reached through it,
  and a socksd ` + "`ftp-tunnel`" + ` rule for it. A fault case breaks one lane (lane a) and watches another.
- **witness transfer**: a transfer on the other lane, in flight while the fault happens; it must end with
  reply 226 and every byte, showing that the fault stayed on its lane.
- **D STATS, D SESSIONS, D TUNNELS**: the operator's display commands (` + "`socksd cmd 'D STATS'`" + `), which the
  cases read for the counts of active sessions, SSH connections, goroutines and open files of the daemon.
- **before / after**: counts taken when the daemon was idle before the case and once it had settled after
  it (no session and no SSH connection left); the same numbers mean nothing leaked.
- **SOXnnnnX**: socksd's operator messages, as logged (the letter is the severity: I, W, E).
`

// renderReport writes the report text.
func renderReport(b *bytes.Buffer, frags []fragment, run runFacts, root string) {
	counts := map[string]int{}
	for _, f := range frags {
		counts[f.Result]++
	}
	b.WriteString("# socksd reliability report\n\n")
	b.WriteString(introText + "\n")
	fmt.Fprintf(b, "- measured: %s\n", run.Rev)
	fmt.Fprintf(b, "- run: %s by `make reliability` (`go test -v -count=1 ./tests/reliability`)\n",
		run.Written.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(b, "- machine: %d CPUs (%s), %s/%s, kernel %s, %s\n", runtime.NumCPU(), testpeer.CPUModel(),
		runtime.GOOS, runtime.GOARCH, kernel(), runtime.Version())
	fmt.Fprintf(b, "- cases: %d passed, %d failed, %d skipped; go test exit code %d\n", counts["pass"], counts["FAIL"], counts["skipped"], run.Code)
	if run.Code != 0 && counts["FAIL"] == 0 {
		b.WriteString("- a test failed outside the recorded cases: see the go test output\n")
	}
	b.WriteString("\n" + termsText)
	b.WriteString("\n## Summary\n\nOne line per case: pass, FAIL or skipped, and how long the case took.\n\n")
	b.WriteString("| section | case | result | time |\n|---|---|---|---|\n")
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
			fmt.Fprintf(b, "\n## %s\n\n%s\n", sec, sectionAbout[sec])
		}
		b.WriteString("\n" + renderCase(f))
	}
	b.WriteString("\n## Fuzz targets\n\n")
	b.WriteString("Not run by `make reliability`: the list of the module's fuzz targets, for reference.\n")
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

// renderCase writes one case: its heading, what it tried, what it saw and
// its figures (the report's section, and a failed case's evidence file).
func renderCase(f fragment) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s — %s\n\n`%s`, %s\n\n", f.Case, f.Result, f.Test, f.Duration)
	if len(f.Tried) > 0 {
		b.WriteString("Tried:\n\n")
		for _, s := range f.Tried {
			fmt.Fprintf(&b, "- %s\n", s)
		}
		b.WriteString("\n")
	}
	if len(f.Observed) > 0 {
		b.WriteString("Observed:\n\n")
		for _, s := range f.Observed {
			fmt.Fprintf(&b, "- %s\n", s)
		}
		b.WriteString("\n")
	}
	if len(f.Figures) > 0 {
		b.WriteString("| figure | value |\n|---|---|\n")
		for _, kv := range f.Figures {
			fmt.Fprintf(&b, "| %s | %s |\n", mdCell(kv[0]), mdCell(kv[1]))
		}
	}
	return b.String()
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

// issueRef matches a reference to an issue ("#8", "issue 7", "issues 4 and
// 7"), which a report's reader cannot follow.
var issueRef = regexp.MustCompile(`(?i)#[0-9]+|\bissues? +[0-9]`)

// TestReportRendering checks the report writer itself: fragments are
// grouped by section, results counted, the commit and the terms given,
// the fuzz targets listed, and no heading names an issue.
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
	const rev = "commit 0123456789abcdef0123456789abcdef01234567"
	var b bytes.Buffer
	renderReport(&b, frags, runFacts{Written: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Rev: rev, Code: 1}, root)
	text := b.String()
	// The rendered report is long: a failure names it, kept as evidence.
	kept := ""
	keep := func() string {
		if kept == "" {
			kept = testpeer.Keep(t, "report.md", text)
		}
		return kept
	}
	for _, want := range []string{"1 passed, 1 failed, 0 skipped", "| Faults | a | FAIL |", `b\|c`, "| bytes | 12 |",
		"| ./socks | FuzzReadRequest |", "## Findings", "- **b|c**: BUG: y",
		"- measured: " + rev + "\n", "2026-01-02 03:04 UTC", "CPUs", "- **lane**:", "- **witness transfer**:"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q (the report: %s)", want, keep())
		}
	}
	if strings.Index(text, "## Faults") > strings.Index(text, "## Security") {
		t.Errorf("sections out of order")
	}
	// "lane" is defined before any case uses it.
	if def, use := strings.Index(text, "**lane**"), strings.Index(text, "\n### "); def < 0 || def > use {
		t.Errorf("lane defined at %d, first case at %d", def, use)
	}
	if strings.Contains(text, "dirty") {
		t.Errorf("report says dirty (the report: %s)", keep())
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "#") && issueRef.MatchString(l) {
			t.Errorf("heading names an issue: %q", l)
		}
	}
	if m := issueRef.FindString(text); m != "" {
		t.Errorf("report names an issue (%q) (the report: %s)", m, keep())
	}
}

// TestCaseTitlesNameFeatures reads the titles this package's cases give
// their report headings (the literal titles passed to record and
// newFaultRig) and checks that none names an issue.
func TestCaseTitlesNameFeatures(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	titleArg := map[string]int{"record": 2, "newFaultRig": 1}
	fset := token.NewFileSet()
	n := 0
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(node ast.Node) bool {
			call, ok := node.(*ast.CallExpr)
			if !ok {
				return true
			}
			id, ok := call.Fun.(*ast.Ident)
			if !ok {
				return true
			}
			i, ok := titleArg[id.Name]
			if !ok || len(call.Args) <= i {
				return true
			}
			lit, ok := call.Args[i].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			n++
			if issueRef.MatchString(lit.Value) {
				t.Errorf("%s: case title %s names an issue", fset.Position(lit.Pos()), lit.Value)
			}
			return true
		})
	}
	if n < 10 {
		t.Errorf("found only %d case titles: the test no longer sees how cases are titled", n)
	}
	for _, s := range append(append([]string{introText, termsText}, sectionOrder...), sectionAbout[secFault], sectionAbout[secLoad], sectionAbout[secSecurity]) {
		if issueRef.MatchString(s) {
			t.Errorf("report text names an issue: %q", s)
		}
	}
	for _, s := range sectionOrder {
		if sectionAbout[s] == "" {
			t.Errorf("section %q has no sentence saying what it does", s)
		}
	}
}
