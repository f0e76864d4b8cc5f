package console

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	args := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		in   string
		want Command
	}{
		{"DISPLAY SESSIONS", Command{Verb: VerbDisplay, Object: ObjSessions}},
		{"d s", Command{Verb: VerbDisplay, Object: ObjSessions}},
		{"D SESS", Command{Verb: VerbDisplay, Object: ObjSessions}},
		{"disp sessions", Command{Verb: VerbDisplay, Object: ObjSessions}},
		{"  D   SESSIONS  ", Command{Verb: VerbDisplay, Object: ObjSessions}},
		{"D,SESSIONS", Command{Verb: VerbDisplay, Object: ObjSessions}},
		{"D\tS", Command{Verb: VerbDisplay, Object: ObjSessions}},
		{"D SESSION=12", Command{Verb: VerbDisplay, Object: ObjSession, Args: args(ArgSession, "12")}},
		{"d session = 007", Command{Verb: VerbDisplay, Object: ObjSession, Args: args(ArgSession, "7")}},
		{"D S=3", Command{Verb: VerbDisplay, Object: ObjSession, Args: args(ArgSession, "3")}},
		{"D TUNNELS", Command{Verb: VerbDisplay, Object: ObjTunnels}},
		{"D T", Command{Verb: VerbDisplay, Object: ObjTunnels}},
		{"D FORWARDS", Command{Verb: VerbDisplay, Object: ObjForwards}},
		{"display fw", Command{Verb: VerbDisplay, Object: ObjForwards}},
		{"D RULES", Command{Verb: VerbDisplay, Object: ObjRules}},
		{"d r", Command{Verb: VerbDisplay, Object: ObjRules}},
		{"D STATS", Command{Verb: VerbDisplay, Object: ObjStats}},
		{"D ST", Command{Verb: VerbDisplay, Object: ObjStats}},
		{"D CONFIG", Command{Verb: VerbDisplay, Object: ObjConfig}},
		{"D CFG", Command{Verb: VerbDisplay, Object: ObjConfig}},
		{"D VERSION", Command{Verb: VerbDisplay, Object: ObjVersion}},
		{"D V", Command{Verb: VerbDisplay, Object: ObjVersion}},
		{"D LISTENERS", Command{Verb: VerbDisplay, Object: ObjListeners}},
		{"d l", Command{Verb: VerbDisplay, Object: ObjListeners}},
		{"APPL=D SESSIONS", Command{Verb: VerbDisplay, Object: ObjSessions}},
		{"appl=d,s", Command{Verb: VerbDisplay, Object: ObjSessions}},
		{"APPL= D S", Command{Verb: VerbDisplay, Object: ObjSessions}},
		{"RELOAD", Command{Verb: VerbReload}},
		{"rel", Command{Verb: VerbReload}},
		{"LOGLEVEL=DEBUG", Command{Verb: VerbLogLevel, Args: args(ArgLevel, "DEBUG")}},
		{"loglevel=info", Command{Verb: VerbLogLevel, Args: args(ArgLevel, "INFO")}},
		{"LL=warning", Command{Verb: VerbLogLevel, Args: args(ArgLevel, "WARN")}},
		{"LOGLEVEL ERROR", Command{Verb: VerbLogLevel, Args: args(ArgLevel, "ERROR")}},
		{"LOGLEVEL = error", Command{Verb: VerbLogLevel, Args: args(ArgLevel, "ERROR")}},
		{"APPL=LOGLEVEL=DEBUG", Command{Verb: VerbLogLevel, Args: args(ArgLevel, "DEBUG")}},
		{"TRACE ON", Command{Verb: VerbTrace, Object: ObjOn}},
		{"tr off", Command{Verb: VerbTrace, Object: ObjOff}},
		{"TRACE ON SESSION=5", Command{Verb: VerbTrace, Object: ObjOn, Args: args(ArgSession, "5")}},
		{"TRACE ON,SESSION=5", Command{Verb: VerbTrace, Object: ObjOn, Args: args(ArgSession, "5")}},
		{"TRACE SESSION=5 OFF", Command{Verb: VerbTrace, Object: ObjOff, Args: args(ArgSession, "5")}},
		{"CANCEL SESSION=9", Command{Verb: VerbCancel, Args: args(ArgSession, "9")}},
		{"C SESSION=9", Command{Verb: VerbCancel, Args: args(ArgSession, "9")}},
		{"can s=9", Command{Verb: VerbCancel, Args: args(ArgSession, "9")}},
		{"DROP TUNNEL=ssh-3", Command{Verb: VerbDrop, Args: args(ArgTunnel, "ssh-3")}},
		{"drop t=Abc.1", Command{Verb: VerbDrop, Args: args(ArgTunnel, "Abc.1")}},
		{"QUIESCE", Command{Verb: VerbQuiesce}},
		{"q", Command{Verb: VerbQuiesce}},
		{"RESUME", Command{Verb: VerbResume}},
		{"res", Command{Verb: VerbResume}},
		{"STOP", Command{Verb: VerbStop}},
		{"P", Command{Verb: VerbStop}},
		{"STOP IMMEDIATE", Command{Verb: VerbStop, Object: ObjImmediate}},
		{"p imm", Command{Verb: VerbStop, Object: ObjImmediate}},
		{"STOP NOW", Command{Verb: VerbStop, Object: ObjImmediate}},
		{"HELP", Command{Verb: VerbHelp}},
		{"h", Command{Verb: VerbHelp}},
		{"?", Command{Verb: VerbHelp}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			again, err := Parse(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip of %q via %q = %+v, %v", tt.in, got.String(), again, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in       string
		verb     string // verb the error is about, "" = unknown verb
		reason   string // part of the reason
		wantForm string // a form the error must name
	}{
		{"", "", "empty", "DISPLAY|D SESSIONS|S"},
		{"   ", "", "empty", "HELP|H"},
		{"APPL=", "", "empty", "RELOAD"},
		{"FROB", "", "unknown command", "STOP|P [IMMEDIATE]"},
		{"DISPLAYX S", "", "unknown command", "DISPLAY|D SESSIONS|S"},
		{"=5", "", "unknown command", "HELP"},
		{"D", VerbDisplay, "exactly one operand", "DISPLAY|D TUNNELS|T"},
		{"D S T", VerbDisplay, "exactly one operand", "DISPLAY|D RULES|R"},
		{"D FOO", VerbDisplay, "unknown DISPLAY operand", "DISPLAY|D SESSION=n"},
		{"D TUNNEL=3", VerbDisplay, "unknown DISPLAY operand", "DISPLAY|D SESSION=n"},
		{"D SESSION=", VerbDisplay, "session number", "DISPLAY|D SESSION=n"},
		{"D SESSION=0", VerbDisplay, "session number", "DISPLAY|D SESSION=n"},
		{"D SESSION=-1", VerbDisplay, "session number", "DISPLAY|D SESSION=n"},
		{"D SESSION=x", VerbDisplay, "session number", "DISPLAY|D SESSION=n"},
		{"D SESSION=99999999999999999999999", VerbDisplay, "session number", "DISPLAY|D SESSION=n"},
		{"D=5", VerbDisplay, "takes no value", "DISPLAY|D STATS|ST"},
		{"RELOAD NOW", VerbReload, "no operands", "RELOAD|REL"},
		{"QUIESCE ALL", VerbQuiesce, "no operands", "QUIESCE|Q"},
		{"RESUME X", VerbResume, "no operands", "RESUME|RES"},
		{"HELP ME", VerbHelp, "no operands", "HELP|H"},
		{"LOGLEVEL", VerbLogLevel, "one level", "LOGLEVEL|LL=DEBUG|INFO|WARN|ERROR"},
		{"LOGLEVEL=TRACE", VerbLogLevel, "unknown log level", "LOGLEVEL|LL="},
		{"LOGLEVEL=", VerbLogLevel, "unknown log level", "LOGLEVEL|LL="},
		{"LOGLEVEL=DEBUG INFO", VerbLogLevel, "one level", "LOGLEVEL|LL="},
		{"TRACE", VerbTrace, "ON or OFF", "TRACE|TR ON|OFF [SESSION=n]"},
		{"TRACE ON OFF", VerbTrace, "twice", "TRACE|TR ON|OFF"},
		{"TRACE MAYBE", VerbTrace, "unknown TRACE operand", "TRACE|TR ON|OFF"},
		{"TRACE ON TUNNEL=1", VerbTrace, "unknown TRACE operand", "TRACE|TR ON|OFF"},
		{"TRACE ON SESSION=1 SESSION=2", VerbTrace, "twice", "TRACE|TR ON|OFF"},
		{"TRACE SESSION=1", VerbTrace, "ON or OFF", "TRACE|TR ON|OFF"},
		{"CANCEL", VerbCancel, "needs SESSION=", "CANCEL|C SESSION=n"},
		{"C 12", VerbCancel, "needs SESSION=", "CANCEL|C SESSION=n"},
		{"CANCEL SESSION=1 SESSION=2", VerbCancel, "needs SESSION=", "CANCEL|C SESSION=n"},
		{"CANCEL TUNNEL=1", VerbCancel, "needs SESSION=", "CANCEL|C SESSION=n"},
		{"CANCEL SESSION=abc", VerbCancel, "session number", "CANCEL|C SESSION=n"},
		{"DROP", VerbDrop, "needs TUNNEL=", "DROP TUNNEL=id"},
		{"DROP TUNNEL=", VerbDrop, "tunnel id", "DROP TUNNEL=id"},
		{"DROP TUNNEL=a=b", VerbDrop, "not allowed", "DROP TUNNEL=id"},
		{"DROP TUNNEL=" + strings.Repeat("x", 129), VerbDrop, "tunnel id", "DROP TUNNEL=id"},
		{"STOP LATER", VerbStop, "unknown STOP operand", "STOP|P [IMMEDIATE]"},
		{"STOP IMMEDIATE NOW", VerbStop, "at most", "STOP|P [IMMEDIATE]"},
		{"STOP X=1", VerbStop, "at most", "STOP|P [IMMEDIATE]"},
		{"D S\n", "", "not printable", "DISPLAY"},
		{"D S\x00", "", "not printable", "DISPLAY"},
		{"D S\x1b[2J", "", "not printable", "DISPLAY"},
		{"D SÉSSIONS", "", "not printable", "DISPLAY"},
		{"D " + strings.Repeat("S", MaxCommandLen), "", "longer than", "DISPLAY"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error = %v, want *SyntaxError", tt.in, err)
			}
			if se.Verb != tt.verb {
				t.Errorf("Verb = %q, want %q", se.Verb, tt.verb)
			}
			if !strings.Contains(se.Reason, tt.reason) {
				t.Errorf("Reason = %q, want it to contain %q", se.Reason, tt.reason)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "console: ") || !strings.Contains(msg, tt.wantForm) {
				t.Errorf("Error() = %q, want console: prefix and form %q", msg, tt.wantForm)
			}
			if tt.verb == "" && len(se.Forms) != len(validForms("")) {
				t.Errorf("unknown verb names %d forms, want all %d", len(se.Forms), len(validForms("")))
			}
			if strings.ContainsAny(msg, "\n\x00\x1b") || len(se.Text) > MaxCommandLen {
				t.Errorf("Error() is not safe to print: %q", msg)
			}
		})
	}
}

