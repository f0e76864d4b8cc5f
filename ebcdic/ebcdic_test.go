package ebcdic

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

func TestParseCodePage(t *testing.T) {
	tests := []struct {
		in      string
		want    CodePage
		wantErr bool
	}{
		{"ascii", ASCII, false},
		{"ASCII", ASCII, false},
		{"ibm-1047", IBM1047, false},
		{"IBM1047", IBM1047, false},
		{"cp1047", IBM1047, false},
		{"ibm-037", IBM037, false},
		{" ibm037 ", IBM037, false},
		{"auto", 0, true},
		{"ebcdic", IBM1047, false},
		{"Latin1", ASCII, false},
		{"cp37", IBM037, false},
		{"ibm-500", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseCodePage(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseCodePage(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrUnknownCodePage) {
				t.Errorf("ParseCodePage(%q) error %v is not ErrUnknownCodePage", tt.in, err)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("ParseCodePage(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if back, err := ParseCodePage(got.String()); err != nil || back != got {
			t.Errorf("ParseCodePage(%q.String()) = %v, %v", got, back, err)
		}
	}
}

func TestParseCodePageOrAuto(t *testing.T) {
	for _, tc := range []struct {
		in   string
		cp   CodePage
		auto bool
		err  string
	}{
		{"", ASCII, true, ""},
		{" AUTO ", ASCII, true, ""},
		{"IBM-037", IBM037, false, ""},
		{"utf-8", ASCII, false, ""},
		{"martian", 0, false, `ebcdic: unknown code page "martian" (want auto, ascii, ibm-1047 or ibm-037)`},
	} {
		cp, auto, err := ParseCodePageOrAuto(tc.in)
		if tc.err != "" {
			var ce *CodePageError
			if err == nil || err.Error() != tc.err || !errors.As(err, &ce) || !errors.Is(err, ErrUnknownCodePage) {
				t.Errorf("ParseCodePageOrAuto(%q) = %v, want error %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || cp != tc.cp || auto != tc.auto {
			t.Errorf("ParseCodePageOrAuto(%q) = %v %v %v, want %v %v", tc.in, cp, auto, err, tc.cp, tc.auto)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	tests := []struct {
		cp   CodePage
		s    string
		want []byte
	}{
		{ASCII, "USER a", []byte("USER a")},
		{IBM1047, "USER", []byte{0xE4, 0xE2, 0xC5, 0xD9}},
		{IBM1047, "a 1", []byte{0x81, 0x40, 0xF1}},
		{IBM1047, "[]^", []byte{0xAD, 0xBD, 0x5F}},
		{IBM037, "[]^", []byte{0xBA, 0xBB, 0xB0}},
		{IBM1047, "'HLQ.DATA(MEM)'", []byte{0x7D, 0xC8, 0xD3, 0xD8, 0x4B, 0xC4, 0xC1, 0xE3, 0xC1, 0x4D, 0xD4, 0xC5, 0xD4, 0x5D, 0x7D}},
		{IBM1047, "€", []byte{0x3F}}, // not representable
	}
	for _, tt := range tests {
		got := Encode(tt.cp, tt.s)
		if !bytes.Equal(got, tt.want) {
			t.Errorf("Encode(%v, %q) = % X, want % X", tt.cp, tt.s, got, tt.want)
		}
		if tt.s != "€" {
			if back := Decode(tt.cp, got); back != tt.s {
				t.Errorf("Decode(%v, % X) = %q, want %q", tt.cp, got, back, tt.s)
			}
		}
	}
}

func TestTranslate(t *testing.T) {
	src := Encode(IBM1047, "PASS s3cr[e]t^")
	got := Translate(nil, IBM1047, ASCII, src)
	if string(got) != "PASS s3cr[e]t^" {
		t.Fatalf("1047→ASCII = %q", got)
	}
	back := Translate(nil, ASCII, IBM037, got)
	if !bytes.Equal(back, Encode(IBM037, "PASS s3cr[e]t^")) {
		t.Fatalf("ASCII→037 = % X", back)
	}
	// Latin-1 bytes that are not UTF-8 survive as their code points.
	if got := Translate(nil, ASCII, IBM1047, []byte{0xE9}); !bytes.Equal(got, Encode(IBM1047, "é")) {
		t.Fatalf("Latin-1 é = % X", got)
	}
	if got := Translate([]byte("x"), IBM1047, IBM1047, []byte{1, 2}); !bytes.Equal(got, []byte{'x', 1, 2}) {
		t.Fatalf("same code page = % X", got)
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		want   CodePage
		wantOK bool
	}{
		{"ascii user", []byte("USER ibmuser\r\n"), ASCII, true},
		{"ascii reply", []byte("220 (vsFTPd 3.0.3)\r\n"), ASCII, true},
		{"1047 user", append(Encode(IBM1047, "USER ibmuser"), 0x0D, 0x25), IBM1047, true},
		{"1047 NL", append(Encode(IBM1047, "RETR 'HLQ.DATA(MEM)'"), 0x15), IBM1047, true},
		{"037 brackets", Encode(IBM037, "SITE [X] ^Y"), IBM037, true},
		{"1047 brackets", Encode(IBM1047, "SITE [X] ^Y"), IBM1047, true},
		{"037 without special chars is 1047", Encode(IBM037, "PASV"), IBM1047, true},
		{"ebcdic reply", Encode(IBM1047, "220-FTPD1 IBM FTP CS V2R5 at MVS1"), IBM1047, true},
		{"empty", nil, ASCII, false},
		{"binary", []byte{0x00, 0x01, 0x02, 0x03, 0xFF, 0xFE}, ASCII, false},
	}
	for _, tt := range tests {
		got, ok := Detect(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: Detect(% X) = %v, %v; want %v, %v", tt.name, tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestLineReader(t *testing.T) {
	in := []byte("USER a\r\n")
	in = append(in, Encode(IBM1047, "PASS b")...)
	in = append(in, 0x0D, 0x25)
	in = append(in, Encode(IBM1047, "SYST")...)
	in = append(in, 0x15)
	in = append(in, "NOOP\n"...)
	in = append(in, "CR\rinside\r\n"...)
	in = append(in, "100%\r\n"...) // 0x25 is '%' in ASCII: only after CR is it a line end
	in = append(in, "tail"...)
	want := []struct {
		line string
		term Terminator
	}{
		{"USER a", TermCRLF},
		{string(Encode(IBM1047, "PASS b")), TermCR25},
		{string(Encode(IBM1047, "SYST")), TermNL},
		{"NOOP", TermLF},
		{"CR\rinside", TermCRLF},
		{"100%", TermCRLF},
	}
	for _, r := range []io.Reader{bytes.NewReader(in), iotest.OneByteReader(bytes.NewReader(in))} {
		lr := NewLineReader(r, 64)
		for i, w := range want {
			line, term, err := lr.ReadLine()
			if err != nil || string(line) != w.line || term != w.term {
				t.Fatalf("line %d = %q, %v, %v; want %q, %v", i, line, term, err, w.line, w.term)
			}
		}
		line, term, err := lr.ReadLine()
		if string(line) != "tail" || term != TermNone || err != io.ErrUnexpectedEOF {
			t.Fatalf("partial = %q, %v, %v", line, term, err)
		}
		if _, _, err := lr.ReadLine(); err != io.EOF {
			t.Fatalf("after end: %v", err)
		}
	}
}

func TestLineReaderTooLong(t *testing.T) {
	tests := []struct {
		in      string
		wantErr bool
	}{
		{strings.Repeat("a", 8) + "\r\n", false},
		{strings.Repeat("a", 8) + "\r\x25", false},
		{strings.Repeat("a", 8) + "\x15", false},
		{strings.Repeat("a", 9) + "\r\n", true},
		{strings.Repeat("a", 8) + "\rb\r\n", true},
	}
	for _, tt := range tests {
		lr := NewLineReader(strings.NewReader(tt.in), 8)
		line, _, err := lr.ReadLine()
		if tt.wantErr {
			var lte *LineTooLongError
			if !errors.Is(err, ErrLineTooLong) || !errors.As(err, &lte) || lte.Max != 8 {
				t.Errorf("%q: err = %v, want ErrLineTooLong", tt.in, err)
			}
			continue
		}
		if err != nil || len(line) != 8 {
			t.Errorf("%q: %q, %v", tt.in, line, err)
		}
	}
}

func TestLineReaderBufferedAndWipe(t *testing.T) {
	lr := NewLineReader(strings.NewReader("PASS secret\r\nrest of it"), 0)
	line, _, err := lr.ReadLine()
	if err != nil || string(line) != "PASS secret" {
		t.Fatalf("%q %v", line, err)
	}
	lr.Wipe()
	if bytes.Contains(lr.in, []byte("secret")) || bytes.Contains(lr.buf[:cap(lr.buf)], []byte("secret")) {
		t.Fatal("secret still in reader buffers after Wipe")
	}
	if string(line) == "PASS secret" {
		t.Fatal("returned line not wiped")
	}
	if b := lr.Buffered(); string(b) != "rest of it" {
		t.Fatalf("Buffered = %q", b)
	}
}

func TestLineEnd(t *testing.T) {
	if !bytes.Equal(LineEnd(ASCII), []byte("\r\n")) || !bytes.Equal(LineEnd(IBM1047), []byte{0x0D, 0x25}) || !bytes.Equal(LineEnd(IBM037), []byte{0x0D, 0x25}) {
		t.Fatal("LineEnd")
	}
	for _, term := range []Terminator{TermCRLF, TermCR25, TermNL, TermLF} {
		lr := NewLineReader(bytes.NewReader(append([]byte("x"), term.Bytes()...)), 0)
		if _, got, err := lr.ReadLine(); err != nil || got != term {
			t.Errorf("%v: read back %v, %v", term, got, err)
		}
	}
}

// printable returns the printable ASCII characters of s.
func printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r <= 0x7E {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func FuzzEncodeDecode(f *testing.F) {
	f.Add("USER ibmuser")
	f.Add("SITE RECFM=FB LRECL=80 [x]^~{}|\\")
	f.Fuzz(func(t *testing.T, s string) {
		p := printable(s)
		for _, cp := range []CodePage{ASCII, IBM1047, IBM037} {
			enc := Encode(cp, p)
			if len(enc) != len(p) {
				t.Fatalf("%v: %d bytes for %d chars", cp, len(enc), len(p))
			}
			if got := Decode(cp, enc); got != p {
				t.Fatalf("%v: round trip %q -> %q", cp, p, got)
			}
			if got := Translate(nil, cp, ASCII, enc); string(got) != p {
				t.Fatalf("%v: Translate to ASCII %q -> %q", cp, p, got)
			}
		}
		if utf8.ValidString(s) {
			for _, cp := range []CodePage{IBM1047, IBM037} {
				// Every EBCDIC byte string round-trips through Decode.
				enc := Encode(cp, s)
				if !bytes.Equal(Encode(cp, Decode(cp, enc)), enc) {
					t.Fatalf("%v: bytes do not round-trip", cp)
				}
			}
		}
	})
}

func FuzzDetect(f *testing.F) {
	f.Add([]byte("USER anonymous\r\n"))
	f.Add(Encode(IBM1047, "RETR 'A.B(C)'"))
	f.Add(Encode(IBM037, "SITE [X]"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, ok := Detect(b)
		if cp != ASCII && cp != IBM1047 && cp != IBM037 {
			t.Fatalf("Detect returned %v", cp)
		}
		if !ok && cp != ASCII {
			t.Fatalf("Detect returned %v with ok=false", cp)
		}
		if len(b) == 0 && ok {
			t.Fatal("empty input detected")
		}
		// Printable text of at least 4 letters encoded in a code page is
		// detected as that family.
		p := printable(string(b))
		letters := 0
		for _, c := range p {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
				letters++
			}
		}
		if letters*4 >= len(p)*3 && letters >= 4 {
			if cp, ok := Detect([]byte(p)); !ok || cp != ASCII {
				t.Fatalf("ASCII %q detected as %v, %v", p, cp, ok)
			}
			if cp, ok := Detect(Encode(IBM1047, p)); !ok || !cp.IsEBCDIC() {
				t.Fatalf("IBM-1047 %q detected as %v, %v", p, cp, ok)
			}
		}
	})
}

func FuzzLineReader(f *testing.F) {
	f.Add([]byte("USER a\r\nPASS b\r\n"), 16)
	f.Add([]byte{0xE4, 0xE2, 0xC5, 0xD9, 0x0D, 0x25, 0x15, 0x0A, 0x0D}, 4)
	f.Add([]byte("\r\r\r\n"), 1)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		max = max%64 + 1
		if max <= 0 {
			max += 64
		}
		lr := NewLineReader(bytes.NewReader(in), max)
		var rebuilt []byte
		for i := 0; i <= len(in); i++ {
			line, term, err := lr.ReadLine()
			if errors.Is(err, ErrLineTooLong) {
				return
			}
			if len(line) > max {
				t.Fatalf("line of %d bytes with max %d", len(line), max)
			}
			if err == io.EOF {
				if !bytes.Equal(rebuilt, in) {
					t.Fatalf("lines + terminators = % X, input % X", rebuilt, in)
				}
				return
			}
			if (err == nil) == (term == TermNone) {
				t.Fatalf("err %v with terminator %v", err, term)
			}
			rebuilt = append(rebuilt, line...)
			rebuilt = append(rebuilt, term.Bytes()...)
			if err != nil && err != io.ErrUnexpectedEOF {
				t.Fatalf("unexpected error %v", err)
			}
		}
		t.Fatal("more lines than input bytes")
	})
}

// script is a reader that returns its steps in turn: bytes, or an error.
type script struct{ steps []any }

func (s *script) Read(p []byte) (int, error) {
	if len(s.steps) == 0 {
		return 0, io.EOF
	}
	step := s.steps[0]
	s.steps = s.steps[1:]
	if err, ok := step.(error); ok {
		return 0, err
	}
	return copy(p, step.(string)), nil
}

// TestLineReaderResumesAfterDeadline: a read deadline interrupts
// ReadLine without ending the input, and the line goes on where it was.
func TestLineReaderResumesAfterDeadline(t *testing.T) {
	lr := NewLineReader(&script{steps: []any{"RETR pa", os.ErrDeadlineExceeded, "rt\r\nNOOP\r\n", os.ErrDeadlineExceeded, os.ErrDeadlineExceeded}}, 0)
	if _, _, err := lr.ReadLine(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("first ReadLine: %v, want a deadline error", err)
	}
	for _, want := range []string{"RETR part", "NOOP"} {
		line, term, err := lr.ReadLine()
		if err != nil || string(line) != want || term != TermCRLF {
			t.Fatalf("ReadLine = %q %v %v, want %q", line, term, err, want)
		}
	}
	for range 2 {
		if _, _, err := lr.ReadLine(); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("ReadLine at a deadline: %v", err)
		}
	}
	if _, _, err := lr.ReadLine(); err != io.EOF {
		t.Fatalf("at the end: %v, want EOF", err)
	}
}
