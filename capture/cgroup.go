//go:build linux

package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Cgroup is a cgroup v2 made for one capture.
type Cgroup struct {
	// Path is the cgroup's directory.
	Path string
	// ID is the cgroup id, which is the inode number of its directory.
	ID uint64
	// Level is its depth below the hierarchy's root (a child of the root
	// is at level 1): the level of nft's `socket cgroupv2`.
	Level uint32
}

// findCgroup2 returns the cgroup v2 mount point of this process.
func findCgroup2() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("capture: %w", err)
	}
	defer f.Close()
	return Cgroup2Mount(f)
}

// newCgroup creates the cgroup name under the hierarchy mounted at root.
func newCgroup(root, name string) (*Cgroup, error) {
	p := filepath.Join(root, name)
	if err := os.Mkdir(p, 0o755); err != nil {
		return nil, fmt.Errorf("capture: create cgroup: %w", err)
	}
	cg, err := openCgroup(root, p)
	if err != nil {
		os.Remove(p)
		return nil, err
	}
	return cg, nil
}

// openCgroup describes the existing cgroup directory p below root.
func openCgroup(root, p string) (*Cgroup, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return nil, fmt.Errorf("capture: cgroup %s: %w", p, err)
	}
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return nil, fmt.Errorf("capture: cgroup %s is not below %s", p, root)
	}
	return &Cgroup{Path: p, ID: st.Ino, Level: uint32(strings.Count(rel, "/") + 1)}, nil
}

// Procs returns the process ids in the cgroup.
func (c *Cgroup) Procs() ([]int, error) {
	b, err := os.ReadFile(filepath.Join(c.Path, "cgroup.procs"))
	if err != nil {
		return nil, fmt.Errorf("capture: cgroup %s: %w", c.Path, err)
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out, nil
}

// Populated reports whether any process is in the cgroup, from
// cgroup.events.
func (c *Cgroup) Populated() (bool, error) {
	b, err := os.ReadFile(filepath.Join(c.Path, "cgroup.events"))
	if err != nil {
		return false, fmt.Errorf("capture: cgroup %s: %w", c.Path, err)
	}
	return populated(b), nil
}

// populated reads the "populated" key of cgroup.events text; a file
// without it counts as populated.
func populated(events []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(events))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		if k == "populated" {
			return strings.TrimSpace(v) != "0"
		}
	}
	return true
}

// signal sends sig to every process in the cgroup and returns their ids.
func (c *Cgroup) signal(sig syscall.Signal) []int {
	pids, _ := c.Procs()
	for _, pid := range pids {
		syscall.Kill(pid, sig)
	}
	return pids
}

// kill ends every process in the cgroup with SIGKILL: through cgroup.kill
// (Linux 5.14), which also catches processes forked meanwhile, else one
// by one.
func (c *Cgroup) kill() {
	if err := os.WriteFile(filepath.Join(c.Path, "cgroup.kill"), []byte("1"), 0); err == nil {
		return
	}
	c.signal(syscall.SIGKILL)
}

// pollInterval is how often waitEmpty looks at cgroup.events.
const pollInterval = 20 * time.Millisecond

// waitEmpty waits until the cgroup has no process or the timeout passes,
// and reports whether it is empty. With again set, it calls again at
// every poll (to catch processes forked meanwhile).
func (c *Cgroup) waitEmpty(timeout time.Duration, again func()) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if p, err := c.Populated(); err == nil && !p {
			return true
		} else if err != nil && errors.Is(err, os.ErrNotExist) {
			return true
		}
		select {
		case <-deadline.C:
			p, err := c.Populated()
			return err == nil && !p
		case <-tick.C:
			if again != nil {
				again()
			}
		}
	}
}

// remove deletes the cgroup's directory; it must be empty of processes.
// A cgroup already gone is not an error.
func (c *Cgroup) remove() error {
	err := os.Remove(c.Path)
	if err == nil || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	// A process that just ended may keep the cgroup busy for a moment.
	ok := c.waitEmpty(time.Second, nil)
	if err = os.Remove(c.Path); err == nil || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if !ok {
		return fmt.Errorf("capture: remove cgroup %s: processes remain: %w", c.Path, err)
	}
	return fmt.Errorf("capture: remove cgroup %s: %w", c.Path, err)
}

// pidList formats pids for a message, with at most 20 of them.
func pidList(pids []int) string {
	var b strings.Builder
	for i, p := range pids {
		if i == 20 {
			fmt.Fprintf(&b, " and %d more", len(pids)-20)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(p))
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p)); err == nil {
			b.WriteString("(" + strings.TrimSpace(string(comm)) + ")")
		}
	}
	return b.String()
}
