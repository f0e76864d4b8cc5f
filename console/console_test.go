package console

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

func newTestConsole(f Target, log io.Writer) *Console {
	w := zerolog.Nop()
	if log != nil {
		w = zerolog.New(log)
	}
	return New(f, w, WithClock(func() time.Time { return base }))
}

// TestExecuteGolden runs every command against the fake target and
// compares the transcript with testdata/execute.golden.
func TestExecuteGolden(t *testing.T) {
	f := newFake()
	c := newTestConsole(f, nil)
	cmds := []string{
		"D SESSIONS", "D SESSION=12", "D SESSION=3", "D SESSION=77", "D TUNNELS", "D FORWARDS", "D RULES",
		"D STATS", "D CONFIG", "D VERSION", "D LISTENERS", "HELP", "RELOAD", "LOGLEVEL=DEBUG", "TRACE ON",
		"TRACE OFF SESSION=12", "TRACE ON SESSION=404", "CANCEL SESSION=12", "C SESSION=5",
		"DROP TUNNEL=ssh-1", "DROP TUNNEL=nope", "QUIESCE", "D STATS", "QUIESCE", "RESUME",
		"RESUME", "APPL=D V", "FROB", "D", "TRACE", "STOP IMMEDIATE", "P",
	}
	var out bytes.Buffer
	for _, cmd := range cmds {
		resp := c.Execute(cmd)
		fmt.Fprintf(&out, "> %s\n", cmd)
		for _, l := range resp.Lines {
			fmt.Fprintf(&out, "%s\n", l)
		}
		fmt.Fprintf(&out, "[ok=%v]\n\n", resp.OK)
	}
	golden(t, "execute.golden", out.Bytes())
	wantCalls := "Reload; SetLogLevel(debug); Trace(true,0); Trace(false,12); Trace(true,404); " +
		"Cancel(12); Cancel(5); DropTunnel(ssh-1); DropTunnel(nope); Quiesce; Quiesce; Resume; Resume; " +
		"Stop(true); Stop(false)"
	if got := f.Calls(); got != wantCalls {
		t.Errorf("calls on target:\n got %s\nwant %s", got, wantCalls)
	}
}

func TestExecuteResults(t *testing.T) {
	tests := []struct {
		cmd    string
		ok     bool
		header string // prefix of Lines[0]
	}{
		{"D SESSIONS", true, "SOX0410I DISPLAY SESSIONS: 2 active"},
		{"d s", true, "SOX0410I"},
		{"D SESSION=12", true, "SOX0411I DISPLAY SESSION 12"},
		{"D SESSION=99", false, "SOX0403E command failed: session 99 not found"},
		{"D TUNNELS", true, "SOX0412I DISPLAY TUNNELS: 2 open"},
		{"D FORWARDS", true, "SOX0743I DISPLAY FORWARDS: 2 defined"},
		{"d fwd", true, "SOX0743I"},
		{"D RULES", true, "SOX0413I DISPLAY RULES: 2 defined"},
		{"D STATS", true, "SOX0414I"},
		{"D CONFIG", true, "SOX0415I"},
		{"D VERSION", true, "SOX0416I socksd version 1.0.0-test"},
		{"D LISTENERS", true, "SOX0720I DISPLAY LISTENERS: 3 open"},
		{"HELP", true, "SOX0417I"},
		{"RELOAD", true, "SOX0404I command accepted: RELOAD"},
		{"LOGLEVEL=WARN", true, "SOX0011I log level set to WARN"},
		{"TRACE ON SESSION=3", true, "SOX0405I trace ON for session 3"},
		{"TRACE OFF", true, "SOX0405I trace OFF for all sessions"},
		{"TRACE ON SESSION=404", false, "SOX0403E command failed: socksd: session 404 not found"},
		{"CANCEL SESSION=3", true, "SOX0406I session 3 cancelled"},
		{"CANCEL SESSION=4", false, "SOX0403E"},
		{"DROP TUNNEL=ssh-1", true, "SOX0407I tunnel ssh-1 dropped"},
		{"QUIESCE", true, "SOX0005I quiesce: new sessions are refused, 2 sessions running"},
		{"RESUME", false, "SOX0403E command failed: socksd: not quiesced"},
		{"STOP", true, "SOX0404I command accepted: STOP"},
		{"what", false, "SOX0402E unknown or malformed command: what: unknown command"},
		{"", false, "SOX0402E"},
		{"D S\x1b[2J", false, "SOX0402E"},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			c := newTestConsole(newFake(), nil)
			resp := c.Execute(tt.cmd)
			if resp.OK != tt.ok || len(resp.Lines) == 0 || !strings.HasPrefix(resp.Lines[0], tt.header) {
				t.Fatalf("Execute(%q) = %v %q, want ok=%v header %q", tt.cmd, resp.OK, resp.Lines, tt.ok, tt.header)
			}
			for _, l := range resp.Lines {
				if strings.ContainsAny(l, "\r\n\x00\x1b") {
					t.Errorf("reply line %q has a control character", l)
				}
			}
		})
	}
}

