package socks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/proxy"
)

// requireTool returns the path of an external program, skipping the test
// when it is missing (failing it when CI=true).
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required when CI=true: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return path
}

// TestXNetProxyClient drives ReadRequest and WriteReply with the SOCKS5
// client of golang.org/x/net/proxy.
func TestXNetProxyClient(t *testing.T) {
	userFirst := ServerConfig{Versions: []int{4, 5}, Methods: []Method{MethodUserPass, MethodNone}}
	for _, tc := range []struct {
		name    string
		network string
		cfg     ServerConfig
		auth    *proxy.Auth
		target  string
		want    Request
	}{
		{"domain userpass", "tcp4", userFirst, &proxy.Auth{User: "JOB1", Password: "s3cret"}, "ftp.partner.example:21",
			Request{Version: 5, Command: CmdConnect, Dest: Addr{"ftp.partner.example", 21}, User: "JOB1", Password: []byte("s3cret"), Method: MethodUserPass}},
		{"ipv4 no auth", "tcp4", bothCfg, nil, "192.0.2.44:2121",
			Request{Version: 5, Command: CmdConnect, Dest: Addr{"192.0.2.44", 2121}, Method: MethodNone}},
		{"ipv6 dest", "tcp4", bothCfg, nil, "[2001:db8::44]:21",
			Request{Version: 5, Command: CmdConnect, Dest: Addr{"2001:db8::44", 21}, Method: MethodNone}},
		{"auth offered, none preferred", "tcp4", bothCfg, &proxy.Auth{User: "JOB1", Password: "x"}, "h.example:21",
			Request{Version: 5, Command: CmdConnect, Dest: Addr{"h.example", 21}, Method: MethodNone}},
		{"proxy on ::1", "tcp6", userFirst, &proxy.Auth{User: "JOB1", Password: "s3cret"}, "ftp.partner.example:21",
			Request{Version: 5, Command: CmdConnect, Dest: Addr{"ftp.partner.example", 21}, User: "JOB1", Password: []byte("s3cret"), Method: MethodUserPass}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := listenLoopback(t, tc.network)
			got := make(chan *Request, 1)
			serveOne(t, ln, echoAfterReply(t, tc.cfg, got))
			d, err := proxy.SOCKS5("tcp", ln.Addr().String(), tc.auth, proxy.Direct)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), ioDeadline)
			defer cancel()
			c, err := d.(proxy.ContextDialer).DialContext(ctx, "tcp", tc.target)
			if err != nil {
				t.Fatalf("x/net/proxy dial: %v", err)
			}
			defer c.Close()
			if req := <-got; req == nil || !sameRequest(*req, tc.want) {
				t.Fatalf("server read %#v, want %#v", req, tc.want)
			}
			c.SetDeadline(time.Now().Add(ioDeadline))
			echoCheck(t, c, "RETR JOB1.OUTPUT\r\n")
		})
	}
}

// TestXNetProxyClientRefused checks that x/net/proxy sees our refusals.
func TestXNetProxyClientRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ServerConfig
		code Reply // written by the handler when ReadRequest succeeds
	}{
		{"not allowed", bothCfg, RepNotAllowed},
		{"refused", bothCfg, RepConnectionRefused},
		{"no acceptable method", ServerConfig{Methods: []Method{MethodUserPass}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := listenLoopback(t, "tcp4")
			serveOne(t, ln, func(c *net.TCPConn) {
				req, err := ReadRequest(c, tc.cfg)
				if err != nil {
					return // ReadRequest has refused already
				}
				WriteReply(c, req.Version, tc.code, Addr{})
			})
			d, err := proxy.SOCKS5("tcp", ln.Addr().String(), nil, proxy.Direct)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), ioDeadline)
			defer cancel()
			c, err := d.(proxy.ContextDialer).DialContext(ctx, "tcp", "ftp.example:21")
			if err == nil {
				c.Close()
				t.Fatal("x/net/proxy dial succeeded")
			}
			if tc.code != 0 && !strings.Contains(err.Error(), tc.code.String()) {
				t.Errorf("x/net/proxy error %q does not name %q", err, tc.code)
			}
		})
	}
}

