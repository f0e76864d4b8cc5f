package ftp

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	jftp "github.com/jlaffaye/ftp"
	"github.com/pkg/sftp"

	"socksd/internal/testing/testpeer"
)

// fakeInfo is an os.FileInfo as pkg/sftp gives it: Sys is *sftp.FileStat.
type fakeInfo struct {
	name string
	size int64
	mode fs.FileMode
	mt   time.Time
	uid  uint32
	gid  uint32
	nost bool // Sys returns nil
}

func (f fakeInfo) Name() string       { return f.name }
func (f fakeInfo) Size() int64        { return f.size }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return f.mt }
func (f fakeInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fakeInfo) Sys() any {
	if f.nost {
		return nil
	}
	return &sftp.FileStat{UID: f.uid, GID: f.gid, Size: uint64(f.size), Mtime: uint32(f.mt.Unix())}
}

func TestListLine(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	recent := time.Date(2026, 3, 5, 14, 3, 0, 0, time.UTC)
	tests := []struct {
		fi   fakeInfo
		want string
	}{
		{fakeInfo{name: "name", size: 1234, mode: 0o644, mt: now.AddDate(0, -1, 0), uid: 1000, gid: 1000},
			"-rw-r--r--    1 1000     1000         1234 Nov  6 12:00 name"},
		{fakeInfo{name: "old", size: 0, mode: 0o600, mt: time.Date(2023, 3, 5, 14, 3, 0, 0, time.UTC)},
			"-rw-------    1 0        0               0 Mar  5  2023 old"},
		{fakeInfo{name: "future", size: 7, mode: 0o644, mt: now.Add(time.Hour)},
			"-rw-r--r--    1 0        0               7 Dec  6  2026 future"},
		{fakeInfo{name: "sub dir", mode: fs.ModeDir | 0o755, mt: now.AddDate(0, -5, 0), uid: 1, gid: 2},
			"drwxr-xr-x    1 1        2               0 Jul  6 12:00 sub dir"},
		{fakeInfo{name: "tmp", mode: fs.ModeDir | fs.ModeSticky | 0o777, mt: recent},
			"drwxrwxrwt    1 0        0               0 Mar  5  2026 tmp"},
		{fakeInfo{name: "link", mode: fs.ModeSymlink | 0o777, mt: now},
			"lrwxrwxrwx    1 0        0               0 Dec  6 12:00 link"},
		{fakeInfo{name: "su", mode: fs.ModeSetuid | fs.ModeSetgid | 0o755, mt: now, size: 1 << 40},
			"-rwsr-sr-x    1 0        0        1099511627776 Dec  6 12:00 su"},
		{fakeInfo{name: "su2", mode: fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o644, mt: now},
			"-rwSr-Sr-T    1 0        0               0 Dec  6 12:00 su2"},
		{fakeInfo{name: "fifo", mode: fs.ModeNamedPipe | 0o600, mt: now},
			"prw-------    1 0        0               0 Dec  6 12:00 fifo"},
		{fakeInfo{name: "tty", mode: fs.ModeDevice | fs.ModeCharDevice | 0o620, mt: now},
			"crw--w----    1 0        0               0 Dec  6 12:00 tty"},
		{fakeInfo{name: "sda", mode: fs.ModeDevice | 0o660, mt: now},
			"brw-rw----    1 0        0               0 Dec  6 12:00 sda"},
		{fakeInfo{name: "sock", mode: fs.ModeSocket | 0o755, mt: now},
			"srwxr-xr-x    1 0        0               0 Dec  6 12:00 sock"},
		{fakeInfo{name: "a\r\nb\x00c", mode: 0o644, mt: now, nost: true},
			"-rw-r--r--    1 0        0               0 Dec  6 12:00 a??b?c"},
		{fakeInfo{name: "local", mode: 0o644, mt: now.In(time.FixedZone("X", 3600))},
			"-rw-r--r--    1 0        0               0 Dec  6 12:00 local"},
	}
	for _, tt := range tests {
		if got := listLine(tt.fi, now); got != tt.want {
			t.Errorf("listLine(%s) =\n%q, want\n%q", tt.fi.name, got, tt.want)
		}
	}
}

