package demo

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSiteUmask(t *testing.T) {
	tests := []struct {
		line string
		want os.FileMode
		err  string // "" ok, "not" = errNotUmask, else substring
	}{
		{"SITE UMASK 022\r\n", 0o22, ""},
		{"site umask 0027", 0o27, ""},
		{"Site  Umask   7\n", 0o7, ""},
		{"SITE UMASK 777", 0o777, ""},
		{"SITE CHMOD 644 x", 0, "not"},
		{"SITE", 0, "not"},
		{"STOR umask", 0, "not"},
		{"SITE UMASK", 0, "one octal mask"},
		{"SITE UMASK 022 x", 0, "one octal mask"},
		{"SITE UMASK 089", 0, "bad mask"},
		{"SITE UMASK 1777", 0, "bad mask"},
		{"SITE UMASK 00000022", 0, "bad mask"},
		{"SITE UMASK -1", 0, "bad mask"},
	}
	for _, tt := range tests {
		got, err := parseSiteUmask([]byte(tt.line))
		switch tt.err {
		case "":
			if err != nil || got != tt.want {
				t.Errorf("%q: %o, %v; want %o", tt.line, got, err, tt.want)
			}
		case "not":
			if !errors.Is(err, errNotUmask) {
				t.Errorf("%q: %v, want errNotUmask", tt.line, err)
			}
		default:
			if err == nil || errors.Is(err, errNotUmask) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: %v, want %q", tt.line, err, tt.err)
			}
		}
	}
}

// FuzzParseSiteUmask: no panic; an accepted mask is at most 0777 and
// formats back to a line that parses to the same mask.
func FuzzParseSiteUmask(f *testing.F) {
	f.Add([]byte("SITE UMASK 022\r\n"))
	f.Add([]byte("site umask 9"))
	f.Add([]byte("SITE CHMOD 644 x"))
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := parseSiteUmask(line)
		if err != nil {
			return
		}
		if m > 0o777 {
			t.Fatalf("%q: mask %o", line, m)
		}
		again, err := parseSiteUmask(fmt.Appendf(nil, "SITE UMASK %03o\r\n", m))
		if err != nil || again != m {
			t.Fatalf("%q: %o formats back to %o, %v", line, m, again, err)
		}
	})
}

// ftpTestClient is a raw FTP control connection.
type ftpTestClient struct {
	t *testing.T
	c net.Conn
	r *textproto.Reader
}

func dialFTP(t *testing.T, f *FTPServer) *ftpTestClient {
	t.Helper()
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	cl := &ftpTestClient{t: t, c: c, r: textproto.NewReader(bufio.NewReader(c))}
	if code, msg := cl.reply(); code != 220 {
		t.Fatalf("greeting %d %s", code, msg)
	}
	return cl
}

func (cl *ftpTestClient) reply() (int, string) {
	code, msg, err := cl.r.ReadResponse(0)
	if err != nil {
		var pe *textproto.Error
		if errors.As(err, &pe) {
			return pe.Code, pe.Msg
		}
		cl.t.Fatal(err)
	}
	return code, msg
}

func (cl *ftpTestClient) cmd(line string) (int, string) {
	if _, err := io.WriteString(cl.c, line+"\r\n"); err != nil {
		cl.t.Fatal(err)
	}
	return cl.reply()
}

// pasvStor stores data through a passive data connection.
func (cl *ftpTestClient) pasvStor(name, data string) int {
	code, msg := cl.cmd("EPSV")
	if code != 229 {
		cl.t.Fatalf("EPSV: %d %s", code, msg)
	}
	var port int
	if _, err := fmt.Sscanf(msg[strings.Index(msg, "(|||"):], "(|||%d|)", &port); err != nil {
		cl.t.Fatalf("EPSV reply %q: %v", msg, err)
	}
	dc, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		cl.t.Fatal(err)
	}
	defer dc.Close()
	if code, msg := cl.cmd("STOR " + name); code/100 != 1 {
		cl.t.Fatalf("STOR: %d %s", code, msg)
	}
	io.WriteString(dc, data)
	dc.Close()
	code, _ = cl.reply()
	return code
}

