package testpeer

import (
	"bufio"
	"os"
	"strings"
	"time"

	"socksd/internal/testing/wait"
)

// countLines returns how many lines of the file at path contain substr
// (0 when the file cannot be read).
func countLines(path, substr string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			n++
		}
	}
	return n
}

// waitCount re-checks count until it reaches n or timeout passes (a
// daemon's log file gives no event to wait on), and returns the last count.
func waitCount(count func() int, n int, timeout time.Duration) int {
	c := 0
	wait.For(timeout, func() bool { c = count(); return c >= n })
	return c
}
