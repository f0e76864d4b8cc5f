package tunnel

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestChannelRefusal(t *testing.T) {
	for _, tc := range []struct {
		detail  string
		reason  ssh.RejectionReason
		message string
		want    error
	}{
		{"administratively prohibited: open failed", ssh.Prohibited, "open failed", ErrProhibited},
		{"connect failed: Connection refused", ssh.ConnectionFailed, "Connection refused", ErrConnectFailed},
		{"connect failed: Name or service not known", ssh.ConnectionFailed, "Name or service not known", ErrUnreachable},
		{"resource shortage: no more sessions", ssh.ResourceShortage, "no more sessions", ErrConnectFailed},
		{"", ssh.ConnectionFailed, "channel open refused", ErrConnectFailed},
	} {
		reason, message := channelRefusal(tc.detail)
		ce := &ChannelError{Addr: "h:1", Reason: reason, Message: message}
		if reason != tc.reason || message != tc.message || ce.Unwrap() != tc.want {
			t.Errorf("%q: %v %q %v", tc.detail, reason, message, ce.Unwrap())
		}
	}
}

func TestProxyCommand(t *testing.T) {
	cmd, env, err := proxyCommand("/opt/socks d/socksd%x", "socks5://u:secret@p:1080", DefaultConnectTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if cmd != "'/opt/socks d/socksd%%x' __proxy 15s %h %p" || strings.Contains(cmd, "secret") {
		t.Fatalf("command %q", cmd)
	}
	if len(env) != 1 || env[0] != EnvProxyVia+"=socks5://u:secret@p:1080" {
		t.Fatalf("env %q", env)
	}
	if _, _, err := proxyCommand("/it's/socksd", "socks5://p", DefaultConnectTimeout); err == nil {
		t.Fatal("a quote in the program path was taken")
	}
}

func TestProxyMainErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		via  string
		want string
	}{
		{[]string{"1s", "h"}, "socks5://127.0.0.1:1", "usage"},
		{[]string{"soon", "h", "22"}, "socks5://127.0.0.1:1", "bad timeout"},
		{[]string{"1s", "h", "22"}, "", "no proxy URL"},
		{[]string{"1s", "h", "22"}, "http://u:topsecret@p:1", "not usable"},
		{[]string{"5s", "127.0.0.1", "22"}, "socks5://u:topsecret@127.0.0.1:1", "connect 127.0.0.1:22 via"},
	} {
		t.Setenv(EnvProxyVia, tc.via)
		var out, errb bytes.Buffer
		code := ProxyMain(tc.args, strings.NewReader(""), &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), tc.want) || strings.Contains(errb.String(), "topsecret") || out.Len() != 0 {
			t.Errorf("%v via %q: code %d, stderr %q", tc.args, tc.via, code, errb.String())
		}
	}
}

func TestHostKeyFromStderr(t *testing.T) {
	for _, tc := range []struct{ text, typ, fp string }{
		{"No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed.", "ED25519", ""},
		{"@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nThe fingerprint for the ECDSA key sent by the remote host is\nSHA256:abcDEF012+/xyz.\nPlease contact your system administrator.", "ECDSA", "SHA256:abcDEF012+/xyz"},
		{"Host key verification failed.", "", ""},
	} {
		typ, fp := hostKeyFromStderr(tc.text)
		if typ != tc.typ || fp != tc.fp {
			t.Errorf("%q: %q %q, want %q %q", tc.text, typ, fp, tc.typ, tc.fp)
		}
	}
}
