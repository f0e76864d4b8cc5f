package ftp

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line    string
		want    Command
		wantErr bool
	}{
		{"USER ibmuser", Command{Verb: "USER", Args: "ibmuser"}, false},
		{"user ibmuser", Command{Verb: "USER", Args: "ibmuser"}, false},
		{"PASS  two  blanks ", Command{Verb: "PASS", Args: "two  blanks "}, false},
		{"PASV", Command{Verb: "PASV"}, false},
		{"RETR 'HLQ.DATA(MEMBER)'", Command{Verb: "RETR", Args: "'HLQ.DATA(MEMBER)'"}, false},
		{"SITE RECFM=FB LRECL=80 BLKSIZE=27920", Command{Verb: "SITE", Args: "RECFM=FB LRECL=80 BLKSIZE=27920"}, false},
		{"QUOTE SITE FILETYPE=JES", Command{Verb: "SITE", Args: "FILETYPE=JES", Quoted: "QUOTE"}, false},
		{"literal site filetype=jes", Command{Verb: "SITE", Args: "filetype=jes", Quoted: "LITERAL"}, false},
		{"QUOTE", Command{Verb: "QUOTE"}, false},
		{"  NOOP", Command{Verb: "NOOP"}, false},
		{"TYPE A N", Command{Verb: "TYPE", Args: "A N"}, false},
		{"", Command{}, true},
		{"   ", Command{}, true},
		{"R3TR x", Command{}, true},
		{"ABCDEFGHIJ", Command{}, true},
		{"\xff\xfe", Command{}, true},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.line)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseCommand(%q) err = %v", tt.line, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrBadCommand) {
				t.Errorf("ParseCommand(%q) err %v is not ErrBadCommand", tt.line, err)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("ParseCommand(%q) = %+v, want %+v", tt.line, got, tt.want)
		}
	}
}

func TestCommandStrings(t *testing.T) {
	c, _ := ParseCommand("pass  secret")
	if s := c.String(); strings.Contains(s, "secret") {
		t.Errorf("String() leaks the password: %q", s)
	}
	if n := c.Normalized(); n != "PASS" {
		t.Errorf("Normalized() = %q", n)
	}
	if w := c.Wire(); w != "PASS secret" {
		t.Errorf("Wire() = %q", w)
	}
	c, _ = ParseCommand("quote site  filetype=jes   jeslrecl=80")
	if n := c.Normalized(); n != "SITE FILETYPE=JES JESLRECL=80" {
		t.Errorf("Normalized() = %q", n)
	}
	if w := c.Wire(); w != "SITE filetype=jes   jeslrecl=80" {
		t.Errorf("Wire() = %q", w)
	}
}