// httpAfterSOCKS is a server that reads a SOCKS request, replies success
// and then answers one HTTP request with body.
func httpAfterSOCKS(t *testing.T, cfg ServerConfig, got chan<- *Request, body string) func(c *net.TCPConn) {
	return func(c *net.TCPConn) {
		req, err := ReadRequest(c, cfg)
		got <- req
		if err != nil {
			t.Errorf("server: %v", err)
			return
		}
		if err := WriteReply(c, req.Version, RepSucceeded, AddrFromNet(c.LocalAddr())); err != nil {
			t.Errorf("server: %v", err)
			return
		}
		tr := textproto.NewReader(bufio.NewReader(io.LimitReader(c, 64<<10)))
		if _, err := tr.ReadLine(); err != nil {
			t.Errorf("server: request line: %v", err)
			return
		}
		if _, err := tr.ReadMIMEHeader(); err != nil {
			t.Errorf("server: header: %v", err)
			return
		}
		fmt.Fprintf(c, "HTTP/1.0 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	}
}

// TestCurlClient runs curl's SOCKS4, SOCKS4a, SOCKS5 and SOCKS5-hostname
// clients against ReadRequest. The destinations are IP literals or names
// that curl hands to the proxy unresolved, and the proxy never connects
// anywhere: it answers HTTP itself.
func TestCurlClient(t *testing.T) {
	curl := requireTool(t, "curl")
	userFirst := ServerConfig{Methods: []Method{MethodUserPass, MethodNone}}
	for _, tc := range []struct {
		name    string
		network string
		cfg     ServerConfig
		proxy   string // scheme://[creds@]; the listener address is appended
		url     string
		want    Request
	}{
		{"socks4", "tcp4", bothCfg, "socks4://JOB1@", "http://192.0.2.7:2121/x",
			Request{Version: 4, Command: CmdConnect, Dest: Addr{"192.0.2.7", 2121}, User: "JOB1"}},
		{"socks4a", "tcp4", bothCfg, "socks4a://", "http://ftp.partner.example/x",
			Request{Version: 4, Command: CmdConnect, Dest: Addr{"ftp.partner.example", 80}}},
		{"socks5 ipv6 dest", "tcp4", bothCfg, "socks5://", "http://[2001:db8::7]:8021/x",
			Request{Version: 5, Command: CmdConnect, Dest: Addr{"2001:db8::7", 8021}, Method: MethodNone}},
		{"socks5h userpass", "tcp4", userFirst, "socks5h://JOB1:s3cret@", "http://ftp.partner.example:2100/x",
			Request{Version: 5, Command: CmdConnect, Dest: Addr{"ftp.partner.example", 2100}, User: "JOB1", Password: []byte("s3cret"), Method: MethodUserPass}},
		{"socks5h on ::1", "tcp6", bothCfg, "socks5h://", "http://ftp.partner.example/x",
			Request{Version: 5, Command: CmdConnect, Dest: Addr{"ftp.partner.example", 80}, Method: MethodNone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := listenLoopback(t, tc.network)
			got := make(chan *Request, 1)
			const body = "hello through socks\n"
			serveOne(t, ln, httpAfterSOCKS(t, tc.cfg, got, body))
			out, err := runCurl(t, curl, tc.proxy+ln.Addr().String(), tc.url)
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			if req := <-got; req == nil || !sameRequest(*req, tc.want) {
				t.Fatalf("server read %#v, want %#v", req, tc.want)
			}
			if string(out) != body {
				t.Errorf("curl printed %q, want %q", out, body)
			}
		})
	}
}

// TestCurlClientRefused checks that curl reports our refusals.
func TestCurlClientRefused(t *testing.T) {
	curl := requireTool(t, "curl")
	for _, scheme := range []string{"socks4a", "socks5h"} {
		ln := listenLoopback(t, "tcp4")
		serveOne(t, ln, func(c *net.TCPConn) {
			req, err := ReadRequest(c, bothCfg)
			if err != nil {
				t.Errorf("server: %v", err)
				return
			}
			WriteReply(c, req.Version, RepNotAllowed, Addr{})
		})
		out, err := runCurl(t, curl, scheme+"://"+ln.Addr().String(), "http://blocked.example/")
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Errorf("%s: curl: %v, want a failing exit\n%s", scheme, err, out)
		}
	}
}

// runCurl fetches url through proxyURL with a clean environment, so that
// no *_proxy variable of the caller interferes.
func runCurl(t *testing.T, curl, proxyURL, url string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, curl, "-sS", "--max-time", "20", "--proxy", proxyURL, url)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return append(out, stderr.Bytes()...), err
	}
	return out, nil
}

