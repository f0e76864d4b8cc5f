package openssh

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func validOptions() Options {
	return Options{
		Dir:        "/run/socksd/ssh",
		Askpass:    "/usr/bin/socksd",
		Host:       "sftp.example.com",
		Port:       2222,
		User:       "batch1",
		KnownHosts: []string{"/etc/socksd/known_hosts"},
	}
}

func TestOptionsCheck(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
		ok   bool
	}{
		{"valid", func(*Options) {}, true},
		{"no dir", func(o *Options) { o.Dir = "" }, false},
		{"relative askpass", func(o *Options) { o.Askpass = "socksd" }, false},
		{"host as option", func(o *Options) { o.Host = "-oProxyCommand=sh" }, false},
		{"host with user", func(o *Options) { o.Host = "root@h" }, false},
		{"host with space", func(o *Options) { o.Host = "a b" }, false},
		{"host with token", func(o *Options) { o.Host = "h%d" }, false},
		{"ipv6 host", func(o *Options) { o.Host = "::1" }, true},
		{"user as option", func(o *Options) { o.User = "-l" }, false},
		{"user with newline", func(o *Options) { o.User = "a\nProxyCommand x" }, false},
		{"no user", func(o *Options) { o.User = "" }, false},
		{"port", func(o *Options) { o.Port = 70000 }, false},
		{"no known_hosts", func(o *Options) { o.KnownHosts = nil }, false},
		{"relative known_hosts", func(o *Options) { o.KnownHosts = []string{"known_hosts"} }, false},
		{"quoted identity", func(o *Options) { o.IdentityFiles = []string{`/k/"x`} }, false},
		{"unknown method", func(o *Options) { o.Auth = []string{"gssapi-with-mic"} }, false},
		{"proxy command with newline", func(o *Options) { o.ProxyCommand = "nc %h %p\nLocalCommand x" }, false},
		{"relative agent", func(o *Options) { o.IdentityAgent = "agent.sock" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := validOptions()
			tc.mod(&o)
			err := o.check()
			if (err == nil) != tc.ok {
				t.Fatalf("check: %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadOptions) {
				t.Fatalf("error %v does not wrap ErrBadOptions", err)
			}
		})
	}
}

func TestSSHConfig(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Options)
		want    []string // lines that must be there
		notWant []string // substrings that must not
	}{
		{"defaults", func(*Options) {}, []string{
			"User batch1", "Port 2222", "ControlMaster yes", `ControlPath "/d/ctl"`, "ControlPersist no",
			"BatchMode no", `UserKnownHostsFile "/etc/socksd/known_hosts"`, "GlobalKnownHostsFile /dev/null",
			"StrictHostKeyChecking yes", "PreferredAuthentications password,keyboard-interactive,publickey",
			"NumberOfPasswordPrompts 1", "IdentityFile /dev/null", "IdentitiesOnly yes", "IdentityAgent none",
		}, []string{"ProxyCommand", "Ciphers", "ServerAlive", "ConnectTimeout"}},
		{"accept-new, keys, agent, keepalive, via, cipher", func(o *Options) {
			o.AcceptNew = true
			o.Auth = []string{AuthPublicKey, AuthPassword}
			o.IdentityFiles = []string{"/k/id_ed25519", "/k/100%/id_rsa"}
			o.IdentityAgent = "/run/agent.sock"
			o.KeepaliveInterval = 15 * time.Second
			o.KeepaliveMax = 3
			o.ConnectTimeout = 1500 * time.Millisecond
			o.ProxyCommand = "/usr/bin/socksd via socks5://10.0.0.1:1080 %h %p"
			o.Ciphers = "aes128-gcm@openssh.com"
			o.KnownHosts = []string{"/a/kh", "/b/kh"}
		}, []string{
			"StrictHostKeyChecking accept-new", "PreferredAuthentications publickey,password",
			`IdentityFile "/k/id_ed25519"`, `IdentityFile "/k/100%%/id_rsa"`, "IdentitiesOnly yes",
			`IdentityAgent "/run/agent.sock"`, "ServerAliveInterval 15", "ServerAliveCountMax 3",
			"ConnectTimeout 2", "ProxyCommand /usr/bin/socksd via socks5://10.0.0.1:1080 %h %p",
			"Ciphers aes128-gcm@openssh.com", `UserKnownHostsFile "/a/kh" "/b/kh"`,
		}, []string{"IdentityFile /dev/null"}},
		{"agent without files offers every agent key", func(o *Options) { o.IdentityAgent = "/run/agent.sock" },
			[]string{"IdentityFile /dev/null", "IdentitiesOnly no"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := validOptions()
			tc.mod(&o)
			if err := o.check(); err != nil {
				t.Fatal(err)
			}
			cfg := o.sshConfig("/d/ctl")
			lines := map[string]bool{}
			for _, l := range strings.Split(cfg, "\n") {
				lines[l] = true
			}
			for _, w := range tc.want {
				if !lines[w] {
					t.Errorf("missing line %q in\n%s", w, cfg)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(cfg, w) {
					t.Errorf("unexpected %q in\n%s", w, cfg)
				}
			}
		})
	}
}

// TestClassify maps ssh's stderr (OpenSSH 9.2p1's words, seen in the
// tests against real sshd) to the typed errors.
func TestClassify(t *testing.T) {
	tests := []struct {
		stderr string
		ready  bool
		want   error
	}{
		{"No ED25519 host key is known for [127.0.0.1]:39307 and you have requested strict checking.\nHost key verification failed.", false, ErrHostKeyUnknown},
		{"@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key for [127.0.0.1]:46079 has changed and you have requested strict checking.\nHost key verification failed.", false, ErrHostKeyChanged},
		{"socksdtest@127.0.0.1: Permission denied (publickey,password).", false, ErrAuthFailed},
		{"ssh: connect to host 127.0.0.1 port 36577: Connection refused", false, ErrServerUnreachable},
		{"kex_exchange_identification: Connection closed by remote host\nConnection closed by UNKNOWN port 65535", false, ErrServerUnreachable},
		{"ssh: Could not resolve hostname no-such-host.invalid: Name or service not known", false, ErrServerUnreachable},
		{"ssh: connect to host 10.9.9.9 port 22: Connection timed out", false, ErrServerUnreachable},
		{"client_loop: ssh_packet_write_poll: Connection to 127.0.0.1 port 46285: Broken pipe", true, ErrMasterExited},
		{"something new", false, ErrMasterExited},
	}
	for _, tc := range tests {
		m := &Master{server: "h:22", stderr: newStderrLog(), ask: &askpassServer{}, ready: tc.ready}
		m.stderr.lines = strings.Split(tc.stderr, "\n")
		err := m.classify(nil)
		if !errors.Is(err, tc.want) {
			t.Errorf("%q: %v, want %v", tc.stderr, err, tc.want)
		}
	}
}
