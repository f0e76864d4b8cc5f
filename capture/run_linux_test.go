//go:build linux

package capture

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
)

var testSeq atomic.Int64

// testPrefix is a name prefix unique to this test process and call, so
// that tests running at the same time never touch each other's cgroups
// and tables.
func testPrefix() string {
	return fmt.Sprintf("socksd_test_%d_%d_", os.Getpid(), testSeq.Add(1))
}

// needRoot skips (fails under CI=true) unless the test can make cgroups
// and nftables tables.
func needRoot(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testpeer.Missing(t, "capture: needs root")
	}
	root, err := findCgroup2()
	if err != nil {
		testpeer.Missing(t, "capture: %v", err)
	}
	return root
}

// origDstListener accepts on 127.0.0.1 and writes each connection's
// original destination (SO_ORIGINAL_DST), or "direct" when the connection
// was not redirected, then closes it.
func origDstListener(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	self := netip.MustParseAddrPort(ln.Addr().String())
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dst := "unknown"
			if raw, err := c.(*net.TCPConn).SyscallConn(); err == nil {
				raw.Control(func(fd uintptr) {
					m, err := unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, unix.SO_ORIGINAL_DST)
					if err != nil {
						return
					}
					ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte(m.Multiaddr[4:8])), uint16(m.Multiaddr[2])<<8|uint16(m.Multiaddr[3]))
					dst = ap.String()
					if ap == self {
						dst = "direct"
					}
				})
			}
			fmt.Fprintf(c, "ORIG %s\n", dst)
			c.Close()
		}
	}()
	return self
}

// assertGone fails when the cgroup or the table named name still exists.
func assertGone(t *testing.T, root, name string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, name)); !os.IsNotExist(err) {
		t.Errorf("cgroup %s still there (%v)", name, err)
	}
	ts, err := tablesWithPrefix(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range ts {
		if tb == name {
			t.Errorf("nftables table %s still there", name)
		}
	}
}