func TestMlsxLine(t *testing.T) {
	mt := time.Date(2023, 3, 5, 14, 3, 7, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		fi   fakeInfo
		name string
		want string
	}{
		{fakeInfo{name: "f", size: 1234, mode: 0o644, mt: mt, uid: 1000, gid: 100}, "f",
			"type=file;size=1234;modify=20230305130307;perm=adfrw;UNIX.mode=0644;UNIX.owner=1000;UNIX.group=100; f"},
		{fakeInfo{name: "ro", size: 1, mode: 0o444, mt: mt}, "/abs/ro file",
			"type=file;size=1;modify=20230305130307;perm=r;UNIX.mode=0444;UNIX.owner=0;UNIX.group=0; /abs/ro file"},
		{fakeInfo{name: "d", mode: fs.ModeDir | 0o755, mt: mt}, "d",
			"type=dir;modify=20230305130307;perm=cdfelmp;UNIX.mode=0755;UNIX.owner=0;UNIX.group=0; d"},
		{fakeInfo{name: "t", mode: fs.ModeDir | fs.ModeSticky | 0o555, mt: mt}, "t",
			"type=dir;modify=20230305130307;perm=el;UNIX.mode=1555;UNIX.owner=0;UNIX.group=0; t"},
		{fakeInfo{name: "l", mode: fs.ModeSymlink | 0o777, mt: mt}, "l",
			"type=OS.unix=symlink;size=0;modify=20230305130307;perm=adfrw;UNIX.mode=0777;UNIX.owner=0;UNIX.group=0; l"},
		{fakeInfo{name: "x", mode: 0o000, mt: mt}, "a\nb",
			"type=file;size=0;modify=20230305130307;perm=;UNIX.mode=0000;UNIX.owner=0;UNIX.group=0; a?b"},
	}
	for _, tt := range tests {
		if got := mlsxLine(tt.fi, tt.name); got != tt.want {
			t.Errorf("mlsxLine(%s) =\n%q, want\n%q", tt.name, got, tt.want)
		}
	}
	if got := nlstLine(fakeInfo{name: "a\rb"}); got != "a?b" {
		t.Errorf("nlstLine = %q", got)
	}
}

// listFixture is what the client-parser tests list, times relative to now
// (and to the minute, as a LIST line shows them).
func listFixture(now time.Time) []fakeInfo {
	min := func(d time.Duration) time.Time { return now.Add(-d).UTC().Truncate(time.Minute) }
	day := func(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }
	return []fakeInfo{
		{name: "a.txt", size: 1234, mode: 0o644, mt: min(time.Hour), uid: 1000, gid: 1000},
		{name: "big.bin", size: 68719476736, mode: 0o600, mt: min(40 * 24 * time.Hour), uid: 1000, gid: 1000},
		{name: "name with  spaces.txt", size: 5, mode: 0o644, mt: min(3 * time.Minute), uid: 0, gid: 0},
		{name: "old.dat", size: 99, mode: 0o644, mt: day(2019, 2, 28), uid: 65534, gid: 65534},
		{name: "subdir", size: 4096, mode: fs.ModeDir | 0o755, mt: day(2024, 11, 30), uid: 1000, gid: 1000},
		{name: "HLQ.PDS(MEM)", size: 80, mode: 0o640, mt: min(2 * time.Hour), uid: 1000, gid: 1000},
	}
}

// listServer is a tiny FTP server on 127.0.0.1 that answers LIST, NLST and
// MLSD with the lines of listLine, nlstLine and mlsxLine for files, over
// PASV or EPSV data connections. It has just enough of RFC 959 for
// jlaffaye/ftp and lftp to log in and list.
type listServer struct {
	ln    net.Listener
	files []fakeInfo
	mlst  bool // FEAT names MLST
	now   time.Time
	errs  chan error
}

