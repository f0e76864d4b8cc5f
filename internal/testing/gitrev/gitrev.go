// Package gitrev tells which commit a report measured: the exact commit
// hash of HEAD, and whether the working tree had changes that commit does
// not hold. The reports that make bench and make reliability write (Reports)
// do not count as changes: they are results, not what is measured.
package gitrev

import (
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Reports are the files, relative to the top of the tree, that the
// project's measuring runs write: make bench's report and plots, and make
// reliability's report. Callers pass them to Read as ignored.
var Reports = []string{"BENCHMARKS.md", "BENCHMARKS*.svg", "RELIABILITY.md"}

// Rev is the state of the working tree a run measured.
type Rev struct {
	Commit  string   // the full hash of HEAD
	Changed []string // changed or untracked files, relative to the top of the tree
}

// String is "commit <hash>", followed by "with uncommitted changes (...)"
// when the tree had any.
func (r Rev) String() string {
	s := "commit " + r.Commit
	if len(r.Changed) == 0 {
		return s
	}
	shown := r.Changed
	more := ""
	if len(shown) > 5 {
		shown, more = shown[:5], fmt.Sprintf(" and %d more", len(r.Changed)-5)
	}
	return s + " with uncommitted changes (" + strings.Join(shown, ", ") + more + ")"
}

// Read returns the commit checked out in the tree that holds dir and the
// files changed in it, leaving out those that match one of ignore: file
// names or path.Match patterns, absolute or relative to the top of the
// tree (for example the report the run is rewriting).
func Read(dir string, ignore ...string) (Rev, error) {
	top, err := git(dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return Rev{}, err
	}
	head, err := git(dir, "rev-parse", "HEAD")
	if err != nil {
		return Rev{}, err
	}
	status, err := git(dir, "status", "--porcelain", "--untracked-files=all")
	if err != nil {
		return Rev{}, err
	}
	rel := make([]string, 0, len(ignore))
	for _, p := range ignore {
		if filepath.IsAbs(p) {
			if r, err := filepath.Rel(top, p); err == nil {
				p = r
			}
		}
		rel = append(rel, filepath.ToSlash(p))
	}
	return Rev{Commit: head, Changed: Changed(status, rel)}, nil
}

// Changed returns the files `git status --porcelain` (format v1) lists in
// status, less those matching one of ignore (path.Match patterns relative
// to the top of the tree). For a rename both names count.
func Changed(status string, ignore []string) []string {
	var out []string
	for _, line := range strings.Split(status, "\n") {
		if len(line) < 4 {
			continue
		}
		for _, name := range strings.Split(line[3:], " -> ") {
			name = unquote(name)
			if !ignored(name, ignore) {
				out = append(out, name)
			}
		}
	}
	return out
}

// unquote undoes git's C-style quoting of unusual file names.
func unquote(name string) string {
	if strings.HasPrefix(name, `"`) {
		if s, err := strconv.Unquote(name); err == nil {
			return s
		}
	}
	return name
}

func ignored(name string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// git runs git in dir and returns its trimmed output.
func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
			return "", fmt.Errorf("gitrev: git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("gitrev: git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimRight(string(out), "\n"), nil
}
