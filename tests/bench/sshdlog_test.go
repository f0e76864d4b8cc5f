package bench

import (
	"bytes"
	"maps"
	"strings"
	"testing"
)

const sampleSSHDLog = `debug1: Connection from 127.0.0.1 port 40000 on 127.0.0.1 port 2222 rdomain ""
debug1: Remote protocol version 2.0, remote software version Go
debug1: kex: algorithm: curve25519-sha256 [preauth]
debug1: kex: client->server cipher: aes128-gcm@openssh.com MAC: <implicit> compression: none [preauth]
debug1: kex: server->client cipher: aes128-gcm@openssh.com MAC: <implicit> compression: none [preauth]
debug1: Remote protocol version 2.0, remote software version OpenSSH_9.2p1 Debian-2+deb12u10
debug1: kex: client->server cipher: chacha20-poly1305@openssh.com MAC: <implicit> compression: none [preauth]
debug1: kex: server->client cipher: chacha20-poly1305@openssh.com MAC: <implicit> compression: none [preauth]
debug1: kex: client->server cipher:
`

func TestParseSSHDLog(t *testing.T) {
	tests := []struct {
		name             string
		in               string
		ciphers, clients map[string]int
	}{
		{"sample", sampleSSHDLog,
			map[string]int{"aes128-gcm@openssh.com": 2, "chacha20-poly1305@openssh.com": 2},
			map[string]int{"Go": 1, "OpenSSH_9.2p1": 1}},
		{"empty", "", map[string]int{}, map[string]int{}},
		{"no newline at end", "kex: client->server cipher: x", map[string]int{"x": 1}, map[string]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ParseSSHDLog([]byte(tt.in))
			if !maps.Equal(s.Ciphers, tt.ciphers) || !maps.Equal(s.Clients, tt.clients) {
				t.Errorf("got %+v", s)
			}
		})
	}
	got := ParseSSHDLog([]byte(sampleSSHDLog)).String()
	for _, want := range []string{"Go × 1, OpenSSH_9.2p1 × 1", "aes128-gcm@openssh.com × 2, chacha20-poly1305@openssh.com × 2"} {
		if !strings.Contains(got, want) {
			t.Errorf("String() = %q lacks %q", got, want)
		}
	}
	if got := (SSHDLog{}).String(); !strings.Contains(got, "none") {
		t.Errorf("empty String() = %q", got)
	}
}

// FuzzParseSSHDLog: never panics; counts are positive, never more than
// the lines; one more cipher line adds exactly one to its cipher.
func FuzzParseSSHDLog(f *testing.F) {
	f.Add([]byte(sampleSSHDLog), "aes128-gcm@openssh.com")
	f.Add([]byte("kex: client->server cipher: a\nremote software version b"), "a")
	f.Add([]byte{}, "x")
	f.Fuzz(func(t *testing.T, log []byte, cipher string) {
		s := ParseSSHDLog(log)
		lines := bytes.Count(log, []byte("\n")) + 1
		total := 0
		for _, m := range []map[string]int{s.Ciphers, s.Clients} {
			for k, n := range m {
				if n <= 0 || k == "" || strings.ContainsAny(k, " \t\n") {
					t.Fatalf("bad count %q=%d", k, n)
				}
				total += n
			}
		}
		if total > 3*lines {
			t.Fatalf("%d counts from %d lines", total, lines)
		}
		fields := strings.Fields(cipher)
		if len(fields) != 1 || fields[0] != cipher {
			return
		}
		more := append(append(append([]byte(nil), log...), "\ndebug1: kex: client->server cipher: "...), cipher+" MAC: <implicit>\n"...)
		if got, want := ParseSSHDLog(more).Ciphers[cipher], s.Ciphers[cipher]+1; got != want {
			t.Fatalf("after one more line: %d, want %d", got, want)
		}
	})
}
