package tunnel

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"socksd/msg"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/sys/unix"
)

// hostKeys checks server keys against known_hosts files under a policy.
type hostKeys struct {
	files  []string
	policy string
	log    zerolog.Logger
	mu     sync.Mutex // serializes accept-new appends within the process
}

// probeKey is a key no known_hosts file holds; checking it reveals which
// keys a file holds for a host (knownhosts.KeyError.Want).
var probeKey = func() ssh.PublicKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "socksd tunnel known_hosts probe")
	k, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(seed).Public())
	if err != nil {
		panic(err) // a fixed valid seed: cannot fail
	}
	return k
}()

// load reads the existing known_hosts files. Missing files count as empty.
func (h *hostKeys) load() (ssh.HostKeyCallback, error) {
	var files []string
	for _, f := range h.files {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("tunnel: known_hosts: %w", err)
		}
	}
	cb, err := knownhosts.New(files...)
	if err != nil {
		return nil, fmt.Errorf("tunnel: known_hosts: %w", err)
	}
	return cb, nil
}

// known returns the plain keys known_hosts holds for hostport.
// (knownhosts also lists @cert-authority lines there; they are left out.)
func known(cb ssh.HostKeyCallback, hostport string) []knownhosts.KnownKey {
	err := cb(hostport, probeAddr, probeKey)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return nil
	}
	return plainKeys(ke.Want)
}

// plainKeys leaves out the @cert-authority lines that knownhosts lists
// among the keys wanted for a host.
func plainKeys(want []knownhosts.KnownKey) []knownhosts.KnownKey {
	lines := map[string][][]byte{}
	var out []knownhosts.KnownKey
	for _, k := range want {
		ls, ok := lines[k.Filename]
		if !ok {
			b, _ := os.ReadFile(k.Filename)
			ls = bytes.Split(b, []byte("\n"))
			lines[k.Filename] = ls
		}
		if k.Line >= 1 && k.Line <= len(ls) && bytes.HasPrefix(bytes.TrimSpace(ls[k.Line-1]), []byte("@cert-authority")) {
			continue
		}
		out = append(out, k)
	}
	return out
}

var probeAddr = &net.TCPAddr{IP: net.IPv4zero, Port: 0}

// algorithms returns the host-key algorithms to offer for hostport: those of
// the keys known_hosts holds for it first (certificate algorithms first when
// a @cert-authority line matches), then the rest of the defaults. nil means
// the library's default order.
func (h *hostKeys) algorithms(hostport string) []string {
	cb, err := h.load()
	if err != nil {
		return nil
	}
	var first []string
	if h.hasAuthority(hostport) {
		first = append(first, certAlgorithms...)
	}
	for _, k := range known(cb, hostport) {
		first = append(first, algorithmsForKeyType(k.Key.Type())...)
	}
	if len(first) == 0 {
		return nil
	}
	out := []string{}
	for _, a := range slices.Concat(first, ssh.SupportedAlgorithms().HostKeys) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

var certAlgorithms = []string{
	ssh.CertAlgoED25519v01,
	ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
	ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01,
}

// algorithmsForKeyType maps a key type to the signature algorithms that
// prove it.
func algorithmsForKeyType(t string) []string {
	switch t {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01}
	}
	return []string{t}
}

// hasAuthority reports whether a @cert-authority line matches hostport.
func (h *hostKeys) hasAuthority(hostport string) bool {
	for _, f := range h.files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if !bytes.HasPrefix(line, []byte("@cert-authority")) {
				continue
			}
			f := strings.Fields(string(line))
			if len(f) >= 2 && matchHosts(f[1], hostport) {
				return true
			}
		}
	}
	return false
}

// matchHosts reports whether a known_hosts host field (comma-separated
// patterns, "!" negation, "*" and "?" wildcards, "[host]:port", hashed
// "|1|salt|hash") matches hostport, as OpenSSH does.
func matchHosts(field, hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, "22"
	}
	normalized := knownhosts.Normalize(net.JoinHostPort(host, port))
	matched := false
	for _, pat := range strings.Split(field, ",") {
		negate := strings.HasPrefix(pat, "!")
		if negate {
			pat = pat[1:]
		}
		var ok bool
		if strings.HasPrefix(pat, "|") {
			ok = matchHashed(pat, normalized)
		} else {
			ok = matchPattern(pat, host, port)
		}
		if ok && negate {
			return false
		}
		if ok {
			matched = true
		}
	}
	return matched
}

// matchPattern matches one plain pattern ("host*", "[host]:port"; like
// knownhosts, also "host:port").
func matchPattern(pat, host, port string) bool {
	wantPort := "22"
	if h, p, err := net.SplitHostPort(pat); err == nil {
		pat, wantPort = h, p
	} else if strings.HasPrefix(pat, "[") {
		return false
	}
	if wantPort != port || pat == "" {
		return false
	}
	return wildcardMatch(pat, host)
}

