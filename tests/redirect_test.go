package tests

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
)

// The ports of docs/CAPTURE.md's examples. They are fixed: the daemon runs
// in a network namespace made by the test, where nothing else listens.
const (
	redirListenPort  = 1081
	redirTProxyPort  = 1082
	redirWebPort     = 8080 // the HTTP server on the FTP host, reached through sshd
	redirBlockedPort = 8081 // a destination the rules block
	redirDeadPort    = 8083 // a tunnel destination where nothing listens
	redirLoopPort    = 8082 // a direct destination that a test rule loops back
)

// redirCaptureDoc is the document whose examples the tests load as written.
const redirCaptureDoc = "../docs/CAPTURE.md"

var redirExampleRE = regexp.MustCompile("(?s)<!-- example: ([a-z0-9-]+) \\((nft|sh)\\) -->\\s*```\\n(.*?)```")

// redirDocExample returns example name of docs/CAPTURE.md, with the user
// "batch" replaced by user, and its kind: "nft" (an nft -f ruleset) or
// "sh" (commands).
func redirDocExample(t *testing.T, name, user string) (kind, text string) {
	t.Helper()
	b, err := os.ReadFile(redirCaptureDoc)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range redirExampleRE.FindAllStringSubmatch(string(b), -1) {
		if m[1] == name {
			return m[2], regexp.MustCompile(`\bbatch\b`).ReplaceAllString(m[3], user)
		}
	}
	t.Fatalf("%s has no example %q", redirCaptureDoc, name)
	return "", ""
}

// redirLoadExample loads example name of docs/CAPTURE.md into namespace ns.
func redirLoadExample(t *testing.T, topo *testpeer.Topology, ns, name, user string) {
	t.Helper()
	kind, text := redirDocExample(t, name, user)
	var cmd *exec.Cmd
	if kind == "nft" {
		cmd = topo.Command(ns, "nft", "-f", "-")
	} else {
		cmd = topo.Command(ns, "sh", "-e")
	}
	cmd.Stdin = strings.NewReader(text)
	if out, err := testpeer.RunBounded(cmd, time.Minute); err != nil {
		t.Fatalf("example %s: %v: %s\n%s", name, err, out, text)
	}
}

// redirResetRules removes every nftables and iptables rule (iptables-nft keeps
// them as nftables tables) and the TPROXY policy routing from namespace ns.
func redirResetRules(t *testing.T, topo *testpeer.Topology, ns string) {
	t.Helper()
	if out, err := topo.Command(ns, "nft", "flush", "ruleset").CombinedOutput(); err != nil {
		t.Fatalf("nft flush ruleset: %v: %s", err, out)
	}
	topo.Command(ns, "ip", "rule", "del", "fwmark", "0x5", "lookup", "105").Run()
	topo.Command(ns, "ip", "route", "flush", "table", "105").Run()
}

// redirAsUser is a command run as the test user in the client namespace, with
// its home in home.
func redirAsUser(t *testing.T, topo *testpeer.Topology, home, name string, args ...string) *exec.Cmd {
	t.Helper()
	uname, _ := testpeer.EnsureTestUser(t)
	u, err := user.Lookup(uname)
	if err != nil {
		t.Fatal(err)
	}
	pre := []string{"setpriv", "--reuid=" + u.Uid, "--regid=" + u.Gid, "--init-groups", "env", "HOME=" + home, name}
	return topo.Command(topo.Client, pre[0], append(pre[1:], args...)...)
}

