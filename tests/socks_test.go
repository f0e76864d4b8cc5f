package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"socksd/internal/testing/testpeer"
	"socksd/socks"
)

// directConfig lets loopback destinations through and blocks the rest.
const directConfig = `
[server]
listen = ["127.0.0.1:0"]
handshake_timeout = "2s"
drain_timeout = "20s"
[console]
socket = ""
[[rules]]
name = "deny-port-9"
ports = ["9"]
action = "block"
[[rules]]
name = "loopback"
to = ["127.0.0.0/8", "localhost", "::1"]
action = "direct"
[[rules]]
name = "rest"
action = "block"
`

func webServer(t *testing.T, body string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCurlThroughAllVersions(t *testing.T) {
	testpeer.RequireTool(t, "curl")
	d := testpeer.StartSocksd(t, socksdBin, directConfig)
	web := webServer(t, "hello through socksd\n")
	port := web.Listener.Addr().(*net.TCPAddr).Port
	for _, v := range []string{"socks4", "socks4a", "socks5", "socks5-hostname"} {
		for _, host := range []string{"127.0.0.1", "localhost"} {
			out, err := exec.Command("curl", "-sS", "--max-time", "20", "--"+v, d.Addr,
				fmt.Sprintf("http://%s:%d/", host, port)).CombinedOutput()
			if err != nil || string(out) != "hello through socksd\n" {
				t.Errorf("curl --%s to %s: %v: %q", v, host, err, out)
			}
		}
	}
	// With --socks5-hostname and --socks4a the name reaches socksd unresolved.
	if !strings.Contains(d.Log.String(), fmt.Sprintf("dest=localhost:%d", port)) {
		t.Errorf("no session logged with the unresolved host name")
	}
}

func TestNetcatThroughSocks4And5(t *testing.T) {
	testpeer.RequireTool(t, "nc")
	d := testpeer.StartSocksd(t, socksdBin, directConfig)
	web := webServer(t, "nc ok")
	addr := web.Listener.Addr().(*net.TCPAddr)
	for _, v := range []string{"4", "5"} {
		cmd := exec.Command("nc", "-X", v, "-x", d.Addr, "-w", "10", "127.0.0.1", fmt.Sprint(addr.Port))
		cmd.Stdin = strings.NewReader("GET / HTTP/1.0\r\n\r\n")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.HasSuffix(string(out), "nc ok") {
			t.Errorf("nc -X %s: %v: %q", v, err, out)
		}
	}
}

func TestXNetProxyClientAndHalfClose(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, directConfig)
	// The server reads to EOF, then answers with the digest of what it
	// read: this only works if the client's half-close is passed on and
	// the way back stays open.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		h := sha256.New()
		io.Copy(h, c)
		c.Write(h.Sum(nil))
	}()
	dialer, err := proxy.SOCKS5("tcp", d.Addr, &proxy.Auth{User: "job1", Password: "Pw-Never-Logged-42"}, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dialer.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	payload := make([]byte, 8<<20)
	rand.Read(payload)
	want := sha256.Sum256(payload)
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, want[:]) {
		t.Fatalf("digest through socksd: %v %x", err, got)
	}
	if !d.Log.WaitCount("session_end", 1, 10*time.Second) {
		t.Fatal("no session_end")
	}
	log := d.Log.String()
	if strings.Contains(log, "Pw-Never-Logged-42") {
		t.Fatal("the SOCKS5 password reached the log")
	}
	for _, field := range []string{"user=job1", "bytes_up=8388608", "bytes_down=32", "rule=loopback", "action=direct", "result=ok", "socks=5", "duration_ms="} {
		if !strings.Contains(log, field) {
			t.Errorf("session log lacks %s", field)
		}
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "session_end") && strings.Contains(line, "error=") {
			t.Errorf("a successful session's end carries an error field: %s", line)
		}
	}
}

// rawRequest sends a hand-made SOCKS request and returns the first reply
// bytes (up to n) and whether the connection was closed.
func rawExchange(t *testing.T, addr string, req []byte, n int) ([]byte, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(req)
	buf := make([]byte, n)
	m, err := io.ReadFull(c, buf)
	return buf[:m], err
}

