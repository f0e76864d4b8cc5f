package tests

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"socksd/internal/testing/testpeer"
)

// tunnelConfig routes loopback HTTP through SSH to the given sshd.
func tunnelConfig(t *testing.T, s *testpeer.SSHD, extra string) string {
	return fmt.Sprintf(`
[server]
listen = ["127.0.0.1:0"]
[console]
socket = ""
[ssh]
known_hosts = [%q]
keepalive_interval = "2s"
[profiles.gw]
host = "127.0.0.1"
port = %d
auth = ["password", "publickey"]
identity_files = [%q]
[profiles.dead]
host = "127.0.0.1"
port = %d
%s
[[rules]]
name = "fallback"
ports = ["8"]
action = "tunnel"
profile = "dead"
fallback_to_plain = true
[[rules]]
name = "closed"
ports = ["7"]
action = "tunnel"
profile = "dead"
[[rules]]
name = "web-via-ssh"
action = "tunnel"
profile = "gw"
`, s.KnownHostsFile, s.Port, s.ClientKeyFile, testpeer.FreePort(t, "127.0.0.1"), extra)
}

func TestTunnelActionThroughRealSSHD(t *testing.T) {
	testpeer.RequireTool(t, "curl")
	s := testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true})
	d := testpeer.StartSocksd(t, socksdBin, tunnelConfig(t, s, ""))
	web := webServer(t, "via ssh\n")
	port := web.Listener.Addr().(*net.TCPAddr).Port

	// SOCKS5 user/password become the SSH login; the host name is resolved
	// by the SSH server.
	out, err := exec.Command("curl", "-sS", "--max-time", "30", "--socks5-hostname", d.Addr,
		"--proxy-user", s.User+":"+s.Password, fmt.Sprintf("http://localhost:%d/", port)).CombinedOutput()
	if err != nil || string(out) != "via ssh\n" {
		t.Fatalf("curl through tunnel: %v %q", err, out)
	}
	if n := s.WaitLog("server_request_direct_tcpip", 1, 10*time.Second); n < 1 {
		t.Fatal("sshd saw no direct-tcpip channel (sshd.log in the evidence directory)")
	}
	if !strings.Contains(s.Log(), "target localhost port") {
		t.Errorf("the host name was not passed on unresolved")
	}
	if s.CountLog("Accepted password for "+s.User) != 1 {
		t.Errorf("password login not seen once")
	}
	// SOCKS4 USERID without password: public-key fallback, same server.
	out, err = exec.Command("curl", "-sS", "--max-time", "30", "--socks4", d.Addr, "--proxy-user", s.User+":",
		fmt.Sprintf("http://127.0.0.1:%d/", port)).CombinedOutput()
	if err != nil || string(out) != "via ssh\n" {
		t.Fatalf("curl --socks4 through tunnel: %v %q", err, out)
	}
	if s.CountLog("Accepted publickey for "+s.User) < 1 {
		t.Error("public-key fallback not seen (sshd.log in the evidence directory)")
	}
	if strings.Contains(d.Log.String(), s.Password) {
		t.Fatal("password in the socksd log")
	}
	if !strings.Contains(d.Log.String(), "ssh_server=127.0.0.1:") {
		t.Errorf("session end lacks the SSH server")
	}
}

func TestTunnelFallbackAndFailClosed(t *testing.T) {
	s := testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true})
	d := testpeer.StartSocksd(t, socksdBin, tunnelConfig(t, s, ""))
	// A listener on port 8 or 7 would need root-only ports; the rules
	// match the port asked for, and the direct fallback then connects to
	// whatever is there: ask for a port where nothing listens and check the
	// reply codes, which differ between the two paths.
	dialer, _ := proxy.SOCKS5("tcp", d.Addr, &proxy.Auth{User: s.User, Password: s.Password}, proxy.Direct)
	_, err := dialer.Dial("tcp", "127.0.0.1:7")
	if err == nil || !strings.Contains(err.Error(), "host unreachable") {
		t.Errorf("dead SSH server without fallback: %v (want host unreachable)", err)
	}
	_, err = dialer.Dial("tcp", "127.0.0.1:8")
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("dead SSH server with fallback: %v (want the direct connect's refusal)", err)
	}
	if !d.Log.WaitCount("SOX0208W", 1, 10*time.Second) {
		t.Errorf("fallback not logged")
	}
}
