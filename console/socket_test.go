package console

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// serve starts ServeSocket on a fresh socket and returns its path; the
// server is stopped (and checked to return nil) when the test ends.
func serve(t *testing.T, c *Console, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "console.sock")
	ln, err := ListenSocket(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.ServeSocket(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeSocket returned %v after cancel", err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket file still there after the server ended: %v", err)
		}
	})
	return path
}

func TestSocketCommands(t *testing.T) {
	f := newFake()
	c := newTestConsole(f, nil)
	path := serve(t, c, t.TempDir())

	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode = %v, want a socket with 0600", fi.Mode())
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Geteuid() {
		t.Errorf("socket owner = %d, want %d", st.Uid, os.Geteuid())
	}

	for _, cmd := range []string{"D SESSIONS", "D STATS", "HELP", "FROB", "D SESSION=77", "CANCEL SESSION=12", "APPL=D V"} {
		got, err := Send(context.Background(), path, cmd)
		if err != nil {
			t.Fatalf("Send(%q): %v", cmd, err)
		}
		want := newTestConsole(newFake(), nil).Execute(cmd)
		if got.OK != want.OK || !reflect.DeepEqual(got.Lines, want.Lines) {
			t.Errorf("Send(%q) = %+v, want %+v", cmd, got, want)
		}
	}
	if !strings.Contains(f.Calls(), "Cancel(12)") {
		t.Errorf("CANCEL did not reach the target: %s", f.Calls())
	}
}

func TestSocketStop(t *testing.T) {
	f := newFake()
	path := serve(t, newTestConsole(f, nil), t.TempDir())
	resp, err := Send(context.Background(), path, "P")
	if err != nil || !resp.OK {
		t.Fatalf("Send(P) = %+v, %v", resp, err)
	}
	if imm := <-f.stopped; imm {
		t.Error("STOP stopped immediately")
	}
}

func TestSocketLongAndRawLines(t *testing.T) {
	path := serve(t, newTestConsole(newFake(), nil), t.TempDir())
	raw := func(req string) string {
		conn, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		conn.(*net.UnixConn).CloseWrite()
		out, err := io.ReadAll(conn)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	if out := raw(strings.Repeat("D", 10000) + "\n"); !strings.HasPrefix(out, "SOX0402E") || !strings.HasSuffix(out, "\n.FAIL\n") {
		t.Errorf("over-long line got %q", out)
	}
	// No final newline, CRLF and lower case are all accepted.
	if out := raw("d v"); out != "SOX0416I socksd version 1.0.0-test\n.OK\n" {
		t.Errorf("command without newline got %q", out)
	}
	if out := raw("d v\r\n"); out != "SOX0416I socksd version 1.0.0-test\n.OK\n" {
		t.Errorf("command with CRLF got %q", out)
	}
	// A client that sends nothing gets nothing and does not hang the server.
	if out := raw(""); out != "" {
		t.Errorf("empty request got %q", out)
	}
}

func TestSendErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Send(context.Background(), filepath.Join(dir, "none.sock"), "D V"); err == nil ||
		!strings.HasPrefix(err.Error(), "console: control socket") {
		t.Errorf("Send to a missing socket: %v", err)
	}
	if _, err := Send(context.Background(), filepath.Join(dir, "x"), "D V\nP"); err == nil {
		t.Error("Send accepted a command with a line break")
	}
	// A server that closes without a status line.
	path := filepath.Join(dir, "bad.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		bufio.NewReader(conn).ReadString('\n')
		io.WriteString(conn, "SOX0416I half a reply\n")
		conn.Close()
	}()
	if _, err := Send(context.Background(), path, "D V"); err == nil || !strings.Contains(err.Error(), "without a status line") {
		t.Errorf("truncated reply: %v", err)
	}
	// A server that never answers: the context ends the wait.
	path2 := filepath.Join(dir, "mute.sock")
	ln2, err := net.Listen("unix", path2)
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		conn, err := ln2.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		bufio.NewReader(conn).ReadString('\n')
		cancel() // the client gives up while the server is silent
		io.Copy(io.Discard, conn)
	}()
	if _, err := Send(ctx, path2, "D V"); err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a cancelled context: %v", err)
	}
}

