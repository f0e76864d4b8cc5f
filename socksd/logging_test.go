package socksd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"socksd/msg"
)

// TestLevelSwitch: the level filters events however their text was set,
// and lifecycle messages (SOX00xx) pass at every level.
func TestLevelSwitch(t *testing.T) {
	var out bytes.Buffer
	sw := NewLevelSwitch(zerolog.ErrorLevel)
	log := zerolog.New(filter{sw: sw, out: &out})
	msg.Log(&log, "SOX0011I", "error").Send()       // lifecycle, info: passes
	msg.Log(&log, "SOX0101I", 1).Send()             // session, info: dropped
	msg.Log(&log, "SOX0103W", "127.0.0.1:1").Send() // warn: dropped
	msg.Log(&log, "SOX0205E", "joe", "h:22").Send() // error: passes
	log.Debug().Msg("plain debug")                  // dropped
	got := out.String()
	for _, want := range []string{"SOX0011I", "SOX0205E"} {
		if !strings.Contains(got, want) {
			t.Errorf("%s filtered out at level error:\n%s", want, got)
		}
	}
	for _, gone := range []string{"SOX0101I", "SOX0103W", "plain debug"} {
		if strings.Contains(got, gone) {
			t.Errorf("%s passed at level error:\n%s", gone, got)
		}
	}
	if err := sw.Set("debug"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	log.Debug().Msg("plain debug")
	if !strings.Contains(out.String(), "plain debug") {
		t.Errorf("debug event dropped at level debug: %q", out.String())
	}
}
