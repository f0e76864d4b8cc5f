package ftp

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"

	"socksd/ebcdic"
	"socksd/internal/testing/testpeer"
)

// TestEBCDICJob runs an IBM-1047 job (each line-end form) against an ASCII
// vsftpd: commands are translated to ASCII, replies to EBCDIC with the
// job's own line end, and the data connection is not translated.
func TestEBCDICJob(t *testing.T) {
	text := "LINE ONE\nLINE TWO [X] ^\n"
	cases := []struct {
		name     string
		encoding string
		term     ebcdic.Terminator
	}{
		{"auto CRLF", "auto", ebcdic.TermCRLF},
		{"auto 0D25", "auto", ebcdic.TermCR25},
		{"auto NL", "auto", ebcdic.TermNL},
		{"fixed 1047 0D25", "ibm-1047", ebcdic.TermCR25},
		{"fixed 1047 NL rewrite", "ibm-1047", ebcdic.TermNL},
	}
	h := newHarness(t, testpeer.VSFTPDConfig{WriteEnable: true}, Options{Data: DataSocks})
	h.v.WriteFile(t, "text.txt", []byte(text))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.opts.Encoding = tc.encoding
			h.opts.Data = DataSocks
			rewrite := strings.HasSuffix(tc.name, "rewrite")
			if rewrite {
				h.opts.Data = DataRewrite
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			greet := ebcdic.ASCII
			if tc.encoding != "auto" {
				greet = ebcdic.IBM1047
			}
			conn := h.serve(ctx)
			j := newRawJob(t, conn, ebcdic.IBM1047, tc.term, greet)
			j.login(h.v.User, h.v.Password)
			if j.rr.Term != tc.term && !(tc.term == ebcdic.TermCRLF && j.rr.Term == ebcdic.TermCRLF) {
				t.Errorf("reply line end %v, want the job's %v", j.rr.Term, tc.term)
			}
			j.cmd("TYPE A", 200)
			r := j.cmd("PASV", 227)
			ap, err := Parse227(r.Lines[0])
			if err != nil {
				t.Fatalf("227 in EBCDIC not parsed: %q %v", r.Lines, err)
			}
			if !rewrite {
				data := h.socksData(ctx, hostOf(h.v.Addr), ap.Port())
				j.cmd("RETR 'text.txt'", 550) // a z/OS data set name, relayed as it is
				data.Close()
			} else {
				j.cmd("RETR 'text.txt'", 550)
			}
			var data net.Conn
			j.cmd("SITE RECFM=FB LRECL=80", 500)
			r = j.cmd("PASV", 227)
			ap, _ = Parse227(r.Lines[0])
			if rewrite {
				// socksd's own 227, in EBCDIC, naming its listener.
				if int(ap.Port()) >= h.v.PasvMin && int(ap.Port()) <= h.v.PasvMax {
					t.Fatalf("227 not rewritten: %q", r.Lines)
				}
				data, err = net.Dial("tcp", ap.String())
				if err != nil {
					t.Fatal(err)
				}
			} else {
				data = h.socksData(ctx, hostOf(h.v.Addr), ap.Port())
			}
			j.send("RETR text.txt")
			if r := j.reply(); r.Code != 150 {
				t.Fatalf("RETR: %d %q", r.Code, r.Lines)
			}
			got := readAll(t, data)
			data.Close()
			j.expect(226)
			if string(got) != text {
				t.Fatalf("data %q: the data connection must not be translated", got)
			}
			j.cmd("QUIT", 221)
			if err := h.waitServe(); err != nil {
				t.Fatal(err)
			}
		})
	}
	if n := h.v.CountLog(`"RETR text.txt"`); n != len(cases) {
		t.Errorf("vsftpd saw %d ASCII RETR commands, want %d:\n%s", n, len(cases), h.v.Log())
	}
	if n := h.v.CountLog(`"SITE RECFM=FB LRECL=80"`); n != len(cases) {
		t.Errorf("SITE not translated (%d)", n)
	}
}

// TestEBCDICServer: an ASCII job against a server that speaks IBM-037 with
// X'15' line ends (a fake, since vsftpd speaks ASCII).
func TestEBCDICServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	seen := make(chan string, 32)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		send := func(s string) { c.Write(append(ebcdic.Encode(ebcdic.IBM037, s), 0x15)) }
		send("220-FTPD1 IBM FTP CS at MVS1 [037]")
		send("220 Connection will close if idle for more than 5 minutes.")
		lr := ebcdic.NewLineReader(c, 0)
		for i := 0; i < 30; i++ {
			line, _, err := lr.ReadLine()
			if err != nil {
				return
			}
			cmd := ebcdic.Decode(ebcdic.IBM037, line)
			seen <- cmd
			switch {
			case strings.HasPrefix(cmd, "USER"):
				send("331 Send password please.")
			case strings.HasPrefix(cmd, "PASS"):
				send("332 Send account for IBMUSER.")
			case strings.HasPrefix(cmd, "ACCT"):
				send("230 IBMUSER is logged on.  Working directory is \"IBMUSER.\".")
			case strings.HasPrefix(cmd, "QUIT"):
				send("221 Quit command received. Goodbye.")
				return
			default:
				send("200 " + cmd + " [ok]")
			}
		}
	}()
	h := &harness{t: t, broker: NewBroker(), errs: make(chan error, 1), opts: Options{}}
	h.v = &testpeer.VSFTPD{Addr: ln.Addr().String(), Password: "pw[1]"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
	j.cmd("USER ibmuser", 331)
	j.cmd("PASS pw[1]", 332)
	r := j.cmd("ACCT D123", 230)
	if !strings.Contains(r.Lines[0], `"IBMUSER."`) {
		t.Errorf("230 %q", r.Lines)
	}
	r = j.cmd("SITE X[1]", 200)
	if r.Lines[0] != "200 SITE X[1] [ok]" {
		t.Errorf("reply %q", r.Lines)
	}
	j.cmd("QUIT", 221)
	if err := h.waitServe(); err != nil {
		t.Fatal(err)
	}
	// The job's commands arrive in order; PASS and ACCT are each followed
	// by socksd's NOOP, padded to the length of the line it overwrites.
	want := []string{"USER ibmuser", "PASS pw[1]", "ACCT D123", "SITE X[1]", "QUIT"}
	var got []string
	noopsAfter := map[string]int{}
	for len(got) < len(want) {
		select {
		case cmd := <-seen:
			if strings.TrimRight(cmd, " ") == "NOOP" && len(got) > 0 {
				if prev := got[len(got)-1]; len(cmd) != len(prev) {
					t.Errorf("NOOP of %d bytes after %q of %d", len(cmd), prev, len(prev))
				}
				noopsAfter[got[len(got)-1]]++
				continue
			}
			got = append(got, cmd)
		default:
			t.Fatalf("server got only %q", got)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("server got %q, want %q", got, want)
	}
	for _, secret := range []string{"PASS pw[1]", "ACCT D123"} {
		if n := noopsAfter[secret]; n != 1 {
			t.Errorf("%d NOOPs after %q, want 1", n, secret)
		}
	}
	if len(noopsAfter) != 2 {
		t.Errorf("NOOPs after %v, want after PASS and ACCT only", noopsAfter)
	}
}