func startListServer(t *testing.T, files []fakeInfo, now time.Time, mlst bool) *listServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &listServer{ln: ln, files: files, mlst: mlst, now: now, errs: make(chan error, 16)}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *listServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *listServer) serve(c net.Conn) {
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	reply := func(format string, args ...any) { _, _ = fmt.Fprintf(c, format+"\r\n", args...) }
	var pasv net.Listener
	defer func() {
		if pasv != nil {
			_ = pasv.Close()
		}
	}()
	reply("220 list test server")
	for range 200 {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd, _ := ParseCommand(strings.TrimRight(line, "\r\n"))
		switch cmd.Verb {
		case "USER":
			reply("331 password please")
		case "PASS":
			reply("230 logged in")
		case "SYST":
			reply("215 UNIX Type: L8")
		case "FEAT":
			if s.mlst {
				reply("211-Features:\r\n EPSV\r\n MLST type*;size*;modify*;perm*;\r\n211 End")
			} else {
				reply("211-Features:\r\n EPSV\r\n211 End")
			}
		case "PWD":
			reply(`257 "/" is the current directory`)
		case "CWD":
			reply("250 ok")
		case "TYPE", "OPTS", "MODE", "STRU":
			reply("200 ok")
		case "PASV", "EPSV":
			if pasv != nil {
				_ = pasv.Close()
			}
			pasv, err = net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				reply("425 %v", err)
				continue
			}
			p := pasv.Addr().(*net.TCPAddr).Port
			if cmd.Verb == "PASV" {
				reply("227 Entering Passive Mode (127,0,0,1,%d,%d)", p>>8, p&0xff)
			} else {
				reply("229 Entering Extended Passive Mode (|||%d|)", p)
			}
		case "LIST", "NLST", "MLSD":
			if pasv == nil {
				reply("425 no PASV")
				continue
			}
			reply("150 here it comes")
			d, err := pasv.Accept()
			_ = pasv.Close()
			pasv = nil
			if err != nil {
				reply("425 %v", err)
				continue
			}
			w := bufio.NewWriter(d)
			for _, fi := range s.files {
				switch cmd.Verb {
				case "LIST":
					_, _ = w.WriteString(listLine(fi, s.now) + "\r\n")
				case "NLST":
					_, _ = w.WriteString(nlstLine(fi) + "\r\n")
				default:
					_, _ = w.WriteString(mlsxLine(fi, fi.name) + "\r\n")
				}
			}
			_ = w.Flush()
			_ = d.Close()
			reply("226 done")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 %s not implemented", cmd.Verb)
		}
	}
}

// TestListLineJlaffaye lists through github.com/jlaffaye/ftp's parsers, of
// LIST lines and of MLSD lines, over PASV and EPSV.
func TestListLineJlaffaye(t *testing.T) {
	now := time.Now()
	files := listFixture(now)
	for _, mlsd := range []bool{false, true} {
		for _, epsv := range []bool{false, true} {
			t.Run(fmt.Sprintf("mlsd=%v,epsv=%v", mlsd, epsv), func(t *testing.T) {
				s := startListServer(t, files, now, mlsd)
				c, err := jftp.Dial(s.ln.Addr().String(), jftp.DialWithTimeout(30*time.Second), jftp.DialWithDisabledEPSV(!epsv))
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = c.Quit() }()
				if err := c.Login("u", "p"); err != nil {
					t.Fatal(err)
				}
				entries, err := c.List("")
				if err != nil {
					t.Fatal(err)
				}
				if len(entries) != len(files) {
					t.Fatalf("got %d entries, want %d", len(entries), len(files))
				}
				for i, e := range entries {
					fi := files[i]
					wantType := jftp.EntryTypeFile
					if fi.mode.IsDir() {
						wantType = jftp.EntryTypeFolder
					}
					if e.Name != fi.name || e.Type != wantType || !e.Time.Equal(fi.mt) {
						t.Errorf("entry %d = %q %v %v, want %q %v %v", i, e.Name, e.Type, e.Time, fi.name, wantType, fi.mt)
					}
					if !fi.mode.IsDir() && e.Size != uint64(fi.size) {
						t.Errorf("entry %q size %d, want %d", e.Name, e.Size, fi.size)
					}
				}
				names, err := c.NameList("")
				if err != nil {
					t.Fatal(err)
				}
				if len(names) != len(files) || names[2] != files[2].name {
					t.Errorf("NLST names %q", names)
				}
			})
		}
	}
}

