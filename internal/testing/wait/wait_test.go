package wait

import (
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	n := 0
	if !For(time.Second, func() bool { n++; return n == 3 }) {
		t.Fatal("For gave up on a condition that held on the third check")
	}
	if For(50*time.Millisecond, func() bool { return false }) {
		t.Fatal("For reported a condition that never held")
	}
}
