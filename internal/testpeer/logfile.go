package testpeer

import (
	"bufio"
	"os"
	"strings"
	"time"
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

// waitCount polls count until it reaches n or timeout passes (a daemon's
// log file gives no event to wait on), and returns the last count.
func waitCount(count func() int, n int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c := count()
		if c >= n || !time.Now().Before(deadline) {
			return c
		}
		<-tick.C
	}
}