// wildcardMatch matches "*" (any run) and "?" (one byte), case-insensitively.
func wildcardMatch(pat, s string) bool {
	pat, s = strings.ToLower(pat), strings.ToLower(s)
	// Iterative glob with single backtrack point: linear in practice.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pat) && (pat[p] == '?' || pat[p] == s[i]):
			p++
			i++
		case p < len(pat) && pat[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	// A '*' left at the end of the pattern does not match the empty rest
	// of the name: x/crypto/ssh/knownhosts, which makes the actual host-key
	// decision, behaves so ("h*" does not match "h"), and this matcher must
	// agree with it about which keys are known.
	return p == len(pat)
}

// matchHashed matches "|1|base64(salt)|base64(hmac-sha1(salt, host))".
func matchHashed(pat, normalized string) bool {
	parts := strings.Split(pat, "|")
	if len(parts) != 4 || parts[0] != "" || parts[1] != "1" {
		return false
	}
	salt, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	want, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil {
		return false
	}
	m := hmac.New(sha1.New, salt)
	m.Write([]byte(normalized))
	return hmac.Equal(m.Sum(nil), want)
}

// callback returns the HostKeyCallback for the policy.
func (h *hostKeys) callback() ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		cb, err := h.load()
		if err != nil {
			return err
		}
		err = cb(hostname, remote, key)
		if err == nil {
			return nil
		}
		hkErr := &HostKeyError{Host: hostname, KeyType: key.Type(), Fingerprint: Fingerprint(key)}
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &re):
			hkErr.Err = ErrHostKeyRevoked
			hkErr.Detail = fmt.Sprintf("%s:%d", re.Revoked.Filename, re.Revoked.Line)
		case errors.As(err, &ke) && len(plainKeys(ke.Want)) > 0:
			hkErr.Err = ErrHostKeyChanged
			for _, k := range plainKeys(ke.Want) {
				hkErr.Known = append(hkErr.Known, fmt.Sprintf("%s %s (%s:%d)", k.Key.Type(), Fingerprint(k.Key), k.Filename, k.Line))
			}
		case errors.As(err, &ke):
			if h.policy == PolicyAcceptNew {
				if err := h.acceptNew(hostname, key); err != nil {
					return err
				}
				return nil
			}
			hkErr.Err = ErrHostKeyUnknown
			hkErr.Detail = "policy strict; add it with socksd hostkey add"
		default:
			// Certificate problems: untrusted authority, expired, bad principal.
			hkErr.Err = ErrHostKeyUnknown
			hkErr.Detail = err.Error()
		}
		// The caller logs the operator message (SOX0203E, SOX0204A).
		h.log.Debug().Str("host", hostname).Str("key_type", hkErr.KeyType).
			Str("fingerprint", hkErr.Fingerprint).Strs("known", hkErr.Known).
			Str("policy", h.policy).Msg(hkErr.Error())
		return hkErr
	}
}

// acceptNew records an unknown key in the first known_hosts file.
func (h *hostKeys) acceptNew(hostport string, key ssh.PublicKey) error {
	if len(h.files) == 0 {
		return &HostKeyError{Host: hostport, KeyType: key.Type(), Fingerprint: Fingerprint(key),
			Err: ErrHostKeyUnknown, Detail: "policy accept-new but no known_hosts file configured"}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	added, err := appendKnownHosts(h.files[0], hostport, []ssh.PublicKey{key}, func() (ssh.HostKeyCallback, error) { return h.load() })
	if err != nil {
		return err
	}
	if added > 0 {
		msg.Log(&h.log, "SOX0210I", hostport, h.files[0], key.Type()+" "+Fingerprint(key)).Str("host", hostport).
			Str("key_type", key.Type()).Str("fingerprint", Fingerprint(key)).Str("file", h.files[0]).Send()
	}
	return nil
}

// appendKnownHosts appends the keys not yet known for hostport to file,
// under an exclusive flock of the file, and returns how many it wrote.
// load, when not nil, gives the database that decides "already known"
// (default: the file itself).
func appendKnownHosts(file, hostport string, keys []ssh.PublicKey, load func() (ssh.HostKeyCallback, error)) (int, error) {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return 0, fmt.Errorf("tunnel: known_hosts: %w", err)
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("tunnel: known_hosts: %w", err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return 0, fmt.Errorf("tunnel: known_hosts: lock %s: %w", file, err)
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN) //nolint:errcheck // closing unlocks too
	if load == nil {
		load = func() (ssh.HostKeyCallback, error) {
			cb, err := knownhosts.New(file)
			if err != nil {
				return nil, fmt.Errorf("tunnel: known_hosts: %w", err)
			}
			return cb, nil
		}
	}
	cb, err := load()
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	// A file that does not end in a newline would glue our line to its last.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			buf.WriteByte('\n')
		}
	}
	n := 0
	for _, k := range keys {
		if cb(hostport, probeAddr, k) == nil {
			continue
		}
		buf.WriteString(knownhosts.Line([]string{knownhosts.Normalize(hostport)}, k))
		buf.WriteByte('\n')
		n++
	}
	if n == 0 {
		return 0, nil
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		return 0, fmt.Errorf("tunnel: known_hosts: write %s: %w", file, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("tunnel: known_hosts: sync %s: %w", file, err)
	}
	return n, nil
}