func TestCommandPath(t *testing.T) {
	tests := []struct{ line, want string }{
		{"RETR 'HLQ.DATA(MEMBER)'", "'HLQ.DATA(MEMBER)'"},
		{"STOR file.txt", "file.txt"},
		{"LIST -la /tmp", "/tmp"},
		{"LIST", ""},
		{"TYPE I", ""},
		{"CWD 'SYS1'", "'SYS1'"},
	}
	for _, tt := range tests {
		c, err := ParseCommand(tt.line)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Path(); got != tt.want {
			t.Errorf("%q: Path() = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestDatasetName(t *testing.T) {
	tests := []struct {
		in              string
		name, member    string
		quoted, wantErr bool
	}{
		{"'HLQ.DATA(MEMBER)'", "HLQ.DATA", "MEMBER", true, false},
		{"'HLQ.DATA'", "HLQ.DATA", "", true, false},
		{"DATA(MEM)", "DATA", "MEM", false, false},
		{"'HLQ.DATA", "", "", false, true},
		{"'A(B'", "", "", false, true},
		{"'(B)'", "", "", false, true},
		{"''", "", "", false, true},
		{"A()", "", "", false, true},
	}
	for _, tt := range tests {
		name, member, quoted, err := DatasetName(tt.in)
		if (err != nil) != tt.wantErr || name != tt.name || member != tt.member || quoted != tt.quoted {
			t.Errorf("DatasetName(%q) = %q, %q, %v, %v", tt.in, name, member, quoted, err)
		}
	}
}

func TestParseSite(t *testing.T) {
	got, err := ParseSite("RECFM=FB lrecl=80  BLKSIZE=27920 FILETYPE=JES TRAILING JESJOBNAME='A B'")
	if err != nil {
		t.Fatal(err)
	}
	want := []SiteParam{
		{Key: "RECFM", Value: "FB"}, {Key: "LRECL", Value: "80"}, {Key: "BLKSIZE", Value: "27920"},
		{Key: "FILETYPE", Value: "JES"}, {Key: "TRAILING", Flag: true}, {Key: "JESJOBNAME", Value: "'A B'"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseSite = %+v", got)
	}
	for _, bad := range []string{"=X", "A='B", "RECFM=FB ='x'"} {
		if _, err := ParseSite(bad); err == nil {
			t.Errorf("ParseSite(%q) accepted", bad)
		}
	}
	if p, err := ParseSite(""); err != nil || len(p) != 0 {
		t.Errorf("ParseSite(\"\") = %v, %v", p, err)
	}
}

func TestParseTypeStruMode(t *testing.T) {
	types := []struct {
		in      string
		want    TransferType
		wantErr bool
	}{
		{"A", TransferType{Code: 'A'}, false},
		{"a n", TransferType{Code: 'A', Format: 'N'}, false},
		{"E", TransferType{Code: 'E'}, false},
		{"E T", TransferType{Code: 'E', Format: 'T'}, false},
		{"I", TransferType{Code: 'I'}, false},
		{"L 8", TransferType{Code: 'L', Size: 8}, false},
		{"L", TransferType{}, true},
		{"L 0", TransferType{}, true},
		{"L 9999", TransferType{}, true},
		{"I N", TransferType{}, true},
		{"A X", TransferType{}, true},
		{"X", TransferType{}, true},
		{"", TransferType{}, true},
	}
	for _, tt := range types {
		got, err := ParseType(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseType(%q) = %+v, %v", tt.in, got, err)
		}
		if err == nil {
			if back, err := ParseType(got.String()); err != nil || back != got {
				t.Errorf("ParseType(%q) does not round-trip: %v %v", got.String(), back, err)
			}
		}
	}
	if s, err := ParseStru("r"); err != nil || s != 'R' {
		t.Errorf("ParseStru(r) = %c, %v", s, err)
	}
	if _, err := ParseStru("X"); err == nil {
		t.Error("ParseStru(X) accepted")
	}
	if m, err := ParseMode("B"); err != nil || m != 'B' {
		t.Errorf("ParseMode(B) = %c, %v", m, err)
	}
	if _, err := ParseMode("SS"); err == nil {
		t.Error("ParseMode(SS) accepted")
	}
}

func FuzzParseCommand(f *testing.F) {
	f.Add("USER ibmuser")
	f.Add("QUOTE SITE FILETYPE=JES")
	f.Add("RETR 'HLQ.DATA(MEMBER)'")
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseCommand(line)
		if err != nil {
			if !errors.Is(err, ErrBadCommand) {
				t.Fatalf("error %v is not ErrBadCommand", err)
			}
			return
		}
		if c.Verb == "" || len(c.Verb) > maxVerb || strings.ToUpper(c.Verb) != c.Verb {
			t.Fatalf("bad verb %q", c.Verb)
		}
		// The wire form parses back to the same command (less the QUOTE).
		back, err := ParseCommand(c.Wire())
		if c.Quoted == "" && (err != nil || back != c) {
			t.Fatalf("Wire %q parses to %+v, %v; want %+v", c.Wire(), back, err, c)
		}
		if c.Verb == "PASS" && c.Args != "" && strings.Contains(c.String(), c.Args) && c.Args != "****" {
			t.Fatal("String shows the password")
		}
		if c.Verb == "SITE" {
			_, _ = ParseSite(c.Args)
		}
		if c.Verb == "TYPE" {
			if tt, err := ParseType(c.Args); err == nil {
				if back, err := ParseType(tt.String()); err != nil || back != tt {
					t.Fatalf("TYPE %q round trip %v %v", tt, back, err)
				}
			}
		}
		_, _, _, _ = DatasetName(c.Path())
	})
}

func FuzzParseSite(f *testing.F) {
	f.Add("RECFM=FB LRECL=80 BLKSIZE=27920 FILETYPE=JES")
	f.Add("JESJOBNAME='A B' TRAILING")
	f.Fuzz(func(t *testing.T, s string) {
		params, err := ParseSite(s)
		if err != nil {
			return
		}
		for _, p := range params {
			if p.Key == "" || p.Key != strings.ToUpper(p.Key) || strings.Contains(p.Key, " ") {
				t.Fatalf("bad key %q", p.Key)
			}
			if p.Flag && p.Value != "" {
				t.Fatalf("flag with value %+v", p)
			}
			if strings.Count(p.Value, "'")%2 != 0 {
				t.Fatalf("unbalanced value %q", p.Value)
			}
		}
	})
}

func FuzzDatasetName(f *testing.F) {
	f.Add("'HLQ.DATA(MEMBER)'")
	f.Add("DATA")
	f.Fuzz(func(t *testing.T, s string) {
		name, member, quoted, err := DatasetName(s)
		if err != nil {
			return
		}
		if name == "" || strings.ContainsAny(name, "'(") || strings.ContainsAny(member, "()") {
			t.Fatalf("DatasetName(%q) = %q %q", s, name, member)
		}
		// Formatting the parts again gives the same parts.
		again := name
		if member != "" {
			again += "(" + member + ")"
		}
		if quoted {
			again = "'" + again + "'"
		}
		n2, m2, q2, err := DatasetName(again)
		if err != nil || n2 != name || m2 != member || q2 != quoted {
			t.Fatalf("round trip %q -> %q %q %v %v", again, n2, m2, q2, err)
		}
	})
}