func TestBlockReplyCodes(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, directConfig)
	// SOCKS4 CONNECT to 10.1.2.3:80 → CD 91.
	got, err := rawExchange(t, d.Addr, []byte{4, 1, 0, 80, 10, 1, 2, 3, 'u', 0}, 8)
	if err != nil || got[1] != 91 {
		t.Errorf("SOCKS4 block: %v % x", err, got)
	}
	// SOCKS5 CONNECT to 10.1.2.3:80 → REP 0x02.
	req := []byte{5, 1, 0, 5, 1, 0, 1, 10, 1, 2, 3, 0, 80}
	got, err = rawExchange(t, d.Addr, req, 12)
	if err != nil || got[0] != 5 || got[1] != 0 || got[3] != 2 {
		t.Errorf("SOCKS5 block: %v % x", err, got)
	}
	// Blocked by an earlier rule even though a later one would allow it.
	req = []byte{5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 9}
	got, err = rawExchange(t, d.Addr, req, 12)
	if err != nil || got[3] != 2 {
		t.Errorf("SOCKS5 first-match block: %v % x", err, got)
	}
	// UDP ASSOCIATE → command not supported.
	req = []byte{5, 1, 0, 5, 3, 0, 1, 127, 0, 0, 1, 0, 53}
	got, err = rawExchange(t, d.Addr, req, 12)
	if err != nil || got[3] != 7 {
		t.Errorf("UDP ASSOCIATE: %v % x", err, got)
	}
	// A refused connection → 0x05.
	closed := testpeer.FreePort(t, "127.0.0.1")
	req = binary.BigEndian.AppendUint16([]byte{5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1}, uint16(closed))
	got, err = rawExchange(t, d.Addr, req, 12)
	if err != nil || got[3] != 5 {
		t.Errorf("refused: %v % x", err, got)
	}
	if !d.Log.WaitCount("SOX0105I", 3, 10*time.Second) {
		t.Errorf("%d block messages logged, want 3", d.Log.Count("SOX0105I"))
	}
}

func TestBindRoundTrip(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, directConfig)
	for _, version := range []int{4, 5} {
		t.Run(fmt.Sprint("socks", version), func(t *testing.T) {
			c, err := net.Dial("tcp", d.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			first, err := socks.ClientBind(c, version, socks.Addr{Host: "127.0.0.1", Port: 0}, "job", "")
			if err != nil {
				t.Fatal(err)
			}
			if first.Host != "127.0.0.1" || first.Port == 0 {
				t.Fatalf("first BIND reply %v is not reachable", first)
			}
			// The "server" connects to the bound address, as an FTP server
			// does in active mode.
			peer, err := net.Dial("tcp", first.String())
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			second, err := socks.ReadBindSecond(c, version)
			if err != nil {
				t.Fatal(err)
			}
			if second.String() != peer.LocalAddr().String() {
				t.Errorf("second reply %v, peer is %v", second, peer.LocalAddr())
			}
			peer.Write([]byte("from server"))
			buf := make([]byte, 11)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "from server" {
				t.Fatalf("client read %q %v", buf, err)
			}
			c.Write([]byte("from client"))
			if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "from client" {
				t.Fatalf("peer read %q %v", buf, err)
			}
		})
	}
}

func TestACLRefusesBeforeHandshake(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, strings.Replace(directConfig, "[server]", "[server]\nallow_clients = [\"10.0.0.0/8\"]", 1))
	got, err := rawExchange(t, d.Addr, []byte{5, 1, 0}, 2)
	if err == nil || len(got) != 0 {
		t.Fatalf("a refused client got a reply: % x", got)
	}
	if !d.Log.WaitCount("SOX0103W", 1, 10*time.Second) {
		t.Fatal("no ACL refusal logged")
	}
}

func TestHostileInputNeverCrashes(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, directConfig)
	long := bytes.Repeat([]byte{'A'}, 300)
	cases := map[string][]byte{
		"empty":              {},
		"truncated v5 greet": {5, 3, 0},
		"zero methods":       {5, 0},
		"unknown method":     {5, 1, 0x80},
		"wrong version":      {6, 1, 0},
		"http":               []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"v4 long user":       append(append([]byte{4, 1, 0, 80, 127, 0, 0, 1}, long...), 0),
		"v4a long host":      append(append([]byte{4, 1, 0, 80, 0, 0, 0, 1, 0}, long...), 0),
		"v5 bad atyp":        {5, 1, 0, 5, 1, 0, 9, 1, 2, 3, 4, 0, 80},
		"v5 bad command":     {5, 1, 0, 5, 9, 0, 1, 127, 0, 0, 1, 0, 80},
		"v5 empty domain":    {5, 1, 0, 5, 1, 0, 3, 0, 0, 80},
		"v5 auth garbage":    {5, 1, 2, 9, 9, 9},
		"v5 truncated req":   {5, 1, 0, 5, 1, 0, 4, 0, 0},
		"garbage":            {0xff, 0xfe, 0, 1, 2, 3, 4, 5, 6},
	}
	for name, b := range cases {
		c, err := net.Dial("tcp", d.Addr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write(b)
		// Every case ends in a reply and/or a close before the
		// handshake timeout passes the test's deadline.
		_, err = io.ReadAll(c)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("%s: connection neither answered nor closed: %v", name, err)
		}
		c.Close()
	}
	// The daemon still serves.
	web := webServer(t, "alive")
	dialer, _ := proxy.SOCKS5("tcp", d.Addr, nil, proxy.Direct)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, n, a string) (net.Conn, error) { return dialer.Dial(n, a) }}}
	resp, err := hc.Get(web.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "alive" {
		t.Fatalf("after hostile input: %q", b)
	}
	select {
	case <-d.Done():
		t.Fatal("socksd exited")
	default:
	}
}

