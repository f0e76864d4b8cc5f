package main

import (
	"strings"
	"testing"
)

func TestDemoUsage(t *testing.T) {
	for _, args := range [][]string{{"extra"}, {"--size", "0"}, {"--timeout", "-1s"}, {"--nosuch"}} {
		var out, errb strings.Builder
		if code := run(append([]string{"demo"}, args...), &out, &errb); code != exitUsage {
			t.Errorf("demo %v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestDemoRuns(t *testing.T) {
	var out, errb strings.Builder
	code := run([]string{"demo", "--size", "1", "--quiet"}, &out, &errb)
	if code != exitOK || !strings.Contains(out.String(), "RESULT: PASS") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
}
