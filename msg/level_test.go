package msg

import (
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want zerolog.Level
		ok   bool
	}{
		{"debug", zerolog.DebugLevel, true},
		{"INFO", zerolog.InfoLevel, true},
		{"warn", zerolog.WarnLevel, true},
		{"Warning", zerolog.WarnLevel, true},
		{"error", zerolog.ErrorLevel, true},
		{"trace", zerolog.NoLevel, false},
		{"", zerolog.NoLevel, false},
		{" info", zerolog.NoLevel, false},
	}
	for _, tc := range tests {
		got, err := ParseLevel(tc.in)
		var le *LevelError
		switch {
		case tc.ok && (err != nil || got != tc.want):
			t.Errorf("%q: got %v, %v; want %v", tc.in, got, err, tc.want)
		case !tc.ok && (!errors.As(err, &le) || le.Name != tc.in || !strings.Contains(err.Error(), "want debug, info, warn or error")):
			t.Errorf("%q: got %v, %v; want a *LevelError", tc.in, got, err)
		}
	}
	// Every name of the list parses to a level whose own name it is.
	for _, n := range LevelNames {
		if lv, err := ParseLevel(n); err != nil || lv.String() != n {
			t.Errorf("%s: got %v, %v", n, lv, err)
		}
	}
}
