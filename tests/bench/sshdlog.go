package bench

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// SSHDLog is what an sshd DEBUG1 log tells about the SSH connections it
// served: the ciphers negotiated and the client software.
type SSHDLog struct {
	// Ciphers counts "kex: client->server cipher: NAME" and
	// "kex: server->client cipher: NAME" lines per NAME: two per key
	// exchange.
	Ciphers map[string]int
	// Clients counts "remote software version NAME" lines per NAME
	// (Go for x/crypto/ssh, OpenSSH_9.2p1 for OpenSSH).
	Clients map[string]int
}

// ParseSSHDLog reads an sshd log. Lines it does not know are ignored.
func ParseSSHDLog(log []byte) SSHDLog {
	s := SSHDLog{Ciphers: map[string]int{}, Clients: map[string]int{}}
	for b := range bytes.Lines(log) {
		line := string(b)
		for _, dir := range []string{"kex: client->server cipher: ", "kex: server->client cipher: "} {
			if _, rest, ok := strings.Cut(line, dir); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					s.Ciphers[f[0]]++
				}
			}
		}
		if _, rest, ok := strings.Cut(line, "remote software version "); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				s.Clients[f[0]]++
			}
		}
	}
	return s
}

// counts lists a count map by name: "a × 2, b × 1", or "none".
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s × %d", n, m[n])
	}
	return strings.Join(parts, ", ")
}

// String is a sentence for the report.
func (s SSHDLog) String() string {
	return fmt.Sprintf("sshd's log of this run: SSH clients by software version: %s; ciphers negotiated (each key exchange logs both directions): %s.",
		counts(s.Clients), counts(s.Ciphers))
}
