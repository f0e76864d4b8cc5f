package ftp

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// chunkReader yields at most n bytes per Read, so that every split of the
// input between Reads is tried.
type chunkReader struct {
	r io.Reader
	n int
}

func (c chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

// readAllWith reads r with buffers of size bufSize.
func readAllWith(t *testing.T, r io.Reader, bufSize int) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, bufSize)
	for range 1 << 20 {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	t.Fatal("reader never ended")
	return nil
}

var longLine = strings.Repeat("x", 200000)

var lineEndTests = []struct {
	name string
	wire string // CRLF form, as on the FTP data connection
	lf   string // the server's form with LineEndLF
}{
	{"empty", "", ""},
	{"one line", "abc\r\n", "abc\n"},
	{"no final newline", "abc\r\ndef", "abc\ndef"},
	{"empty lines", "\r\n\r\n\r\n", "\n\n\n"},
	{"long line", longLine + "\r\n" + longLine, longLine + "\n" + longLine},
	{"bare CR", "a\rb\r\n", "a\rb\n"},
	{"CR at end", "abc\r", "abc\r"},
	{"only CR", "\r", "\r"},
	{"CRCRLF", "a\r\r\nb", "a\r\nb"},
	{"CRCRCR", "\r\r\r", "\r\r\r"},
	{"bare LF", "a\nb\r\n", "a\nb\n"},
	{"LFCR", "a\n\rb", "a\n\rb"},
}

func TestWireToServer(t *testing.T) {
	for _, tt := range lineEndTests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{1, 2, 3, 4, 7, 64, 1 << 20} {
				for _, bufSize := range []int{1, 2, 3, 5, 4096} {
					r := newWireToServer(chunkReader{strings.NewReader(tt.wire), chunk}, LineEndLF)
					if got := readAllWith(t, r, bufSize); string(got) != tt.lf {
						t.Fatalf("chunk %d, buffer %d: got %q, want %q", chunk, bufSize, trunc(got), trunc([]byte(tt.lf)))
					}
				}
			}
			r := newWireToServer(strings.NewReader(tt.wire), LineEndCRLF)
			if got, _ := io.ReadAll(r); string(got) != tt.wire {
				t.Fatalf("crlf: got %q, want the input", trunc(got))
			}
		})
	}
}

// TestWireToServerSplit splits the input at every position into two Reads.
func TestWireToServerSplit(t *testing.T) {
	for _, tt := range lineEndTests {
		if len(tt.wire) > 100 {
			continue
		}
		for i := 0; i <= len(tt.wire); i++ {
			src := io.MultiReader(strings.NewReader(tt.wire[:i]), strings.NewReader(tt.wire[i:]))
			got, err := io.ReadAll(newWireToServer(src, LineEndLF))
			if err != nil || string(got) != tt.lf {
				t.Errorf("%s split at %d: got %q, %v, want %q", tt.name, i, got, err, tt.lf)
			}
		}
	}
}

func TestWireToServerError(t *testing.T) {
	boom := errors.New("boom")
	r := newWireToServer(io.MultiReader(strings.NewReader("a\r"), iotest.ErrReader(boom)), LineEndLF)
	got, err := io.ReadAll(r)
	if !errors.Is(err, boom) || string(got) != "a\r" {
		t.Fatalf("got %q, %v; want \"a\\r\", boom", got, err)
	}
	// Reads of (0, nil) forever end in io.ErrNoProgress, not a hang.
	_, err = io.ReadAll(newWireToServer(emptyReader{}, LineEndLF))
	if !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("endless empty reads: %v, want io.ErrNoProgress", err)
	}
	if err := iotest.TestReader(newWireToServer(strings.NewReader("a\r\nb\rc\r\n"), LineEndLF), []byte("a\nb\rc\n")); err != nil {
		t.Fatal(err)
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestServerToWire(t *testing.T) {
	tests := []struct{ name, lf, wire string }{
		{"empty", "", ""},
		{"lines", "a\nb\n", "a\r\nb\r\n"},
		{"no final newline", "a\nb", "a\r\nb"},
		{"empty lines", "\n\n", "\r\n\r\n"},
		{"long line", longLine + "\n" + longLine, longLine + "\r\n" + longLine},
		{"many lines", strings.Repeat("\n", 100000), strings.Repeat("\r\n", 100000)},
		{"already CRLF", "a\r\nb\n", "a\r\nb\r\n"},
		{"bare CR", "a\rb", "a\rb"},
		{"CRCRLF", "a\r\r\n", "a\r\r\n"},
		{"LFLF", "a\n\n", "a\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{1, 2, 3, 7, 1 << 20} {
				var out bytes.Buffer
				w := newServerToWire(&out, LineEndLF)
				for s := tt.lf; s != ""; {
					n := min(chunk, len(s))
					if m, err := w.Write([]byte(s[:n])); m != n || err != nil {
						t.Fatalf("write = %d, %v", m, err)
					}
					s = s[n:]
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if out.String() != tt.wire {
					t.Fatalf("chunk %d: got %q, want %q", chunk, trunc(out.Bytes()), trunc([]byte(tt.wire)))
				}
			}
			var out bytes.Buffer
			w := newServerToWire(&out, LineEndCRLF)
			_, _ = w.Write([]byte(tt.lf))
			_ = w.Close()
			if out.String() != tt.lf {
				t.Fatalf("crlf: got %q, want the input", trunc(out.Bytes()))
			}
		})
	}
}

