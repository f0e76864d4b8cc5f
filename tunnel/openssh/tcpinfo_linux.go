package openssh

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

func readRaw(c syscall.Conn) (raw, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return raw{}, fmt.Errorf("openssh: tcp counts: %w", err)
	}
	var (
		r    raw
		serr error
	)
	if err := rc.Control(func(fd uintptr) {
		var outq, inq int
		if outq, serr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ); serr != nil {
			return
		}
		if inq, serr = unix.IoctlGetInt(int(fd), unix.SIOCINQ); serr != nil {
			return
		}
		var info *unix.TCPInfo
		if info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); serr != nil {
			return
		}
		r = raw{state: info.State, received: info.Bytes_received, acked: info.Bytes_acked, outq: uint64(outq), inq: uint64(inq)}
	}); err != nil {
		return raw{}, fmt.Errorf("openssh: tcp counts: %w", err)
	}
	if serr != nil {
		return raw{}, fmt.Errorf("openssh: tcp counts: %w", serr)
	}
	return r, nil
}