func TestListenSocketStaleAndInUse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "console.sock")

	// A socket left behind by a dead daemon is replaced.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	ln, err := ListenSocket(path)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}

	// While it is served, a second daemon must not take it over.
	_, err = ListenSocket(path)
	var inUse *SocketInUseError
	if !errors.As(err, &inUse) || inUse.Path != path {
		t.Fatalf("second ListenSocket = %v, want *SocketInUseError", err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the first daemon's socket was removed: %v", err)
	}
	if ln.Addr().String() != path {
		t.Errorf("Addr = %s, want %s", ln.Addr(), path)
	}
	ln.Close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close left the socket file: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 0 {
		t.Errorf("leftover files: %v", entries)
	}

	// A regular file is never removed.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenSocket(file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("ListenSocket over a regular file: %v", err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "keep" {
		t.Errorf("regular file damaged: %q %v", b, err)
	}
	if _, err := ListenSocket(""); err == nil {
		t.Error("ListenSocket accepted an empty path")
	}
}

func TestWireDotStuffing(t *testing.T) {
	in := Response{OK: true, Lines: []string{"SOX0415I DISPLAY CONFIG", ".OK", "..", ".FAIL x", "", " plain"}}
	var buf bytes.Buffer
	if err := writeReply(&buf, in); err != nil {
		t.Fatal(err)
	}
	out, err := readReply(bufio.NewReader(&buf))
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip = %+v, %v; want %+v", out, err, in)
	}
	for _, bad := range []string{"", ".OK\n", "x\n.WHAT\n", "x\n"} {
		if _, err := readReply(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("readReply(%q) accepted a bad reply", bad)
		}
	}
}

func TestReadLine(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader("abc\r\n"+strings.Repeat("x", 20)+"\n"+
		strings.Repeat("y", 11)+"\nok\n"+strings.Repeat("z", 10)+"\r\nlast"), 16)
	for _, want := range []string{"abc", "", "", "ok", strings.Repeat("z", 10), "last"} {
		got, err := readLine(br, 10)
		var tooLong *lineTooLongError
		if want == "" {
			if !errors.As(err, &tooLong) {
				t.Fatalf("long line: %q, %v", got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Fatalf("readLine = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := readLine(br, 10); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v", err)
	}
}

// TestHelperSend is not a test: TestSocketOtherUser runs the test binary
// as another user with this test selected, to send one command.
func TestHelperSend(t *testing.T) {
	path := os.Getenv("CONSOLE_HELPER_SOCKET")
	if path == "" {
		t.Skip("helper process only")
	}
	resp, err := Send(context.Background(), path, os.Getenv("CONSOLE_HELPER_TEXT"))
	if err != nil {
		os.Stdout.WriteString("ERR " + err.Error() + "\n")
		return
	}
	os.Stdout.WriteString(strings.Join(resp.Lines, "\n") + "\n")
	if resp.OK {
		os.Stdout.WriteString("RESULT OK\n")
	} else {
		os.Stdout.WriteString("RESULT FAIL\n")
	}
}

// TestSocketOtherUser sends commands as the user nobody: the 0600 mode
// keeps it out, and when the mode is opened up, SO_PEERCRED still refuses
// it.
func TestSocketOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root to run a client as another user")
		}
		t.Skip("needs root to run a client as another user")
	}
	const nobody = 65534
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "console.test")
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFake()
	var log syncBuffer
	log.writes = make(chan struct{}, 1)
	path := serve(t, newTestConsole(f, &log), dir)

	run := func(text string) string {
		cmd := exec.Command(bin, "-test.run=^TestHelperSend$")
		cmd.Dir = dir
		cmd.Env = []string{"CONSOLE_HELPER_SOCKET=" + path, "CONSOLE_HELPER_TEXT=" + text}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helper as nobody: %v\n%s", err, out)
		}
		return string(out)
	}

	if out := run("CANCEL SESSION=12"); !strings.Contains(out, "ERR console: control socket") || !strings.Contains(out, "permission denied") {
		t.Errorf("nobody reached the 0600 socket:\n%s", out)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	out := run("CANCEL SESSION=12")
	if !strings.Contains(out, "SOX0409W command from uid 65534 refused") || !strings.Contains(out, "RESULT FAIL") {
		t.Errorf("nobody was not refused by SO_PEERCRED:\n%s", out)
	}
	if calls := f.Calls(); calls != "" {
		t.Errorf("a refused command reached the target: %s", calls)
	}
	log.waitFor(t, "SOX0409W")
	// Root still may.
	if resp, err := Send(context.Background(), path, "CANCEL SESSION=12"); err != nil || !resp.OK {
		t.Errorf("root refused: %+v %v", resp, err)
	}
}