// TestServerToWireSplit splits the input at every position into two Writes.
func TestServerToWireSplit(t *testing.T) {
	in := "a\r\nb\n\nc\rd\n"
	want := "a\r\nb\r\n\r\nc\rd\r\n"
	for i := 0; i <= len(in); i++ {
		var out bytes.Buffer
		w := newServerToWire(&out, LineEndLF)
		_, _ = w.Write([]byte(in[:i]))
		_, _ = w.Write([]byte(in[i:]))
		if out.String() != want {
			t.Errorf("split at %d: got %q, want %q", i, out.String(), want)
		}
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestServerToWireError(t *testing.T) {
	boom := errors.New("boom")
	w := newServerToWire(failWriter{boom}, LineEndLF)
	if n, err := w.Write([]byte("a\nb")); !errors.Is(err, boom) || n != 0 {
		t.Fatalf("write = %d, %v; want 0, boom", n, err)
	}
	// Close does not close the underlying writer.
	c := &closeCounter{}
	w = newServerToWire(c, LineEndLF)
	_ = w.Close()
	w = newServerToWire(c, LineEndCRLF)
	_ = w.Close()
	if c.closed != 0 {
		t.Fatal("Close closed the underlying writer")
	}
}

type closeCounter struct {
	bytes.Buffer
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

// TestLineEndRoundTrip: LF text sent through the wire form and back is
// unchanged, for random text split at random places.
func TestLineEndRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab \n\n\t")
	for range 200 {
		in := make([]byte, rng.IntN(3000))
		for i := range in {
			in[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if got := roundTrip(t, in, 1+rng.IntN(50)); !bytes.Equal(got, in) {
			t.Fatalf("round trip of %q gave %q", in, got)
		}
	}
}

// roundTrip sends in through newServerToWire and newWireToServer.
func roundTrip(t *testing.T, in []byte, chunk int) []byte {
	t.Helper()
	var wire bytes.Buffer
	w := newServerToWire(&wire, LineEndLF)
	for s := in; len(s) > 0; {
		n := min(chunk, len(s))
		if _, err := w.Write(s[:n]); err != nil {
			t.Fatal(err)
		}
		s = s[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if bytes.Count(wire.Bytes(), []byte("\n")) != bytes.Count(wire.Bytes(), []byte("\r\n")) {
		t.Fatalf("wire form %q has a bare LF", wire.Bytes())
	}
	got, err := io.ReadAll(newWireToServer(chunkReader{&wire, chunk}, LineEndLF))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func FuzzLineEnd(f *testing.F) {
	f.Add([]byte("a\nb\n\nc"), uint8(1))
	f.Add([]byte(""), uint8(3))
	f.Add([]byte("\n"), uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		if bytes.IndexByte(in, '\r') >= 0 {
			return
		}
		if got := roundTrip(t, in, 1+int(chunk)); !bytes.Equal(got, in) {
			t.Fatalf("round trip of %q gave %q", in, got)
		}
	})
}

// trunc shortens b for an error message.
func trunc(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}
