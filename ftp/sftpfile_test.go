package ftp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkg/sftp"
)

// randomBytes is n bytes of a seeded random stream.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// dirNames lists dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// failingReader gives data and then fails with err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// onlyReader hides every method of r but Read (so that pkg/sftp cannot
// learn the length, as with a socket).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestStoreRetrieveExact(t *testing.T) {
	sizes := []int{0, 1, 32768, 100000, 24<<20 + 12345}
	if !testing.Short() {
		sizes = append(sizes, 64<<20)
	}
	for _, streams := range []int{1, 3} {
		cls, _ := testSFTPClients(t, streams)
		dir := t.TempDir()
		for i, size := range sizes {
			t.Run(fmt.Sprintf("streams=%d,size=%d", streams, size), func(t *testing.T) {
				data := randomBytes(size, uint64(i+1))
				target := filepath.Join(dir, fmt.Sprintf("f%d.bin", i))
				n, err := storeFile(cls, storeSpec{Target: target}, onlyReader{bytes.NewReader(data)})
				if err != nil || n != int64(size) {
					t.Fatalf("storeFile = %d, %v; want %d", n, err, size)
				}
				got, err := os.ReadFile(target)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("the server's file differs (%d bytes, %v)", len(got), err)
				}
				var out bytes.Buffer
				n, err = retrieveFile(cls, target, 0, &out)
				if err != nil || n != int64(size) || !bytes.Equal(out.Bytes(), data) {
					t.Fatalf("retrieveFile = %d, %v; data equal %v", n, err, bytes.Equal(out.Bytes(), data))
				}
				// REST: from an offset inside a chunk.
				off := int64(size) / 3
				out.Reset()
				n, err = retrieveFile(cls, target, off, &out)
				if err != nil || n != int64(size)-off || !bytes.Equal(out.Bytes(), data[off:]) {
					t.Fatalf("retrieveFile from %d = %d, %v", off, n, err)
				}
			})
		}
		if names := dirNames(t, dir); len(names) != len(sizes) {
			t.Errorf("files left: %q", names)
		}
	}
}

func TestStoreFailingReader(t *testing.T) {
	boom := errors.New("data connection reset")
	for _, streams := range []int{1, 3} {
		for _, size := range []int{0, 5000, 5 << 20} {
			t.Run(fmt.Sprintf("streams=%d,size=%d", streams, size), func(t *testing.T) {
				cls, _ := testSFTPClients(t, streams)
				dir := t.TempDir()
				target := filepath.Join(dir, "new.txt")
				n, err := storeFile(cls, storeSpec{Target: target}, &failingReader{randomBytes(size, 7), boom})
				if !errors.Is(err, boom) || n != int64(size) {
					t.Fatalf("storeFile = %d, %v; want %d, %v", n, err, size, boom)
				}
				if names := dirNames(t, dir); len(names) != 0 {
					t.Fatalf("files left after a failed upload: %q", names)
				}
				// An existing target stays as it was.
				old := []byte("the old content\n")
				if err := os.WriteFile(target, old, 0o640); err != nil {
					t.Fatal(err)
				}
				_, err = storeFile(cls, storeSpec{Target: target}, &failingReader{randomBytes(size, 8), boom})
				if !errors.Is(err, boom) {
					t.Fatalf("storeFile = %v, want %v", err, boom)
				}
				if got, _ := os.ReadFile(target); !bytes.Equal(got, old) {
					t.Fatalf("target changed by a failed upload: %q", trunc(got))
				}
				if names := dirNames(t, dir); len(names) != 1 {
					t.Fatalf("files left after a failed upload: %q", names)
				}
			})
		}
	}
}

