// Package gosource lists the module's own Go files and the operator
// message IDs they name, for the tests that hold the code to the message
// catalogue (package msg) and to its logging rules.
package gosource

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// CatalogueFile is the file, relative to the module root, that defines the
// messages; MessageIDs leaves it out.
const CatalogueFile = "msg/catalogue.go"

// idRE matches a message ID: SOX, four digits, a severity letter.
var idRE = regexp.MustCompile(`SOX[0-9]{4}[IWEA]`)

// Root returns the module root: the nearest directory at or above the
// working directory that holds go.mod. It fails the test when there is none.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for range 64 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	t.Fatal("gosource: no go.mod at or above the working directory")
	return ""
}

// Files returns the module's .go files under root, relative to it with
// forward slashes, sorted; _test.go files only when tests is true. It
// skips hidden directories, testdata and vendor, and fails the test when
// it finds fewer than 5 files (a broken walk).
func Files(t testing.TB, root string, tests bool) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || (!tests && strings.HasSuffix(path, "_test.go")) {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatalf("gosource: %v", err)
	}
	if len(files) < 5 {
		t.Fatalf("gosource: only %d Go files under %s; the walk is broken", len(files), root)
	}
	sort.Strings(files)
	return files
}

// MessageIDs returns every message ID that the module's .go files name
// (test files only when tests is true), each with the files that name it.
// The catalogue file is left out: it names every ID.
func MessageIDs(t testing.TB, root string, tests bool) map[string][]string {
	t.Helper()
	ids := map[string][]string{}
	for _, f := range Files(t, root, tests) {
		if f == CatalogueFile {
			continue
		}
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatalf("gosource: %v", err)
		}
		seen := map[string]bool{}
		for _, id := range idRE.FindAllString(string(src), -1) {
			if !seen[id] {
				seen[id] = true
				ids[id] = append(ids[id], f)
			}
		}
	}
	return ids
}
