package ftp

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"socksd/ebcdic"
	"socksd/internal/testing/testpeer"
)

// plainTunnel is the Plain of a FallbackError: it dials the job's FTP
// server directly (here a fake one at addr, whatever the job named).
type plainTunnel struct{ addr string }

func (p *plainTunnel) Dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, p.addr)
}
func (p *plainTunnel) Server() string { return "partner.example:21 (plain)" }
func (p *plainTunnel) ID() string     { return "plain" }
func (p *plainTunnel) Close() error   { return nil }

// fakeFTP is a tiny FTP server that records the lines it gets.
type fakeFTP struct {
	mu    sync.Mutex
	lines []string
}

func (f *fakeFTP) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	w := func(s string) { c.Write([]byte(s + "\r\n")) }
	w("220 fake FTP server")
	sc := bufio.NewScanner(c)
	for n := 0; n < 100 && sc.Scan(); n++ {
		line := sc.Text()
		f.mu.Lock()
		f.lines = append(f.lines, line)
		f.mu.Unlock()
		verb, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch strings.ToUpper(verb) {
		case "USER":
			w("331 fake password please")
		case "PASS":
			w("230 fake logged in")
		case "NOOP":
			w("200 fake NOOP")
		case "QUIT":
			w("221 fake bye")
			return
		default:
			w("502 fake no")
		}
	}
}

func (f *fakeFTP) got(line string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.lines {
		if l == line {
			return true
		}
	}
	return false
}

// TestFallbackToPlain: the Opener returns a FallbackError (the SSH server
// cannot be reached, the rule has fallback_to_plain). For an ftp-tunnel
// and an ftp-sftp session alike, socksd logs in at the FTP server
// directly with the job's USER and PASS, logs SOX0318W and relays.
func TestFallbackToPlain(t *testing.T) {
	for _, mode := range []string{"ftp-tunnel", "ftp-sftp"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			h := newSFTPHarness(t, Options{}, SFTPOptions{})
			h.tunnelMode = mode == "ftp-tunnel"
			fake := &fakeFTP{}
			plain := &plainTunnel{addr: testpeer.ServeTCP(t, fake.serve)}
			h.open = func(ctx context.Context, user string, pw []byte) (Tunnel, error) {
				return nil, &FallbackError{Err: &TunnelError{Err: errors.New("dial tcp 192.0.2.1:22: connect: no route to host")}, Plain: plain}
			}
			j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
			j.cmd("USER job", 331)
			if r := j.cmd("PASS secret", 230); !strings.Contains(r.Text(), "fake") {
				t.Errorf("230 not the FTP server's: %q", r.Lines)
			}
			if r := j.cmd("NOOP", 200); !strings.Contains(r.Text(), "fake") {
				t.Errorf("NOOP not relayed: %q", r.Lines)
			}
			j.cmd("QUIT", 221)
			if err := h.waitServe(); err != nil {
				t.Fatal(err)
			}
			if !fake.got("USER job") || !fake.got("PASS secret") {
				t.Errorf("the FTP server did not get the login: %q", fake.lines)
			}
			log := h.logBuf.String()
			if !strings.Contains(log, "SOX0318W") || !strings.Contains(log, "no route to host") {
				t.Errorf("no SOX0318W with the reason:\n%s", log)
			}
			if strings.Contains(log, "secret") {
				t.Error("the password is in the log")
			}
		})
	}
}

// TestSFTPEBCDICControl: an IBM-1047 control connection (the z/OS
// client's) works with ftp-sftp: replies in the job's code page, paths
// decoded.
func TestSFTPEBCDICControl(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newSFTPHarness(t, Options{}, SFTPOptions{Datasets: "//"})
	j := newRawJob(t, h.serve(ctx), ebcdic.IBM1047, ebcdic.TermNL, ebcdic.ASCII)
	j.login("job", "secret")
	if r := j.cmd("PWD", 257); !strings.Contains(r.Text(), h.dir) {
		t.Errorf("PWD in IBM-1047: %q", r.Lines)
	}
	j.cmd("SITE RECFM=FB LRECL=80", 200)
	j.cmd("MKD sub", 257)
	j.cmd("CWD sub", 250)
	j.cmd("TYPE A", 200)
	if _, r := h.store(ctx, j, "STOR data.txt", []byte("line 1\r\nline 2\r\n")); r.Code != 226 {
		t.Fatalf("STOR: %q", r.Lines)
	}
	if got := h.file("sub/data.txt"); got != "line 1\nline 2\n" {
		t.Errorf("STOR stored %q", got)
	}
	j.cmd("QUIT", 221)
}
