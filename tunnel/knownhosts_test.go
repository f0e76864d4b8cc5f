package tunnel

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"socksd/internal/testing/wait"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func ecdsaSigner(t testing.TB) ssh.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeFile(t testing.TB, lines ...string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(f, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func line(hosts string, k ssh.PublicKey) string {
	return hosts + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func TestHostKeyPolicies(t *testing.T) {
	other := newSigner(t).PublicKey()
	ca := newSigner(t)
	hostKey := newSigner(t)
	bracket := func(s *testServer) string { return "[127.0.0.1]:" + strconv.Itoa(s.port) }
	tests := []struct {
		name   string
		cert   bool
		lines  func(s *testServer) []string
		policy string
		want   error
		wantIn []string // substrings of the error
	}{
		{name: "known", lines: func(s *testServer) []string { return []string{line(bracket(s), hostKey.PublicKey())} }},
		{name: "unknown strict", lines: func(s *testServer) []string { return []string{"# empty"} }, want: ErrHostKeyUnknown,
			wantIn: []string{Fingerprint(hostKey.PublicKey()), "unknown"}},
		{name: "other port", lines: func(s *testServer) []string { return []string{line("[127.0.0.1]:1", hostKey.PublicKey())} }, want: ErrHostKeyUnknown},
		{name: "changed", lines: func(s *testServer) []string { return []string{line(bracket(s), other)} }, want: ErrHostKeyChanged,
			wantIn: []string{Fingerprint(hostKey.PublicKey()), Fingerprint(other), "changed"}},
		{name: "changed accept-new", policy: PolicyAcceptNew, lines: func(s *testServer) []string { return []string{line(bracket(s), other)} }, want: ErrHostKeyChanged},
		{name: "revoked", lines: func(s *testServer) []string {
			return []string{line(bracket(s), hostKey.PublicKey()), line("@revoked *", hostKey.PublicKey())}
		}, want: ErrHostKeyRevoked},
		{name: "hashed", lines: func(s *testServer) []string {
			return []string{line(knownhosts.HashHostname(knownhosts.Normalize(s.addr)), hostKey.PublicKey())}
		}},
		{name: "wildcard", lines: func(s *testServer) []string {
			return []string{line("[127.0.0.*]:"+strconv.Itoa(s.port), hostKey.PublicKey())}
		}},
		{name: "several keys one matches", lines: func(s *testServer) []string {
			return []string{line(bracket(s), other), line(bracket(s), hostKey.PublicKey())}
		}},
		{name: "cert authority", cert: true, lines: func(s *testServer) []string { return []string{line("@cert-authority "+bracket(s), ca.PublicKey())} }},
		{name: "cert authority other host", cert: true, lines: func(s *testServer) []string {
			return []string{line("@cert-authority [10.0.0.1]:"+strconv.Itoa(s.port), ca.PublicKey())}
		}, want: ErrHostKeyUnknown},
		{name: "plain key, only a cert authority known", lines: func(s *testServer) []string {
			return []string{line("@cert-authority "+bracket(s), ca.PublicKey())}
		}, want: ErrHostKeyUnknown},
		{name: "plain key, only a cert authority known, accept-new", policy: PolicyAcceptNew, lines: func(s *testServer) []string {
			return []string{line("@cert-authority "+bracket(s), ca.PublicKey())}
		}},
		{name: "revoked cert authority", cert: true, lines: func(s *testServer) []string {
			return []string{line("@cert-authority "+bracket(s), ca.PublicKey()), line("@revoked *", ca.PublicKey())}
		}, want: ErrHostKeyUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, func(s *testServer) {
				s.hostKey = hostKey
				if tc.cert {
					cert := &ssh.Certificate{
						Key: hostKey.PublicKey(), CertType: ssh.HostCert, KeyId: "test",
						ValidPrincipals: []string{"127.0.0.1"}, ValidBefore: ssh.CertTimeInfinity,
					}
					if err := cert.SignCert(rand.Reader, ca); err != nil {
						t.Fatal(err)
					}
					s.hostCert = cert
				}
			})
			p := testPool(t, s, func(o *Options) {
				o.KnownHosts = []string{writeFile(t, tc.lines(s)...)}
				o.HostKeyPolicy = tc.policy
			})
			l, err := p.Open(context.Background(), testProfile(s), "", Credentials{User: "alice", Password: []byte("s3cret")})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				l.Close()
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
			var hk *HostKeyError
			if !errors.As(err, &hk) {
				t.Fatalf("not a *HostKeyError: %T", err)
			}
			for _, w := range tc.wantIn {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if pw, kbd, _, _ := s.counts(); pw+kbd != 0 {
				t.Fatal("password sent to a server whose key was refused")
			}
		})
	}
}

func TestAcceptNew(t *testing.T) {
	s := newTestServer(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "sub", "known_hosts") // directory and file do not exist yet
	var log logBuffer
	p := testPool(t, s, func(o *Options) {
		o.KnownHosts = []string{file, filepath.Join(dir, "missing-too")}
		o.HostKeyPolicy = PolicyAcceptNew
		o.Logger = zerolog.New(&log)
	})
	cred := Credentials{User: "alice", Password: []byte("s3cret")}
	for i := 0; i < 3; i++ {
		l, err := p.Open(context.Background(), Profile{Name: "x", Host: "127.0.0.1", Port: s.port, Share: false}, "", cred)
		if err != nil {
			t.Fatalf("accept-new open %d: %v", i, err)
		}
		l.Close()
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(b), "\n"); got != 1 {
		t.Fatalf("known_hosts has %d lines, want 1:\n%s", got, b)
	}
	want := knownhosts.Line([]string{knownhosts.Normalize(s.addr)}, s.hostKey.PublicKey())
	if strings.TrimSpace(string(b)) != want {
		t.Fatalf("known_hosts = %q, want %q", b, want)
	}
	// Recorded once, with an operator message that shows the fingerprint.
	key := s.hostKey.PublicKey()
	wantLine := `"level":"info","message":"SOX0210I host key for ` + s.addr + ` recorded in ` + file + ` (accept-new): ` + key.Type() + " " + Fingerprint(key) + `"`
	if n := strings.Count(log.String(), "SOX0210I"); n != 1 || !strings.Contains(log.String(), wantLine) {
		t.Errorf("%d SOX0210I lines, want 1 with %s:\n%s", n, wantLine, log.String())
	}
	// The recorded key is now enforced, even under strict.
	strict := testPool(t, s, func(o *Options) { o.KnownHosts = []string{file} })
	l, err := strict.Open(context.Background(), testProfile(s), "", cred)
	if err != nil {
		t.Fatalf("strict after accept-new: %v", err)
	}
	l.Close()
	// A server with another key on the same address is refused by accept-new.
	s.close()
	s2 := newTestServerAt(t, s.addr)
	_, err = p.Open(context.Background(), testProfile(s2), "", cred)
	if !errors.Is(err, ErrHostKeyChanged) {
		t.Fatalf("changed key under accept-new: %v", err)
	}
}

// newTestServerAt starts a test server with a fresh host key on addr.
func newTestServerAt(t testing.TB, addr string) *testServer {
	t.Helper()
	var ln net.Listener
	var err error
	wait.Until(t, "port to be free", 5e9, func() bool {
		ln, err = net.Listen("tcp", addr)
		return err == nil
	})
	s := &testServer{t: t, user: "alice", password: "s3cret", password_: true, kbd: true, pubkey: true,
		kbdPrompt: "Password: ", hostKey: newSigner(t), ln: ln, addr: addr, port: ln.Addr().(*net.TCPAddr).Port}
	go s.serve()
	t.Cleanup(s.close)
	return s
}

func TestHostKeyAlgorithmsFollowKnownHosts(t *testing.T) {
	ed := newSigner(t)
	ec := ecdsaSigner(t)
	s := newTestServer(t, func(s *testServer) {
		s.hostKey = ed
		s.extraKeys = []ssh.Signer{ec}
	})
	// Only the ed25519 key is known; x/crypto's default order prefers
	// ECDSA, which would look like a changed key.
	p := testPool(t, s, func(o *Options) {
		o.KnownHosts = []string{writeFile(t, line(knownhosts.Normalize(s.addr), ed.PublicKey()))}
	})
	l, err := p.Open(context.Background(), testProfile(s), "", Credentials{User: "alice", Password: []byte("s3cret")})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	l.Close()
	algs := p.hk.algorithms(s.addr)
	if len(algs) == 0 || algs[0] != ssh.KeyAlgoED25519 {
		t.Fatalf("algorithms = %v, want ssh-ed25519 first", algs)
	}
	if got := p.hk.algorithms("127.0.0.2:22"); got != nil {
		t.Fatalf("algorithms for an unknown host = %v, want nil (defaults)", got)
	}
}

func TestAlgorithmsForTypes(t *testing.T) {
	tests := []struct {
		typ  string
		want []string
	}{
		{ssh.KeyAlgoRSA, []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}},
		{ssh.KeyAlgoED25519, []string{ssh.KeyAlgoED25519}},
		{ssh.KeyAlgoECDSA384, []string{ssh.KeyAlgoECDSA384}},
	}
	for _, tc := range tests {
		if got := algorithmsForKeyType(tc.typ); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: %v, want %v", tc.typ, got, tc.want)
		}
	}
}