// TestAbbreviationsDoNotCollide checks that no spelling means two things
// in the same position.
func TestAbbreviationsDoNotCollide(t *testing.T) {
	for word, verb := range verbs {
		if verbs[verb] != verb {
			t.Errorf("canonical verb %s of %s is not itself a verb", verb, word)
		}
	}
	for word, obj := range displayObjects {
		if displayObjects[obj] != obj {
			t.Errorf("canonical object %s of %s is not itself an object", obj, word)
		}
	}
	for _, f := range forms {
		if _, ok := verbs[f.verb]; !ok {
			t.Errorf("form for unknown verb %s", f.verb)
		}
	}
	seen := map[string]bool{}
	for _, f := range forms {
		seen[f.verb] = true
	}
	if len(seen) != 10 {
		t.Errorf("HELP lists %d verbs, want 10", len(seen))
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"D SESSIONS", "APPL=D S", "TRACE ON,SESSION=5", "LOGLEVEL=DEBUG",
		"DROP TUNNEL=x", "STOP IMMEDIATE", "c s = 1", "", "=", "APPL==", "D SESSION=18446744073709551615"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cmd, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %v is not a *SyntaxError", s, err)
			}
			if len(se.Forms) == 0 {
				t.Fatalf("Parse(%q) error names no valid forms", s)
			}
			if strings.ContainsAny(err.Error(), "\r\n\x00") {
				t.Fatalf("Parse(%q) error %q has control characters", s, err)
			}
			return
		}
		if _, ok := verbs[cmd.Verb]; !ok || verbs[cmd.Verb] != cmd.Verb {
			t.Fatalf("Parse(%q) gave non-canonical verb %q", s, cmd.Verb)
		}
		canon := cmd.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) ok but its canonical form %q fails: %v", s, canon, err)
		}
		if !reflect.DeepEqual(again, cmd) {
			t.Fatalf("round trip %q -> %q: %+v != %+v", s, canon, again, cmd)
		}
		if again.String() != canon {
			t.Fatalf("canonical form not stable: %q then %q", canon, again.String())
		}
	})
}