// redirSite is the gateway layout (sshd on the gateway, vsftpd and an
// HTTP server on the FTP host, which only the gateway reaches) with socksd
// in the client namespace, listening for SOCKS, REDIRECT and TPROXY on the
// ports of docs/CAPTURE.md, and rules by address.
func redirSite(t *testing.T) (*site, *testpeer.Socksd) {
	testpeer.RequireTool(t, "nft")
	testpeer.RequireTool(t, "setpriv")
	testpeer.RequireTool(t, "curl")
	s := newSite(t, true)
	// The client host routes the FTP host's network to the gateway, as a
	// host's default route would: connect() then gets as far as the
	// output hook, where the rules redirect it. The gateway does not
	// forward, so nothing gets through there.
	if out, err := exec.Command("ip", "-n", s.topo.Client, "route", "add", "10.77.2.0/24", "via", s.topo.GatewayIP).CombinedOutput(); err != nil {
		t.Fatalf("ip route: %v: %s", err, out)
	}
	redirAddIPv6(t, s.topo)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from the ftp host\n")
	}), ReadHeaderTimeout: 10 * time.Second}
	t.Cleanup(func() { srv.Close() })
	for _, ip := range []string{s.ftpIP, redirFTPIPv6} {
		var ln net.Listener
		if err := testpeer.InNS(s.topo.FTPNSPath, func() (err error) {
			ln, err = net.Listen("tcp", net.JoinHostPort(ip, fmt.Sprint(redirWebPort)))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
	}
	cfg := fmt.Sprintf(`
[server]
listen = ["127.0.0.1:1080"]
redirect_listen = ["127.0.0.1:%[1]d", "[::1]:%[1]d"]
tproxy_listen = ["127.0.0.1:%[2]d"]
allow_clients = ["127.0.0.0/8", "::1/128", "%[3]s/32", "%[14]s/128"]
[console]
socket = "{{SOCKET}}"
[ssh]
known_hosts = [%[4]q]
[profiles.gw]
host = %[5]q
port = %[6]d
user = %[7]q
auth = ["password", "publickey"]
identity_files = [%[8]q]
[[rules]]
name = "ftp"
to = [%[9]q]
ports = ["%[10]d"]
action = "ftp-tunnel"
profile = "gw"
[rules.ftp]
data = "socks" # a redirected session works as "auto" whatever this says
[[rules]]
name = "web"
to = [%[9]q, %[15]q]
ports = ["%[11]d", "%[12]d"]
action = "tunnel"
profile = "gw"
[[rules]]
name = "loop"
to = [%[9]q]
ports = ["%[13]d"]
action = "direct"
[[rules]]
name = "rest"
action = "block"
`, redirListenPort, redirTProxyPort, s.clientIP, s.sshd.KnownHostsFile, s.sshHost, s.sshd.Port, s.sshd.User,
		s.sshd.ClientKeyFile, s.ftpIP, s.ftpd.Port, redirWebPort, redirDeadPort, redirLoopPort, redirClientIPv6, redirFTPIPv6)
	d := testpeer.StartSocksdIn(t, s.topo.Client, socksdBin, cfg)
	return s, d
}

// The IPv6 addresses redirAddIPv6 gives the client and FTP hosts.
const (
	redirClientIPv6 = "fd00:77:1::1"
	redirFTPIPv6    = "fd00:77:2::2"
)

// redirAddIPv6 gives the links of topo IPv6 addresses beside the IPv4 ones,
// client fd00:77:1::1 - fd00:77:1::2 gateway fd00:77:2::1 - fd00:77:2::2
// ftp, and the client a route to the FTP host's network through the
// gateway (which does not forward).
func redirAddIPv6(t *testing.T, topo *testpeer.Topology) {
	t.Helper()
	veths := func(ns string) []string {
		out, err := exec.Command("ip", "-n", ns, "-o", "link", "show", "type", "veth").Output()
		if err != nil {
			t.Fatalf("ip link: %v", err)
		}
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if f := strings.Fields(l); len(f) > 1 {
				name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
				names = append(names, name)
			}
		}
		sort.Strings(names)
		return names
	}
	c, g, f := veths(topo.Client), veths(topo.Gateway), veths(topo.FTP)
	if len(c) != 1 || len(g) != 2 || len(f) != 1 {
		t.Fatalf("unexpected links: client %v, gateway %v, ftp %v", c, g, f)
	}
	// The gateway's links sort as the client side, then the FTP side.
	steps := [][]string{
		{"-n", topo.Client, "addr", "add", redirClientIPv6 + "/64", "dev", c[0], "nodad"},
		{"-n", topo.Gateway, "addr", "add", "fd00:77:1::2/64", "dev", g[0], "nodad"},
		{"-n", topo.Gateway, "addr", "add", "fd00:77:2::1/64", "dev", g[1], "nodad"},
		{"-n", topo.FTP, "addr", "add", redirFTPIPv6 + "/64", "dev", f[0], "nodad"},
		{"-n", topo.Client, "route", "add", "fd00:77:2::/64", "via", "fd00:77:1::2"},
	}
	for _, st := range steps {
		if out, err := exec.Command("ip", st...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(st, " "), err, out)
		}
	}
}

