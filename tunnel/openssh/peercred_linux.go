package openssh

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Supported reports whether the openssh engine works on this system: it
// needs SO_PEERCRED, TCP_INFO and a parent-death signal (Linux).
const Supported = true

// peerCred returns the user and process id of the process at the other end
// of c (SO_PEERCRED).
func peerCred(c *net.UnixConn) (uid, pid int, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var (
		cred *unix.Ucred
		cerr error
	)
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, 0, err
	}
	if cerr != nil {
		return 0, 0, cerr
	}
	return int(cred.Uid), int(cred.Pid), nil
}

// procAttr starts a master in its own session, ended by SIGTERM when the
// thread that started it (locked until the master is reaped) ends.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
}
