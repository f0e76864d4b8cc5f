package jcl

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// printableLines reports whether data is ASCII text of printable characters
// and newlines whose lines fit an 80-byte record, and returns the lines.
func printableLines(data []byte) ([]string, bool) {
	for _, b := range data {
		if b != '\n' && (b < ' ' || b > '~') {
			return nil, false
		}
	}
	lines, _, err := decodeLines(data, EncodingASCII)
	if err != nil {
		return nil, false
	}
	for _, l := range lines {
		if len(l) > RecordLength {
			return nil, false
		}
	}
	return lines, true
}

// FuzzCheck checks that the validator never panics, that every problem has
// a position inside the input, that problems come sorted, and that a member
// gives the same problems in ASCII and as IBM-1047 records.
func FuzzCheck(f *testing.F) {
	f.Add([]byte(job + "//S1 EXEC PGM=IEFBR14\n"))
	f.Add([]byte("//P PROC A='X'\n//S EXEC PGM=P,PARM='&A'\n// PEND\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		errs := Check("F", data)
		lines, _, err := decodeLines(data, EncodingAuto)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range errs {
			if e.File != "F" || e.Msg == "" {
				t.Fatalf("bad error %#v", e)
			}
			if e.Line < 1 || e.Line > len(lines) {
				t.Fatalf("%v: line outside 1-%d", e, len(lines))
			}
			if e.Column < 1 || e.Column > RecordLength+1 || e.Column > utf8.RuneCountInString(lines[e.Line-1])+2 && e.Column > lastTextColumn+1 {
				t.Fatalf("%v: column outside line %q", e, lines[e.Line-1])
			}
			if i > 0 && (errs[i-1].Line > e.Line || errs[i-1].Line == e.Line && errs[i-1].Column > e.Column) {
				t.Fatalf("errors not sorted: %v", errs)
			}
		}
		ascii, ok := printableLines(data)
		if !ok {
			return
		}
		rec, err := encodeLines(ascii, EncodingIBM1047)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := CheckEncoding("F", data, EncodingASCII)
		got, err := CheckEncoding("F", rec, EncodingIBM1047)
		if err != nil || !equalErrors(got, want) {
			t.Fatalf("IBM-1047 records give %v, ASCII gives %v", got, want)
		}
	})
}

// FuzzReadDeck checks that deck reading never panics, returns trimmed
// lines, and reads the same deck from ASCII and from IBM-1047 records.
func FuzzReadDeck(f *testing.F) {
	f.Add([]byte("USER\nPASS\nput 'A.B' b\nquit\n"), "auto")
	f.Fuzz(func(t *testing.T, data []byte, enc string) {
		got, err := ReadDeck(bytes.NewReader(data), enc)
		if err != nil {
			if _, nerr := NormalizeEncoding(enc); nerr == nil {
				t.Fatalf("valid encoding %q failed: %v", enc, err)
			}
			return
		}
		for _, l := range got {
			if l != strings.TrimSpace(l) {
				t.Fatalf("untrimmed line %q", l)
			}
		}
		if len(got) > 0 && got[len(got)-1] == "" {
			t.Fatal("trailing blank line kept")
		}
		ascii, ok := printableLines(data)
		if !ok {
			return
		}
		rec, err := encodeLines(ascii, EncodingIBM1047)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := ReadDeck(bytes.NewReader(data), EncodingASCII)
		e, err := ReadDeck(bytes.NewReader(rec), EncodingIBM1047)
		if err != nil || !reflect.DeepEqual(a, e) {
			t.Fatalf("IBM-1047 deck %q, ASCII deck %q (%v)", e, a, err)
		}
	})
}

// FuzzExtractInstream checks that in-stream extraction never panics and
// returns only trimmed data lines of the member.
func FuzzExtractInstream(f *testing.F) {
	f.Add([]byte(job+"//S1 EXEC PGM=FTP\n//INPUT DD *\nuser\npass\n/*\n"), "INPUT")
	f.Fuzz(func(t *testing.T, data []byte, dd string) {
		lines, err := ExtractInstream(data, dd)
		if err != nil {
			return
		}
		all, _, _ := decodeLines(data, EncodingAuto)
		text := strings.Join(all, "\n")
		for _, l := range lines {
			if l != strings.TrimSpace(l) || !strings.Contains(text, l) {
				t.Fatalf("line %q is not a trimmed line of the member", l)
			}
		}
	})
}