// redirLogLines counts the lines of the daemon's log that hold every one of
// parts.
func redirLogLines(d *testpeer.Socksd, parts ...string) int {
	n := 0
	for _, l := range strings.Split(d.Log.String(), "\n") {
		all := true
		for _, p := range parts {
			if !strings.Contains(l, p) {
				all = false
				break
			}
		}
		if all {
			n++
		}
	}
	return n
}

// redirWaitLog waits until the daemon's log has n lines holding every one of
// parts.
func redirWaitLog(t *testing.T, d *testpeer.Socksd, n int, parts ...string) {
	t.Helper()
	if !wait.For(20*time.Second, func() bool { return redirLogLines(d, parts...) >= n }) {
		t.Fatalf("socksd's log has %d lines with %q, want %d", redirLogLines(d, parts...), parts, n)
	}
}

// TestRedirectWholeUser loads each example of docs/CAPTURE.md for a
// whole user (nftables and iptables, REDIRECT and TPROXY) and checks that
// the user's plain TCP connection reaches a server only reachable through
// sshd, that a blocked or dead destination is closed, and that other users
// are not captured.
func TestRedirectWholeUser(t *testing.T) {
	s, d := redirSite(t)
	uname, _ := testpeer.EnsureTestUser(t)
	home := testpeer.UserDir(t)
	web := fmt.Sprintf("http://%s:%d/", s.ftpIP, redirWebPort)
	cases := []struct {
		name     string
		examples []string
		listener int
	}{
		{"nft-redirect", []string{"nft-user"}, redirListenPort},
		{"iptables-redirect", []string{"iptables-user"}, redirListenPort},
		{"nft-tproxy", []string{"tproxy-route", "nft-tproxy"}, redirTProxyPort},
		{"iptables-tproxy", []string{"tproxy-route", "iptables-tproxy"}, redirTProxyPort},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if strings.HasPrefix(c.name, "iptables") {
				testpeer.RequireTool(t, "iptables")
			}
			redirResetRules(t, s.topo, s.topo.Client)
			t.Cleanup(func() { redirResetRules(t, s.topo, s.topo.Client) })
			for _, e := range c.examples {
				redirLoadExample(t, s.topo, s.topo.Client, e, uname)
			}
			channels := s.sshd.CountLog(fmt.Sprintf("target %s port %d", s.ftpIP, redirWebPort))
			started := redirLogLines(d, "event=session_start", "origin=redirect", fmt.Sprintf("dest=%s:%d", s.ftpIP, redirWebPort))
			out, err := testpeer.RunBounded(redirAsUser(t, s.topo, home, "curl", "-sS", "--max-time", "30", web), time.Minute)
			if err != nil || string(out) != "hello from the ftp host\n" {
				t.Fatalf("curl as %s: %v: %q", uname, err, out)
			}
			// Through the tunnel: sshd opened the channel, and the session
			// came in by redirect.
			if n := s.sshd.WaitLog(fmt.Sprintf("target %s port %d", s.ftpIP, redirWebPort), channels+1, 20*time.Second); n <= channels {
				t.Errorf("sshd logged no direct-tcpip channel to the web server")
			}
			redirWaitLog(t, d, started+1, "event=session_start", "origin=redirect", fmt.Sprintf("dest=%s:%d", s.ftpIP, redirWebPort))
			// Another user (root) is not captured: the client host has no
			// route to the FTP host.
			if out, err := testpeer.RunBounded(s.topo.Command(s.topo.Client, "curl", "-sS", "--max-time", "3", web), time.Minute); err == nil {
				t.Errorf("root's curl was captured or reached the FTP host: %q", out)
			}
			// A blocked destination is closed, and logged.
			blocked := redirLogLines(d, "SOX0703I", fmt.Sprintf("%s:%d", s.ftpIP, redirBlockedPort))
			if out, err := testpeer.RunBounded(redirAsUser(t, s.topo, home, "curl", "-sS", "--max-time", "10",
				fmt.Sprintf("http://%s:%d/", s.ftpIP, redirBlockedPort)), time.Minute); err == nil {
				t.Errorf("curl to a blocked destination succeeded: %q", out)
			}
			redirWaitLog(t, d, blocked+1, "SOX0703I", fmt.Sprintf("%s:%d", s.ftpIP, redirBlockedPort))
			// A tunnel destination where nothing listens: closed, the
			// session failed.
			failed := redirLogLines(d, "event=session_end", "result=failed", fmt.Sprintf("dest=%s:%d", s.ftpIP, redirDeadPort))
			if out, err := testpeer.RunBounded(redirAsUser(t, s.topo, home, "curl", "-sS", "--max-time", "10",
				fmt.Sprintf("http://%s:%d/", s.ftpIP, redirDeadPort)), time.Minute); err == nil {
				t.Errorf("curl to a dead destination succeeded: %q", out)
			}
			redirWaitLog(t, d, failed+1, "event=session_end", "result=failed", fmt.Sprintf("dest=%s:%d", s.ftpIP, redirDeadPort))
		})
	}
}

