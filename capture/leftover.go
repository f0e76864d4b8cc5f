//go:build linux

package capture

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"socksd/msg"
)

// leftoverPID returns the process id in name (prefix and a decimal pid),
// and whether name is such a name.
func leftoverPID(name, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || rest == "" {
		return 0, false
	}
	pid, err := strconv.Atoi(rest)
	if err != nil || pid <= 0 || strconv.Itoa(pid) != rest {
		return 0, false
	}
	return pid, true
}

// running reports whether process pid is a running capture: it exists
// and, when its command line can be read, one of its arguments is
// "capture" (a process that took the id of a dead capture is not one).
func running(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return true
	}
	return isCaptureCmdline(b)
}

// isCaptureCmdline reports whether a /proc/PID/cmdline (arguments ended
// by NUL bytes) has an argument "capture". An empty one (a kernel thread,
// or a process that is ending) counts as a capture, to be safe.
func isCaptureCmdline(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	for _, a := range strings.Split(strings.TrimRight(string(b), "\x00"), "\x00") {
		if a == "capture" {
			return true
		}
	}
	return false
}

// leftovers returns, sorted, the names (prefix and pid) among names whose
// process is not running.
func leftovers(names []string, prefix string, running func(int) bool) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		pid, ok := leftoverPID(n, prefix)
		if !ok || seen[n] || running(pid) {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// CleanLeftovers removes the cgroups below root and the nftables inet
// tables (of this network namespace) whose names start with prefix and
// whose capture process is no longer running: processes still in such a
// cgroup are killed and reported. Each removal is reported to out.
func CleanLeftovers(root, prefix string, out io.Writer) {
	say := func(id string, args ...any) { fmt.Fprintln(out, msg.Format(id, args...)) }
	var names []string
	tables, err := tablesWithPrefix(prefix)
	if err != nil {
		say("SOX0727E", err)
	}
	isTable := map[string]bool{}
	for _, t := range tables {
		isTable[t] = true
	}
	names = append(names, tables...)
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	for _, n := range leftovers(names, prefix, running) {
		pid, _ := leftoverPID(n, prefix)
		cg, cgErr := openCgroup(root, filepath.Join(root, n))
		if cgErr == nil {
			if pids, _ := cg.Procs(); len(pids) > 0 {
				say("SOX0732W", len(pids), pid, pidList(pids))
				cg.kill()
				cg.waitEmpty(killWait, cg.kill)
			}
		}
		if isTable[n] {
			if err := deleteTable(n); err != nil {
				say("SOX0727E", err)
			} else {
				say("SOX0725I", "nftables table inet "+n, pid)
			}
		}
		if cgErr == nil {
			if err := cg.remove(); err != nil {
				say("SOX0727E", err)
			} else {
				say("SOX0725I", "cgroup "+cg.Path, pid)
			}
		}
	}
}
