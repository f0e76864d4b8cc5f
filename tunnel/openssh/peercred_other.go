//go:build !linux

package openssh

import (
	"errors"
	"net"
	"syscall"
)

// Supported reports whether the openssh engine works on this system: it
// needs SO_PEERCRED, TCP_INFO and a parent-death signal (Linux).
const Supported = false

var errUnsupported = errors.New("openssh: the openssh engine needs Linux (SO_PEERCRED, TCP_INFO, a parent-death signal)")

// peerCred is not available here: every askpass caller is refused.
func peerCred(c *net.UnixConn) (uid, pid int, err error) {
	return 0, 0, errUnsupported
}

// procAttr starts a master in its own session.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}

func readRaw(c syscall.Conn) (raw, error) {
	return raw{}, errUnsupported
}
