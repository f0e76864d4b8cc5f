package main

import (
	"bytes"
	"strings"
	"testing"

	"socksd/internal/testing/gosource"
	"socksd/msg"
)

func TestRunMsg(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout []string // parts of stdout
		stderr string
	}{
		{[]string{"SOX0203E"}, 0, []string{"SOX0203E  host key for %s has changed: known %s, offered %s\n",
			"Explanation:\n  The SSH server offered a host key", "Operator response:\n  Verify the new key"}, ""},
		{[]string{"sox0204"}, 0, []string{"SOX0204A  host key for %s is unknown"}, ""},
		{[]string{"SOX0002I", "SOX0004E"}, 0, []string{"SOX0002I  socksd ready", "\n\nSOX0004E  configuration rejected"}, ""},
		{[]string{"SOX9998" + "E"}, 1, nil, "no message SOX9998" + "E"},
		{[]string{"SOX0002I", "nope"}, 1, []string{"SOX0002I"}, "no message NOPE"},
		{nil, 2, nil, "usage: socksd msg"},
		{[]string{"--bogus"}, 2, nil, "unknown flag --bogus"},
		{[]string{"--all", "x"}, 2, nil, "usage"},
		{[]string{"--help"}, 0, []string{"usage: socksd msg"}, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runMsg(tt.args, &out, &errOut)
			ok := code == tt.code && strings.Contains(errOut.String(), tt.stderr)
			for _, s := range tt.stdout {
				ok = ok && strings.Contains(out.String(), s)
			}
			if !ok {
				t.Errorf("runMsg(%q) = %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q",
					tt.args, code, out.String(), errOut.String(), tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestRunMsgAll(t *testing.T) {
	var out bytes.Buffer
	if code := runMsg([]string{"--all"}, &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(msg.Messages()) {
		t.Fatalf("%d lines for %d messages", len(lines), len(msg.Messages()))
	}
	for i, m := range msg.Messages() {
		if lines[i] != m.ID+"  "+m.Text {
			t.Errorf("line %d = %q", i, lines[i])
		}
	}
}

func TestWrap(t *testing.T) {
	got := wrap("aaa bbb ccc dddddddddddd e", "  ", 10)
	want := "  aaa bbb\n  ccc\n  dddddddddddd\n  e"
	if got != want {
		t.Errorf("wrap = %q, want %q", got, want)
	}
	for _, line := range strings.Split(wrap(strings.Repeat("word ", 50), "  ", 76), "\n") {
		if len(line) > 76 {
			t.Errorf("line longer than 76: %q", line)
		}
	}
}

// TestRunMsgEveryEmittedID runs socksd msg for every message ID that the
// code (tests left out) names, and checks that each explains itself: its
// text, a non-empty explanation and a non-empty operator response.
func TestRunMsgEveryEmittedID(t *testing.T) {
	ids := gosource.MessageIDs(t, gosource.Root(t), false)
	if len(ids) < 20 {
		t.Fatalf("only %d message IDs found in the code; the walk is broken", len(ids))
	}
	for id, files := range ids {
		var out, errOut bytes.Buffer
		if code := runMsg([]string{id}, &out, &errOut); code != exitOK {
			t.Errorf("socksd msg %s (named in %s): exit %d: %s", id, strings.Join(files, ", "), code, errOut.String())
			continue
		}
		head, rest, _ := strings.Cut(out.String(), "\n\nExplanation:\n")
		explanation, response, ok := strings.Cut(rest, "\nOperator response:\n")
		if !ok || !strings.HasPrefix(head, id+"  ") || len(head) <= len(id)+2 ||
			strings.TrimSpace(explanation) == "" || strings.TrimSpace(response) == "" {
			t.Errorf("socksd msg %s does not give the text, explanation and operator response:\n%s", id, out.String())
		}
	}
}
