package demo

import (
	"context"
	"io"
	"runtime"
	"testing"
	"time"
)

// TestRunEndsGoroutines: after Run, the goroutines it started end. A few
// end just after Run returns (a reader notices its closed connection), so
// the count is awaited, with a deadline.
func TestRunEndsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	res, err := Run(context.Background(), io.Discard, Options{SizeMiB: 1, Quiet: true, Timeout: 5 * time.Minute})
	if err != nil || !res.Passed() {
		t.Fatalf("%v %+v", err, res.Failed())
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for runtime.NumGoroutine() > before {
		select {
		case <-tick.C:
		case <-deadline:
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines before Run, %d after:\n%s", before, runtime.NumGoroutine(), buf[:n])
		}
	}
}
