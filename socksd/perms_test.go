package socksd

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"socksd/config"
)

func TestSecretFiles(t *testing.T) {
	cases := []struct {
		name, profile string
		want          []string // relative to the test directory; "CONFIG" = the file itself
	}{
		{"no profile", "", nil},
		{"identity only", `identity_files = ["key"]`, []string{"key"}},
		{"passphrase file", `identity_files = ["key"]` + "\npassphrase_file = \"pass\"", []string{"CONFIG", "key", "pass"}},
		{"via with password", `via = "socks5://u:secret@127.0.0.1:1080"`, []string{"CONFIG"}},
		{"via without password", `via = "socks5://u@127.0.0.1:1080"`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			text := "[[rules]]\nname = \"r\"\naction = \"block\"\n"
			if c.profile != "" {
				p := strings.ReplaceAll(c.profile, `"key"`, `"`+filepath.Join(dir, "key")+`"`)
				p = strings.ReplaceAll(p, `"pass"`, `"`+filepath.Join(dir, "pass")+`"`)
				text += "[profiles.p]\nhost = \"127.0.0.1\"\n" + p + "\n"
			}
			path := filepath.Join(dir, "socksd.toml")
			cfg, err := config.Parse(path, []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, w := range c.want {
				if w == "CONFIG" {
					want = append(want, path)
				} else {
					want = append(want, filepath.Join(dir, w))
				}
			}
			sort.Strings(want)
			got := secretFiles(cfg, path)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("secretFiles = %q, want %q", got, want)
			}
		})
	}
}

func TestCheckSecretPermsWarns(t *testing.T) {
	dir := t.TempDir()
	key, pass, conf := filepath.Join(dir, "key"), filepath.Join(dir, "pass"), filepath.Join(dir, "socksd.toml")
	text := "[profiles.p]\nhost = \"127.0.0.1\"\nidentity_files = [\"" + key + "\", \"" + filepath.Join(dir, "absent") +
		"\"]\npassphrase_file = \"" + pass + "\"\n[[rules]]\nname = \"r\"\naction = \"block\"\n"
	for _, f := range []string{key, pass, conf} {
		if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Parse(conf, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		modes map[string]os.FileMode
		want  []string
	}{
		{"all private", map[string]os.FileMode{key: 0o600, pass: 0o400, conf: 0o600}, nil},
		{"group-readable key", map[string]os.FileMode{key: 0o640, pass: 0o600, conf: 0o600}, []string{key}},
		{"all world-readable", map[string]os.FileMode{key: 0o644, pass: 0o604, conf: 0o644}, []string{key, pass, conf}},
		{"writable but not readable by others", map[string]os.FileMode{key: 0o622, pass: 0o600, conf: 0o600}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			for f, m := range c.modes {
				if err := os.Chmod(f, m); err != nil {
					t.Fatal(err)
				}
			}
			var log bytes.Buffer
			d, err := New(cfg, Options{Logger: zerolog.New(&log), ConfigPath: conf})
			if err != nil {
				t.Fatal(err)
			}
			d.pool.Close()
			if n := strings.Count(log.String(), "SOX0012W"); n != len(c.want) {
				t.Errorf("%d SOX0012W warnings, want %d:\n%s", n, len(c.want), log.String())
			}
			for _, f := range c.want {
				if !strings.Contains(log.String(), "SOX0012W "+f+" is readable by other users") {
					t.Errorf("no warning for %s:\n%s", f, log.String())
				}
			}
			if strings.Contains(log.String(), "absent") {
				t.Errorf("a missing identity file was reported:\n%s", log.String())
			}
		})
	}
}