func startTestFTP(t *testing.T) *FTPServer {
	t.Helper()
	f, err := StartFTPServer(FTPConfig{User: "job", Password: "right-pw", Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestFTPServerSiteUmask(t *testing.T) {
	f := startTestFTP(t)
	cl := dialFTP(t, f)
	if code, msg := cl.cmd("USER job"); code != 331 {
		t.Fatalf("USER: %d %s", code, msg)
	}
	if code, msg := cl.cmd("PASS right-pw"); code != 230 {
		t.Fatalf("PASS: %d %s", code, msg)
	}
	if code := cl.pasvStor("before.txt", "x"); code != 226 {
		t.Fatalf("STOR before: %d", code)
	}
	if code, msg := cl.cmd("site umask 027"); code != 200 || !strings.Contains(msg, "027 (was 077)") {
		t.Fatalf("SITE UMASK: %d %s", code, msg)
	}
	if code, msg := cl.cmd("SITE UMASK 99"); code != 501 {
		t.Fatalf("bad SITE UMASK: %d %s", code, msg)
	}
	// Other SITE commands still reach ftpserverlib.
	if code, msg := cl.cmd("SITE NOSUCH"); code != 500 || !strings.Contains(msg, "Unknown SITE") {
		t.Fatalf("SITE NOSUCH: %d %s", code, msg)
	}
	if code := cl.pasvStor("after.txt", "hello"); code != 226 {
		t.Fatalf("STOR after: %d", code)
	}
	for name, want := range map[string]os.FileMode{"before.txt": 0o600, "after.txt": 0o640} {
		fi, err := os.Stat(filepath.Join(f.cfg.Root, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", name, fi.Mode().Perm(), err, want)
		}
	}
	sum, n, err := f.Sum("after.txt")
	if err != nil || n != 5 || sum == ([32]byte{}) {
		t.Errorf("Sum: %x %d %v", sum, n, err)
	}
	if len(f.Peers()) != 3 { // control, two data connections
		t.Errorf("peers %v", f.Peers())
	}
	// Active mode is off: only a converted (passive) data connection works.
	if code, msg := cl.cmd("PORT 127,0,0,1,4,1"); code/100 < 4 {
		t.Errorf("PORT accepted: %d %s", code, msg)
	}
	cmds := f.Commands()
	if cmds["PORT"] != 1 || cmds["EPSV"] != 2 || cmds["SITE"] != 3 || cmds["STOR"] != 2 {
		t.Errorf("commands %v", cmds)
	}
}

func TestFTPServerRefusesLogin(t *testing.T) {
	f := startTestFTP(t)
	cl := dialFTP(t, f)
	cl.cmd("USER job")
	if code, msg := cl.cmd("PASS wrong"); code != 530 {
		t.Fatalf("PASS wrong: %d %s", code, msg)
	}
}

func TestFTPServerAnonymous(t *testing.T) {
	for _, allowed := range []bool{false, true} {
		f, err := StartFTPServer(FTPConfig{User: "job", Password: "right-pw", Root: t.TempDir(), Anonymous: allowed})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cl := dialFTP(t, f)
		cl.cmd("USER anonymous")
		code, msg := cl.cmd("PASS me@localhost")
		if (code == 230) != allowed {
			t.Fatalf("anonymous allowed=%v: PASS %d %s", allowed, code, msg)
		}
		if allowed {
			if code, msg := cl.cmd("EPSV"); code != 229 {
				t.Fatalf("EPSV: %d %s", code, msg)
			}
			if code, msg := cl.cmd("STOR x.txt"); code != 550 {
				t.Errorf("anonymous STOR: %d %s", code, msg)
			}
		}
	}
}

func TestFTPServerCloseEndsSessions(t *testing.T) {
	f := startTestFTP(t)
	cl := dialFTP(t, f)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the control connection is still open after Close")
	}
	if _, err := net.Dial("tcp", f.Addr().String()); err == nil {
		t.Fatal("the server still accepts after Close")
	}
}