// TestPySocksClient runs the python3-socks (PySocks) client against
// ReadRequest, for SOCKS4a and SOCKS5 with username/password.
func TestPySocksClient(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		py = requireTool(t, "python3")
	}
	if err := exec.Command(py, "-c", "import socks; socks.socksocket").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-socks is required when CI=true: %v", err)
		}
		t.Skipf("python3-socks not installed: %v", err)
	}
	const script = `
import socks, sys
kind = {"4": socks.SOCKS4, "5": socks.SOCKS5}[sys.argv[1]]
s = socks.socksocket()
s.settimeout(20)
s.set_proxy(kind, "127.0.0.1", int(sys.argv[2]), rdns=True,
            username=sys.argv[3] or None, password=sys.argv[4] or None)
s.connect(("ftp.partner.example", 21))
s.sendall(b"NOOP\r\n")
s.shutdown(1)
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
`
	userFirst := ServerConfig{Methods: []Method{MethodUserPass, MethodNone}}
	for _, tc := range []struct {
		version    string
		user, pass string
		want       Request
	}{
		{"4", "JOB1", "", Request{Version: 4, Command: CmdConnect, Dest: Addr{"ftp.partner.example", 21}, User: "JOB1"}},
		{"5", "JOB1", "s3cret", Request{Version: 5, Command: CmdConnect, Dest: Addr{"ftp.partner.example", 21}, User: "JOB1", Password: []byte("s3cret"), Method: MethodUserPass}},
		{"5", "", "", Request{Version: 5, Command: CmdConnect, Dest: Addr{"ftp.partner.example", 21}, Method: MethodNone}},
	} {
		ln := listenLoopback(t, "tcp4")
		got := make(chan *Request, 1)
		serveOne(t, ln, echoAfterReply(t, userFirst, got))
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		ctx, cancel := context.WithTimeout(context.Background(), ioDeadline)
		out, err := exec.CommandContext(ctx, py, "-c", script, tc.version, port, tc.user, tc.pass).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("pysocks socks%s: %v\n%s", tc.version, err, out)
		}
		if req := <-got; req == nil || !sameRequest(*req, tc.want) {
			t.Errorf("socks%s: server read %#v, want %#v", tc.version, req, tc.want)
		}
		if string(out) != "NOOP\r\n" {
			t.Errorf("socks%s: echo %q", tc.version, out)
		}
	}
}

// danteBlockedPort is a loopback port that the Dante test config blocks.
const danteBlockedPort = 9