func TestMatchHosts(t *testing.T) {
	hashed := knownhosts.HashHostname("[ftp.example]:2222")
	tests := []struct {
		field, hostport string
		want            bool
	}{
		{"ftp.example", "ftp.example:22", true},
		{"ftp.example", "ftp.example:2222", false},
		{"[ftp.example]:2222", "ftp.example:2222", true},
		{"[ftp.example]:2222", "ftp.example:22", false},
		{"*.example", "ftp.example:22", true},
		{"FTP.Example", "ftp.example:22", true},
		{"ftp?.example", "ftp1.example:22", true},
		{"ftp?.example", "ftp12.example:22", false},
		{"*.example,!bad.example", "bad.example:22", false},
		{"!bad.example,*.example", "good.example:22", true},
		{"!bad.example", "good.example:22", false},
		{"a,b,c", "b:22", true},
		{hashed, "ftp.example:2222", true},
		{hashed, "ftp.example:22", false},
		{"|1|bad|hash", "ftp.example:22", false},
		{"[ftp.example]", "ftp.example:22", false},
		{"", "ftp.example:22", false},
		{"[::1]:2222", "[::1]:2222", true},
		{"::1", "[::1]:22", true},
	}
	for _, tc := range tests {
		if got := matchHosts(tc.field, tc.hostport); got != tc.want {
			t.Errorf("matchHosts(%q, %q) = %v, want %v", tc.field, tc.hostport, got, tc.want)
		}
	}
}

