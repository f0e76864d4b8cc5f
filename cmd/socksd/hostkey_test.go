package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"socksd/internal/testing/testpeer"
	"socksd/tunnel"
)

// hostkeyServer runs an SSH server on loopback that only completes key
// exchange, and returns its address and key.
func hostkeyServer(t *testing.T) (string, ssh.PublicKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	cfg.AddHostKey(signer)
	addr := testpeer.ServeTCP(t, func(c net.Conn) {
		ssh.NewServerConn(c, cfg) // ends when the scanner hangs up
	})
	return addr, signer.PublicKey()
}

func TestHostkeyScan(t *testing.T) {
	addr, key := hostkeyServer(t)
	var out, errb bytes.Buffer
	if code := hostkey([]string{"scan", addr}, strings.NewReader(""), &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := knownhosts.Normalize(addr) + " ssh-ed25519 " + tunnel.Fingerprint(key) + "\n"
	if out.String() != want {
		t.Fatalf("output %q, want %q", out.String(), want)
	}
}

func TestHostkeyAdd(t *testing.T) {
	addr, key := hostkeyServer(t)
	file := filepath.Join(t.TempDir(), "known_hosts")
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		lines int
	}{
		{"declined", []string{"add", addr, "--known-hosts", file}, "n\n", exitFail, 0},
		{"no answer", []string{"add", addr, "--known-hosts", file}, "", exitFail, 0},
		{"confirmed", []string{"add", addr, "--known-hosts", file}, "yes\n", exitOK, 1},
		{"yes flag first, idempotent", []string{"add", "--yes", "--known-hosts", file, addr}, "", exitOK, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := hostkey(tc.args, strings.NewReader(tc.stdin), &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, errb.String())
			}
			if !strings.Contains(out.String(), tunnel.Fingerprint(key)) {
				t.Fatalf("fingerprint not shown: %q", out.String())
			}
			b, _ := os.ReadFile(file)
			if n := strings.Count(string(b), "\n"); n != tc.lines {
				t.Fatalf("known_hosts has %d lines, want %d", n, tc.lines)
			}
		})
	}
	cb, err := knownhosts.New(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := cb(addr, &net.TCPAddr{}, key); err != nil {
		t.Fatalf("recorded key does not verify: %v", err)
	}
}

func TestHostkeyUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"frob"},
		{"scan"},
		{"scan", "a", "b"},
		{"add", "127.0.0.1:22"},
		{"scan", "--bogus", "h"},
		{"scan", "h:notaport"},
		{"scan", "user@h"},
		{"scan", "h", "--timeout", "-1s"},
	} {
		var out, errb bytes.Buffer
		if code := hostkey(args, strings.NewReader(""), &out, &errb); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
	// An unreachable server is a failure, not a usage error.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	var out, errb bytes.Buffer
	if code := hostkey([]string{"scan", addr, "--timeout", "2s"}, strings.NewReader(""), &out, &errb); code != exitFail {
		t.Fatalf("closed port: exit %d", code)
	}
}

func TestHostkeyTarget(t *testing.T) {
	for in, want := range map[string]string{
		"h": "h:22", "h:2222": "h:2222", "::1": "[::1]:22", "[::1]:2222": "[::1]:2222", "10.0.0.1": "10.0.0.1:22",
	} {
		got, err := hostkeyTarget(in)
		if err != nil || got != want {
			t.Errorf("hostkeyTarget(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestRunHostkeyEntryPoint(t *testing.T) {
	addr, key := hostkeyServer(t)
	var out, errb bytes.Buffer
	if code := runHostkey([]string{"scan", addr}, &out, &errb); code != exitOK || !strings.Contains(out.String(), tunnel.Fingerprint(key)) {
		t.Fatalf("exit %d out %q err %q", code, out.String(), errb.String())
	}
}

func TestHostkeyAddRefusesChangedKey(t *testing.T) {
	addr, _ := hostkeyServer(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	oldKey, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "known_hosts")
	if err := tunnel.AddKnownHosts(file, addr, []ssh.PublicKey{oldKey}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(file)
	var out, errb bytes.Buffer
	if code := hostkey([]string{"add", addr, "--known-hosts", file, "--yes"}, strings.NewReader(""), &out, &errb); code != exitFail {
		t.Fatalf("exit %d, want %d", code, exitFail)
	}
	if !strings.Contains(errb.String(), tunnel.Fingerprint(oldKey)) || !strings.Contains(errb.String(), "ssh-keygen -R") {
		t.Fatalf("message: %s", errb.String())
	}
	after, _ := os.ReadFile(file)
	if string(before) != string(after) {
		t.Fatal("known_hosts changed")
	}
}

// TestHostkeyScanNotSSH: a port that is not an SSH server ends the scan
// within --timeout, saying that no SSH banner came (or what came instead).
func TestHostkeyScanNotSSH(t *testing.T) {
	addr := testpeer.ServeTCP(t, func(c net.Conn) {
		c.Write([]byte("220 FTP server ready\r\n"))
		io.Copy(io.Discard, c) // waits, as an FTP server does
	})
	done := make(chan struct{})
	var code int
	var out, errb bytes.Buffer
	go func() {
		defer close(done)
		code = hostkey([]string{"scan", "--timeout", "500ms", addr}, strings.NewReader(""), &out, &errb)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("socksd hostkey scan --timeout 500ms did not end")
	}
	want := `socksd hostkey scan: tunnel: scan ` + addr + `: no SSH banner: the peer sent "220 FTP server ready" instead` + "\n"
	if code != exitFail || out.Len() != 0 || errb.String() != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and stderr %q", code, out.String(), errb.String(), exitFail, want)
	}
}
