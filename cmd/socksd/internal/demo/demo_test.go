package demo

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRun runs the whole demo with a small long transfer.
func TestRun(t *testing.T) {
	var out strings.Builder
	res, err := Run(context.Background(), &out, Options{SizeMiB: 2, Timeout: 5 * time.Minute, Version: "test"})
	text := out.String()
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if !res.Passed() {
		t.Fatalf("failed checks %+v\n%s", res.Failed(), text)
	}
	for _, want := range []string{
		"passive: login through socksd and SSH",
		"active: put 'SOCKSD.FTP.OUTBOUND' outbound.txt",
		"200 UMASK set to 022",
		"> D SESSIONS", "SOX0410I DISPLAY SESSIONS", "> D TUNNELS", "SOX0412I DISPLAY TUNNELS",
		"STOR longrun.bin   50%",
		"RETR longrun.bin  100%",
		"SOX0105I", // the blocked request in the log
		`"command":"STOR","path":"outbound.txt","mode":"active"`,
		`"command":"RETR","path":"longrun.bin","mode":"passive","protocol":"ftp","bytes":2097152`,
		"long: RETR 2.0 MiB, round trip identical",
		"every FTP control and data connection was opened by the SSH server",
		"[PASS] tunnel: active mode converted",
		"control in IBM-1047",
		"[PASS] anonymous: login through SSH with socksd's key",
		"long RETR longrun.bin", "THROUGHPUT",
		"RESULT: PASS",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if len(res.Checks) < 20 {
		t.Errorf("only %d checks", len(res.Checks))
	}
}

func TestRunQuiet(t *testing.T) {
	var out strings.Builder
	res, err := Run(context.Background(), &out, Options{SizeMiB: 1, Quiet: true, Timeout: 5 * time.Minute})
	if err != nil || !res.Passed() {
		t.Fatalf("%v %+v\n%s", err, res.Failed(), out.String())
	}
	text := out.String()
	if strings.Contains(text, "SOX0101I") || strings.Contains(text, "STOR longrun.bin   10%") {
		t.Errorf("quiet output has details:\n%s", text)
	}
	if !strings.Contains(text, "RESULT: PASS") || !strings.Contains(text, "[PASS] blocked") {
		t.Errorf("quiet output lacks the checks:\n%s", text)
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out strings.Builder
	res, err := Run(ctx, &out, Options{SizeMiB: 1, Timeout: time.Minute})
	if err == nil && res.Passed() {
		t.Fatalf("a cancelled demo passed:\n%s", out.String())
	}
}

func TestRunBadSize(t *testing.T) {
	if _, err := Run(context.Background(), &strings.Builder{}, Options{SizeMiB: -1}); err == nil {
		t.Fatal("size -1 accepted")
	}
}
