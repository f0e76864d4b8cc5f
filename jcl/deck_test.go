package jcl

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"socksd/ebcdic"
)

var wantDeck = []string{
	"FTPUSER",
	"PASSWORD",
	"site umask 022",
	"put 'SOCKSD.FTP.OUTBOUND' outbound.txt",
	"get inbound.txt 'SOCKSD.FTP.INBOUND' (replace",
	"dir",
	"quit",
}

// toEBCDIC returns text as IBM-1047 fixed 80-byte records and as
// NL-delimited EBCDIC.
func toEBCDIC(t *testing.T, text string) (records, nl []byte) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	rec, err := encodeLines(lines, EncodingIBM1047)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(rec); i += RecordLength {
		nl = append(append(nl, bytes.TrimRight(rec[i:i+RecordLength], "\x40")...), 0x15)
	}
	return rec, nl
}

func TestReadDeck(t *testing.T) {
	text := strings.Join(wantDeck, "\n") + "\n\n"
	rec, nl := toEBCDIC(t, text)
	tests := []struct {
		name string
		data []byte
		enc  string
	}{
		{"ascii", []byte(text), "auto"},
		{"ascii crlf", []byte(strings.ReplaceAll(text, "\n", "\r\n")), "auto"},
		{"ascii named", []byte(text), "ascii"},
		{"ascii padded", []byte("  FTPUSER   \n" + strings.Join(wantDeck[1:], "\n")), "auto"},
		{"ebcdic records", rec, "auto"},
		{"ebcdic records named", rec, "ibm-1047"},
		{"ebcdic newlines", nl, "auto"},
		{"ebcdic crlf", bytes.ReplaceAll(nl, []byte{0x15}, []byte{0x0D, 0x25}), "cp1047"},
	}
	for _, tc := range tests {
		got, err := ReadDeck(bytes.NewReader(tc.data), tc.enc)
		if err != nil || !reflect.DeepEqual(got, wantDeck) {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, wantDeck)
		}
	}
	if _, err := ReadDeck(strings.NewReader("x"), "ebcdic-2"); err == nil {
		t.Error("unknown encoding accepted")
	}
	if _, err := ReadDeck(bytes.NewReader(make([]byte, MaxDeck+1)), "auto"); err == nil {
		t.Error("oversized deck accepted")
	}
	got, err := ReadDeck(strings.NewReader("user\n\npass\n"), "auto")
	if err != nil || !reflect.DeepEqual(got, []string{"user", "", "pass"}) {
		t.Errorf("inner blank line: got %q, %v", got, err)
	}
}

func TestExtractInstream(t *testing.T) {
	sample, err := os.ReadFile("samples/FTPJOB")
	if err != nil {
		t.Fatal(err)
	}
	rec, nl := toEBCDIC(t, string(sample))
	for name, data := range map[string][]byte{"ascii": sample, "ebcdic records": rec, "ebcdic newlines": nl} {
		for _, dd := range []string{"INPUT", "input", "FTP.INPUT"} {
			got, err := ExtractInstream(data, dd)
			if err != nil || !reflect.DeepEqual(got, wantDeck) {
				t.Errorf("%s %s: got %q, %v; want %q", name, dd, got, err, wantDeck)
			}
		}
	}
	m, err := Render(testSite(), "ibm-1047")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ExtractInstream(m["FTPJOB"], "INPUT")
	if err != nil || len(got) != 7 || got[0] != "nightly" || got[1] != "s3cret!x" || got[3] != "put 'PROD.SOCKS.FTP.OUTBOUND' outbound.txt" {
		t.Errorf("test site deck: got %q, %v", got, err)
	}

	if _, err := ExtractInstream(sample, "SYSIN"); !errors.Is(err, ErrDDNotFound) {
		t.Errorf("missing DD: got %v", err)
	}
	if _, err := ExtractInstream(sample, "OTHER.INPUT"); !errors.Is(err, ErrDDNotFound) {
		t.Errorf("wrong step: got %v", err)
	}
	if _, err := ExtractInstream(sample, "OUTPUT"); !errors.Is(err, ErrNotInstream) {
		t.Errorf("SYSOUT DD: got %v", err)
	}
	concat := job + "//S1 EXEC PGM=X\n//IN DD *\na\n//   DD *\nb\n/*\n//OUT DD *\nc\n"
	got, err = ExtractInstream([]byte(concat), "IN")
	if err != nil || !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("concatenation: got %q, %v", got, err)
	}
	dlm := job + "//S1 EXEC PGM=X\n//IN DD DATA,DLM=@@\n//a\n/*\n@@\n"
	got, err = ExtractInstream([]byte(dlm), "IN")
	if err != nil || !reflect.DeepEqual(got, []string{"//a", "/*"}) {
		t.Errorf("DLM: got %q, %v", got, err)
	}
}

func TestEncodingNames(t *testing.T) {
	for in, want := range map[string]string{
		"": "auto", "AUTO": "auto", "ascii": "ascii", "UTF-8": "ascii", "iso8859-1": "ascii",
		"IBM-1047": "ibm-1047", "cp1047": "ibm-1047", "ebcdic": "ibm-1047", "ibm-037": "ibm-037", "CP037": "ibm-037",
	} {
		got, err := NormalizeEncoding(in)
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
	var ee *EncodingError
	if _, err := NormalizeEncoding("ibm-500"); !errors.As(err, &ee) || ee.Name != "ibm-500" || !errors.Is(err, ebcdic.ErrUnknownCodePage) {
		t.Errorf("ibm-500: got %v", err)
	}
	// The constants are ebcdic's canonical names.
	for _, c := range []string{EncodingASCII, EncodingIBM1047, EncodingIBM037} {
		if cp, err := ebcdic.ParseCodePage(c); err != nil || cp.String() != c {
			t.Errorf("%s is not an ebcdic code page name: %v %v", c, cp, err)
		}
	}
}

func TestEncodeLines(t *testing.T) {
	if _, err := encodeLines([]string{strings.Repeat("x", 81)}, "ibm-1047"); err == nil {
		t.Error("81-character line accepted")
	}
	var le *LineTooLongError
	if _, err := encodeLines([]string{"a", strings.Repeat("x", 81)}, "ascii"); !errors.As(err, &le) || le.Line != 2 {
		t.Errorf("got %v, want LineTooLongError for line 2", err)
	}
	if _, err := encodeLines([]string{"☃"}, "ibm-1047"); err == nil {
		t.Error("character outside IBM-1047 accepted")
	}
	b, err := encodeLines([]string{"[]¬"}, "ibm-1047")
	if err != nil || len(b) != 80 || b[0] != 0xAD || b[1] != 0xBD || b[2] != 0xB0 || b[79] != 0x40 {
		t.Errorf("got % X, %v", b[:4], err)
	}
}
