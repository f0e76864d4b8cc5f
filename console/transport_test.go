package console

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"
)

func TestServeReader(t *testing.T) {
	f := newFake()
	log := newSyncBuffer()
	c := newTestConsole(f, log)
	in := "D V\n\n   \nFROB\r\nTRACE ON,SESSION=12\n" + strings.Repeat("x", 5000) + "\nQUIESCE\nd v"
	var out bytes.Buffer
	if err := c.ServeReader(context.Background(), strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	golden(t, "stdin.golden", out.Bytes())
	if got, want := f.Calls(), "Trace(true,12); Quiesce"; got != want {
		t.Errorf("calls = %s, want %s", got, want)
	}
	if !strings.Contains(log.String(), "SOX0401I command from stdin: TRACE ON,SESSION=12") ||
		!strings.Contains(log.String(), "SOX0419W operator command input ended: end of standard input") {
		t.Errorf("log:\n%s", log.String())
	}
}

func TestServeReaderCancel(t *testing.T) {
	c := newTestConsole(newFake(), nil)
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out syncBuffer
	out.writes = make(chan struct{}, 1)
	go func() { done <- c.ServeReader(ctx, pr, &out) }()
	if _, err := io.WriteString(pw, "D V\n"); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "SOX0416I")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ServeReader after cancel = %v", err)
	}
}

func TestServeReaderErrors(t *testing.T) {
	c := newTestConsole(newFake(), nil)
	boom := errors.New("boom")
	err := c.ServeReader(context.Background(), iotest.ErrReader(boom), io.Discard)
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "console: ") {
		t.Errorf("read error: %v", err)
	}
	err = c.ServeReader(context.Background(), strings.NewReader("D V\n"), errWriter{boom})
	if !errors.Is(err, boom) {
		t.Errorf("write error: %v", err)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

// TestHandleSignals sends the operator signals to the test process itself;
// HandleSignals has its handlers in place before it returns.
func TestHandleSignals(t *testing.T) {
	f := newFake()
	log := newSyncBuffer()
	c := newTestConsole(f, log)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.HandleSignals(ctx)

	kill := func(sig syscall.Signal) {
		t.Helper()
		if err := syscall.Kill(syscall.Getpid(), sig); err != nil {
			t.Fatal(err)
		}
	}
	kill(syscall.SIGHUP)
	f.waitCall(t, "Reload")
	log.waitFor(t, "SOX0408I signal hangup received: RELOAD")

	kill(syscall.SIGUSR1)
	log.waitFor(t, "SOX0414I DISPLAY STATS")
	log.waitFor(t, "sessions active:  2 of 2048")

	kill(syscall.SIGTERM)
	if imm := waitStop(t, f); imm {
		t.Error("first SIGTERM stopped immediately")
	}
	kill(syscall.SIGINT)
	if imm := waitStop(t, f); !imm {
		t.Error("second stop signal did not stop immediately")
	}
	log.waitFor(t, "SOX0404I command accepted: STOP IMMEDIATE")
}

func waitStop(t *testing.T, f *fakeTarget) bool {
	t.Helper()
	select {
	case imm := <-f.stopped:
		return imm
	case <-time.After(20 * time.Second):
		t.Fatal("Stop was not called")
		return false
	}
}

// fakeOperator is an OperatorConsole that plays a script.
type fakeOperator struct {
	script   []fakeEvent
	replies  chan []string
	replyErr error
}

type fakeEvent struct {
	text string
	stop bool
	err  error
}

func (o *fakeOperator) Next(ctx context.Context) (string, bool, error) {
	if len(o.script) == 0 {
		<-ctx.Done()
		return "", false, ctx.Err()
	}
	e := o.script[0]
	o.script = o.script[1:]
	return e.text, e.stop, e.err
}

func (o *fakeOperator) Reply(lines []string) error {
	o.replies <- lines
	return o.replyErr
}

func TestRunOperatorConsole(t *testing.T) {
	f := newFake()
	c := newTestConsole(f, nil)
	oc := &fakeOperator{
		script: []fakeEvent{
			{text: "APPL=D SESSIONS"}, {text: "D V"}, {text: "FROB"}, {text: "CANCEL SESSION=3"},
			{stop: true}, {stop: true},
		},
		replies: make(chan []string, 16),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.RunOperatorConsole(ctx, oc) }()
	var headers []string
	for range 6 {
		select {
		case lines := <-oc.replies:
			headers = append(headers, lines[0])
		case <-time.After(20 * time.Second):
			t.Fatalf("replies so far: %q", headers)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunOperatorConsole = %v", err)
	}
	want := []string{
		"SOX0410I DISPLAY SESSIONS: 2 active",
		"SOX0416I socksd version 1.0.0-test",
		"SOX0402E unknown or malformed command: FROB: unknown command",
		"SOX0406I session 3 cancelled",
		"SOX0404I command accepted: STOP",
		"SOX0404I command accepted: STOP IMMEDIATE",
	}
	if strings.Join(headers, "\n") != strings.Join(want, "\n") {
		t.Errorf("replies:\n%s\nwant:\n%s", strings.Join(headers, "\n"), strings.Join(want, "\n"))
	}
	if got, want := f.Calls(), "Cancel(3); Stop(false); Stop(true)"; got != want {
		t.Errorf("calls = %s, want %s", got, want)
	}
}

func TestRunOperatorConsoleErrors(t *testing.T) {
	boom := errors.New("boom")
	c := newTestConsole(newFake(), nil)
	oc := &fakeOperator{script: []fakeEvent{{text: "D V"}, {err: boom}}, replies: make(chan []string, 4)}
	if err := c.RunOperatorConsole(context.Background(), oc); !errors.Is(err, boom) {
		t.Errorf("Next error: %v", err)
	}
	oc = &fakeOperator{script: []fakeEvent{{text: "D V"}}, replies: make(chan []string, 4), replyErr: boom}
	if err := c.RunOperatorConsole(context.Background(), oc); !errors.Is(err, boom) {
		t.Errorf("Reply error: %v", err)
	}
}
