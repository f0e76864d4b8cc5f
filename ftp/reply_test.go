package ftp

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"socksd/ebcdic"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		line    string
		code    int
		sep     byte
		text    string
		wantErr bool
	}{
		{"220 ready", 220, ' ', "ready", false},
		{"220-first", 220, '-', "first", false},
		{"230", 230, 0, "", false},
		{"099 x", 0, 0, "", true},
		{"600 x", 0, 0, "", true},
		{"22 x", 0, 0, "", true},
		{"2200 x", 0, 0, "", true},
		{"abc", 0, 0, "", true},
		{"", 0, 0, "", true},
	}
	for _, tt := range tests {
		code, sep, text, err := ParseReply(tt.line)
		if (err != nil) != tt.wantErr || code != tt.code || sep != tt.sep || text != tt.text {
			t.Errorf("ParseReply(%q) = %d %q %q %v", tt.line, code, sep, text, err)
		}
		if err != nil && !errors.Is(err, ErrBadReply) {
			t.Errorf("ParseReply(%q) error %v is not ErrBadReply", tt.line, err)
		}
	}
}

func TestReadReply(t *testing.T) {
	in := "220-Welcome\r\n second line\r\n220-still going\r\n220 ready\r\n" +
		"331 Please specify the password.\r\n" +
		"211-Features:\n EPSV\n211 End\n" +
		"230\r\n"
	rr := &ReplyReader{LR: ebcdic.NewLineReader(strings.NewReader(in), 0)}
	want := []Reply{
		{Code: 220, Lines: []string{"220-Welcome", " second line", "220-still going", "220 ready"}},
		{Code: 331, Lines: []string{"331 Please specify the password."}},
		{Code: 211, Lines: []string{"211-Features:", " EPSV", "211 End"}},
		{Code: 230, Lines: []string{"230"}},
	}
	var raw []byte
	for i, w := range want {
		r, err := rr.ReadReply()
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if r.Code != w.Code || !reflect.DeepEqual(r.Lines, w.Lines) {
			t.Fatalf("reply %d = %+v, want %+v", i, r, w)
		}
		raw = append(raw, r.raw...)
	}
	if string(raw) != in {
		t.Fatalf("raw bytes %q differ from input", raw)
	}
	if _, err := rr.ReadReply(); err != io.EOF {
		t.Fatalf("at end: %v", err)
	}
	r := want[0]
	if got := r.Text(); got != "Welcome\n second line\n220-still going\nready" {
		t.Errorf("Text() = %q", got)
	}
}

func TestReadReplyEBCDIC(t *testing.T) {
	var in []byte
	in = append(in, ebcdic.Encode(ebcdic.IBM1047, "220-FTPD1 IBM FTP CS")...)
	in = append(in, 0x0D, 0x25)
	in = append(in, ebcdic.Encode(ebcdic.IBM1047, "220 Connection will close if idle")...)
	in = append(in, 0x15)
	rr := &ReplyReader{LR: ebcdic.NewLineReader(bytes.NewReader(in), 0), CP: ebcdic.IBM1047}
	r, err := rr.ReadReply()
	if err != nil || r.Code != 220 || len(r.Lines) != 2 || r.Lines[1] != "220 Connection will close if idle" {
		t.Fatalf("%+v %v", r, err)
	}
	if rr.Term != ebcdic.TermNL || !bytes.Equal(r.raw, in) {
		t.Fatalf("term %v raw % X", rr.Term, r.raw)
	}
}

func TestReadReplyErrors(t *testing.T) {
	tests := []string{
		"hello\r\n",
		"220-never ends\r\n",
		"99 x\r\n",
		"220-x\r\n" + strings.Repeat("a\r\n", maxReplyLines+1),
	}
	for _, in := range tests {
		rr := &ReplyReader{LR: ebcdic.NewLineReader(strings.NewReader(in), 0)}
		if r, err := rr.ReadReply(); err == nil {
			t.Errorf("%.30q: got %+v", in, r)
		}
	}
}

func TestFormatReply(t *testing.T) {
	if got := FormatReply(200, "ok"); !reflect.DeepEqual(got, []string{"200 ok"}) {
		t.Errorf("%q", got)
	}
	got := FormatReply(211, "a", "b", "c")
	if !reflect.DeepEqual(got, []string{"211-a", " b", "211 c"}) {
		t.Errorf("%q", got)
	}
}

func FuzzReadReply(f *testing.F) {
	f.Add([]byte("220-Welcome\r\n 220 x\r\n220 ready\r\n"), false)
	f.Add([]byte("227 Entering Passive Mode (127,0,0,1,4,1).\r\n"), false)
	f.Add(append(ebcdic.Encode(ebcdic.IBM1047, "230 OK"), 0x15), true)
	f.Fuzz(func(t *testing.T, in []byte, ebc bool) {
		cp := ebcdic.ASCII
		if ebc {
			cp = ebcdic.IBM1047
		}
		rr := &ReplyReader{LR: ebcdic.NewLineReader(bytes.NewReader(in), 256), CP: cp}
		var consumed int
		for i := 0; i < 64; i++ {
			r, err := rr.ReadReply()
			if err != nil {
				return
			}
			if r.Code < 100 || r.Code > 599 || len(r.Lines) == 0 {
				t.Fatalf("bad reply %+v", r)
			}
			c := strconv.Itoa(r.Code)
			if !strings.HasPrefix(r.Lines[0], c) {
				t.Fatalf("first line %q does not start with %s", r.Lines[0], c)
			}
			last := r.Lines[len(r.Lines)-1]
			if len(r.Lines) > 1 && !strings.HasPrefix(last, c+" ") && last != c {
				t.Fatalf("last line %q does not end the reply", last)
			}
			if !bytes.Equal(r.raw, in[consumed:consumed+len(r.raw)]) {
				t.Fatalf("raw bytes are not the input")
			}
			consumed += len(r.raw)
		}
	})
}
