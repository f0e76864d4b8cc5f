package socksd

import (
	"bytes"
	"strings"
	"testing"

	"socksd/config"
	"socksd/msg"
)

// TestLogLevelFilter: the level switch drops events below its level, but
// daemon lifecycle messages (SOX00xx) pass at any level, also when they
// are written through msg.Log.
func TestLogLevelFilter(t *testing.T) {
	for _, tc := range []struct {
		level string
		want  []string // IDs that reach the log, of those logged below
	}{
		{"debug", []string{"SOX0011I", "SOX0101I", "SOX0111W", "SOX0015W", "SOX0017E"}},
		{"info", []string{"SOX0011I", "SOX0101I", "SOX0111W", "SOX0015W", "SOX0017E"}},
		{"warn", []string{"SOX0011I", "SOX0111W", "SOX0015W", "SOX0017E"}},
		{"error", []string{"SOX0011I", "SOX0015W", "SOX0017E"}},
	} {
		t.Run(tc.level, func(t *testing.T) {
			var buf bytes.Buffer
			log, _, closer, err := NewLogger(config.Log{Level: tc.level, Format: "json"}, &buf)
			if err != nil {
				t.Fatal(err)
			}
			defer closer.Close()
			log.Debug().Msg("plain debug")
			msg.Log(&log, "SOX0011I", "x").Send()
			msg.Log(&log, "SOX0101I", 1).Send()
			msg.Log(&log, "SOX0111W", 1, "x").Send()
			msg.Log(&log, "SOX0015W", "x", "y").Send()
			msg.Log(&log, "SOX0017E", "x", "y").Send()
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				if i := strings.Index(line, `"message":"SOX`); i >= 0 {
					got = append(got, line[i+11:i+19])
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("logged %v, want %v", got, tc.want)
			}
			if plain := strings.Contains(buf.String(), "plain debug"); plain != (tc.level == "debug") {
				t.Errorf("plain debug line logged: %v", plain)
			}
		})
	}
}