// TestListLineLftp lists with lftp, whose LIST and MLSD parsers are
// another client's: each name, size and time must come through.
func TestListLineLftp(t *testing.T) {
	lftp, err := exec.LookPath("lftp")
	if err != nil {
		testpeer.Missing(t, "lftp not found")
		return
	}
	now := time.Now()
	files := listFixture(now)
	for _, mlsd := range []bool{false, true} {
		t.Run(fmt.Sprintf("mlsd=%v", mlsd), func(t *testing.T) {
			s := startListServer(t, files, now, mlsd)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			script := fmt.Sprintf("set ftp:ssl-allow no; set ftp:use-mlsd %v; set ftp:timezone UTC; set net:max-retries 1; set cmd:cls-default -l; "+
				"open ftp://u:p@127.0.0.1:%d; cls -l --block-size=1 --time-style=%%Y-%%m-%%dT%%H:%%M --sort=name", mlsd, s.port())
			cmd := exec.CommandContext(ctx, lftp, "-c", script)
			cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "TZ=UTC", "LC_ALL=C")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("lftp: %v\n%s", err, out)
			}
			// e.g. "-rw-r--r--  1000/1000  1234 2026-12-06T11:00 a.txt"
			lineRE := regexp.MustCompile(`^([-dl])\S*\s+(?:\S+\s+){0,4}?(\d*)\s+(\d{4}-\d\d-\d\dT\d\d:\d\d) (.*)$`)
			type shown struct{ typ, size, when string }
			got := map[string]shown{}
			for l := range strings.Lines(string(out)) {
				m := lineRE.FindStringSubmatch(strings.TrimRight(l, "\r\n"))
				if m == nil {
					t.Errorf("lftp line %q not understood", l)
					continue
				}
				got[strings.TrimSuffix(m[4], "/")] = shown{m[1], m[2], m[3]}
			}
			for _, fi := range files {
				want := shown{"-", strconv.FormatInt(fi.size, 10), fi.mt.UTC().Format("2006-01-02T15:04")}
				g, ok := got[fi.name]
				if fi.mode.IsDir() {
					// A directory's size is not a fact of MLSD; lftp shows
					// what LIST gives.
					want.typ = "d"
					want.size, g.size = "", ""
				}
				if !mlsd && fi.mt.Before(now.AddDate(0, -6, 0)) {
					// A LIST line in year form has no time of day: lftp
					// shows noon.
					want.when, _, _ = strings.Cut(want.when, "T")
					g.when, _, _ = strings.Cut(g.when, "T")
				}
				if !ok || g != want {
					t.Errorf("lftp shows %q as %+v, want %+v\nlftp output:\n%s", fi.name, g, want, out)
				}
			}
		})
	}
}

func FuzzListLine(f *testing.F) {
	f.Add("name", int64(1234), uint32(0o644), int64(1700000000), uint32(1000))
	f.Add("a\r\nb", int64(-1), uint32(0o40000|0o7777), int64(-1), uint32(0))
	f.Fuzz(func(t *testing.T, name string, size int64, mode uint32, mtime int64, uid uint32) {
		fi := fakeInfo{name: name, size: size, mode: fs.FileMode(mode), mt: time.Unix(mtime, 0), uid: uid, gid: uid}
		now := time.Unix(1700000000, 0)
		for _, l := range []string{listLine(fi, now), mlsxLine(fi, name), nlstLine(fi)} {
			if strings.ContainsAny(l, "\r\n\x00") {
				t.Fatalf("line %q holds CR, LF or NUL", l)
			}
		}
		l := listLine(fi, now)
		if len(l) < 10 || !strings.HasSuffix(l, " "+listName(name)) {
			t.Fatalf("listLine = %q", l)
		}
		if fields := strings.Fields(l); len(fields) < 8 || fields[1] != "1" {
			t.Fatalf("listLine = %q has too few fields", l)
		}
		if m := mlsxLine(fi, name); !strings.HasPrefix(m, "type=") || !strings.Contains(m, "; ") {
			t.Fatalf("mlsxLine = %q", m)
		}
	})
}