func TestReloadRejected(t *testing.T) {
	f := newFake()
	f.reloadErr = errors.New("config: /etc/socksd/socksd.toml:14: unknown key \"lisen\"")
	var log bytes.Buffer
	c := newTestConsole(f, &log)
	resp := c.Execute("RELOAD")
	want := `SOX0004E configuration rejected, old rules stay: config: /etc/socksd/socksd.toml:14: unknown key "lisen"`
	if resp.OK || resp.Lines[0] != want {
		t.Fatalf("got %v %q, want failure %q", resp.OK, resp.Lines, want)
	}
	// The target logs the rejection itself; the console logs the command.
	if strings.Contains(log.String(), "SOX0004E") || !strings.Contains(log.String(), "SOX0401I command from api: RELOAD") {
		t.Errorf("log is not the command alone: %s", log.String())
	}
}

// TestExecuteLogsCommand: every command is logged, then a refusal's
// header at the level of its ID. A success is not logged again (the target
// logs what it did), except STOP, which announces itself before it acts.
func TestExecuteLogsCommand(t *testing.T) {
	tests := []struct {
		cmd  string
		want []string // log lines, in order
	}{
		{"d   v", []string{`{"level":"info","message":"SOX0401I command from socket uid 0: d   v","source":"socket uid 0"}`}},
		{"QUIESCE", []string{`"SOX0401I command from socket uid 0: QUIESCE"`}},
		{"STOP", []string{`"SOX0401I command from socket uid 0: STOP"`,
			`{"level":"info","message":"SOX0404I command accepted: STOP"}`}},
		{"D SESSION=77", []string{`"SOX0401I command from socket uid 0: D SESSION=77"`,
			`{"level":"error","message":"SOX0403E command failed: session 77 not found","source":"socket uid 0","ok":false}`}},
		{"FROB\x1b", []string{`"SOX0401I command from socket uid 0: FROB?"`,
			`{"level":"error","message":"SOX0402E unknown or malformed command: FROB?: command contains a character that is not printable ASCII","source":"socket uid 0","ok":false}`}},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			var log bytes.Buffer
			c := newTestConsole(newFake(), &log)
			c.execute("socket uid 0", tt.cmd)
			lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("%d log lines, want %d:\n%s", len(lines), len(tt.want), log.String())
			}
			for i, want := range tt.want {
				if !strings.Contains(lines[i], want) {
					t.Errorf("log line %d = %s, want it to contain %s", i, lines[i], want)
				}
			}
		})
	}
}

func TestTableAlignment(t *testing.T) {
	cols := []column{{"ID", true}, {"NAME", false}, {"BYTES", true}, {"NOTE", false}}
	rows := [][]string{{"1", "a", "12345678", "x"}, {"12345", "longer-name", "", "y y"}, {"7", "\x1bevil", "1"}}
	lines := table(cols, rows)
	want := []string{
		"    ID  NAME            BYTES  NOTE",
		"     1  a            12345678  x",
		" 12345  longer-name         -  y y",
		"     7  ?evil               1  -",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("table:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestSessionsColumns checks that in D SESSIONS every left-aligned cell
// starts under its title and every right-aligned cell ends under it.
func TestSessionsColumns(t *testing.T) {
	c := newTestConsole(newFake(), nil)
	lines := c.Execute("D SESSIONS").Lines[1:4]
	head := lines[0]
	for _, title := range []string{"IN", "JOB/USER", "CLIENT", "DESTINATION", "RULE", "ACTION", "SSH-SERVER", "STATE"} {
		col := strings.Index(head, title)
		for _, row := range lines[1:] {
			if col >= len(row) || row[col] == ' ' || row[col-1] != ' ' {
				t.Errorf("column %s (at %d) is not aligned in %q", title, col, row)
			}
		}
	}
	for _, title := range []string{"ID", "UP", "DOWN", "AGE"} {
		end := strings.Index(head, " "+title+" ") + len(title)
		if title == "ID" {
			end = strings.Index(head, "ID") + 1
		}
		for _, row := range lines[1:] {
			if row[end] == ' ' || row[end+1] != ' ' {
				t.Errorf("column %s (ending at %d) is not right-aligned in %q", title, end, row)
			}
		}
	}
}

func TestUnits(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0"}, {1023, "1023"}, {1024, "1.0K"}, {1536, "1.5K"}, {50 << 20, "50.0M"}, {5 << 30, "5.0G"}, {3 << 50, "3072.0T"}} {
		if got := bytesText(tt.n); got != tt.want {
			t.Errorf("bytesText(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{-time.Second, "0s"}, {59 * time.Second, "59s"}, {61 * time.Second, "1m01s"}, {3 * time.Hour, "3h00m"}, {50 * time.Hour, "2d02h"}} {
		if got := ageText(tt.d); got != tt.want {
			t.Errorf("ageText(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