func TestStoreReplaces(t *testing.T) {
	cls, _ := testSFTPClients(t, 1)
	dir := t.TempDir()
	target := filepath.Join(dir, "t.txt")
	if err := os.WriteFile(target, []byte("old old old old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := storeFile(cls, storeSpec{Target: target}, strings.NewReader("new")); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(target)
	fi, _ := os.Stat(target)
	if string(got) != "new" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("target = %q, %v; want \"new\", -rw-------", got, fi.Mode())
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Fatalf("files left: %q", names)
	}
	// A target that cannot be replaced (a directory): the error, no temp.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := storeFile(cls, storeSpec{Target: sub}, strings.NewReader("data")); err == nil {
		t.Fatal("storeFile over a directory succeeded")
	}
	if names := dirNames(t, dir); len(names) != 2 {
		t.Fatalf("files left: %q", names)
	}
	// A missing directory.
	if _, err := storeFile(cls, storeSpec{Target: filepath.Join(dir, "nodir", "x")}, strings.NewReader("data")); err == nil {
		t.Fatal("storeFile into a missing directory succeeded")
	} else if code, _ := sftpReply(err, true); code != 550 {
		t.Fatalf("storeFile into a missing directory: %v gives %d, want 550", err, code)
	}
}

// TestRenameIntoFallback is the rename of a server without
// posix-rename@openssh.com: remove the target, then rename.
func TestRenameIntoFallback(t *testing.T) {
	cls, _ := testSFTPClients(t, 1)
	dir := t.TempDir()
	tmp, target := filepath.Join(dir, "tmp"), filepath.Join(dir, "target")
	for _, exists := range []bool{false, true} {
		if err := os.WriteFile(tmp, []byte("new"), 0o644); err != nil {
			t.Fatal(err)
		}
		if exists {
			if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := renameInto(cls[0], tmp, target, false); err != nil {
			t.Fatalf("target exists %v: %v", exists, err)
		}
		if got, _ := os.ReadFile(target); string(got) != "new" {
			t.Fatalf("target exists %v: target = %q", exists, got)
		}
		if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("target exists %v: temporary file still there", exists)
		}
	}
	if err := renameInto(cls[0], filepath.Join(dir, "missing"), target, false); err == nil {
		t.Fatal("rename of a missing file succeeded")
	}
	if got, _ := os.ReadFile(target); string(got) != "new" {
		t.Fatalf("a failed rename changed the target: %q", got)
	}
	if !hasPosixRename(cls[0]) {
		t.Error("the in-process server has posix-rename@openssh.com")
	}
}

