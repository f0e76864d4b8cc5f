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

// FuzzParseVia: no panic; an accepted URL gives a usable proxy address
// that survives a round trip; a password never appears in an error.
func FuzzParseVia(f *testing.F) {
	for _, s := range []string{"socks5://127.0.0.1:1080", "socks4://proxy:1080", "socks5://u:pw@h:1", "socks4a://u@h:9",
		"http://h:1", "socks5://h", "socks5://:1", "socks5://h:0", "socks5://[::1]:1080", "%zz", "socks4://u:secretpw@h:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVia(s)
		if err != nil {
			if i := strings.Index(s, "://"); i >= 0 {
				if at := strings.LastIndex(s, "@"); at > i {
					userinfo := s[i+3 : at]
					if c := strings.Index(userinfo, ":"); c >= 0 && len(userinfo)-c-1 >= 6 {
						pw := userinfo[c+1:]
						if strings.Contains(err.Error(), pw) && !strings.Contains(redactURL(s), pw) {
							t.Fatalf("error shows the password: %v", err)
						}
					}
				}
			}
			return
		}
		if v.Version != 4 && v.Version != 5 {
			t.Fatalf("version %d", v.Version)
		}
		host, port, err := net.SplitHostPort(v.Addr)
		if err != nil || host == "" {
			t.Fatalf("addr %q: %v", v.Addr, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			t.Fatalf("port %q", port)
		}
		back, err := ParseVia("socks" + strconv.Itoa(v.Version) + "://" + v.Addr)
		if err != nil || back.Addr != v.Addr || back.Version != v.Version {
			t.Fatalf("round trip of %+v: %+v, %v", v, back, err)
		}
	})
}

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
