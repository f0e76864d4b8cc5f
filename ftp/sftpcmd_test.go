package ftp

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"socksd/ebcdic"
	"socksd/internal/testing/testpeer"
)

// TestSFTPRawCommands checks the replies of an ftp-sftp session to each
// command a client may send, and their effect on the server's directory.
func TestSFTPRawCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newSFTPHarness(t, Options{Deny: []string{"DELE keep"}}, SFTPOptions{})
	h.put("keep.txt", "0123456789")
	j := h.raw(ctx)

	simple := []struct {
		cmd  string
		code int
		has  string // in the reply text
	}{
		{"SYST", 215, "UNIX"},
		{"NOOP", 200, ""},
		{"FEAT", 211, "REST STREAM"},
		{"OPTS UTF8 ON", 200, ""},
		{"OPTS BOGUS", 501, ""},
		{"HELP", 214, "MLSD"},
		{"MODE S", 200, ""},
		{"MODE B", 504, ""},
		{"STRU F", 200, ""},
		{"STRU R", 504, ""},
		{"TYPE E", 504, ""},
		{"TYPE X", 501, ""},
		{"TYPE L 8", 200, ""},
		{"TYPE A", 200, ""},
		{"SIZE keep.txt", 550, "ASCII"},
		{"REST 5", 504, "ASCII"},
		{"XYZZY", 502, ""},
		{"LPRT 4,4,127,0,0,1,2,200,1", 502, ""},
		{"ACCT x", 202, ""},
		{"USER other", 530, ""},
		{"PASS again", 503, ""},
		{"AUTH TLS", 534, ""},
		{"ABOR", 225, ""},
		{"PWD", 257, `"` + h.dir + `"`},
		{"XPWD", 257, `"` + h.dir + `"`},
		{"STAT", 211, "SFTP"},
		{"STAT keep.txt", 213, "keep.txt"},
		{"MLST keep.txt", 250, "type=file;size=10;"},
		{"CWD keep.txt", 550, "not a directory"},
		{"CWD missing", 550, ""},
		{"RNTO x", 503, ""},
		{"RNFR missing", 550, ""},
		{"RETR keep.txt", 425, ""}, // no PASV/PORT first
		{"DELE keep.txt", 550, "policy"},
		{"TYPE I", 200, ""},
		{"SIZE keep.txt", 213, "10"},
		{"REST x", 501, ""},
		{"SITE", 501, ""},
		{"SITE CHMOD 999 keep.txt", 501, ""},
		{"SITE CHMOD 600 keep.txt", 200, ""},
		{"MKD we\"ird", 257, `"` + h.dir + `/we""ird" created`},
		{"XMKD sub", 257, ""},
		{"XCWD sub", 250, ""},
		{"XCUP", 250, ""},
		{"XRMD sub", 250, ""},
		{"RMD keep.txt", 550, ""},
	}
	for _, c := range simple {
		r := j.cmd(c.cmd, c.code)
		if c.has != "" && !strings.Contains(strings.Join(r.Lines, "\n"), c.has) {
			t.Errorf("%s: reply %q does not hold %q", c.cmd, r.Lines, c.has)
		}
	}
	if !strings.Contains(h.logBuf.String(), "SOX0302W") {
		t.Error("no SOX0302W for the denied DELE")
	}
	if fi, err := os.Stat(filepath.Join(h.dir, "keep.txt")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("SITE CHMOD: %v %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(h.dir, `we"ird`)); err != nil || !fi.IsDir() {
		t.Errorf("MKD: %v", err)
	}
	h.absent("sub")

	// REST STREAM both ways (TYPE I).
	j.cmd("REST 4", 350)
	if b, r := h.retrieve(ctx, j, "RETR keep.txt"); r.Code != 226 || string(b) != "456789" {
		t.Errorf("REST 4 + RETR: %d %q", r.Code, b)
	}
	j.cmd("REST 3", 350)
	if _, r := h.store(ctx, j, "STOR keep.txt", []byte("abc")); r.Code != 226 {
		t.Fatalf("REST 3 + STOR: %q", r.Lines)
	}
	if got := h.file("keep.txt"); got != "012abc" {
		t.Errorf("REST 3 + STOR (a resumed upload ends where its data ends): %q", got)
	}
	if _, r := h.store(ctx, j, "APPE keep.txt", []byte("+end")); r.Code != 226 {
		t.Fatalf("APPE: %q", r.Lines)
	}
	if got := h.file("keep.txt"); got != "012abc+end" {
		t.Errorf("APPE: %q", got)
	}

	// STOU picks a new name each time.
	var stou []string
	for i := 0; i < 2; i++ {
		first, r := h.store(ctx, j, "STOU keep.txt", []byte("u"+string(rune('0'+i))))
		if first.Code != 150 || r.Code != 226 || !strings.HasPrefix(first.Text(), "FILE: ") {
			t.Fatalf("STOU: %q %q", first.Lines, r.Lines)
		}
		name := strings.TrimPrefix(first.Text(), "FILE: ")
		if !strings.Contains(r.Text(), name) {
			t.Errorf("STOU 226 %q does not name %q", r.Lines, name)
		}
		if got := h.file(name); got != "u"+string(rune('0'+i)) {
			t.Errorf("STOU file %s = %q", name, got)
		}
		stou = append(stou, name)
	}
	if stou[0] == stou[1] || stou[0] == "keep.txt" {
		t.Errorf("STOU names %v", stou)
	}

	// SITE parameters of the z/OS client: 200, and in the next transfer's
	// audit record only.
	j.cmd("SITE RECFM=FB LRECL=80 BLKSIZE=27920 TRAILINGBLANKS", 200)
	if _, r := h.store(ctx, j, "STOR 'HLQ.DATA.SET'", []byte("dataset\n")); r.Code != 226 {
		t.Fatalf("STOR data set: %q", r.Lines)
	}
	if got := h.file("HLQ.DATA.SET"); got != "dataset\n" {
		t.Errorf("quoted name with strip-quotes: %q", got)
	}
	if _, r := h.store(ctx, j, "STOR plain", []byte("x")); r.Code != 226 {
		t.Fatalf("STOR: %q", r.Lines)
	}
	a := h.auditList()
	n := len(a)
	if site := a[n-2].Site; !slices.Equal(site, []string{"RECFM=FB", "LRECL=80", "BLKSIZE=27920", "TRAILINGBLANKS"}) {
		t.Errorf("audit SITE = %q", site)
	}
	if a[n-2].Path != "'HLQ.DATA.SET'" || a[n-2].Protocol != "sftp" {
		t.Errorf("audit = %+v", a[n-2])
	}
	if a[n-1].Site != nil {
		t.Errorf("SITE parameters carried to a second transfer: %q", a[n-1].Site)
	}

	// Listings on the data connection.
	b, r := h.retrieve(ctx, j, "MLSD")
	if r.Code != 226 || !strings.Contains(string(b), "type=file;size=10;") || !strings.Contains(string(b), "; keep.txt\r\n") {
		t.Errorf("MLSD: %d %q", r.Code, b)
	}
	b, r = h.retrieve(ctx, j, "NLST")
	if r.Code != 226 || !strings.Contains(string(b), "keep.txt\r\n") || !strings.Contains(string(b), "HLQ.DATA.SET\r\n") {
		t.Errorf("NLST: %d %q", r.Code, b)
	}
	b, r = h.retrieve(ctx, j, "LIST -la")
	if r.Code != 226 || !strings.Contains(string(b), " keep.txt\r\n") || !strings.HasPrefix(string(b), "-") && !strings.HasPrefix(string(b), "d") {
		t.Errorf("LIST -la: %d %q", r.Code, b)
	}
	if _, r = h.retrieve(ctx, j, "MLSD keep.txt"); r.Code != 501 {
		t.Errorf("MLSD of a file: %q", r.Lines)
	}
	if _, r = h.retrieve(ctx, j, "RETR missing"); r.Code != 550 {
		t.Errorf("RETR of a missing file: %q", r.Lines)
	}

	j.cmd("RNFR keep.txt", 350)
	j.cmd("RNTO renamed.txt", 250)
	h.absent("keep.txt")
	h.file("renamed.txt")
	j.cmd("DELE renamed.txt", 250)
	h.absent("renamed.txt")
	j.cmd("QUIT", 221)
	if err := h.waitServe(); err != nil {
		t.Fatal(err)
	}
}

// TestSFTPTypeA converts line ends in TYPE A both ways, for each server
// line end; a bare CR stays as it is.
func TestSFTPTypeA(t *testing.T) {
	tests := []struct {
		lineEnd string
		server  string // the file on the server
		wire    string // the same text on the data connection
	}{
		{LineEndLF, "a\nb\n\nlast p\rq", "a\r\nb\r\n\r\nlast p\rq"},
		{LineEndCRLF, "a\r\nb\r\n\r\nlast p\rq", "a\r\nb\r\n\r\nlast p\rq"},
	}
	for _, tt := range tests {
		t.Run(tt.lineEnd, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			h := newSFTPHarness(t, Options{}, SFTPOptions{LineEnd: tt.lineEnd, Streams: 2})
			h.put("text.txt", tt.server)
			j := h.raw(ctx)
			j.cmd("TYPE A", 200)
			if b, r := h.retrieve(ctx, j, "RETR text.txt"); r.Code != 226 || string(b) != tt.wire {
				t.Errorf("RETR: %d %q, want %q", r.Code, b, tt.wire)
			}
			if _, r := h.store(ctx, j, "STOR back.txt", []byte(tt.wire)); r.Code != 226 {
				t.Fatalf("STOR: %q", r.Lines)
			}
			if got := h.file("back.txt"); got != tt.server {
				t.Errorf("STOR stored %q, want %q", got, tt.server)
			}
			// Binary is byte-exact, over both streams.
			j.cmd("TYPE I", 200)
			bin := testpeer.Data(3<<20, 9)
			if _, r := h.store(ctx, j, "STOR bin", bin); r.Code != 226 {
				t.Fatalf("STOR bin: %q", r.Lines)
			}
			if got := h.file("bin"); got != string(bin) {
				t.Errorf("binary STOR not byte-exact (%d bytes)", len(got))
			}
			if b, r := h.retrieve(ctx, j, "RETR bin"); r.Code != 226 || !bytes.Equal(b, bin) {
				t.Errorf("binary RETR: %d, %d bytes", r.Code, len(b))
			}
			j.cmd("QUIT", 221)
		})
	}
}

// TestSFTPRoot confines the job to [rules.sftp] root.
func TestSFTPRoot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newSFTPHarness(t, Options{}, SFTPOptions{Root: "jail"})
	h.put("jail/in.txt", "inside")
	h.put("secret.txt", "outside")
	j := h.raw(ctx)
	j.cmd("TYPE I", 200)
	if r := j.cmd("PWD", 257); !strings.HasPrefix(r.Text(), `"/"`) {
		t.Errorf("PWD = %q", r.Lines)
	}
	j.cmd("CWD ..", 250)
	if r := j.cmd("PWD", 257); !strings.HasPrefix(r.Text(), `"/"`) {
		t.Errorf("PWD after CWD .. = %q", r.Lines)
	}
	for _, p := range []string{"../secret.txt", "/../secret.txt", h.dir + "/secret.txt"} {
		if _, r := h.retrieve(ctx, j, "RETR "+p); r.Code != 550 {
			t.Errorf("RETR %s: %q", p, r.Lines)
		}
	}
	if b, r := h.retrieve(ctx, j, "RETR /in.txt"); r.Code != 226 || string(b) != "inside" {
		t.Errorf("RETR /in.txt: %q %q", r.Lines, b)
	}
	if _, r := h.store(ctx, j, "STOR ../../up.txt", []byte("up")); r.Code != 226 {
		t.Fatalf("STOR: %q", r.Lines)
	}
	h.absent("up.txt")
	if got := h.file("jail/up.txt"); got != "up" {
		t.Errorf("STOR ../../up.txt landed elsewhere: %q", got)
	}
	b, _ := h.retrieve(ctx, j, "NLST /")
	if strings.Contains(string(b), "secret") {
		t.Errorf("NLST / shows the outside: %q", b)
	}
	j.cmd("RMD /", 550)
	j.cmd("QUIT", 221)
}

// TestSFTPBrokenUpload: the job's data connection breaks in the middle of
// a STOR. The job gets 426, and nothing is under the target name.
func TestSFTPBrokenUpload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newSFTPHarness(t, Options{}, SFTPOptions{})
	j := h.raw(ctx)
	j.cmd("TYPE I", 200)
	dc := h.pasv(ctx, j)
	j.send("STOR cut.bin")
	j.expect150()
	if _, err := dc.Write(testpeer.Data(1<<20, 4)); err != nil {
		t.Fatal(err)
	}
	dc.(*net.TCPConn).SetLinger(0)
	dc.Close() // a reset, not an end of data
	r := final(j)
	if r.Code != 426 {
		t.Fatalf("broken STOR: %q, want 426", r.Lines)
	}
	h.absent("cut.bin")
	if names := h.dirNames(""); len(names) != 0 {
		t.Errorf("left on the server: %v", names)
	}
	a := h.audit(1)
	if a.Code != 426 || a.Error == "" {
		t.Errorf("audit = %+v", a)
	}
	j.cmd("NOOP", 200) // the session goes on
	j.cmd("QUIT", 221)
}

// TestSFTPServerDies: the SFTP connection ends in the middle of a RETR
// and of a STOR. The job never gets 226, and no file is under the STOR's
// name.
func TestSFTPServerDies(t *testing.T) {
	for _, verb := range []string{"RETR", "STOR"} {
		t.Run(verb, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			h := newSFTPHarness(t, Options{}, SFTPOptions{})
			big := testpeer.Data(32<<20, 2)
			if verb == "RETR" {
				h.put("big.bin", string(big))
			}
			j := h.raw(ctx)
			j.cmd("TYPE I", 200)
			dc := h.pasv(ctx, j)
			defer dc.Close()
			j.send(verb + " big.bin")
			j.expect150()
			if verb == "RETR" {
				if _, err := dc.Read(make([]byte, 1)); err != nil {
					t.Fatal(err)
				}
				h.tun.Kill()
				readAll(t, dc)
			} else {
				if _, err := dc.Write(big[:1<<20]); err != nil {
					t.Fatal(err)
				}
				h.tun.Kill()
				go func() { dc.Write(big[1<<20:]); dc.Close() }()
			}
			r := final(j)
			if r.Code/100 == 2 {
				t.Fatalf("%s after the SFTP server died: %q", verb, r.Lines)
			}
			if verb == "STOR" {
				h.absent("big.bin")
			}
			if err := h.waitServe(); err == nil {
				t.Error("the session went on without its SFTP connection")
			}
			if a := h.audit(1); a.Code/100 == 2 {
				t.Errorf("audit = %+v", a)
			}
		})
	}
}

func (j *rawJob) expect150() {
	j.t.Helper()
	if r := j.reply(); r.Code != 150 {
		j.t.Fatalf("want 150, got %q", r.Lines)
	}
}

// TestSFTPActive: PORT to the job's own address (socksd connects), a
// SOCKS BIND (z/OS), a third host refused (RFC 2577), active refused by
// the rule.
func TestSFTPActive(t *testing.T) {
	t.Run("PORT", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		h := newSFTPHarness(t, Options{}, SFTPOptions{})
		h.put("a.txt", "active data")
		j := h.raw(ctx)
		j.cmd("TYPE I", 200)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		arg := FormatEPRT(ln.Addr().(*net.TCPAddr).AddrPort())
		j.cmd("EPRT "+arg, 200)
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
		dc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		j.send("RETR a.txt")
		j.expect150()
		if b := readAll(t, dc); string(b) != "active data" {
			t.Errorf("RETR by PORT: %q", b)
		}
		dc.Close()
		j.expect(226)
		j.cmd("PORT 10,1,2,3,200,1", 504)
		j.cmd("QUIT", 221)
		if a := h.audit(1); a.Mode != "active" || a.Bytes != 11 || a.Code != 226 {
			t.Errorf("audit = %+v", a)
		}
		if !strings.Contains(h.logBuf.String(), "SOX0304W") {
			t.Error("no SOX0304W")
		}
	})
	t.Run("BIND", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		h := newSFTPHarness(t, Options{}, SFTPOptions{})
		j := h.raw(ctx)
		j.cmd("TYPE I", 200)
		link, ok := h.broker.Claim(DataRequest{Bind: true, Client: loopback, Local: daemonAddr, Host: "partner.example", Port: 20})
		if !ok {
			t.Fatal("BIND did not match the session")
		}
		client, bindSock, err := tcpPair()
		if err != nil {
			t.Fatal(err)
		}
		replies := make(chan dataReply, 2)
		go link.Serve(ctx, DataJob{Conn: bindSock, BindWait: 30 * time.Second, Reply: replyTo(replies)})
		next := func() netip.AddrPort {
			select {
			case r := <-replies:
				if r.err != nil {
					t.Fatal(r.err)
				}
				return r.addr
			case <-time.After(30 * time.Second):
				t.Fatal("no BIND reply")
			}
			return netip.AddrPort{}
		}
		ap := next()
		arg, _ := FormatPORT(ap)
		j.cmd("PORT "+arg, 200)
		if peer := next(); peer.Port() != 20 {
			t.Errorf("second BIND reply %v", peer)
		}
		want := testpeer.Data(500<<10, 8)
		j.send("STOR z.bin")
		j.expect150()
		if _, err := client.Write(want); err != nil {
			t.Fatal(err)
		}
		client.(*net.TCPConn).CloseWrite()
		j.expect(226)
		client.Close()
		if got := h.file("z.bin"); got != string(want) {
			t.Errorf("BIND STOR stored %d bytes", len(got))
		}
		j.cmd("QUIT", 221)
	})
	t.Run("refuse", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		h := newSFTPHarness(t, Options{Active: ActiveRefuse}, SFTPOptions{})
		j := h.raw(ctx)
		j.cmd("PORT 127,0,0,1,200,1", 502)
		j.cmd("EPSV", 229) // passive still works
		j.cmd("EPSV ALL", 200)
		j.cmd("PASV", 501)
		j.cmd("EPSV 3", 522)
		j.cmd("EPSV 1", 229)
		j.cmd("QUIT", 221)
	})
}

// TestSFTPLoginFailures: a rejected password gets 530, a refused sftp
// subsystem 421 and SOX0320E.
func TestSFTPLoginFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newSFTPHarness(t, Options{}, SFTPOptions{})
	j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
	j.cmd("USER job", 331)
	j.cmd("PASS wrong", 530)
	if err := h.waitServe(); err == nil {
		t.Error("Serve = nil after a rejected login")
	}

	h.tun.refuse = errRefusedForTest
	j = newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
	j.cmd("USER job", 331)
	r := j.cmd("PASS secret", 421)
	if !strings.Contains(r.Text(), "subsystem request failed") {
		t.Errorf("421 text %q does not give the reason", r.Lines)
	}
	if err := h.waitServe(); err == nil {
		t.Error("Serve = nil after a refused subsystem")
	}
	if !strings.Contains(h.logBuf.String(), "SOX0320E") {
		t.Errorf("no SOX0320E:\n%s", h.logBuf.String())
	}
	if strings.Contains(h.logBuf.String(), "secret") {
		t.Error("the password is in the log")
	}
}

// TestSFTPDatasetsAndPatterns: with a datasets prefix a quoted name is
// written in place (a broken upload leaves it, and the job is told); NLST
// takes a pattern, as z/OS MGET sends.
func TestSFTPDatasetsAndPatterns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newSFTPHarness(t, Options{}, SFTPOptions{})
	h.sopt.Datasets = h.dir + "/ds/"
	h.put("ds/.keep", "")
	h.put("a1.txt", "1")
	h.put("a2.txt", "2")
	h.put("b.txt", "3")
	j := h.raw(ctx)
	j.cmd("TYPE I", 200)
	if _, r := h.store(ctx, j, "STOR 'HLQ.DATA'", []byte("abc")); r.Code != 226 {
		t.Fatalf("STOR data set: %q", r.Lines)
	}
	if got := h.file("ds/HLQ.DATA"); got != "abc" {
		t.Errorf("data set = %q", got)
	}
	dc := h.pasv(ctx, j)
	j.send("STOR 'HLQ.DATA'")
	j.expect150()
	if _, err := dc.Write(testpeer.Data(1<<20, 5)); err != nil {
		t.Fatal(err)
	}
	dc.(*net.TCPConn).SetLinger(0)
	dc.Close()
	if r := final(j); r.Code != 426 || !strings.Contains(r.Text(), "incomplete") {
		t.Errorf("broken in-place STOR: %q", r.Lines)
	}
	h.file("ds/HLQ.DATA") // written in place: still there
	if b, r := h.retrieve(ctx, j, "NLST a*.txt"); r.Code != 226 || string(b) != "a1.txt\r\na2.txt\r\n" {
		t.Errorf("NLST a*.txt: %d %q", r.Code, b)
	}
	if _, r := h.retrieve(ctx, j, "NLST z*"); r.Code != 550 {
		t.Errorf("NLST z*: %q", r.Lines)
	}
	j.cmd("QUIT", 221)
}

// TestSFTPStreams: with streams = 3 the session opens three sftp
// channels, and large TYPE I transfers over them are byte-exact both ways.
func TestSFTPStreams(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	h := newSFTPHarness(t, Options{}, SFTPOptions{Streams: 3})
	big := testpeer.Data(17<<20+12345, 11) // above minStreamed: RETR spreads too
	j := h.raw(ctx)
	h.tun.mu.Lock()
	opened := len(h.tun.streams) / 2
	h.tun.mu.Unlock()
	if opened != 3 {
		t.Errorf("%d sftp channels opened, want 3", opened)
	}
	j.cmd("TYPE I", 200)
	if _, r := h.store(ctx, j, "STOR big", big); r.Code != 226 {
		t.Fatalf("STOR: %q", r.Lines)
	}
	if got := h.file("big"); got != string(big) {
		t.Fatalf("STOR over 3 streams not byte-exact (%d bytes)", len(got))
	}
	if b, r := h.retrieve(ctx, j, "RETR big"); r.Code != 226 || !bytes.Equal(b, big) {
		t.Fatalf("RETR over 3 streams: %d, %d bytes", r.Code, len(b))
	}
	j.cmd("REST 1000", 350)
	if b, r := h.retrieve(ctx, j, "RETR big"); r.Code != 226 || !bytes.Equal(b, big[1000:]) {
		t.Fatalf("REST + RETR over 3 streams: %d, %d bytes", r.Code, len(b))
	}
	j.cmd("QUIT", 221)
	if a := h.audit(1); a.Bytes != int64(len(big)) || a.Code != 226 {
		t.Errorf("audit = %+v", a)
	}
}
