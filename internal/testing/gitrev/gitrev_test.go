package gitrev

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestChanged(t *testing.T) {
	ignore := []string{"BENCHMARKS.md", "BENCHMARKS*.svg", "RELIABILITY.md"}
	tests := []struct {
		name   string
		status string
		want   []string
	}{
		{"clean", "", nil},
		{"only the outputs", " M BENCHMARKS.md\n M BENCHMARKS.svg\n M BENCHMARKS-throughput.svg\n M RELIABILITY.md\n", nil},
		{"a source change", " M BENCHMARKS.md\n M tunnel/pool.go\n", []string{"tunnel/pool.go"}},
		{"untracked", "?? notes.txt\n", []string{"notes.txt"}},
		{"staged and renamed", "R  old.go -> new.go\n", []string{"old.go", "new.go"}},
		{"quoted name", "?? \"a b\\tc.go\"\n", []string{"a b\tc.go"}},
		{"output in a subdirectory still counts", " M docs/BENCHMARKS.md\n", []string{"docs/BENCHMARKS.md"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Changed(tt.status, ignore); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Changed(%q) = %q, want %q", tt.status, got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	const h = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		rev  Rev
		want string
	}{
		{Rev{Commit: h}, "commit " + h},
		{Rev{Commit: h, Changed: []string{"a.go"}}, "commit " + h + " with uncommitted changes (a.go)"},
		{Rev{Commit: h, Changed: []string{"1", "2", "3", "4", "5", "6", "7"}}, "commit " + h + " with uncommitted changes (1, 2, 3, 4, 5 and 2 more)"},
	}
	for _, tt := range tests {
		if got := tt.rev.String(); got != tt.want {
			t.Errorf("%+v: String() = %q, want %q", tt.rev, got, tt.want)
		}
	}
	if s := (Rev{Commit: h}).String(); strings.Contains(s, "dirty") || strings.Contains(s, "uncommitted") {
		t.Errorf("a clean tree reads %q", s)
	}
}

// TestRead runs git on a repository made for the test.
func TestRead(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed: %v", err)
	}
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("init", "-q")
	write("main.go", "package main\n")
	write("REPORT.md", "old\n")
	run("add", ".")
	run("commit", "-q", "-m", "first")
	head := run("rev-parse", "HEAD")

	write("REPORT.md", "new\n") // the run rewrites its own report
	rev, err := Read(dir, filepath.Join(dir, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	if rev.Commit != head || len(rev.Changed) != 0 {
		t.Errorf("tree changed only in the report: %+v, want commit %s and no changes", rev, head)
	}
	write("main.go", "package main // changed\n")
	rev, err = Read(dir, "REPORT.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"main.go"}; !reflect.DeepEqual(rev.Changed, want) {
		t.Errorf("Changed = %q, want %q", rev.Changed, want)
	}
	if _, err := Read(t.TempDir()); err == nil || !strings.HasPrefix(err.Error(), "gitrev: ") {
		t.Errorf("outside a repository: err = %v", err)
	}
}
