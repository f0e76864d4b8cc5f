package tunnel

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh/knownhosts"
)

// FuzzMatchHosts compares matchHosts with golang.org/x/crypto/ssh/knownhosts
// on the same host field, and checks that a lone negated pattern never
// matches.
func FuzzMatchHosts(f *testing.F) {
	for _, s := range [][2]string{{"ftp.example", "ftp.example:22"}, {"[h]:2222", "h:2222"}, {"*.ex,!b.ex", "b.ex:22"},
		{"a?c", "abc:22"}, {knownhosts.HashHostname("[h]:2"), "h:2"}, {"[h*]:2", "hx:2"}, {"|1|x|y", "h:22"}} {
		f.Add(s[0], s[1])
	}
	key := newSigner(f).PublicKey()
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, field, hostport string) {
		got := matchHosts(field, hostport)
		if matchHosts("!"+field, hostport) && !strings.Contains(field, ",") {
			t.Fatalf("negated %q matched %q", field, hostport)
		}
		// Differential check against knownhosts on well-formed input.
		host, port, err := net.SplitHostPort(hostport)
		if err != nil || host == "" || port == "" || field == "" {
			return
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return
		}
		for _, r := range field + hostport {
			if unicode.IsSpace(r) || unicode.IsUpper(r) || r > unicode.MaxASCII || r == '#' || r == '@' {
				return
			}
		}
		file := filepath.Join(dir, "kh")
		if err := os.WriteFile(file, []byte(line(field, key)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cb, err := knownhosts.New(file)
		if err != nil {
			return // knownhosts refuses the pattern; nothing to compare
		}
		want := cb(hostport, probeAddr, key) == nil
		if got != want {
			t.Fatalf("matchHosts(%q, %q) = %v, knownhosts says %v", field, hostport, got, want)
		}
	})
}

// FuzzChallenge: the keyboard-interactive answerer gives the password
// only to password prompts, never twice, and answers every question.
func FuzzChallenge(f *testing.F) {
	f.Add("Password: ", "", 1)
	f.Add("Verification code: ", "Password:", 2)
	f.Add("", "", 0)
	f.Fuzz(func(t *testing.T, q1, q2 string, n int) {
		if n < 0 || n > 2 {
			n = 2
		}
		qs := []string{q1, q2}[:n]
		a := &authChain{password: []byte("pw-secret"), log: zerolog.Nop()}
		for round := 0; round < 2; round++ {
			answers, err := a.challenge("", "", qs, make([]bool, len(qs)))
			if err != nil {
				continue
			}
			if len(answers) != len(qs) {
				t.Fatalf("%d answers for %d questions", len(answers), len(qs))
			}
			for i, q := range qs {
				if answers[i] == "pw-secret" && !strings.Contains(strings.ToLower(q), "password") {
					t.Fatalf("password given to prompt %q", q)
				}
			}
			if len(qs) > 0 && round == 1 && a.pwSent {
				t.Fatal("password answered in a second round")
			}
		}
	})
}