func TestRunRedirectsTheCommand(t *testing.T) {
	root := needRoot(t)
	nc := testpeer.RequireTool(t, "nc")
	redir := origDstListener(t)
	prefix := testPrefix()
	name := fmt.Sprintf("%s%d", prefix, os.Getpid())
	t.Cleanup(func() { deleteTable(name); os.Remove(filepath.Join(root, name)) })

	var out, msgs bytes.Buffer
	// The first connection goes to a loopback address nothing listens on;
	// the second to an excluded one, which is not redirected and so is
	// refused; the third to a port outside --ports (refused as well).
	script := fmt.Sprintf(`%[1]s -d -w 5 127.0.0.9 4321; %[1]s -d -w 5 127.0.0.9 4322 || echo EXCLUDED; %[1]s -z -w 5 127.0.0.9 9999 || echo NOTPORT; exit 3`, nc)
	status, err := Run(Options{
		Command:  []string{"/bin/sh", "-c", script},
		Redirect: []netip.AddrPort{redir},
		Exclude:  []Endpoint{{Addr: netip.MustParseAddr("127.0.0.9"), Ports: PortRange{4322, 4322}}},
		Ports:    []PortRange{{4000, 4999}},
		Stdout:   &out, Stderr: &out, Messages: &msgs,
		Prefix: prefix,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, msgs.String())
	}
	if status != 3 {
		t.Errorf("status %d, want the command's 3", status)
	}
	for _, want := range []string{"ORIG 127.0.0.9:4321\n", "EXCLUDED", "NOTPORT"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("command output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(msgs.String(), "SOX0721I") || !strings.Contains(msgs.String(), "SOX0729W") {
		t.Errorf("messages lack SOX0721I and SOX0729W (no IPv6 listener):\n%s", msgs.String())
	}
	assertGone(t, root, name)

	// Nothing outside the capture is redirected: the same connection from
	// the test itself is refused (nothing listens there).
	if c, err := net.DialTimeout("tcp", "127.0.0.9:4321", 5*time.Second); err == nil {
		c.Close()
		t.Errorf("a connection outside the capture reached something")
	}
}

func TestRunEndsWhatTheCommandLeft(t *testing.T) {
	root := needRoot(t)
	redir := origDstListener(t)
	prefix := testPrefix()
	name := fmt.Sprintf("%s%d", prefix, os.Getpid())
	t.Cleanup(func() { deleteTable(name); os.Remove(filepath.Join(root, name)) })

	var out, msgs bytes.Buffer
	// One child ignores SIGTERM and must be killed; one ends on SIGTERM.
	// The command ends once the first has set SIGTERM aside (bounded).
	ready := filepath.Join(t.TempDir(), "ready")
	script := fmt.Sprintf(`(trap '' TERM; : > %[1]s; exec sleep 300) & sleep 300 &
i=0; while [ ! -e %[1]s ] && [ $i -lt 1000 ]; do i=$((i+1)); sleep 0.01; done; exit 0`, ready)
	status, err := Run(Options{
		Command:  []string{"/bin/sh", "-c", script},
		Redirect: []netip.AddrPort{redir},
		Stdout:   &out, Stderr: &out, Messages: &msgs,
		Prefix: prefix, Grace: time.Second,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if status != 0 {
		t.Errorf("status %d, want 0", status)
	}
	for _, want := range []string{"SOX0722W capture: 2 processes", "SOX0723W capture: 1 processes"} {
		if !strings.Contains(msgs.String(), want) {
			t.Errorf("messages lack %q:\n%s", want, msgs.String())
		}
	}
	assertGone(t, root, name)
}

func TestRunSignalledCommandStatus(t *testing.T) {
	needRoot(t)
	redir := origDstListener(t)
	status, err := Run(Options{
		Command:  []string{"/bin/sh", "-c", `kill -KILL $$`},
		Redirect: []netip.AddrPort{redir},
		Prefix:   testPrefix(),
	})
	if err != nil || status != 128+int(syscall.SIGKILL) {
		t.Errorf("Run = %d, %v; want %d", status, err, 128+int(syscall.SIGKILL))
	}
	if _, err := Run(Options{Command: []string{"/nonexistent/cmd"}, Redirect: []netip.AddrPort{redir}, Prefix: testPrefix()}); err == nil {
		t.Errorf("Run of a missing program: no error")
	}
}

func TestCleanLeftovers(t *testing.T) {
	root := needRoot(t)
	prefix := testPrefix()
	// A process id that is no longer running: a finished child's.
	dead := exec.Command("/bin/true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	// A running capture: a process with "capture" among its arguments.
	live := exec.Command("/bin/sh", "-c", "sleep 300; :", "capture")
	live.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	liveDone := make(chan struct{})
	go func() { live.Wait(); close(liveDone) }()
	t.Cleanup(func() { syscall.Kill(-live.Process.Pid, syscall.SIGKILL); <-liveDone })
	// A running process that is not a capture, with the id in a name: its
	// leftovers go (it took the id of a capture that died).
	other := exec.Command("sleep", "300")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	otherDone := make(chan struct{})
	go func() { other.Wait(); close(otherDone) }()
	t.Cleanup(func() { other.Process.Kill(); <-otherDone })
	deadName := fmt.Sprintf("%s%d", prefix, dead.Process.Pid)
	liveName := fmt.Sprintf("%s%d", prefix, live.Process.Pid)
	reusedName := fmt.Sprintf("%s%d", prefix, other.Process.Pid)
	t.Cleanup(func() {
		for _, n := range []string{deadName, liveName, reusedName} {
			deleteTable(n)
			if cg, err := openCgroup(root, filepath.Join(root, n)); err == nil {
				cg.kill()
				cg.waitEmpty(5*time.Second, nil)
				cg.remove()
			}
		}
	})
	var cgs []*Cgroup
	for _, n := range []string{deadName, liveName, reusedName} {
		cg, err := newCgroup(root, n)
		if err != nil {
			t.Fatal(err)
		}
		cgs = append(cgs, cg)
		plan := Plan{CgroupID: cg.ID, Level: cg.Level, Redirect: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}}
		if err := plan.install(n); err != nil {
			t.Fatal(err)
		}
	}
	// A process left in the dead capture's cgroup.
	dir, err := os.Open(cgs[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "300")
	sleeper.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
	err = sleeper.Start()
	dir.Close()
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { sleeper.Wait(); close(exited) }()
	t.Cleanup(func() { sleeper.Process.Kill(); <-exited })

	var msgs bytes.Buffer
	CleanLeftovers(root, prefix, &msgs)
	if !wait.For(5*time.Second, func() bool {
		select {
		case <-exited:
			return true
		default:
			return false
		}
	}) {
		t.Errorf("the process in the leftover cgroup was not ended")
	}
	assertGone(t, root, deadName)
	assertGone(t, root, reusedName)
	for _, want := range []string{"SOX0732W", "SOX0725I capture: removed leftover nftables table inet " + deadName,
		"SOX0725I capture: removed leftover cgroup " + cgs[0].Path} {
		if !strings.Contains(msgs.String(), want) {
			t.Errorf("messages lack %q:\n%s", want, msgs.String())
		}
	}
	// The running capture's cgroup and table stay.
	if _, err := os.Stat(cgs[1].Path); err != nil {
		t.Errorf("the live capture's cgroup was removed: %v", err)
	}
	if ts, _ := tablesWithPrefix(liveName); len(ts) != 1 {
		t.Errorf("the live capture's table: %v", ts)
	}
}
