package ftp

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
)

// TestSFTPClientCommands drives an ftp-sftp session with jlaffaye/ftp
// (EPSV, data connections through the broker or straight to socksd's
// listener) and checks every effect in the server's directory.
func TestSFTPClientCommands(t *testing.T) {
	for _, tc := range []struct {
		name        string
		direct      bool
		disableEPSV bool
	}{{"socks", false, false}, {"direct", true, false}, {"pasv", false, true}} {
		direct := tc.direct
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			h := newSFTPHarness(t, Options{}, SFTPOptions{})
			h.put("in/hello.txt", "hello\nworld\n")
			c := h.client(ctx, direct, ftp.DialWithDisabledEPSV(tc.disableEPSV))

			if d, err := c.CurrentDir(); err != nil || d != h.dir {
				t.Fatalf("PWD = %q, %v; want %q", d, err, h.dir)
			}
			if err := c.MakeDir("up"); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(filepath.Join(h.dir, "up")); err != nil || !fi.IsDir() {
				t.Fatalf("MKD did not make a directory: %v", err)
			}
			if err := c.ChangeDir("up"); err != nil {
				t.Fatal(err)
			}
			payload := bytes.Repeat([]byte("0123456789abcdef\r\n\x00\xff"), 70000) // > 1 MiB, binary
			if err := c.Stor("bin.dat", bytes.NewReader(payload)); err != nil {
				t.Fatal(err)
			}
			if got := h.file("up/bin.dat"); got != string(payload) {
				t.Fatalf("STOR stored %d bytes, want %d byte-exact", len(got), len(payload))
			}
			if names := h.dirNames("up"); !slices.Equal(names, []string{"bin.dat"}) {
				t.Errorf("server directory after STOR = %v (a temporary file left?)", names)
			}
			r, err := c.Retr("bin.dat")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("RETR got %d bytes (%v), want %d byte-exact", len(got), err, len(payload))
			}
			if n, err := c.FileSize("bin.dat"); err != nil || n != int64(len(payload)) {
				t.Errorf("SIZE = %d, %v", n, err)
			}
			if mt, err := c.GetTime("bin.dat"); err != nil || time.Since(mt) > time.Hour {
				t.Errorf("MDTM = %v, %v", mt, err)
			}
			if err := c.ChangeDirToParent(); err != nil {
				t.Fatal(err)
			}
			entries, err := c.List("in")
			if err != nil || len(entries) != 1 || entries[0].Name != "hello.txt" || entries[0].Size != 12 {
				t.Fatalf("LIST in = %+v, %v", entries, err)
			}
			names, err := c.NameList("in")
			if err != nil || !slices.Equal(names, []string{"hello.txt"}) {
				t.Fatalf("NLST in = %v, %v", names, err)
			}
			if err := c.Rename("in/hello.txt", "up/moved.txt"); err != nil {
				t.Fatal(err)
			}
			h.absent("in/hello.txt")
			if got := h.file("up/moved.txt"); got != "hello\nworld\n" {
				t.Errorf("RNTO target = %q", got)
			}
			if err := c.Delete("up/moved.txt"); err != nil {
				t.Fatal(err)
			}
			h.absent("up/moved.txt")
			if err := c.RemoveDir("in"); err != nil {
				t.Fatal(err)
			}
			h.absent("in")
			if err := c.Delete("nothing-here"); err == nil || !strings.HasPrefix(err.Error(), "550") {
				t.Errorf("DELE of a missing file: %v, want 550", err)
			}
			if err := c.Quit(); err != nil {
				t.Fatal(err)
			}
			if err := h.waitServe(); err != nil {
				t.Errorf("Serve = %v", err)
			}
			a := h.auditList()
			if len(a) < 4 {
				t.Fatalf("audit records: %+v", a)
			}
			stor := a[0]
			if stor.Command != "STOR" || stor.Protocol != "sftp" || stor.Code != 226 || stor.Bytes != int64(len(payload)) || stor.Mode != "passive" {
				t.Errorf("STOR audit = %+v", stor)
			}
			if a[1].Command != "RETR" || a[1].Code != 226 || a[1].Bytes != int64(len(payload)) {
				t.Errorf("RETR audit = %+v", a[1])
			}
			if up, down := h.dataCtr.Up.Load(), h.dataCtr.Down.Load(); up < int64(len(payload)) || down < int64(len(payload)) {
				t.Errorf("DataCounters up %d down %d, want at least %d each", up, down, len(payload))
			}
			if !strings.Contains(h.logBuf.String(), "SOX0319I") {
				t.Errorf("no SOX0319I in the log:\n%s", h.logBuf.String())
			}
		})
	}
}