func TestHandshakeTimeoutAndLimits(t *testing.T) {
	cfg := strings.Replace(directConfig, "[server]", "[server]\nmax_sessions = 2", 1)
	d := testpeer.StartSocksd(t, socksdBin, cfg)
	// A client that never speaks is closed by the handshake timeout (2s).
	idle, err := net.Dial("tcp", d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	idle.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadAll(idle); err != nil {
		t.Fatalf("silent client was not closed: %v", err)
	}
	idle.Close()

	// Two sessions held open fill max_sessions; the third gets a failure
	// reply; after one ends a new one is accepted.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	dialer, _ := proxy.SOCKS5("tcp", d.Addr, nil, proxy.Direct)
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := dialer.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	if _, err := dialer.Dial("tcp", ln.Addr().String()); err == nil || !strings.Contains(err.Error(), "general SOCKS server failure") {
		t.Fatalf("third session: %v", err)
	}
	held[0].Close()
	if !d.Log.WaitCount("session_end", 1, 10*time.Second) {
		t.Fatal("held session did not end")
	}
	c, err := dialer.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("after one ended: %v", err)
	}
	c.Close()
	held[1].Close()
}

func TestReloadAndDrain(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, directConfig)
	web := webServer(t, "ok")
	// A live session, open before the reload.
	echo, _ := net.Listen("tcp", "127.0.0.1:0")
	defer echo.Close()
	go func() {
		c, err := echo.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	}()
	dialer, _ := proxy.SOCKS5("tcp", d.Addr, nil, proxy.Direct)
	live, err := dialer.Dial("tcp", echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	// A broken file is rejected with FILE:LINE; the old rules stay.
	os.WriteFile(d.ConfigPath, []byte("[server]\nlisten = [\"127.0.0.1:0\"]\nbogus = 1\n"), 0o600)
	d.Signal(syscall.SIGHUP)
	if !d.Log.WaitCount("SOX0004E", 1, 10*time.Second) {
		t.Fatal("bad reload not reported")
	}
	if !strings.Contains(d.Log.String(), d.ConfigPath+":3") {
		t.Errorf("rejection does not name FILE:LINE")
	}
	if c, err := dialer.Dial("tcp", web.Listener.Addr().String()); err != nil {
		t.Fatalf("old rules lost after a bad reload: %v", err)
	} else {
		c.Close()
	}

	// A good file blocks loopback from now on.
	os.WriteFile(d.ConfigPath, []byte("[server]\nlisten = [\"127.0.0.1:0\"]\n[[rules]]\nname = \"none\"\naction = \"block\"\n"), 0o600)
	d.Signal(syscall.SIGHUP)
	if !d.Log.WaitCount("SOX0003I", 1, 10*time.Second) {
		t.Fatal("reload not reported")
	}
	if _, err := dialer.Dial("tcp", web.Listener.Addr().String()); err == nil {
		t.Fatal("new rules not in force")
	}
	// The live session keeps working under the rules it started with.
	live.Write([]byte("ping"))
	buf := make([]byte, 4)
	live.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(live, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("live session after reload: %q %v", buf, err)
	}

	// SIGTERM: the daemon stops accepting and drains the live session.
	d.Signal(syscall.SIGTERM)
	if !d.Log.WaitCount("SOX0007I", 1, 10*time.Second) {
		t.Fatal("stop not reported")
	}
	if c, err := net.DialTimeout("tcp", d.Addr, 2*time.Second); err == nil {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		n, _ := c.Read(make([]byte, 1))
		c.Close()
		if n > 0 {
			t.Fatal("a new session was served during the drain")
		}
	}
	live.Write([]byte("pong"))
	if _, err := io.ReadFull(live, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("draining session cut: %q %v", buf, err)
	}
	if code := d.Wait(500 * time.Millisecond); code != -1 {
		t.Fatalf("exited (%d) while a session was still running", code)
	}
	live.Close()
	if code := d.Wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d after drain", code)
	}
}

func TestLogIsJSONWhenAsked(t *testing.T) {
	cfg := directConfig + "\n[log]\nformat = \"json\"\n"
	d := testpeer.StartSocksd(t, socksdBin, cfg)
	got, _ := rawExchange(t, d.Addr, []byte{5, 1, 0, 5, 1, 0, 1, 10, 1, 2, 3, 0, 80}, 12)
	_ = got
	if !d.Log.WaitCount(`"event":"session_end"`, 1, 10*time.Second) {
		t.Fatal("no JSON session_end (socksd.log in the evidence directory)")
	}
	sc := bufio.NewScanner(strings.NewReader(d.Log.String()))
	re := regexp.MustCompile(`^\{.*\}$`)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !re.MatchString(l) {
			t.Errorf("not a JSON line: %s", l)
		}
	}
}
