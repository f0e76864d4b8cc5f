package ebcdic

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// record returns s in IBM-1047 as one blank-padded 80-byte record.
func record(s string) []byte {
	b := Encode(IBM1047, s)
	return append(b, bytes.Repeat([]byte{0x40}, RecordLength-len(b))...)
}

// lines returns each line in cp, each followed by the byte end.
func lines(cp CodePage, end byte, ls ...string) []byte {
	var out []byte
	for _, l := range ls {
		out = append(append(out, Encode(cp, l)...), end)
	}
	return out
}

func TestDetectText(t *testing.T) {
	jcl := append(record("//J JOB (ACCT),'SOCKSD'"), record("//S1 EXEC PGM=IEFBR14")...)
	toml := lines(IBM1047, 0x15, "[server]", `listen = ["127.0.0.1:1080"]`)
	toml037 := lines(IBM037, 0x15, "[server]", `listen = ["127.0.0.1:1080"]`)
	long := append(bytes.Repeat(record("//* COMMENT"), 100), []byte("ascii after 4096 bytes")...)
	tests := []struct {
		name string
		data []byte
		want CodePage
	}{
		{"ASCII JCL", []byte("//J JOB\n"), ASCII},
		{"EBCDIC //J", []byte{0x61, 0x61, 0xD1, 0x40}, IBM1047},
		{"ASCII with leading blank line", []byte("  \n//J JOB\n"), ASCII},
		{"ASCII deck", []byte("user pass\nput a b\n"), ASCII},
		{"ASCII UTF-8 comment", []byte("# Grüße\n[server]\n"), ASCII},
		{"EBCDIC records", jcl, IBM1047},
		{"EBCDIC TOML with NL", toml, IBM1047},
		{"IBM-037 TOML: EBCDIC, named explicitly", toml037, IBM1047},
		{"only the first 4096 bytes", long, IBM1047},
		{"empty", nil, ASCII},
		{"undecided", []byte{0x00, 0x01, 0x02, 0x03}, ASCII},
	}
	for _, tc := range tests {
		if got := DetectText(tc.data); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestTextLines(t *testing.T) {
	nl := append(lines(IBM1047, 0x15, "AB"), lines(IBM1047, 0x0D, "CD")...)
	nl = append(append(nl, 0x25), Encode(IBM1047, "EF")...)
	tests := []struct {
		name string
		data []byte
		cp   CodePage
		want []string
	}{
		{"LF", []byte("a\nb\n"), ASCII, []string{"a", "b"}},
		{"CRLF, no final end", []byte("a\r\nb"), ASCII, []string{"a", "b"}},
		{"byte order mark", []byte("\xef\xbb\xbfa\n"), ASCII, []string{"a"}},
		{"Latin-1", []byte("caf\xe9\n"), ASCII, []string{"café"}},
		{"ASCII records", []byte(strings.Repeat("x", 80) + strings.Repeat("y", 80)), ASCII, []string{strings.Repeat("x", 80), strings.Repeat("y", 80)}},
		{"one ASCII line", []byte("abc\r"), ASCII, []string{"abc"}},
		{"EBCDIC NL and CR LF", nl, IBM1047, []string{"AB", "CD", "EF"}},
		{"EBCDIC records, short last", append(record("A"), Encode(IBM1047, "B")...), IBM1047, []string{"A" + strings.Repeat(" ", 79), "B"}},
		{"IBM-037 brackets", lines(IBM037, 0x15, "[x]"), IBM037, []string{"[x]"}},
		{"empty", nil, ASCII, []string{}},
		{"empty EBCDIC", nil, IBM1047, []string{}},
	}
	for _, tc := range tests {
		if got := TextLines(tc.data, tc.cp); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// FuzzTextLines checks that detection and framing never panic, that
// DetectText names ASCII or IBM-1047, and that no line keeps a line end.
func FuzzTextLines(f *testing.F) {
	f.Add([]byte("[server]\nlisten = [\"127.0.0.1:1080\"]\n"))
	f.Add(append(record("//J JOB"), record("//S EXEC PGM=X")...))
	f.Add(lines(IBM1047, 0x15, "[server]", "a = 1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cp := DetectText(data)
		if cp != ASCII && cp != IBM1047 {
			t.Fatalf("DetectText gave %s", cp)
		}
		for _, c := range []CodePage{ASCII, IBM1047, IBM037} {
			for _, l := range TextLines(data, c) {
				if !c.IsEBCDIC() && strings.Contains(l, "\n") {
					t.Fatalf("%s line %q keeps its line end", c, l)
				}
			}
		}
	})
}
