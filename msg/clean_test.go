package msg

import "testing"

func TestClean(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"plain text", 0, "plain text"},
		{"two\r\nlines", 0, "two??lines"},
		{"\x1b[2Jclear", 0, "?[2Jclear"},
		{"caf\u00e9 \xff", 0, "caf? ?"},
		{"abcdefgh", 4, "abcd..."},
		{"abcd", 4, "abcd"},
	} {
		if got := Clean(tt.in, tt.max); got != tt.want {
			t.Errorf("Clean(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
