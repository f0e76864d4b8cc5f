package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeConfigErrors: serve with a bad file prints each problem as
// SOX0501E with its FILE:LINE and key, and exits 1 without starting.
func TestServeConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	text := "[server]\nlisten = [\"nohostport\"]\n[log]\nlevel = \"loud\"\n"
	if err := os.WriteFile(bad, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file string
		want []string
	}{
		{"two errors", bad, []string{
			"SOX0501E configuration error: " + bad + ":2: server.listen: \"nohostport\" is not a host:port address",
			"SOX0501E configuration error: " + bad + ":4: log.level: unknown log level \"loud\"",
		}},
		{"missing file", filepath.Join(dir, "none.toml"), []string{
			"SOX0501E configuration error: open " + filepath.Join(dir, "none.toml") + ": ",
		}},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		code := run([]string{"serve", "-c", tc.file}, &out, &errb)
		lines := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
		if code != exitFail || len(lines) != len(tc.want) {
			t.Errorf("%s: exit %d, stderr:\n%s", tc.name, code, errb.String())
			continue
		}
		for i, w := range tc.want {
			if !strings.HasPrefix(lines[i], w) {
				t.Errorf("%s: line %d is %q, want it to start with %q", tc.name, i+1, lines[i], w)
			}
		}
	}
	// check keeps its bare FILE:LINE lines.
	var out, errb bytes.Buffer
	if code := run([]string{"check", "-c", bad}, &out, &errb); code != exitFail || strings.Contains(errb.String(), "SOX0501E") || !strings.Contains(errb.String(), "config: "+bad+":2: server.listen: ") {
		t.Errorf("check: exit %d, stderr:\n%s", code, errb.String())
	}
}
