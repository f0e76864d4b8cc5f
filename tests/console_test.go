package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"socksd/internal/testing/wait"

	"golang.org/x/net/proxy"

	"socksd/internal/testing/testpeer"
)

// consoleConfig lets loopback destinations through, blocks port 9 and the
// rest, and opens the control socket.
const consoleConfig = `
[server]
listen = ["127.0.0.1:0"]
handshake_timeout = "10s"
drain_timeout = "2m"
[console]
socket = "{{SOCKET}}"
[[rules]]
name = "deny-port-9"
ports = ["9"]
action = "block"
[[rules]]
name = "loopback"
to = ["127.0.0.0/8", "localhost"]
action = "direct"
[[rules]]
name = "rest"
action = "block"
`

// consoleSecret is the SOCKS5 password of the console tests' sessions; it
// must never show in a reply or the log.
const consoleSecret = "Console-Secret-Pw-7731"

// Generous bounds for a noisy 2-core machine; none is a timing assertion.
const (
	cmdTimeout  = 60 * time.Second // one `socksd cmd` run
	waitTimeout = 60 * time.Second // a log line, a reply, a client read
)

// opReply is the outcome of one `socksd cmd` run.
type opReply struct {
	text   string
	lines  []string // stdout, one reply line each
	stderr string
	code   int
}

// opCmd sends text to the daemon's control socket with the real CLI,
// `socksd cmd --socket P TEXT`.
func opCmd(t *testing.T, d *testpeer.Socksd, text string) opReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, socksdBin, "cmd", "--socket", d.Socket, text)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("socksd cmd %q: %v", text, err)
	}
	r := opReply{text: text, stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
	if out := strings.TrimRight(stdout.String(), "\n"); out != "" {
		r.lines = strings.Split(out, "\n")
	}
	for _, l := range r.lines {
		if strings.Contains(l, consoleSecret) {
			t.Fatalf("%q: a password in the reply: %s", text, l)
		}
	}
	return r
}

// mustCmd runs text and fails the test unless it exits 0 with a reply
// whose header has the given message ID.
func mustCmd(t *testing.T, d *testpeer.Socksd, text, id string) opReply {
	t.Helper()
	return cmdExit(t, d, text, id, 0)
}

// refusedCmd runs text and fails the test unless it exits 1 with a reply
// whose header has the given message ID.
func refusedCmd(t *testing.T, d *testpeer.Socksd, text, id string) opReply {
	t.Helper()
	return cmdExit(t, d, text, id, 1)
}

// cmdExit runs text and fails the test unless it exits with code and a
// reply whose header has the given message ID.
func cmdExit(t *testing.T, d *testpeer.Socksd, text, id string, code int) opReply {
	t.Helper()
	r := opCmd(t, d, text)
	if r.code != code || len(r.lines) == 0 || !strings.HasPrefix(r.lines[0], id+" ") {
		t.Fatalf("%q: exit %d, want %d and a %s header:\n%s%s", text, r.code, code, id, r.String(), r.stderr)
	}
	return r
}

func (r opReply) String() string { return strings.Join(r.lines, "\n") + "\n" }

// rows parses a table reply (header message, column titles, rows) into
// one map per row keyed by column title. Cells hold no blanks, except in
// the last column, which takes the rest of the line.
func (r opReply) rows(t *testing.T) []map[string]string {
	t.Helper()
	if len(r.lines) < 2 {
		t.Fatalf("%q: no table in the reply:\n%s", r.text, r)
	}
	cols := strings.Fields(r.lines[1])
	var out []map[string]string
	for _, l := range r.lines[2:] {
		if !strings.HasPrefix(l, " ") || strings.HasPrefix(l, " * = ") {
			continue
		}
		f := strings.Fields(l)
		if len(f) < len(cols) {
			t.Fatalf("%q: short row %q under %q", r.text, l, r.lines[1])
		}
		row := map[string]string{}
		for i, c := range cols {
			row[c] = f[i]
		}
		row[cols[len(cols)-1]] = strings.Join(f[len(cols)-1:], " ")
		out = append(out, row)
	}
	return out
}

// values parses a "key: value" reply into a map.
func (r opReply) values() map[string]string {
	out := map[string]string{}
	for _, l := range r.lines[1:] {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// gatedSource is a TCP server that sends the same random payload on each
// connection: the first split bytes at once, the rest once Release has
// been called (at once for connections made after that).
type gatedSource struct {
	ln      net.Listener
	payload []byte
	sum     [32]byte
	split   int
	gate    chan struct{}
	once    sync.Once
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]bool
}

func newGatedSource(t *testing.T, size, split int) *gatedSource {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedSource{ln: ln, payload: make([]byte, size), split: split,
		gate: make(chan struct{}), stop: make(chan struct{}), conns: map[net.Conn]bool{}}
	rand.Read(g.payload)
	g.sum = sha256.Sum256(g.payload)
	g.wg.Add(1)
	go g.accept()
	t.Cleanup(g.close)
	return g
}

func (g *gatedSource) Addr() string { return g.ln.Addr().String() }

// Release lets every connection send the rest of the payload.
func (g *gatedSource) Release() { g.once.Do(func() { close(g.gate) }) }

func (g *gatedSource) accept() {
	defer g.wg.Done()
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		g.conns[c] = true
		g.mu.Unlock()
		g.wg.Add(1)
		go g.serve(c)
	}
}

func (g *gatedSource) serve(c net.Conn) {
	defer g.wg.Done()
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(3 * time.Minute))
	if _, err := c.Write(g.payload[:g.split]); err != nil {
		return
	}
	select {
	case <-g.gate:
	case <-g.stop:
		return
	}
	c.Write(g.payload[g.split:])
}

