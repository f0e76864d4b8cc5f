package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrNoVmRSS is returned by ParseVmRSS when the status text has no usable
// VmRSS line.
var ErrNoVmRSS = errors.New("bench: no VmRSS line")

// ParseVmRSS returns the resident set size in KiB from the text of
// /proc/PID/status ("VmRSS:   1234 kB").
func ParseVmRSS(status []byte) (int64, error) {
	for b := range bytes.Lines(status) {
		line := strings.TrimRight(string(b), "\r\n")
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%w: %q", ErrNoVmRSS, line)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%w: %q", ErrNoVmRSS, line)
		}
		return n, nil
	}
	return 0, ErrNoVmRSS
}

// RSSKiB reads a process's resident set size in KiB.
func RSSKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	n, err := ParseVmRSS(b)
	if err != nil {
		return 0, fmt.Errorf("bench: pid %d: %w", pid, err)
	}
	return n, nil
}
