// Package wait re-checks a condition that produces no event to wait on (a
// counter read through the console, a line in a daemon's log file), bounded
// in time and in count. It is the one polling helper of the tests.
package wait

import (
	"testing"
	"time"
)

// interval is how often a condition is checked.
const interval = 20 * time.Millisecond

// For checks cond every 20ms until it holds or timeout passes, and reports
// whether it held. The last check is made at or after the deadline.
func For(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	limit := int(timeout/interval) + 2
	for n := 0; ; n++ {
		if cond() {
			return true
		}
		if !time.Now().Before(deadline) || n > limit {
			return false
		}
		<-tick.C
	}
}

// Until is For that fails the test, naming what it waited for, when cond
// does not hold within timeout.
func Until(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	if !For(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}