func (g *gatedSource) close() {
	close(g.stop)
	g.ln.Close()
	g.mu.Lock()
	for c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// streamSource is a TCP server that sends random bytes on each connection
// until the peer goes (at most 64 GiB or 5 minutes).
func streamSource(t *testing.T) string {
	t.Helper()
	chunk := make([]byte, 64<<10)
	rand.Read(chunk)
	return testpeer.ServeTCP(t, func(c net.Conn) {
		c.SetWriteDeadline(time.Now().Add(5 * time.Minute))
		for i := 0; i < (64<<30)/len(chunk); i++ {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
}

// streamReader reads a connection to its end in the background.
type streamReader struct {
	n       atomic.Int64
	started chan struct{} // closed once 4 MiB have arrived
	done    chan struct{} // closed when the read ended
	err     error         // why it ended, after done
}

func readStream(c net.Conn) *streamReader {
	r := &streamReader{started: make(chan struct{}), done: make(chan struct{})}
	c.SetReadDeadline(time.Now().Add(3 * time.Minute))
	go func() {
		defer close(r.done)
		buf := make([]byte, 64<<10)
		signalled := false
		for {
			n, err := c.Read(buf)
			if r.n.Add(int64(n)) >= 4<<20 && !signalled {
				close(r.started)
				signalled = true
			}
			if err != nil {
				r.err = err
				return
			}
		}
	}()
	return r
}

// waitStarted waits until the stream is well under way.
func (r *streamReader) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-r.started:
	case <-r.done:
		t.Fatalf("stream ended after %d bytes before it was under way: %v", r.n.Load(), r.err)
	case <-time.After(waitTimeout):
		t.Fatalf("stream not under way: %d bytes", r.n.Load())
	}
}

// waitCut waits until the stream has been cut by the far side (EOF or a
// reset, not our own read deadline).
func (r *streamReader) waitCut(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(waitTimeout):
		t.Fatalf("the client still receives (%d bytes so far)", r.n.Load())
	}
	if r.err != io.EOF && !errors.Is(r.err, syscall.ECONNRESET) {
		t.Fatalf("the stream ended with %v, want EOF or a reset", r.err)
	}
}

// socks5Dialer returns a SOCKS5 client of d that logs in as user with
// password (RFC 1929).
func socks5Dialer(t *testing.T, d *testpeer.Socksd, user, password string) proxy.Dialer {
	t.Helper()
	dl, err := proxy.SOCKS5("tcp", d.Addr, &proxy.Auth{User: user, Password: password}, &net.Dialer{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return dl
}

// openHead connects through d to the gated source and reads the bytes the
// source sends before its gate.
func openHead(t *testing.T, dl proxy.Dialer, g *gatedSource) net.Conn {
	t.Helper()
	c, err := dl.Dial("tcp", g.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(3 * time.Minute))
	head := make([]byte, g.split)
	if _, err := io.ReadFull(c, head); err != nil {
		t.Fatalf("reading the first %d bytes: %v", g.split, err)
	}
	if !bytes.Equal(head, g.payload[:g.split]) {
		t.Fatal("the first bytes differ")
	}
	return c
}

// finish reads the rest of a gated transfer opened by openHead, checks
// the whole payload by its SHA-256 and closes c.
func finish(t *testing.T, c net.Conn, g *gatedSource) {
	t.Helper()
	rest, err := io.ReadAll(c)
	c.Close() // the session ends when both directions have
	if err != nil {
		t.Fatalf("transfer: %v after %d more bytes", err, len(rest))
	}
	h := sha256.New()
	h.Write(g.payload[:g.split])
	h.Write(rest)
	if got := h.Sum(nil); !bytes.Equal(got, g.sum[:]) {
		t.Fatalf("transfer not byte-exact: %d of %d bytes, sha256 %x, want %x", g.split+len(rest), len(g.payload), got, g.sum)
	}
}

// sessionRow finds the D SESSIONS row whose destination is dest.
func sessionRow(t *testing.T, d *testpeer.Socksd, dest string) map[string]string {
	t.Helper()
	r := mustCmd(t, d, "D SESSIONS", "SOX0410I")
	for _, row := range r.rows(t) {
		if row["DESTINATION"] == dest {
			return row
		}
	}
	t.Fatalf("no session to %s in D SESSIONS:\n%s", dest, r)
	return nil
}

// sessionID is the id of the session to dest, from D SESSIONS.
func sessionID(t *testing.T, d *testpeer.Socksd, dest string) uint64 {
	t.Helper()
	row := sessionRow(t, d, dest)
	id, err := strconv.ParseUint(strings.TrimSuffix(row["ID"], "*"), 10, 64)
	if err != nil {
		t.Fatalf("session id %q: %v", row["ID"], err)
	}
	return id
}

// sessionEnd waits for the end message of session id and returns the
// value of its result field.
func sessionEnd(t *testing.T, d *testpeer.Socksd, id uint64) string {
	t.Helper()
	re := regexp.MustCompile(fmt.Sprintf(`SOX0102I session %d end .*result=(\w+)`, id))
	line, ok := d.Log.WaitFor(re, waitTimeout, nil)
	if !ok {
		t.Fatalf("no end of session %d logged", id)
	}
	return re.FindStringSubmatch(line)[1]
}

// noSecret fails the test if the daemon's log holds secret.
func noSecret(t *testing.T, d *testpeer.Socksd, secret string) {
	t.Helper()
	if strings.Contains(d.Log.String(), secret) {
		t.Fatal("a password reached the daemon's log")
	}
}

func TestConsoleSocketIsPrivate(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, consoleConfig)
	if !d.Log.WaitCount("SOX0418I", 1, waitTimeout) {
		t.Fatal("the control socket was not reported listening")
	}
	fi, err := os.Lstat(d.Socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("%s is %v, not a socket", d.Socket, fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("control socket mode %#o, want 0600", perm)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; int(uid) != os.Geteuid() {
		t.Fatalf("control socket owned by uid %d, want the daemon's %d", uid, os.Geteuid())
	}
	mustCmd(t, d, "D VERSION", "SOX0416I")
}

// TestConsoleSocketRefusesOtherUsers puts the socket where every user
// can reach it and sends a command as another user: the socket's mode
// alone must keep that user out.
func TestConsoleSocketRefusesOtherUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		testpeer.Missing(t, "needs root to run the CLI as another user")
	}
	const nobody = 65534
	dir, err := os.MkdirTemp("", "socksd-console-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// The CLI binary, too, where the other user can run it.
	bin, err := os.ReadFile(socksdBin)
	if err != nil {
		t.Fatal(err)
	}
	cli := dir + "/socksd"
	if err := os.WriteFile(cli, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := dir + "/console.sock"
	d := testpeer.StartSocksd(t, socksdBin, strings.Replace(consoleConfig, "{{SOCKET}}", sock, 1))
	if !d.Log.WaitCount("SOX0418I control socket listening on "+sock, 1, waitTimeout) {
		t.Fatal("the control socket was not reported listening")
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, "cmd", "--socket", sock, "STOP IMMEDIATE")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("STOP IMMEDIATE as uid %d: %v, want exit 1:\n%s", nobody, err, out)
	}
	if !strings.Contains(string(out), "SOX0420E") || !strings.Contains(string(out), "permission denied") {
		t.Errorf("the refusal does not say why:\n%s", out)
	}
	// The daemon did not stop; its own user still commands it.
	d.Socket = sock // the configuration names this path, not the default
	if r := mustCmd(t, d, "D STATS", "SOX0414I"); r.values()["state"] != "ACTIVE" {
		t.Errorf("D STATS after the refused command:\n%s", r)
	}
	if strings.Contains(d.Log.String(), "SOX0007I") {
		t.Fatal("another user stopped the daemon")
	}
}

func TestConsoleDisplayCommands(t *testing.T) {
	dir := t.TempDir()
	pass := dir + "/passphrase"
	const passphrase = "Passphrase-Secret-5521"
	if err := os.WriteFile(pass, []byte(passphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := consoleConfig + fmt.Sprintf(`
[profiles.partner]
host = "127.0.0.1"
port = 22
user = "batch"
passphrase_file = %q
`, pass)
	d := testpeer.StartSocksd(t, socksdBin, cfg)
	g := newGatedSource(t, 4<<20, 1<<20)
	dl := socks5Dialer(t, d, "job1", consoleSecret)
	c := openHead(t, dl, g)

	// A blocked request counts as a hit of its rule.
	if _, err := dl.Dial("tcp", "127.0.0.1:9"); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("port 9: %v, want not allowed", err)
	}

	// D SESSIONS and its abbreviations show the live session.
	for _, text := range []string{"D SESSIONS", "D S", "display sessions", "DIS SESS"} {
		r := mustCmd(t, d, text, "SOX0410I")
		if r.lines[0] != "SOX0410I DISPLAY SESSIONS: 1 active" {
			t.Errorf("%q header: %q", text, r.lines[0])
		}
		rows := r.rows(t)
		if len(rows) != 1 {
			t.Fatalf("%q: %d rows:\n%s", text, len(rows), r)
		}
		want := map[string]string{"IN": "socks", "JOB/USER": "job1", "CLIENT": c.LocalAddr().String(), "DESTINATION": g.Addr(),
			"RULE": "loopback", "ACTION": "direct", "SSH-SERVER": "-", "STATE": "relay"}
		for k, v := range want {
			if rows[0][k] != v {
				t.Errorf("%q: %s = %q, want %q\n%s", text, k, rows[0][k], v, r)
			}
		}
	}
	id := sessionID(t, d, g.Addr())

	// D SESSION=n: the bytes counted so far, exactly.
	var detail opReply
	wait.Until(t, "the session's byte count", waitTimeout, func() bool {
		detail = mustCmd(t, d, fmt.Sprintf("D SESSION=%d", id), "SOX0411I")
		return detail.values()["bytes down"] == strconv.Itoa(g.split)
	})
	if detail.lines[0] != fmt.Sprintf("SOX0411I DISPLAY SESSION %d", id) {
		t.Errorf("D SESSION header: %q", detail.lines[0])
	}
	v := detail.values()
	for k, want := range map[string]string{"user": "job1", "client": c.LocalAddr().String(), "destination": g.Addr(),
		"rule": "loopback", "action": "direct", "state": "relay", "bytes up": "0", "trace": "OFF"} {
		if v[k] != want {
			t.Errorf("D SESSION=%d: %s = %q, want %q\n%s", id, k, v[k], want, detail)
		}
	}
	// The short form of the table shows the same count.
	if row := sessionRow(t, d, g.Addr()); row["DOWN"] != "1.0M" {
		t.Errorf("D S: DOWN = %q, want 1.0M", row["DOWN"])
	}
	refusedCmd(t, d, fmt.Sprintf("D SESSION=%d", id+1000), "SOX0403E")

	// D RULES: every rule in order, with its hits.
	r := mustCmd(t, d, "D RULES", "SOX0413I")
	if r.lines[0] != "SOX0413I DISPLAY RULES: 3 defined" {
		t.Errorf("D RULES header: %q", r.lines[0])
	}
	rules := r.rows(t)
	if len(rules) != 3 {
		t.Fatalf("D RULES: %d rows:\n%s", len(rules), r)
	}
	for i, want := range []struct{ name, action, hits string }{
		{"deny-port-9", "block", "1"}, {"loopback", "direct", "1"}, {"rest", "block", "0"},
	} {
		got := rules[i]
		if got["#"] != strconv.Itoa(i+1) || got["NAME"] != want.name || got["ACTION"] != want.action || got["HITS"] != want.hits {
			t.Errorf("D RULES row %d = %v, want %v", i+1, got, want)
		}
	}

	// D STATS: the counters, goroutines and open files.
	st := mustCmd(t, d, "D STATS", "SOX0414I").values()
	for k, want := range map[string]string{"state": "ACTIVE", "sessions active": "1 of 2048", "sessions total": "2",
		"blocked": "1", "refused": "0", "ssh connections": "0"} {
		if st[k] != want {
			t.Errorf("D STATS %s = %q, want %q", k, st[k], want)
		}
	}
	for _, k := range []string{"goroutines", "open files"} {
		if n, err := strconv.Atoi(st[k]); err != nil || n < 3 {
			t.Errorf("D STATS %s = %q, want a count of at least 3", k, st[k])
		}
	}
	if down := strings.Fields(st["bytes down"]); len(down) == 0 {
		t.Errorf("D STATS bytes down missing")
	} else if n, err := strconv.Atoi(down[0]); err != nil || n < g.split {
		t.Errorf("D STATS bytes down = %q, want at least %d", st["bytes down"], g.split)
	}

	// D CONFIG: the file, listeners, profiles; never a secret.
	cr := mustCmd(t, d, "D CONFIG", "SOX0415I")
	conf := cr.String()
	for _, want := range []string{"FILE       " + d.ConfigPath, "LISTEN     127.0.0.1:0", "level info",
		"socket \"" + d.Socket + "\"", "PROFILE    partner: 127.0.0.1:22 user batch", "RULES      3"} {
		if !strings.Contains(conf, want) {
			t.Errorf("D CONFIG lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, passphrase) || strings.Contains(conf, consoleSecret) {
		t.Fatalf("D CONFIG shows a secret:\n%s", conf)
	}

	// D VERSION agrees with `socksd version`.
	out, err := exec.Command(socksdBin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	ver := strings.TrimPrefix(first, "socksd ")
	for _, text := range []string{"D VERSION", "d v"} {
		if r := mustCmd(t, d, text, "SOX0416I"); r.lines[0] != "SOX0416I socksd version "+ver {
			t.Errorf("%q: %q, want version %s", text, r.lines[0], ver)
		}
	}

	// HELP lists every command.
	help := mustCmd(t, d, "HELP", "SOX0417I").String()
	for _, form := range []string{"DISPLAY|D SESSIONS|S", "DISPLAY|D SESSION=n", "DISPLAY|D TUNNELS|T", "DISPLAY|D RULES|R",
		"DISPLAY|D STATS", "DISPLAY|D CONFIG", "DISPLAY|D VERSION", "RELOAD", "LOGLEVEL", "TRACE|TR ON|OFF [SESSION=n]",
		"CANCEL|C SESSION=n", "DROP TUNNEL=id", "QUIESCE", "RESUME", "STOP|P [IMMEDIATE]", "HELP"} {
		if !strings.Contains(help, form) {
			t.Errorf("HELP lacks %q:\n%s", form, help)
		}
	}

	// Unknown and malformed commands: exit 1 and an E message that names
	// the valid forms.
	for _, tc := range []struct{ text, form string }{
		{"FROBNICATE", "CANCEL|C SESSION=n"},
		{"D", "DISPLAY|D SESSIONS|S"},
		{"D NONSENSE", "DISPLAY|D TUNNELS|T"},
		{"CANCEL SESSION=abc", "CANCEL|C SESSION=n"},
		{"LOGLEVEL=LOUD", "LOGLEVEL|LL=DEBUG|INFO|WARN|ERROR"},
		{"TRACE", "TRACE|TR ON|OFF [SESSION=n]"},
		{"DROP", "DROP TUNNEL=id"},
		{"STOP LATER", "STOP|P [IMMEDIATE]"},
	} {
		r := refusedCmd(t, d, tc.text, "SOX0402E")
		if !strings.Contains(r.String(), "valid forms:") || !strings.Contains(r.String(), tc.form) {
			t.Errorf("%q: the reply does not name the valid form %q:\n%s", tc.text, tc.form, r)
		}
	}
	// None of that disturbed the transfer.
	g.Release()
	finish(t, c, g)
	if res := sessionEnd(t, d, id); res != "ok" {
		t.Errorf("session %d result %s", id, res)
	}
	if r := mustCmd(t, d, "D S", "SOX0410I"); r.lines[0] != "SOX0410I DISPLAY SESSIONS: 0 active" || len(r.rows(t)) != 0 {
		t.Errorf("after the end:\n%s", r)
	}
	noSecret(t, d, consoleSecret)
	noSecret(t, d, passphrase)
}

func TestConsoleLogLevel(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, consoleConfig)
	web := webServer(t, "x")
	dl := socks5Dialer(t, d, "job2", consoleSecret)
	// session opens and ends one session; when it returns, the session's
	// start has been logged (or dropped) before anything the daemon logs
	// later.
	session := func() {
		t.Helper()
		c, err := dl.Dial("tcp", web.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	// mark sets the level and waits for its message, which every level
	// passes: the log is complete up to that point.
	mark := func(level string, n int) {
		t.Helper()
		mustCmd(t, d, "LOGLEVEL="+level, "SOX0011I")
		if !d.Log.WaitCount("SOX0011I log level set to "+strings.ToLower(level), n, waitTimeout) {
			t.Fatalf("LOGLEVEL=%s not logged", level)
		}
	}

	mark("DEBUG", 1)
	if !strings.Contains(mustCmd(t, d, "D CONFIG", "SOX0415I").String(), "level debug") {
		t.Error("D CONFIG does not show level debug")
	}
	session()
	mark("DEBUG", 2)
	if n := d.Log.Count("event=session_start"); n != 1 {
		t.Fatalf("%d session_start lines at DEBUG, want 1", n)
	}

	mark("ERROR", 1)
	for i := 0; i < 3; i++ {
		session()
	}
	// Commands themselves are logged at info: at ERROR they vanish too.
	commands := d.Log.Count("SOX0401I")
	mustCmd(t, d, "D STATS", "SOX0414I")
	mark("ERROR", 2)
	if n := d.Log.Count("event=session_start"); n != 1 {
		t.Errorf("%d session_start lines after three sessions at ERROR, want still 1", n)
	}
	if n := d.Log.Count("SOX0401I"); n != commands {
		t.Errorf("commands logged at ERROR")
	}
	if !strings.Contains(mustCmd(t, d, "D CONFIG", "SOX0415I").String(), "level error") {
		t.Error("D CONFIG does not show level error")
	}
	// A warning is below ERROR too; an error still shows.
	refusedCmd(t, d, "LOGLEVEL=LOUD", "SOX0402E")
	if err := os.WriteFile(d.ConfigPath, []byte("[server]\nbogus = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	refusedCmd(t, d, "RELOAD", "SOX0004E")
	if !d.Log.WaitCount("SOX0004E", 1, waitTimeout) {
		t.Error("an error was not logged at ERROR")
	}

	// Back to INFO: session starts appear again.
	mark("INFO", 1)
	session()
	mark("INFO", 2)
	if n := d.Log.Count("event=session_start"); n != 2 {
		t.Errorf("%d session_start lines after INFO again, want 2", n)
	}
	if got := mustCmd(t, d, "D STATS", "SOX0414I").values()["sessions total"]; got != "5" {
		t.Errorf("sessions total %q, want 5 (the sessions at ERROR count too)", got)
	}
	noSecret(t, d, consoleSecret)
}

// echoTrip sends msg through c and reads it back from the echo server.
func echoTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo of %q: %q %v", msg, buf, err)
	}
}

// traceRE matches a relay trace line.
var traceRE = regexp.MustCompile(`SOX0110I session (\d+) trace: (up|down) (\d+) bytes, (\d+) in all`)

// traced sums the traced bytes of session id by direction, and returns
// the highest running total seen.
func traced(log string, id uint64) (up, down, top int) {
	for _, m := range traceRE.FindAllStringSubmatch(log, -1) {
		if m[1] != strconv.FormatUint(id, 10) {
			continue
		}
		n, _ := strconv.Atoi(m[3])
		all, _ := strconv.Atoi(m[4])
		if m[2] == "up" {
			up += n
		} else {
			down += n
		}
		top = max(top, all)
	}
	return up, down, top
}

func TestConsoleTrace(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, consoleConfig)
	echo := testpeer.EchoServer(t)
	dl := socks5Dialer(t, d, "job3", consoleSecret)
	c1, err := dl.Dial("tcp", echo)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	id := sessionID(t, d, echo)
	traceFlag := func(id uint64) string {
		t.Helper()
		return mustCmd(t, d, fmt.Sprintf("D SESSION=%d", id), "SOX0411I").values()["trace"]
	}

	// Untraced, traced, untraced again: only the middle bytes are traced.
	echoTrip(t, c1, "a")
	r := mustCmd(t, d, fmt.Sprintf("TRACE ON SESSION=%d", id), "SOX0405I")
	if r.lines[0] != fmt.Sprintf("SOX0405I trace ON for session %d", id) {
		t.Errorf("TRACE ON reply %q", r.lines[0])
	}
	if got := traceFlag(id); got != "ON" {
		t.Errorf("D SESSION=%d trace = %q after TRACE ON", id, got)
	}
	s := mustCmd(t, d, "D S", "SOX0410I")
	if row := sessionRow(t, d, echo); row["ID"] != fmt.Sprintf("%d*", id) || !strings.Contains(s.String(), " * = traced") {
		t.Errorf("D S does not mark the traced session:\n%s", s)
	}
	echoTrip(t, c1, "bb")
	for _, dir := range []string{"up", "down"} {
		re := regexp.MustCompile(fmt.Sprintf(`SOX0110I session %d trace: %s \d+ bytes, 3 in all`, id, dir))
		if _, ok := d.Log.WaitFor(re, waitTimeout, nil); !ok {
			t.Fatalf("no trace of the bytes going %s", dir)
		}
	}
	mustCmd(t, d, fmt.Sprintf("TR OFF S=%d", id), "SOX0405I")
	if got := traceFlag(id); got != "OFF" {
		t.Errorf("trace = %q after TRACE OFF", got)
	}
	echoTrip(t, c1, "ccc")
	c1.Close()
	sessionEnd(t, d, id) // logged after the relay's last trace call
	if up, down, top := traced(d.Log.String(), id); up != 2 || down != 2 || top != 3 {
		t.Errorf("traced up %d down %d bytes (running total up to %d), want 2, 2 and 3 (socksd.log in the evidence directory)", up, down, top)
	}
	refusedCmd(t, d, fmt.Sprintf("TRACE ON SESSION=%d", id), "SOX0403E")

	// TRACE ON for all: running sessions and later ones.
	c2, err := dl.Dial("tcp", echo)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	id2 := sessionID(t, d, echo)
	if r := mustCmd(t, d, "TRACE ON", "SOX0405I"); r.lines[0] != "SOX0405I trace ON for all sessions" {
		t.Errorf("TRACE ON reply %q", r.lines[0])
	}
	c3, err := dl.Dial("tcp", echo)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	var id3 uint64
	for _, row := range mustCmd(t, d, "D S", "SOX0410I").rows(t) {
		if n, _ := strconv.ParseUint(strings.TrimSuffix(row["ID"], "*"), 10, 64); n != id2 {
			id3 = n
		}
		if !strings.HasSuffix(row["ID"], "*") {
			t.Errorf("session %s not traced after TRACE ON for all", row["ID"])
		}
	}
	if id3 == 0 || traceFlag(id2) != "ON" || traceFlag(id3) != "ON" {
		t.Fatalf("TRACE ON for all: sessions %d and %d not both traced", id2, id3)
	}
	echoTrip(t, c2, "dddd")
	echoTrip(t, c3, "eeeee")
	mustCmd(t, d, "TRACE OFF", "SOX0405I")
	if traceFlag(id2) != "OFF" || traceFlag(id3) != "OFF" {
		t.Errorf("TRACE OFF left a session traced")
	}
	if s := mustCmd(t, d, "D S", "SOX0410I"); strings.Contains(s.String(), "*") {
		t.Errorf("D S still marks a session:\n%s", s)
	}
	c2.Close()
	c3.Close()
	sessionEnd(t, d, id2)
	sessionEnd(t, d, id3)
	log := d.Log.String()
	if up, down, _ := traced(log, id2); up != 4 || down != 4 {
		t.Errorf("session %d traced up %d down %d, want 4 and 4", id2, up, down)
	}
	if up, down, _ := traced(log, id3); up != 5 || down != 5 {
		t.Errorf("session %d traced up %d down %d, want 5 and 5", id3, up, down)
	}
	// Sizes only: the traced bytes themselves never reach the log.
	if strings.Contains(log, "dddd") || strings.Contains(log, "eeeee") {
		t.Error("traced data in the log")
	}
}

func TestConsoleCancelCutsTransfer(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, consoleConfig)
	src := streamSource(t)
	c, err := socks5Dialer(t, d, "job4", consoleSecret).Dial("tcp", src)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := readStream(c)
	rd.waitStarted(t)
	id := sessionID(t, d, src)

	r := mustCmd(t, d, fmt.Sprintf("CANCEL SESSION=%d", id), "SOX0406I")
	if r.lines[0] != fmt.Sprintf("SOX0406I session %d cancelled", id) {
		t.Errorf("CANCEL reply %q", r.lines[0])
	}
	rd.waitCut(t)
	if res := sessionEnd(t, d, id); res != "cancelled" {
		t.Errorf("session %d ended with result=%s, want cancelled", id, res)
	}
	if !d.Log.WaitCount(fmt.Sprintf("SOX0107I session %d cancelled by operator", id), 1, waitTimeout) {
		t.Error("the cancel was not logged")
	}
	// The session is gone; a second CANCEL is refused, and so is C with
	// the short form for a session that never was.
	refusedCmd(t, d, fmt.Sprintf("CANCEL SESSION=%d", id), "SOX0403E")
	refusedCmd(t, d, "C S=99999", "SOX0403E")
	if r := mustCmd(t, d, "D S", "SOX0410I"); len(r.rows(t)) != 0 {
		t.Errorf("cancelled session still shown:\n%s", r)
	}
	// The daemon serves on.
	c2, err := socks5Dialer(t, d, "job4", consoleSecret).Dial("tcp", src)
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
}

func TestConsoleQuiesceAndResume(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, consoleConfig)
	g := newGatedSource(t, 8<<20, 1<<20)
	dl := socks5Dialer(t, d, "job5", consoleSecret)
	c := openHead(t, dl, g)

	r := mustCmd(t, d, "QUIESCE", "SOX0005I")
	if r.lines[0] != "SOX0005I quiesce: new sessions are refused, 1 sessions running" {
		t.Errorf("QUIESCE reply %q", r.lines[0])
	}
	if st := mustCmd(t, d, "D STATS", "SOX0414I").values()["state"]; st != "QUIESCED" {
		t.Errorf("D STATS state %q while quiesced", st)
	}
	// New sessions get a SOCKS failure reply, SOCKS5 and SOCKS4.
	for i := 0; i < 2; i++ {
		if _, err := dl.Dial("tcp", g.Addr()); err == nil || !strings.Contains(err.Error(), "general SOCKS server failure") {
			t.Fatalf("new session while quiesced: %v, want a general failure reply", err)
		}
	}
	got, err := rawExchange(t, d.Addr, []byte{4, 1, 0, 80, 127, 0, 0, 1, 'j', 0}, 8)
	if err != nil || got[1] != 91 {
		t.Errorf("SOCKS4 while quiesced: %v % x, want CD 91", err, got)
	}
	if !d.Log.WaitCount("SOX0109W", 3, waitTimeout) {
		t.Error("refusals while quiesced not logged")
	}
	if st := mustCmd(t, d, "D STATS", "SOX0414I").values(); st["refused"] != "3" || st["sessions active"] != "1 of 2048" {
		t.Errorf("D STATS while quiesced: refused %q, active %q", st["refused"], st["sessions active"])
	}
	// The running transfer completes, byte-exact.
	g.Release()
	finish(t, c, g)

	if r := mustCmd(t, d, "RESUME", "SOX0006I"); r.lines[0] != "SOX0006I resume: accepting new sessions" {
		t.Errorf("RESUME reply %q", r.lines[0])
	}
	if st := mustCmd(t, d, "D STATS", "SOX0414I").values()["state"]; st != "ACTIVE" {
		t.Errorf("D STATS state %q after RESUME", st)
	}
	c2, err := dl.Dial("tcp", g.Addr())
	if err != nil {
		t.Fatalf("new session after RESUME: %v", err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(3 * time.Minute))
	all, err := io.ReadAll(c2)
	if err != nil || sha256.Sum256(all) != g.sum {
		t.Fatalf("transfer after RESUME: %v, %d bytes", err, len(all))
	}
	noSecret(t, d, consoleSecret)
}

func TestConsoleStopDrains(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, consoleConfig)
	g := newGatedSource(t, 8<<20, 1<<20)
	c := openHead(t, socks5Dialer(t, d, "job6", consoleSecret), g)
	id := sessionID(t, d, g.Addr())

	if r := mustCmd(t, d, "STOP", "SOX0404I"); r.lines[0] != "SOX0404I command accepted: STOP" {
		t.Errorf("STOP reply %q", r.lines[0])
	}
	if !d.Log.WaitCount("SOX0007I stop requested, draining 1 sessions for up to 2m0s", 1, waitTimeout) {
		t.Fatal("the drain was not announced")
	}
	// The listener closes; the console still answers during the drain.
	wait.Until(t, "the SOCKS listener to close", waitTimeout, func() bool {
		c, err := net.DialTimeout("tcp", d.Addr, 5*time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if r := mustCmd(t, d, "D S", "SOX0410I"); len(r.rows(t)) != 1 {
		t.Errorf("D S during the drain:\n%s", r)
	}
	select {
	case <-d.Done():
		t.Fatal("the daemon exited before the transfer completed")
	default:
	}
	g.Release()
	finish(t, c, g)
	if res := sessionEnd(t, d, id); res != "ok" {
		t.Errorf("drained session result=%s", res)
	}
	if code := d.Wait(waitTimeout); code != 0 {
		t.Fatalf("exit code %d after the drain, want 0", code)
	}
	if !strings.Contains(d.Log.String(), "SOX0008I socksd ended") {
		t.Error("the end was not logged")
	}
	if strings.Contains(d.Log.String(), "SOX0009W") {
		t.Error("the drain timed out")
	}
	// The socket went with the daemon; the CLI says so and exits 1.
	if _, err := os.Lstat(d.Socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket left behind: %v", err)
	}
	r := opCmd(t, d, "D STATS")
	if r.code != 1 || !strings.Contains(r.stderr, "SOX0420E") {
		t.Errorf("D STATS to an ended daemon: exit %d, %q", r.code, r.stderr)
	}
}

func TestConsoleStopImmediate(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, consoleConfig)
	src := streamSource(t)
	c, err := socks5Dialer(t, d, "job7", consoleSecret).Dial("tcp", src)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := readStream(c)
	rd.waitStarted(t)
	id := sessionID(t, d, src)

	if r := mustCmd(t, d, "P IMMEDIATE", "SOX0404I"); r.lines[0] != "SOX0404I command accepted: STOP IMMEDIATE" {
		t.Errorf("STOP IMMEDIATE reply %q", r.lines[0])
	}
	rd.waitCut(t)
	if res := sessionEnd(t, d, id); res != "cancelled" {
		t.Errorf("session %d ended with result=%s, want cancelled", id, res)
	}
	if code := d.Wait(waitTimeout); code != 0 {
		t.Fatalf("exit code %d after STOP IMMEDIATE, want 0", code)
	}
	if !d.Log.WaitCount("SOX0007I stop requested, draining 1 sessions for up to 0s", 1, waitTimeout) {
		t.Error("the immediate stop was not announced")
	}
}

// TestConsoleStopDrainTimeout: a transfer that outlasts drain_timeout is
// ended when the time is up, and the daemon still exits 0.
func TestConsoleStopDrainTimeout(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, strings.Replace(consoleConfig, `drain_timeout = "2m"`, `drain_timeout = "1s"`, 1))
	g := newGatedSource(t, 4<<20, 1<<20)
	c := openHead(t, socks5Dialer(t, d, "job12", consoleSecret), g)
	id := sessionID(t, d, g.Addr())
	mustCmd(t, d, "STOP", "SOX0404I")
	// The gate is never opened: the transfer cannot finish by itself.
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := io.ReadAll(c); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the session outlived the drain timeout")
	}
	if !d.Log.WaitCount("SOX0009W drain timeout reached, 1 sessions ended", 1, waitTimeout) {
		t.Error("the drain timeout was not reported")
	}
	if res := sessionEnd(t, d, id); res != "cancelled" {
		t.Errorf("session %d ended with result=%s, want cancelled", id, res)
	}
	if code := d.Wait(waitTimeout); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

// TestConsoleStopThenImmediate: an immediate stop during a drain ends the
// drain at once, whether it comes from the console or a second SIGTERM.
func TestConsoleStopThenImmediate(t *testing.T) {
	for _, tc := range []struct {
		name        string
		first, then func(t *testing.T, d *testpeer.Socksd)
	}{
		{"console",
			func(t *testing.T, d *testpeer.Socksd) { mustCmd(t, d, "STOP", "SOX0404I") },
			func(t *testing.T, d *testpeer.Socksd) { mustCmd(t, d, "STOP IMMEDIATE", "SOX0404I") }},
		{"signals",
			func(t *testing.T, d *testpeer.Socksd) { d.Signal(syscall.SIGTERM) },
			func(t *testing.T, d *testpeer.Socksd) { d.Signal(syscall.SIGTERM) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testpeer.StartSocksd(t, socksdBin, consoleConfig)
			g := newGatedSource(t, 4<<20, 1<<20)
			c := openHead(t, socks5Dialer(t, d, "job11", consoleSecret), g)
			id := sessionID(t, d, g.Addr())
			tc.first(t, d)
			if !d.Log.WaitCount("SOX0007I stop requested, draining 1 sessions", 1, waitTimeout) {
				t.Fatal("the drain did not begin")
			}
			tc.then(t, d)
			// The gate is never opened: only the stop can end the read.
			c.SetReadDeadline(time.Now().Add(waitTimeout))
			rest, err := io.ReadAll(c)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("the session survived the immediate stop")
			}
			if g.split+len(rest) >= len(g.payload) {
				t.Fatal("the whole payload arrived although the source never sent it all")
			}
			if res := sessionEnd(t, d, id); res != "cancelled" {
				t.Errorf("session %d ended with result=%s, want cancelled", id, res)
			}
			if code := d.Wait(waitTimeout); code != 0 {
				t.Fatalf("exit code %d, want 0", code)
			}
			if strings.Contains(d.Log.String(), "SOX0009W") {
				t.Error("a drain timeout reported, but the drain was ended by the operator")
			}
			if !strings.Contains(d.Log.String(), "SOX0007I stop requested, draining 1 sessions for up to 0s") {
				t.Error("the immediate end of the drain was not announced")
			}
		})
	}
}

func TestConsoleReload(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, consoleConfig)
	web := webServer(t, "ok")
	dl := socks5Dialer(t, d, "job8", consoleSecret)
	g := newGatedSource(t, 4<<20, 1<<20)
	live := openHead(t, dl, g)

	// A broken file: exit 1, the reply names FILE:LINE, the old rules stay.
	broken := "[server]\nlisten = [\"127.0.0.1:0\"]\n\n[[rules]]\nname = \"x\"\nacton = \"block\"\n"
	if err := os.WriteFile(d.ConfigPath, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	r := refusedCmd(t, d, "RELOAD", "SOX0004E")
	if !strings.Contains(r.String(), d.ConfigPath+":6") {
		t.Errorf("the rejection does not name %s:6:\n%s", d.ConfigPath, r)
	}
	if !d.Log.WaitCount("SOX0004E", 1, waitTimeout) {
		t.Error("the rejection was not logged")
	}
	if rules := mustCmd(t, d, "D R", "SOX0413I").rows(t); len(rules) != 3 || rules[1]["NAME"] != "loopback" {
		t.Errorf("rules after a bad reload: %v", rules)
	}
	c, err := dl.Dial("tcp", web.Listener.Addr().String())
	if err != nil {
		t.Fatalf("old rules lost after a bad reload: %v", err)
	}
	c.Close()

	// A good file: loopback is blocked from now on.
	good := fmt.Sprintf("[server]\nlisten = [\"127.0.0.1:0\"]\ndrain_timeout = \"2m\"\n[console]\nsocket = %q\n"+
		"[[rules]]\nname = \"web-only\"\nports = [\"1\"]\naction = \"direct\"\n[[rules]]\nname = \"closed\"\naction = \"block\"\n", d.Socket)
	if err := os.WriteFile(d.ConfigPath, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	r = mustCmd(t, d, "REL", "SOX0404I")
	if r.lines[0] != "SOX0404I command accepted: RELOAD" || !strings.Contains(r.String(), "2 rules in use") {
		t.Errorf("RELOAD reply:\n%s", r)
	}
	if !d.Log.WaitCount("SOX0003I configuration reloaded from "+d.ConfigPath+", 2 rules", 1, waitTimeout) {
		t.Error("the reload was not logged")
	}
	rules := mustCmd(t, d, "D RULES", "SOX0413I").rows(t)
	if len(rules) != 2 || rules[0]["NAME"] != "web-only" || rules[1]["NAME"] != "closed" || rules[1]["HITS"] != "0" {
		t.Errorf("D RULES after reload: %v", rules)
	}
	if _, err := dl.Dial("tcp", web.Listener.Addr().String()); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Errorf("new rules not in force: %v", err)
	}
	if rules := mustCmd(t, d, "D RULES", "SOX0413I").rows(t); rules[1]["HITS"] != "1" {
		t.Errorf("the new rule's hit is not counted: %v", rules)
	}
	// The session from before keeps its rules and completes.
	if row := sessionRow(t, d, g.Addr()); row["RULE"] != "loopback" {
		t.Errorf("the live session's rule became %q", row["RULE"])
	}
	g.Release()
	finish(t, live, g)
}

func TestConsoleSignals(t *testing.T) {
	d := testpeer.StartSocksd(t, socksdBin, consoleConfig)
	web := webServer(t, "ok")
	c, err := socks5Dialer(t, d, "job9", consoleSecret).Dial("tcp", web.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	// SIGUSR1: DISPLAY STATS into the log, every line of it.
	d.Signal(syscall.SIGUSR1)
	if !d.Log.WaitCount("SOX0408I signal user defined signal 1 received: DISPLAY STATS", 1, waitTimeout) {
		t.Fatal("SIGUSR1 not logged")
	}
	for _, l := range []string{"SOX0414I DISPLAY STATS", "goroutines:", "open files:", "sessions total:"} {
		if !d.Log.WaitCount(l, 1, waitTimeout) {
			t.Errorf("SIGUSR1: %q not in the log", l)
		}
	}

	// SIGHUP: RELOAD.
	cfg := strings.Replace(consoleConfig, `name = "rest"`, `name = "everything-else"`, 1)
	cfg = strings.ReplaceAll(cfg, "{{SOCKET}}", d.Socket)
	if err := os.WriteFile(d.ConfigPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d.Signal(syscall.SIGHUP)
	if !d.Log.WaitCount("SOX0003I configuration reloaded", 1, waitTimeout) {
		t.Fatal("SIGHUP did not reload")
	}
	if rules := mustCmd(t, d, "D R", "SOX0413I").rows(t); len(rules) != 3 || rules[2]["NAME"] != "everything-else" {
		t.Errorf("D R after SIGHUP: %v", rules)
	}

	// SIGTERM: STOP; with no session running the daemon exits 0 at once.
	d.Signal(syscall.SIGTERM)
	if code := d.Wait(waitTimeout); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	for _, l := range []string{"SOX0408I signal terminated received: STOP", "SOX0007I", "SOX0008I socksd ended"} {
		if !strings.Contains(d.Log.String(), l) {
			t.Errorf("SIGTERM: %q not in the log", l)
		}
	}
}

func TestConsoleStdin(t *testing.T) {
	cfg := strings.Replace(consoleConfig, `socket = "{{SOCKET}}"`, "socket = \"\"\nstdin = true", 1)
	d, stdin := testpeer.StartSocksdWithStdin(t, socksdBin, cfg)
	web := webServer(t, "ok")
	c, err := socks5Dialer(t, d, "job10", consoleSecret).Dial("tcp", web.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !d.Log.WaitCount("event=session_end", 1, waitTimeout) {
		t.Fatal("no session end")
	}

	if _, err := io.WriteString(stdin, "D STATS\n"); err != nil {
		t.Fatal(err)
	}
	// The reply goes to standard output, apart from the log.
	if !d.Stdout.WaitCount("open files:", 1, waitTimeout) {
		t.Fatalf("no D STATS reply on stdout:\n%s", d.Stdout.String())
	}
	out := d.Stdout.String()
	for _, l := range []string{"SOX0414I DISPLAY STATS", " sessions total:   1", " goroutines:"} {
		if !strings.Contains(out, l) {
			t.Errorf("D STATS on stdin: %q not in the reply:\n%s", l, out)
		}
	}
	if !d.Log.WaitCount("SOX0401I command from stdin: D STATS", 1, waitTimeout) {
		t.Error("the stdin command was not logged")
	}
	// A bad command gets its E message there too; blank lines are skipped.
	io.WriteString(stdin, "\n  \nWHATEVER\n")
	if !d.Stdout.WaitCount("SOX0402E", 1, waitTimeout) || !strings.Contains(d.Stdout.String(), "valid forms:") {
		t.Fatalf("no E reply on stdout:\n%s", d.Stdout.String())
	}
	// The end of stdin ends the transport, not the daemon.
	stdin.Close()
	if !d.Log.WaitCount("SOX0419W", 1, waitTimeout) {
		t.Fatal("the end of stdin was not reported")
	}
	c, err = socks5Dialer(t, d, "job10", consoleSecret).Dial("tcp", web.Listener.Addr().String())
	if err != nil {
		t.Fatalf("after the end of stdin: %v", err)
	}
	c.Close()
	d.Signal(syscall.SIGTERM)
	if code := d.Wait(waitTimeout); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	noSecret(t, d, consoleSecret)
}

func TestConsoleTunnelsAndDrop(t *testing.T) {
	s := testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true})
	cfg := fmt.Sprintf(`
[server]
listen = ["127.0.0.1:0"]
[console]
socket = "{{SOCKET}}"
[ssh]
known_hosts = [%q]
keepalive_interval = "2s"
[profiles.gw]
host = "127.0.0.1"
port = %d
auth = ["password", "publickey"]
identity_files = [%q]
[[rules]]
name = "via-gw"
to = ["127.0.0.0/8"]
action = "tunnel"
profile = "gw"
[[rules]]
name = "rest"
action = "block"
`, s.KnownHostsFile, s.Port, s.ClientKeyFile)
	d := testpeer.StartSocksd(t, socksdBin, cfg)
	g := newGatedSource(t, 4<<20, 256<<10)
	// The SOCKS5 user and password become the SSH login.
	dl := socks5Dialer(t, d, s.User, s.Password)
	c := openHead(t, dl, g)
	if s.WaitLog("server_request_direct_tcpip", 1, waitTimeout) < 1 {
		t.Fatal("sshd opened no channel (sshd.log in the evidence directory)")
	}

	r := mustCmd(t, d, "D TUNNELS", "SOX0412I")
	if r.lines[0] != "SOX0412I DISPLAY TUNNELS: 1 open" {
		t.Errorf("D TUNNELS header %q", r.lines[0])
	}
	tuns := r.rows(t)
	if len(tuns) != 1 {
		t.Fatalf("D TUNNELS: %d rows:\n%s", len(tuns), r)
	}
	tun := tuns[0]
	// ENGINE proves the SOCKSD_TEST_ENGINE pass runs on the engine it
	// names; unset, on the engine that auto chose, as SOX0230I says.
	engine := testpeer.Engine()
	if engine == "auto" {
		engine = "builtin"
		if strings.Contains(d.Log.String(), "SOX0230I profile gw uses the openssh SSH engine") {
			engine = "openssh"
		}
	}
	for k, want := range map[string]string{"SERVER": s.Addr, "USER": s.User, "PROFILE": "gw", "ENGINE": engine, "CHANNELS": "1", "TOTAL": "1"} {
		if tun[k] != want {
			t.Errorf("D TUNNELS %s = %q, want %q\n%s", k, tun[k], want, r)
		}
	}
	if r2 := mustCmd(t, d, "D T", "SOX0412I"); len(r2.rows(t)) != 1 || r2.rows(t)[0]["ID"] != tun["ID"] {
		t.Errorf("D T differs from D TUNNELS:\n%s", r2)
	}
	row := sessionRow(t, d, g.Addr())
	for k, want := range map[string]string{"JOB/USER": s.User, "RULE": "via-gw", "ACTION": "tunnel", "SSH-SERVER": s.Addr, "STATE": "relay"} {
		if row[k] != want {
			t.Errorf("D S %s = %q, want %q", k, row[k], want)
		}
	}
	id := sessionID(t, d, g.Addr())
	if st := mustCmd(t, d, "D STATS", "SOX0414I").values()["ssh connections"]; st != "1" {
		t.Errorf("D STATS ssh connections = %q, want 1", st)
	}
	if conf := mustCmd(t, d, "D CONFIG", "SOX0415I").String(); strings.Contains(conf, s.Password) ||
		!strings.Contains(conf, fmt.Sprintf("PROFILE    gw: 127.0.0.1:%d", s.Port)) {
		t.Errorf("D CONFIG:\n%s", conf)
	}

	// DROP TUNNEL closes the SSH connection and the session it carries.
	refusedCmd(t, d, "DROP TUNNEL=NO-SUCH-TUNNEL", "SOX0403E")
	r = mustCmd(t, d, "DROP TUNNEL="+tun["ID"], "SOX0407I")
	if r.lines[0] != fmt.Sprintf("SOX0407I tunnel %s dropped", tun["ID"]) {
		t.Errorf("DROP reply %q", r.lines[0])
	}
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	rest, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the tunnelled session still runs after DROP TUNNEL")
	}
	if g.split+len(rest) >= len(g.payload) {
		t.Fatal("the whole payload arrived although the source never sent it all")
	}
	if res := sessionEnd(t, d, id); res != "cancelled" {
		t.Errorf("the tunnelled session ended with result=%s, want cancelled", res)
	}
	if !d.Log.WaitCount(fmt.Sprintf("SOX0209I SSH connection %s dropped by operator", tun["ID"]), 1, waitTimeout) {
		t.Error("the drop was not logged")
	}
	if r := mustCmd(t, d, "D TUNNELS", "SOX0412I"); r.lines[0] != "SOX0412I DISPLAY TUNNELS: 0 open" || len(r.rows(t)) != 0 {
		t.Errorf("D TUNNELS after the drop:\n%s", r)
	}
	if r := mustCmd(t, d, "D S", "SOX0410I"); len(r.rows(t)) != 0 {
		t.Errorf("D S after the drop:\n%s", r)
	}
	refusedCmd(t, d, "DROP TUNNEL="+tun["ID"], "SOX0403E")

	// A new session opens a new SSH connection.
	g.Release()
	c2, err := dl.Dial("tcp", g.Addr())
	if err != nil {
		t.Fatalf("after the drop: %v", err)
	}
	c2.SetDeadline(time.Now().Add(3 * time.Minute))
	all, err := io.ReadAll(c2)
	c2.Close()
	if err != nil || sha256.Sum256(all) != g.sum {
		t.Fatalf("transfer through a new SSH connection: %v, %d bytes", err, len(all))
	}
	if tuns := mustCmd(t, d, "D T", "SOX0412I").rows(t); len(tuns) != 1 || tuns[0]["ID"] == tun["ID"] {
		t.Errorf("D T after a new session: %v (dropped id %s)", tuns, tun["ID"])
	}
	if s.CountLog("Accepted password for "+s.User) != 2 {
		t.Error("want two SSH logins, one before and one after the drop (sshd.log in the evidence directory)")
	}
	noSecret(t, d, s.Password)
}