// TestRedirectListenerItself connects to the redirect and TPROXY listeners
// directly (nothing redirected), and makes a rule loop socksd's own
// connection back to it: each is closed at once, with no second pass.
func TestRedirectListenerItself(t *testing.T) {
	s, d := redirSite(t)
	uname, _ := testpeer.EnsureTestUser(t)
	home := testpeer.UserDir(t)
	// With redirect rules loaded, the kernel tracks the connections, and
	// knows that these were not redirected.
	redirLoadExample(t, s.topo, s.topo.Client, "nft-user", uname)
	for _, addr := range []string{
		fmt.Sprintf("127.0.0.1:%d", redirListenPort),
		fmt.Sprintf("[::1]:%d", redirListenPort),
		fmt.Sprintf("127.0.0.1:%d", redirTProxyPort),
	} {
		t.Run(addr, func(t *testing.T) {
			before := redirLogLines(d, "SOX0702W")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := testpeer.DialIn(ctx, s.topo.ClientNSPath, "tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("read %d bytes, %v; want the connection closed", n, err)
			}
			redirWaitLog(t, d, before+1, "SOX0702W")
		})
	}
	// A loop: the user's connection to the loop destination is redirected
	// (the nft-user example), its rule is direct, and a rule for root
	// redirects socksd's own direct connection back to the listener.
	t.Run("loop", func(t *testing.T) {
		redirResetRules(t, s.topo, s.topo.Client)
		t.Cleanup(func() { redirResetRules(t, s.topo, s.topo.Client) })
		redirLoadExample(t, s.topo, s.topo.Client, "nft-user", uname)
		loop := exec.Command("ip", "netns", "exec", s.topo.Client, "nft", "-f", "-")
		loop.Stdin = strings.NewReader(fmt.Sprintf(`table ip socksd_test_loop {
	chain output {
		type nat hook output priority -100; policy accept;
		meta skuid 0 ip daddr %s tcp dport %d redirect to :%d
	}
}
`, s.ftpIP, redirLoopPort, redirListenPort))
		if out, err := loop.CombinedOutput(); err != nil {
			t.Fatalf("nft: %v: %s", err, out)
		}
		dest := fmt.Sprintf("dest=%s:%d", s.ftpIP, redirLoopPort)
		if out, err := testpeer.RunBounded(redirAsUser(t, s.topo, home, "curl", "-sS", "--max-time", "10",
			fmt.Sprintf("http://%s:%d/", s.ftpIP, redirLoopPort)), time.Minute); err == nil {
			t.Errorf("curl through a loop succeeded: %q", out)
		}
		redirWaitLog(t, d, 1, "SOX0704W")
		redirWaitLog(t, d, 1, "event=session_end", dest)
		if n := redirLogLines(d, "SOX0704W"); n != 1 {
			t.Errorf("%d loop refusals, want 1", n)
		}
		if n := redirLogLines(d, "event=session_start", dest); n != 1 {
			t.Errorf("%d sessions to the loop destination, want 1 (the user's)", n)
		}
	})
}

