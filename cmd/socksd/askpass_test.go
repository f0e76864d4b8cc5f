package main

import (
	"bytes"
	"strings"
	"testing"

	"socksd/tunnel"
	"socksd/tunnel/openssh"
)

// TestAskpassHidden: `socksd __askpass` is the openssh engine's helper; it
// is not in the usage text, and outside ssh (no socket, no token) it
// answers nothing and exits 1, which ssh takes as "no answer".
func TestAskpassHidden(t *testing.T) {
	if strings.Contains(usage, "askpass") {
		t.Fatal("usage mentions the hidden askpass helper")
	}
	t.Setenv(openssh.EnvAskpassSocket, "")
	t.Setenv(openssh.EnvAskpassToken, "")
	var out, errb bytes.Buffer
	if code := run([]string{"__askpass", "user@host's password: "}, &out, &errb); code != 1 || out.Len() != 0 || errb.Len() != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

// TestProxyHidden: `socksd __proxy` is the openssh engine's ProxyCommand
// for a profile's via; it is not in the usage text, and without its proxy
// URL in the environment it fails on stderr, which ssh logs.
func TestProxyHidden(t *testing.T) {
	if strings.Contains(usage, "__proxy") {
		t.Fatal("usage mentions the hidden proxy command")
	}
	t.Setenv(tunnel.EnvProxyVia, "")
	var out, errb bytes.Buffer
	if code := run([]string{"__proxy", "1s", "127.0.0.1", "22"}, &out, &errb); code != 1 || out.Len() != 0 || !strings.Contains(errb.String(), tunnel.EnvProxyVia) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