func TestStoreInPlace(t *testing.T) {
	cls, _ := testSFTPClients(t, 3)
	dir := t.TempDir()
	target := filepath.Join(dir, "HLQ.DATA.SET")
	write := func(s string) {
		if err := os.WriteFile(target, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, before string
		spec         storeSpec
		data, after  string
	}{
		{"data set new", "", storeSpec{InPlace: true}, "abc", "abc"},
		{"data set truncates", "0123456789", storeSpec{InPlace: true}, "abc", "abc"},
		{"append", "0123", storeSpec{InPlace: true, Append: true}, "abc", "0123abc"},
		{"append new", "", storeSpec{InPlace: true, Append: true}, "abc", "abc"},
		{"append without InPlace", "01", storeSpec{Append: true}, "abc", "01abc"},
		{"rest", "0123456789", storeSpec{InPlace: true, Offset: 4}, "ab", "0123ab"},
		{"rest at end", "0123", storeSpec{InPlace: true, Offset: 4}, "ab", "0123ab"},
		{"rest long", "0123", storeSpec{InPlace: true, Offset: 2}, "abcdef", "01abcdef"},
	}
	for _, tt := range tests {
		_ = os.Remove(target)
		if tt.before != "" {
			write(tt.before)
		}
		spec := tt.spec
		spec.Target = target
		n, err := storeFile(cls, spec, onlyReader{strings.NewReader(tt.data)})
		if err != nil || n != int64(len(tt.data)) {
			t.Fatalf("%s: storeFile = %d, %v", tt.name, n, err)
		}
		if got, _ := os.ReadFile(target); string(got) != tt.after {
			t.Errorf("%s: file = %q, want %q", tt.name, got, tt.after)
		}
		if names := dirNames(t, dir); len(names) != 1 {
			t.Errorf("%s: files %q", tt.name, names)
		}
	}
	// In place, a failure keeps what was written (the target is the file).
	boom := errors.New("boom")
	_ = os.Remove(target)
	if _, err := storeFile(cls, storeSpec{Target: target, InPlace: true}, &failingReader{[]byte("part"), boom}); !errors.Is(err, boom) {
		t.Fatalf("storeFile = %v, want boom", err)
	}
}

// failAfterWriter fails once it has taken n bytes.
type failAfterWriter struct {
	n   int
	got int
}

var errWriterFull = errors.New("writer full")

func (f *failAfterWriter) Write(p []byte) (int, error) {
	if f.got+len(p) > f.n {
		m := f.n - f.got
		f.got = f.n
		return m, errWriterFull
	}
	f.got += len(p)
	return len(p), nil
}

func TestRetrieveErrors(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "big")
	data := randomBytes(20<<20, 3)
	if err := os.WriteFile(target, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, streams := range []int{1, 3} {
		cls, kill := testSFTPClients(t, streams)
		// The data connection fails midway: the error, no hang.
		w := &failAfterWriter{n: 5 << 20}
		n, err := retrieveFile(cls, target, 0, w)
		if !errors.Is(err, errWriterFull) || n != 5<<20 {
			t.Errorf("streams %d: retrieveFile into a failing writer = %d, %v", streams, n, err)
		}
		_, err = retrieveFile(cls, filepath.Join(dir, "missing"), 0, io.Discard)
		if code, _ := sftpReply(err, true); code != 550 {
			t.Errorf("streams %d: missing file: %v gives %d", streams, err, code)
		}
		// An offset at or past the end sends nothing.
		if n, err := retrieveFile(cls, target, int64(len(data)+5), io.Discard); err != nil || n != 0 {
			t.Errorf("streams %d: retrieve past the end = %d, %v", streams, n, err)
		}
		// The server dies: connection lost.
		kill()
		_, err = retrieveFile(cls, target, 0, io.Discard)
		if code, _ := sftpReply(err, true); code != 426 {
			t.Errorf("streams %d: dead server: %v gives %d, want 426", streams, err, code)
		}
		_, err = storeFile(cls, storeSpec{Target: target}, strings.NewReader("x"))
		if code, _ := sftpReply(err, true); code != 426 {
			t.Errorf("streams %d: store to a dead server: %v gives %d, want 426", streams, err, code)
		}
	}
	if got, _ := os.ReadFile(target); !bytes.Equal(got, data) {
		t.Error("the file changed")
	}
}

// TestStreamsShareTheWork checks that a large transfer over three clients
// goes through each of them.
func TestStreamsShareTheWork(t *testing.T) {
	cls, _, counts := testSFTPClientsCounted(t, 3)
	dir := t.TempDir()
	target := filepath.Join(dir, "big")
	data := randomBytes(32<<20, 11)
	share := func(what string) {
		t.Helper()
		for i, c := range counts {
			if got := c.Swap(0); got < 4<<20 {
				t.Errorf("%s: client %d carried %d bytes", what, i, got)
			}
		}
	}
	if _, err := storeFile(cls, storeSpec{Target: target}, onlyReader{bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	share("store")
	var out bytes.Buffer
	if _, err := retrieveFile(cls, target, 0, &out); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("retrieve: %v", err)
	}
	share("retrieve")
	// A small file goes through the first client only.
	if err := os.WriteFile(target, data[:1<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := retrieveFile(cls, target, 0, io.Discard); err != nil {
		t.Fatal(err)
	}
	if counts[1].Load() != 0 || counts[2].Load() != 0 || counts[0].Load() < 1<<20 {
		t.Errorf("a small retrieve: bytes per client %d %d %d", counts[0].Load(), counts[1].Load(), counts[2].Load())
	}
}

// TestStoreTextMode stores through newWireToServer and retrieves through
// newServerToWire, as TYPE A does.
func TestStoreTextMode(t *testing.T) {
	cls, _ := testSFTPClients(t, 1)
	dir := t.TempDir()
	target := filepath.Join(dir, "text")
	wire := strings.Repeat("line one\r\n\r\n"+strings.Repeat("y", 70000)+"\r\n", 50) + "last"
	lf := strings.ReplaceAll(wire, "\r\n", "\n")
	if _, err := storeFile(cls, storeSpec{Target: target}, newWireToServer(chunkReader{strings.NewReader(wire), 1000}, LineEndLF)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(target); string(got) != lf {
		t.Fatal("the server's file is not the LF form")
	}
	var out bytes.Buffer
	w := newServerToWire(&out, LineEndLF)
	if _, err := retrieveFile(cls, target, 0, w); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	if out.String() != wire {
		t.Fatal("the wire form differs")
	}
}

var _ = sftp.ErrSSHFxOk