// TestRedirectFTP runs curl and lftp as a user whose connections the
// nft-user example of docs/CAPTURE.md redirects, with no SOCKS setting:
// login, LIST, STOR and RETR of 16 MiB byte-exact, passive and active,
// across namespaces, through ftp-tunnel.
func TestRedirectFTP(t *testing.T) {
	testpeer.RequireTool(t, "lftp")
	s, d := redirSite(t)
	uname, _ := testpeer.EnsureTestUser(t)
	redirLoadExample(t, s.topo, s.topo.Client, "nft-user", uname)
	home := testpeer.UserDir(t)
	data := testpeer.Data(16<<20, 15)
	want := sha256.Sum256(data)
	src := filepath.Join(home, "up.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("ftp://%s:%d/", s.ftpIP, s.ftpd.Port)
	login := s.ftpd.User + ":" + s.ftpd.Password
	check := func(t *testing.T, name, dst string) { t.Helper(); checkCopies(t, s.ftpd.Root, name, dst, want) }
	curl := []struct {
		name string
		args []string
	}{
		{"curl-epsv", nil},
		{"curl-pasv", []string{"--disable-epsv"}},
		{"curl-pasv-227-address", []string{"--disable-epsv", "--no-ftp-skip-pasv-ip"}},
		{"curl-active-port", []string{"--ftp-port", "-", "--disable-eprt"}},
		{"curl-active-eprt", []string{"--ftp-port", "-"}},
	}
	for _, c := range curl {
		t.Run(c.name, func(t *testing.T) {
			name := c.name + ".bin"
			run := func(args ...string) string {
				t.Helper()
				all := append(append([]string{"-sS", "--max-time", "120", "--user", login}, c.args...), args...)
				out, err := testpeer.RunBounded(redirAsUser(t, s.topo, home, "curl", all...), 3*time.Minute)
				if err != nil {
					t.Fatalf("curl %s: %v: %s", strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			run("-T", src, base+name)
			dst := filepath.Join(home, c.name+".down")
			run("-o", dst, base+name)
			check(t, name, dst)
			if listing := run(base); !strings.Contains(listing, name) {
				t.Fatalf("LIST does not show %s: %q", name, listing)
			}
			os.Remove(filepath.Join(s.ftpd.Root, name))
			os.Remove(dst)
		})
	}
	for _, passive := range []bool{true, false} {
		name := "lftp-active"
		if passive {
			name = "lftp-passive"
		}
		t.Run(name, func(t *testing.T) {
			dst := filepath.Join(home, name+".down")
			script := fmt.Sprintf("set ftp:passive-mode %s; set net:max-retries 1; set net:timeout 60; put %s -o %s.bin; get %s.bin -o %s; cls -1; bye",
				map[bool]string{true: "on", false: "off"}[passive], src, name, name, dst)
			out, err := testpeer.RunBounded(redirAsUser(t, s.topo, home, "lftp", "-u", s.ftpd.User+","+s.ftpd.Password, "-e", script, base), 3*time.Minute)
			if err != nil {
				t.Fatalf("lftp: %v\n%s", err, out)
			}
			check(t, name+".bin", dst)
			if !strings.Contains(string(out), name+".bin") {
				t.Fatalf("LIST does not show %s.bin: %q", name, out)
			}
			os.Remove(filepath.Join(s.ftpd.Root, name+".bin"))
			os.Remove(dst)
		})
	}
	// Rules that take only the control port: the 227 reply, rewritten to
	// socksd's own listener (the rule says data = "socks", but a
	// redirected session always rewrites), is the only way the data
	// connection can go through the tunnel.
	t.Run("control-port-only", func(t *testing.T) {
		redirResetRules(t, s.topo, s.topo.Client)
		loop := exec.Command("ip", "netns", "exec", s.topo.Client, "nft", "-f", "-")
		loop.Stdin = strings.NewReader(fmt.Sprintf(`table inet socksd_test_ftp21 {
	chain output {
		type nat hook output priority -100; policy accept;
		meta skuid != %q return
		fib daddr type local return
		tcp dport %d redirect to :%d
	}
}
`, uname, s.ftpd.Port, redirListenPort))
		if out, err := loop.CombinedOutput(); err != nil {
			t.Fatalf("nft: %v: %s", err, out)
		}
		name := "port21.bin"
		args := []string{"-sS", "--max-time", "60", "--user", login, "--disable-epsv", "--no-ftp-skip-pasv-ip"}
		if out, err := testpeer.RunBounded(redirAsUser(t, s.topo, home, "curl", append(args, "-T", src, base+name)...), 2*time.Minute); err != nil {
			t.Fatalf("curl upload: %v: %s", err, out)
		}
		dst := filepath.Join(home, "port21.down")
		if out, err := testpeer.RunBounded(redirAsUser(t, s.topo, home, "curl", append(args, "-o", dst, base+name)...), 2*time.Minute); err != nil {
			t.Fatalf("curl download: %v: %s", err, out)
		}
		check(t, name, dst)
		os.Remove(filepath.Join(s.ftpd.Root, name))
	})
	// Every connection reached vsftpd through the SSH server, active mode
	// was converted, and the sessions came in by redirect.
	if n := s.ftpd.CountLog(`Client "` + s.clientIP + `"`); n != 0 {
		t.Errorf("vsftpd saw %d connections from the client host", n)
	}
	if s.ftpd.CountLog(`Client "`) == 0 {
		t.Errorf("vsftpd's log shows no clients; the check above proves nothing")
	}
	if n := s.ftpd.CountLog(`"PORT `) + s.ftpd.CountLog(`"EPRT `); n != 0 {
		t.Errorf("vsftpd received %d PORT/EPRT commands; active mode was not converted", n)
	}
	if n := redirLogLines(d, "event=session_start", "origin=redirect", fmt.Sprintf("dest=%s:%d", s.ftpIP, s.ftpd.Port)); n < len(curl)*3+2 {
		t.Errorf("%d redirected FTP control sessions, want at least %d", n, len(curl)*3+2)
	}
	if strings.Contains(d.Log.String(), s.ftpd.Password) {
		t.Errorf("the password reached socksd's log")
	}
}

// TestRedirectIPv6 redirects a user's IPv6 connection with the nft-user
// example: socksd reads its original destination (IP6T_SO_ORIGINAL_DST)
// and carries it through sshd.
func TestRedirectIPv6(t *testing.T) {
	s, d := redirSite(t)
	uname, _ := testpeer.EnsureTestUser(t)
	home := testpeer.UserDir(t)
	redirLoadExample(t, s.topo, s.topo.Client, "nft-user", uname)
	out, err := testpeer.RunBounded(redirAsUser(t, s.topo, home, "curl", "-sS", "--max-time", "30",
		fmt.Sprintf("http://[%s]:%d/", redirFTPIPv6, redirWebPort)), time.Minute)
	if err != nil || string(out) != "hello from the ftp host\n" {
		t.Fatalf("curl: %v: %q", err, out)
	}
	if s.sshd.WaitLog(fmt.Sprintf("target %s port %d", redirFTPIPv6, redirWebPort), 1, 20*time.Second) < 1 {
		t.Errorf("sshd logged no direct-tcpip channel to the web server's IPv6 address")
	}
	redirWaitLog(t, d, 1, "event=session_start", "origin=redirect", fmt.Sprintf("dest=[%s]:%d", redirFTPIPv6, redirWebPort), "client=["+redirClientIPv6+"]:")
}

// TestRedirectFTPSFTP runs curl as a captured user against an ftp-sftp
// rule: socksd serves the redirected FTP session itself from the sftp
// subsystem of the SSH server, passive and active, 16 MiB both ways.
func TestRedirectFTPSFTP(t *testing.T) {
	testpeer.RequireTool(t, "nft")
	testpeer.RequireTool(t, "setpriv")
	testpeer.RequireTool(t, "curl")
	topo := testpeer.NewTopology(t)
	home := testpeer.UserDir(t)
	sshd := testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true, NetNS: topo.Gateway, ListenAddr: topo.GatewayIP,
		SFTP: testpeer.SFTPSubsystem{Server: testpeer.InternalSFTP, StartDir: home}})
	const partnerPort = 2121 // the port the job names; the partner has no FTP server
	d := testpeer.StartSocksdIn(t, topo.Client, socksdBin, fmt.Sprintf(`
[server]
listen = ["127.0.0.1:1080"]
redirect_listen = ["127.0.0.1:%d"]
allow_clients = ["127.0.0.0/8", "%s/32"]
[console]
socket = ""
[ssh]
known_hosts = [%q]
[profiles.partner]
host = %q
port = %d
auth = ["password"]
[[rules]]
name = "sftp"
to = [%q]
ports = ["%d"]
action = "ftp-sftp"
profile = "partner"
[rules.ftp]
data = "socks" # a redirected session works as "auto" whatever this says
[[rules]]
name = "rest"
action = "block"
`, redirListenPort, topo.ClientIP, sshd.KnownHostsFile, topo.GatewayIP, sshd.Port, topo.GatewayIP, partnerPort))
	uname, _ := testpeer.EnsureTestUser(t)
	redirLoadExample(t, topo, topo.Client, "nft-user", uname)
	data := testpeer.Data(16<<20, 17)
	want := sha256.Sum256(data)
	work := testpeer.UserDir(t) // the client's files, apart from the server's
	src := filepath.Join(work, "up.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("ftp://%s:%d/", topo.GatewayIP, partnerPort)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"epsv", nil},
		{"pasv-227-address", []string{"--disable-epsv", "--no-ftp-skip-pasv-ip"}},
		{"active-eprt", []string{"--ftp-port", "-"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := "sftp-" + c.name + ".bin"
			run := func(args ...string) string {
				t.Helper()
				all := append(append([]string{"-sS", "--max-time", "120", "--user", sshd.User + ":" + sshd.Password}, c.args...), args...)
				out, err := testpeer.RunBounded(redirAsUser(t, topo, work, "curl", all...), 3*time.Minute)
				if err != nil {
					t.Fatalf("curl %s: %v: %s", strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			run("-T", src, base+name)
			if got, err := os.ReadFile(filepath.Join(home, name)); err != nil || sha256.Sum256(got) != want {
				t.Fatalf("STOR: the server's copy differs (%d bytes): %v", len(got), err)
			}
			dst := filepath.Join(work, name+".down")
			run("-o", dst, base+name)
			if got, err := os.ReadFile(dst); err != nil || sha256.Sum256(got) != want {
				t.Fatalf("RETR: the copy differs (%d bytes): %v", len(got), err)
			}
			if listing := run(base); !strings.Contains(listing, name) {
				t.Fatalf("LIST does not show %s: %q", name, listing)
			}
		})
	}
	redirWaitLog(t, d, 9, "event=session_start", "origin=redirect", fmt.Sprintf("dest=%s:%d", topo.GatewayIP, partnerPort))
}

// checkCopies checks that an FTP client's STOR left name under the
// server's root, and its RETR left dst, both with the SHA-256 want.
func checkCopies(t *testing.T, root, name, dst string, want [32]byte) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(root, name))
	if err != nil || sha256.Sum256(got) != want {
		t.Fatalf("STOR: the server's copy differs (%d bytes): %v", len(got), err)
	}
	got, err = os.ReadFile(dst)
	if err != nil || sha256.Sum256(got) != want {
		t.Fatalf("RETR: the copy differs (%d bytes): %v", len(got), err)
	}
}