func TestAddKnownHostsAndScan(t *testing.T) {
	ed := newSigner(t)
	ec := ecdsaSigner(t)
	s := newTestServer(t, func(s *testServer) {
		s.hostKey = ed
		s.extraKeys = []ssh.Signer{ec}
	})
	keys, err := ScanHostKeys(context.Background(), s.addr, 5e9)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("scan found %d keys, want 2", len(keys))
	}
	got := map[string]bool{}
	for _, k := range keys {
		got[Fingerprint(k)] = true
	}
	if !got[Fingerprint(ed.PublicKey())] || !got[Fingerprint(ec.PublicKey())] {
		t.Fatalf("scan fingerprints %v", got)
	}
	file := filepath.Join(t.TempDir(), "kh")
	if err := AddKnownHosts(file, s.addr, keys); err != nil {
		t.Fatal(err)
	}
	if err := AddKnownHosts(file, s.addr, keys); err != nil { // idempotent
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	if n := strings.Count(string(b), "\n"); n != 2 || !strings.Contains(string(b), "[127.0.0.1]:") {
		t.Fatalf("known_hosts:\n%s", b)
	}
	// Port 22 is written without brackets.
	f22 := filepath.Join(t.TempDir(), "kh22")
	if err := AddKnownHosts(f22, "ftp.example", keys[:1]); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(f22)
	if !strings.HasPrefix(string(b), "ftp.example ") {
		t.Fatalf("port 22 line: %q", b)
	}
	// A file without a final newline still gets a separate line.
	f3 := filepath.Join(t.TempDir(), "kh3")
	os.WriteFile(f3, []byte("# no newline"), 0o600)
	if err := AddKnownHosts(f3, s.addr, keys[:1]); err != nil {
		t.Fatal(err)
	}
	cb, err := knownhosts.New(f3)
	if err != nil {
		t.Fatal(err)
	}
	if err := cb(s.addr, probeAddr, keys[0]); err != nil {
		t.Fatalf("added key not found: %v", err)
	}
	p := testPool(t, s, func(o *Options) { o.KnownHosts = []string{file} })
	l, err := p.Open(context.Background(), testProfile(s), "", Credentials{User: "alice", Password: []byte("s3cret")})
	if err != nil {
		t.Fatalf("open with scanned keys: %v", err)
	}
	l.Close()
	if _, err := ScanHostKeys(context.Background(), "127.0.0.1:1", 5e9); err == nil {
		t.Fatal("scan of a closed port succeeded")
	}
}

func TestKnownKeys(t *testing.T) {
	a, b := newSigner(t).PublicKey(), newSigner(t).PublicKey()
	f := writeFile(t, line("[h]:2222", a), line("h", b), line("@cert-authority [h]:2222", b))
	got, err := KnownKeys([]string{f, filepath.Join(t.TempDir(), "missing")}, "h:2222")
	if err != nil || len(got) != 1 || Fingerprint(got[0]) != Fingerprint(a) {
		t.Fatalf("KnownKeys = %v, %v", got, err)
	}
	if got, _ := KnownKeys([]string{f}, "h"); len(got) != 1 || Fingerprint(got[0]) != Fingerprint(b) {
		t.Fatalf("port 22: %v", got)
	}
	if got, _ := KnownKeys([]string{f}, "other:22"); len(got) != 0 {
		t.Fatalf("other host: %v", got)
	}
	bad := writeFile(t, "h ssh-ed25519 !!!notbase64")
	if _, err := KnownKeys([]string{bad}, "h"); err == nil {
		t.Fatal("malformed known_hosts accepted")
	}
}
