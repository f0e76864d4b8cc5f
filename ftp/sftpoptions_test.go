package ftp

import (
	"errors"
	"testing"
)

func TestSFTPOptionsCheck(t *testing.T) {
	cases := []struct {
		name  string
		opt   SFTPOptions
		field string // "" = valid
	}{
		{"zero value", SFTPOptions{}, ""},
		{"all set", SFTPOptions{Root: "/srv/data", LineEnd: "crlf", Datasets: "//", Streams: 4}, ""},
		{"upper case", SFTPOptions{LineEnd: "CRLF", Datasets: "Strip-Quotes"}, ""},
		{"path prefix", SFTPOptions{Datasets: "/u/data/"}, ""},
		{"relative root", SFTPOptions{Root: "data/in"}, ""},
		{"bad line end", SFTPOptions{LineEnd: "cr"}, "line_end"},
		{"misspelt strip-quotes", SFTPOptions{Datasets: "strip_quotes"}, "datasets"},
		{"prefix with a quote", SFTPOptions{Datasets: "//'"}, "datasets"},
		{"prefix with blanks", SFTPOptions{Datasets: " //"}, "datasets"},
		{"streams negative", SFTPOptions{Streams: -1}, "streams"},
		{"streams too many", SFTPOptions{Streams: maxStreams + 1}, "streams"},
		{"root with ..", SFTPOptions{Root: "/srv/../etc"}, "root"},
		{"root with a newline", SFTPOptions{Root: "/srv\n"}, "root"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opt.Check()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Field != tc.field {
				t.Fatalf("Check() = %v, want an *OptionError for %s", err, tc.field)
			}
		})
	}
}

func TestSFTPOptionsNormalize(t *testing.T) {
	got := SFTPOptions{LineEnd: "CRLF", Datasets: "STRIP-QUOTES"}.normalize()
	want := SFTPOptions{LineEnd: LineEndCRLF, Datasets: StripQuotes, Streams: 1}
	if got != want {
		t.Fatalf("normalize() = %+v, want %+v", got, want)
	}
}
