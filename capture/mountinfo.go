package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNoCgroup2 is returned by Cgroup2Mount when no cgroup v2 hierarchy is
// mounted.
// Under `ip netns exec`, which mounts a fresh /sys, that is the usual
// cause: `nsenter --net=/run/netns/NAME` keeps the mounts.
var ErrNoCgroup2 = errors.New("capture: no cgroup v2 hierarchy is mounted (under ip netns exec, use nsenter --net=/run/netns/NAME instead)")

// Cgroup2Mount returns the mount point of the cgroup v2 hierarchy from the
// text of /proc/self/mountinfo. When several are mounted it prefers
// /sys/fs/cgroup, then the first whose root is the hierarchy's root.
func Cgroup2Mount(mountinfo io.Reader) (string, error) {
	sc := bufio.NewScanner(mountinfo)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var found []string
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
		left, right, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, r := strings.Fields(left), strings.Fields(right)
		if len(f) < 5 || len(r) < 1 || r[0] != "cgroup2" || f[3] != "/" {
			continue
		}
		found = append(found, unescapeMountinfo(f[4]))
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("capture: read mountinfo: %w", err)
	}
	if len(found) == 0 {
		return "", ErrNoCgroup2
	}
	for _, m := range found {
		if m == "/sys/fs/cgroup" {
			return m, nil
		}
	}
	return found[0], nil
}

// unescapeMountinfo undoes the octal escapes (\040 for a blank, \011,
// \012, \134) of a mountinfo path.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
