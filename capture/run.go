//go:build linux

package capture

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"socksd/msg"
)

// killWait bounds the wait for the cgroup to empty after SIGKILL.
const killWait = 5 * time.Second

// Run runs the command in a new cgroup whose TCP connections an nftables
// table redirects, and returns the command's exit status (128+N when a
// signal N ended it). SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to the
// caller are passed to the command (SIGINT and SIGQUIT not when the
// caller runs in its terminal's foreground: the terminal sends those to
// the command itself); after SIGINT, SIGTERM or SIGHUP, a
// command still running after Grace is killed. When the command has
// ended, processes left in the cgroup get SIGTERM, then SIGKILL after
// Grace, and are reported. The table and the cgroup are then removed.
// Before it starts, Run removes what earlier captures with the same
// prefix left behind when their process is no longer running.
//
// The error is set when the capture could not be set up or the command
// could not start; the status is then 0.
func Run(opt Options) (int, error) {
	if len(opt.Command) == 0 {
		return 0, errors.New("capture: no command")
	}
	if opt.Prefix == "" {
		opt.Prefix = DefaultPrefix
	}
	if opt.Grace <= 0 {
		opt.Grace = DefaultGrace
	}
	if opt.Messages == nil {
		opt.Messages = io.Discard
	}
	say := func(id string, args ...any) { fmt.Fprintln(opt.Messages, msg.Format(id, args...)) }

	root, err := findCgroup2()
	if err != nil {
		return 0, err
	}
	CleanLeftovers(root, opt.Prefix, opt.Messages)

	name := fmt.Sprintf("%s%d", opt.Prefix, os.Getpid())
	cg, err := newCgroup(root, name)
	if err != nil {
		return 0, err
	}
	plan := Plan{CgroupID: cg.ID, Level: cg.Level, Redirect: opt.Redirect, Exclude: opt.Exclude, Ports: opt.Ports}
	cleanup := func() {
		if err := deleteTable(name); err != nil {
			say("SOX0727E", err)
		}
		if err := cg.remove(); err != nil {
			say("SOX0727E", err)
		}
	}
	if err := plan.install(name); err != nil {
		cleanup()
		return 0, err
	}
	for _, v6 := range []bool{false, true} {
		if !plan.hasRedirect(v6) {
			v := 4
			if v6 {
				v = 6
			}
			say("SOX0729W", v, v)
		}
	}

	dir, err := os.Open(cg.Path)
	if err != nil {
		cleanup()
		return 0, fmt.Errorf("capture: %w", err)
	}
	cmd := exec.Command(opt.Command[0], opt.Command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opt.Stdin, opt.Stdout, opt.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd()), Credential: opt.Credential}

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)

	err = cmd.Start()
	dir.Close()
	if err != nil {
		cleanup()
		return 0, fmt.Errorf("capture: start %s: %w", opt.Command[0], err)
	}
	// Only the program: its arguments may hold a password (curl --user).
	say("SOX0721I", opt.Command[0], cmd.Process.Pid, redirectText(opt.Redirect), cg.Path, name)

	// The command's end is seen without reaping it (WNOWAIT), so that the
	// processes it left, which may hold its output pipes open, are ended
	// before Wait collects its status and output.
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				return
			}
		}
	}()
	fromTerminal := foreground()
	var grace <-chan time.Time
wait:
	for {
		select {
		case <-exited:
			break wait
		case s := <-sigs:
			// In the terminal's foreground, ^C and ^\ reach the command
			// (in the same process group) from the terminal already.
			if !(fromTerminal && (s == syscall.SIGINT || s == syscall.SIGQUIT)) {
				say("SOX0728I", s, cmd.Process.Pid)
				cmd.Process.Signal(s)
			}
			if s != syscall.SIGQUIT && grace == nil {
				t := time.NewTimer(opt.Grace)
				defer t.Stop()
				grace = t.C
			}
		case <-grace:
			pids, _ := cg.Procs()
			say("SOX0723W", len(pids), opt.Grace, pidList(pids))
			cg.kill()
		}
	}
	endCgroup(cg, opt.Grace, say)
	cmd.WaitDelay = time.Second
	waitErr := cmd.Wait()
	status := exitStatus(cmd.ProcessState, waitErr)
	cleanup()
	return status, nil
}

// hasRedirect reports whether the plan has a redirect listener of the
// family.
func (p Plan) hasRedirect(v6 bool) bool {
	for _, r := range p.Redirect {
		if familyOf(r.Addr(), v6) {
			return true
		}
	}
	return false
}

// endCgroup ends the processes left in the cgroup after the command
// ended: SIGTERM, then SIGKILL after grace, each reported.
func endCgroup(cg *Cgroup, grace time.Duration, say func(string, ...any)) {
	pids, err := cg.Procs()
	if err != nil || len(pids) == 0 {
		return
	}
	say("SOX0722W", len(pids), cg.Path, pidList(pids))
	cg.signal(syscall.SIGTERM)
	if cg.waitEmpty(grace, nil) {
		return
	}
	pids, _ = cg.Procs()
	say("SOX0723W", len(pids), grace, pidList(pids))
	cg.kill()
	if !cg.waitEmpty(killWait, cg.kill) {
		pids, _ = cg.Procs()
		say("SOX0724E", cg.Path, pidList(pids))
	}
}

// exitStatus is the command's exit status, 128+N for a signal N.
func exitStatus(ps *os.ProcessState, err error) int {
	if ps == nil {
		return 1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if c := ps.ExitCode(); c >= 0 {
		return c
	}
	return 1
}

// redirectText lists the redirect listeners for a message.
func redirectText(rs []netip.AddrPort) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, " and ")
}

// foreground reports whether this process runs in the foreground process
// group of the terminal on its standard input.
func foreground() bool {
	pgrp, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}
