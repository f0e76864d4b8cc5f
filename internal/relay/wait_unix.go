//go:build unix

package relay

import (
	"net"
	"syscall"
)

// readWaiter returns a function that blocks until c has bytes to read (or
// its end, or an error, to be seen by the next Read), without a buffer;
// nil when c has no descriptor to wait on.
func readWaiter(c net.Conn) func() error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return func() error {
		return rc.Read(func(fd uintptr) bool {
			var b [1]byte
			for range 100 {
				_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
				switch err {
				case syscall.EINTR:
					continue
				case syscall.EAGAIN:
					return false // wait for readability
				}
				return true // bytes, EOF or an error: Read tells which
			}
			return true
		})
	}
}