// TestListenSocketLongPath uses a path that fits a socket address but
// leaves no room for the temporary name.
func TestListenSocketLongPath(t *testing.T) {
	dir := t.TempDir()
	name := strings.Repeat("s", 100-len(dir))
	path := filepath.Join(dir, name)
	if len(path) >= maxSocketPath || len(path)+12 < maxSocketPath {
		t.Fatalf("test path length %d is not in the window", len(path))
	}
	ln, err := ListenSocket(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v %v", fi, err)
	}
	path2 := filepath.Join(dir, strings.Repeat("x", 120))
	if _, err := ListenSocket(path2); err == nil || !strings.HasPrefix(err.Error(), "console: control socket") {
		t.Errorf("over-long path: %v", err)
	}
}

// flakyListener fails its first Accept calls with err.
type flakyListener struct {
	net.Listener
	fails int
	err   error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails > 0 {
		l.fails--
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: l.err}
	}
	return l.Listener.Accept()
}

func TestServeSocketAcceptErrors(t *testing.T) {
	c := newTestConsole(newFake(), nil)
	dir := t.TempDir()

	// Running out of file descriptors for a moment does not end the console.
	path := filepath.Join(dir, "a.sock")
	ln, err := ListenSocket(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.ServeSocket(ctx, &flakyListener{Listener: ln, fails: 3, err: syscall.EMFILE}) }()
	resp, err := Send(context.Background(), path, "D V")
	if err != nil || !resp.OK {
		t.Errorf("after transient errors: %+v %v", resp, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeSocket = %v", err)
	}

	// Any other error ends ServeSocket with that error, and the socket goes.
	path = filepath.Join(dir, "b.sock")
	ln, err = ListenSocket(path)
	if err != nil {
		t.Fatal(err)
	}
	err = c.ServeSocket(context.Background(), &flakyListener{Listener: ln, fails: 1, err: syscall.EBADF})
	if !errors.Is(err, syscall.EBADF) || !strings.HasPrefix(err.Error(), "console: control socket") {
		t.Errorf("ServeSocket = %v, want EBADF", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
}

// TestListenSocketDirectory: a missing last directory level is created
// with mode 0750; a deeper missing tree, or a file in the way, is an
// error that says so, and nothing is created.
func TestListenSocketDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantErr string // "" = success
		created string // a directory that must exist afterwards, mode 0750 at most
		absent  string // a path that must not exist afterwards
	}{
		{"existing directory", "console.sock", "", "", ""},
		{"missing last level", "run/console.sock", "", "run", ""},
		{"missing tree", "a/b/console.sock", "directory " + dir + "/a/b does not exist and neither does its parent " + dir + "/a; only a missing last level is created", "", "a"},
		{"file in the way", "file/console.sock", dir + "/file is not a directory", "", ""},
		{"file as parent", "file/x/console.sock", "cannot create directory " + dir + "/file/x: not a directory", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.path)
			ln, err := ListenSocket(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				ln.Close()
			} else {
				var se *SocketError
				if !errors.As(err, &se) || se.Path != path || se.Err.Error() != tt.wantErr {
					t.Fatalf("ListenSocket(%s) = %v, want a *SocketError with %q", path, err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "console: control socket "+path+": ") {
					t.Errorf("error %q does not name the socket", err)
				}
			}
			if tt.created != "" {
				fi, err := os.Stat(filepath.Join(dir, tt.created))
				if err != nil || !fi.IsDir() || fi.Mode().Perm()&^0o750 != 0 || fi.Mode().Perm()&0o700 != 0o700 {
					t.Errorf("directory %s: %v %v, want a directory with mode 0750 (less the umask)", tt.created, fi, err)
				}
			}
			if tt.absent != "" {
				if _, err := os.Lstat(filepath.Join(dir, tt.absent)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s was created: %v", tt.absent, err)
				}
			}
		})
	}
}
