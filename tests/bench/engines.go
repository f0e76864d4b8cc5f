package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Engines are socksd's SSH engines; every socksd row runs once with each.
var Engines = []string{"builtin", "openssh"}

// parallelSpread is `profiles.NAME.spread` of the openssh engine in the
// parallel FTP rows: the goal for 16 parallel RETRs counts on spreading
// them over several masters.
const parallelSpread = 4

// withEngine returns cfg with `engine = engine` in its [ssh] table and,
// when spread > 0, `spread = spread` in every profile.
func withEngine(cfg, engine string, spread int) string {
	cfg = strings.Replace(cfg, "[ssh]\n", fmt.Sprintf("[ssh]\nengine = %q\n", engine), 1)
	if spread <= 0 {
		return cfg
	}
	var b strings.Builder
	for line := range strings.Lines(cfg) {
		b.WriteString(line)
		if strings.HasPrefix(line, "[profiles.") {
			fmt.Fprintf(&b, "spread = %d\n", spread)
		}
	}
	return b.String()
}

// engineLabel suffixes a short label with the engine's name.
func engineLabel(label, engine string) string { return label + " [" + engine + "]" }

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's times.
const clockTicks = 100

// ParseStatCPU returns the parent PID and the CPU seconds (utime+stime,
// and cutime+cstime of the waited-for children) from the text of
// /proc/PID/stat.
func ParseStatCPU(stat []byte) (ppid int, own, children float64, err error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, 0, fmt.Errorf("bench: malformed stat %q", stat)
	}
	// After "pid (comm) ": state ppid ... utime(14) stime(15) cutime(16) cstime(17).
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 15 {
		return 0, 0, 0, fmt.Errorf("bench: short stat %q", stat)
	}
	var v [5]int64
	for k, idx := range []int{1, 11, 12, 13, 14} {
		v[k], err = strconv.ParseInt(f[idx], 10, 64)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("bench: stat field %d: %w", idx+3, err)
		}
	}
	return int(v[0]), float64(v[1]+v[2]) / clockTicks, float64(v[3]+v[4]) / clockTicks, nil
}

// CPU is the CPU time of a process and of its children in seconds.
type CPU struct {
	Own   float64 // the process itself
	Total float64 // itself, its waited-for children, and its live children (with theirs)
}

// Sub returns c - d.
func (c CPU) Sub(d CPU) CPU { return CPU{Own: c.Own - d.Own, Total: c.Total - d.Total} }

// ProcCPU reads pid's CPU time and that of its live children (found by
// their parent PID in /proc): for socksd, its `ssh` masters. A child that
// ends between two readings is still counted once it is waited for, in
// pid's children's times.
func ProcCPU(pid int) (CPU, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return CPU{}, fmt.Errorf("bench: %w", err)
	}
	_, own, waited, err := ParseStatCPU(b)
	if err != nil {
		return CPU{}, err
	}
	c := CPU{Own: own, Total: own + waited}
	for _, child := range childPIDs(pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue // ended meanwhile
		}
		if _, o, w, err := ParseStatCPU(b); err == nil {
			c.Total += o + w
		}
	}
	return c, nil
}

// childPIDs lists the live processes whose parent is pid.
func childPIDs(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		ppid, _, _, err := ParseStatCPU(b)
		if err != nil || ppid != pid {
			continue
		}
		if n, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// treeRSSKiB is the resident memory of pid and its live children (socksd
// and its `ssh` masters) in KiB.
func treeRSSKiB(pid int) (int64, error) {
	total, err := RSSKiB(pid)
	if err != nil {
		return 0, err
	}
	for _, c := range childPIDs(pid) {
		if n, err := RSSKiB(c); err == nil {
			total += n
		}
	}
	return total, nil
}

// perGiB is CPU seconds over bytes, per GiB.
func perGiB(sec float64, bytes int64) float64 { return sec / (float64(bytes) / (1 << 30)) }

// cpuMeter measures a process's CPU around one transfer; pid 0 measures
// nothing.
type cpuMeter struct {
	pid    int
	before CPU
	err    error
}

func startCPU(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid}
	if pid != 0 {
		m.before, m.err = ProcCPU(pid)
	}
	return m
}

// stop returns the CPU seconds per GiB spent since start for bytes moved.
func (m *cpuMeter) stop(bytes int64) (CPU, error) {
	if m.pid == 0 || m.err != nil {
		return CPU{}, m.err
	}
	after, err := ProcCPU(m.pid)
	if err != nil {
		return CPU{}, err
	}
	d := after.Sub(m.before)
	return CPU{Own: perGiB(d.Own, bytes), Total: perGiB(d.Total, bytes)}, nil
}