// startDante runs Dante's danted on a free loopback port with a config
// that allows CONNECT and BIND between loopback addresses only (except
// 127.0.0.1:danteBlockedPort) and blocks everything else. It returns the
// proxy address.
func startDante(t *testing.T) string {
	t.Helper()
	danted := requireTool(t, "danted")
	port := freePort(t)
	dir := t.TempDir()
	conf := fmt.Sprintf(`logoutput: stderr
internal: 127.0.0.1 port = %[2]d
external: 127.0.0.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
	from: 127.0.0.0/8 to: 0.0.0.0/0
}
socks block {
	from: 0.0.0.0/0 to: 127.0.0.1/32 port = %[1]d
	log: error connect
}
socks pass {
	from: 127.0.0.0/8 to: 127.0.0.0/8
	command: connect bind bindreply
}
socks block {
	from: 0.0.0.0/0 to: 0.0.0.0/0
	log: error connect
}
`, danteBlockedPort, port)
	confPath := filepath.Join(dir, "danted.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(danted, "-f", confPath, "-N", "1", "-p", filepath.Join(dir, "danted.pid"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("danted: %v", err)
	}
	exited := make(chan struct{})
	var logMu sync.Mutex
	var logLines []string
	t.Cleanup(func() {
		// SIGTERM lets danted stop its own child processes.
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(ioDeadline):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			logMu.Lock()
			t.Logf("danted log:\n%s", strings.Join(logLines, "\n"))
			logMu.Unlock()
		}
	})
	// Wait for the "running" line, bounded by a deadline.
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		isReady := false
		for sc.Scan() {
			logMu.Lock()
			logLines = append(logLines, sc.Text())
			logMu.Unlock()
			if !isReady && strings.Contains(sc.Text(), " running") {
				isReady = true
				ready <- nil
			}
		}
		if !isReady {
			ready <- errors.New("danted exited before it was ready")
		}
		// All output is read: now Wait may close the pipe.
		cmd.Wait()
		close(exited)
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(ioDeadline):
		t.Fatal("danted did not report that it is running")
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestClientAgainstDante runs ClientHandshake, ClientBind and
// ReadBindSecond against Dante, the reference SOCKS server, on loopback.
func TestClientAgainstDante(t *testing.T) {
	proxyAddr := startDante(t)
	dialProxy := func(t *testing.T) *net.TCPConn {
		c, err := net.Dial("tcp4", proxyAddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(ioDeadline))
		return c.(*net.TCPConn)
	}

	for _, version := range []int{4, 5} {
		t.Run(fmt.Sprintf("socks%d connect", version), func(t *testing.T) {
			echo := listenLoopback(t, "tcp4")
			serveOne(t, echo, func(c *net.TCPConn) {
				io.Copy(c, c)
				c.CloseWrite()
			})
			c := dialProxy(t)
			bound, err := ClientHandshake(c, version, AddrFromNet(echo.Addr()), "JOB1", "")
			if err != nil {
				t.Fatalf("ClientHandshake through Dante: %v", err)
			}
			if ip, ok := bound.IP(); !ok || !ip.IsLoopback() || bound.Port == 0 {
				t.Errorf("bound %v, want Dante's loopback address", bound)
			}
			echoCheck(t, c, "STOR JOB1.DATA\r\n")
		})

		t.Run(fmt.Sprintf("socks%d refused", version), func(t *testing.T) {
			closed := freePort(t)
			c := dialProxy(t)
			_, err := ClientHandshake(c, version, Addr{"127.0.0.1", uint16(closed)}, "", "")
			var re *ReplyError
			if !errors.As(err, &re) {
				t.Fatalf("error %v, want a ReplyError", err)
			}
			want := RepConnectionRefused
			if version == 4 {
				want = RepGeneralFailure
			}
			if re.Code != want {
				t.Errorf("code %v, want %v", re.Code, want)
			}
		})

		t.Run(fmt.Sprintf("socks%d blocked", version), func(t *testing.T) {
			c := dialProxy(t)
			_, err := ClientHandshake(c, version, Addr{"127.0.0.1", danteBlockedPort}, "", "")
			var re *ReplyError
			if !errors.As(err, &re) {
				t.Fatalf("error %v, want a ReplyError", err)
			}
			want := RepNotAllowed
			if version == 4 {
				want = RepGeneralFailure
			}
			if re.Code != want {
				t.Errorf("code %v, want %v", re.Code, want)
			}
		})

		t.Run(fmt.Sprintf("socks%d bind", version), func(t *testing.T) {
			c := dialProxy(t)
			first, err := ClientBind(c, version, Addr{"127.0.0.1", 0}, "JOB1", "")
			if err != nil {
				t.Fatalf("ClientBind through Dante: %v", err)
			}
			peer, err := net.Dial("tcp4", first.String())
			if err != nil {
				t.Fatalf("peer cannot reach Dante's bind address %v: %v", first, err)
			}
			defer peer.Close()
			peer.SetDeadline(time.Now().Add(ioDeadline))
			second, err := ReadBindSecond(c, version)
			if err != nil {
				t.Fatalf("ReadBindSecond: %v", err)
			}
			if want := AddrFromNet(peer.LocalAddr()); second != want {
				t.Errorf("second reply %v, want the peer %v", second, want)
			}
			const data = "data over the bound socket"
			io.WriteString(peer, data)
			peer.(*net.TCPConn).CloseWrite()
			buf := make([]byte, len(data))
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != data {
				t.Errorf("client read %q, %v; want %q", buf, err, data)
			}
		})
	}
}
