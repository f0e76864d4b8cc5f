package demo

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseDeckSample(t *testing.T) {
	d, err := sampleDeck()
	if err != nil {
		t.Fatal(err)
	}
	if d.User != "FTPUSER" || d.Password != "PASSWORD" {
		t.Errorf("user %q password %q", d.User, d.Password)
	}
	want := []Step{
		{Line: 3, Verb: "site", Args: []string{"umask 022"}},
		{Line: 4, Verb: "put", Args: []string{"'SOCKSD.FTP.OUTBOUND'", "outbound.txt"}},
		{Line: 5, Verb: "get", Args: []string{"inbound.txt", "'SOCKSD.FTP.INBOUND'"}, Replace: true},
		{Line: 6, Verb: "dir"},
		{Line: 7, Verb: "quit"},
	}
	if !reflect.DeepEqual(d.Steps, want) {
		t.Errorf("steps\n got %#v\nwant %#v", d.Steps, want)
	}
}

func TestParseDeck(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		steps []Step
		err   string // substring; "" = no error
	}{
		{"blank lines skipped, abbreviations", []string{"", "U1", "pw", "", "BIN", "ls", "bye"},
			[]Step{{Line: 5, Verb: "binary"}, {Line: 6, Verb: "ls"}, {Line: 7, Verb: "quit"}}, ""},
		{"quoted operand with blank", []string{"u", "p", "put 'A.B C' x"},
			[]Step{{Line: 3, Verb: "put", Args: []string{"'A.B C'", "x"}}}, ""},
		{"get without replace", []string{"u", "p", "get r 'X.Y'"},
			[]Step{{Line: 3, Verb: "get", Args: []string{"r", "'X.Y'"}}}, ""},
		{"quote keeps the line", []string{"u", "p", "quote  SITE  RECFM=FB"},
			[]Step{{Line: 3, Verb: "quote", Args: []string{"SITE  RECFM=FB"}}}, ""},
		{"cd", []string{"u", "p", "cd /in"}, []Step{{Line: 3, Verb: "cd", Args: []string{"/in"}}}, ""},
		{"empty deck", nil, nil, "no user line"},
		{"only blanks", []string{"", " "}, nil, "no user line"},
		{"no password", []string{"user"}, nil, "no password line"},
		{"user with blank", []string{"a b", "p"}, nil, "one word"},
		{"unknown verb", []string{"u", "p", "mget *"}, nil, `"mget" is not supported`},
		{"unbalanced quote", []string{"u", "p", "put 'A.B"}, nil, "unbalanced quote"},
		{"too many operands", []string{"u", "p", "put a b c"}, nil, "takes 1 to 2 operands"},
		{"missing operand", []string{"u", "p", "get"}, nil, "takes 1 to 2 operands"},
		{"replace on put", []string{"u", "p", "put a b (replace"}, nil, `option "(replace"`},
		{"operands on quit", []string{"u", "p", "quit now"}, nil, "takes 0 to 0"},
		{"long line", []string{"u", "p", "dir " + strings.Repeat("x", 2000)}, nil, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDeck(tt.lines)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				var de *DeckError
				if !errors.As(err, &de) {
					t.Errorf("err %T is not a *DeckError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d.Steps, tt.steps) {
				t.Errorf("steps\n got %#v\nwant %#v", d.Steps, tt.steps)
			}
		})
	}
}

func TestDeckErrorHidesPassword(t *testing.T) {
	_, err := ParseDeck([]string{"u", "sec\nret"})
	if err == nil || strings.Contains(err.Error(), "sec") {
		t.Fatalf("err %v", err)
	}
}

func TestDatasetName(t *testing.T) {
	tests := []struct {
		operand, prefix, want, err string
	}{
		{"'SOCKSD.FTP.OUTBOUND'", "DEMO", "SOCKSD.FTP.OUTBOUND", ""},
		{"'socksd.ftp.in'", "", "SOCKSD.FTP.IN", ""},
		{"data.in", "DEMO", "DEMO.DATA.IN", ""},
		{"'A#@$-1.B'", "", "A#@$-1.B", ""},
		{"inbound.txt", "", "INBOUND.TXT", ""},
		{"'1A.B'", "", "", "bad qualifier"},
		{"'A..B'", "", "", "bad qualifier"},
		{"'ABCDEFGHI.B'", "", "", "bad qualifier"},
		{"'A.B", "", "", "unbalanced"},
		{"'", "", "", "unbalanced"},
		{"''", "", "", "1 to 44"},
		{"'" + strings.Repeat("A.", 22) + "A'", "", "", "1 to 44"},
		{"x/y", "", "", "bad qualifier"},
	}
	for _, tt := range tests {
		got, err := DatasetName(tt.operand, tt.prefix)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("DatasetName(%q, %q) = %q, %v; want error %q", tt.operand, tt.prefix, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("DatasetName(%q, %q) = %q, %v; want %q", tt.operand, tt.prefix, got, err, tt.want)
		}
	}
}

func TestRemoteName(t *testing.T) {
	for in, want := range map[string]string{"SOCKSD.FTP.OUTBOUND": "outbound", "X": "x", "A.B": "b"} {
		if got := RemoteName(in); got != want {
			t.Errorf("RemoteName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseDeck: no panic; a parsed deck's steps print as lines that parse
// back to the same steps.
func FuzzParseDeck(f *testing.F) {
	f.Add("FTPUSER\nPASSWORD\nsite umask 022\nput 'SOCKSD.FTP.OUTBOUND' outbound.txt\nget inbound.txt 'SOCKSD.FTP.INBOUND' (replace\ndir\nquit")
	f.Add("u\np\nput 'A.B C' x\nquote SITE X")
	f.Add("\n\nu\n\n")
	f.Fuzz(func(t *testing.T, text string) {
		lines := strings.Split(text, "\n")
		d, err := ParseDeck(lines)
		if err != nil {
			var de *DeckError
			if !errors.As(err, &de) && !strings.HasPrefix(err.Error(), "demo: ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if len(d.Steps) > len(lines) {
			t.Fatalf("%d steps from %d lines", len(d.Steps), len(lines))
		}
		var again []string
		again = append(again, d.User, d.Password)
		for _, st := range d.Steps {
			if _, ok := verbs[st.Verb]; !ok || verbs[st.Verb].name != st.Verb {
				t.Fatalf("step verb %q is not canonical", st.Verb)
			}
			again = append(again, st.String())
		}
		d2, err := ParseDeck(again)
		if err != nil {
			t.Fatalf("reparse %q: %v", again, err)
		}
		for i := range d.Steps {
			a, b := d.Steps[i], d2.Steps[i]
			a.Line, b.Line = 0, 0
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("round trip: %#v became %#v", a, b)
			}
		}
	})
}

// FuzzDatasetName: a resolved name is a valid data set name that resolves
// to itself when quoted.
func FuzzDatasetName(f *testing.F) {
	f.Add("'SOCKSD.FTP.OUTBOUND'", "DEMO")
	f.Add("inbound.txt", "")
	f.Add("'A..B'", "X")
	f.Fuzz(func(t *testing.T, operand, prefix string) {
		name, err := DatasetName(operand, prefix)
		if err != nil {
			return
		}
		if len(name) == 0 || len(name) > 44 || name != strings.ToUpper(name) {
			t.Fatalf("DatasetName(%q, %q) = %q", operand, prefix, name)
		}
		again, err := DatasetName("'"+name+"'", "OTHER")
		if err != nil || again != name {
			t.Fatalf("quoted %q resolves to %q, %v", name, again, err)
		}
	})
}
