package openssh

import (
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// heldSocket is a descriptor of a socket handed to a master, which this
// process keeps only to read the kernel's counts and to close its share.
// It is not in Go's poller: a descriptor there would wake this process for
// every segment the master moves on the socket.
type heldSocket struct{ fd int }

// holdSocket duplicates c's descriptor outside the poller and closes c.
// The socket stays open, through the copy and the master's.
func holdSocket(c *net.TCPConn) (*heldSocket, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("openssh: hold socket: %w", err)
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, fmt.Errorf("openssh: hold socket: %w", err)
	}
	if derr != nil {
		return nil, fmt.Errorf("openssh: hold socket: %w", derr)
	}
	c.Close()
	return &heldSocket{fd: fd}, nil
}

// SyscallConn makes the held socket a syscall.Conn for ReadCounts.
func (h *heldSocket) SyscallConn() (syscall.RawConn, error) { return h, nil }

// Control calls f with the descriptor.
func (h *heldSocket) Control(f func(fd uintptr)) error {
	f(uintptr(h.fd))
	return nil
}

// Read and Write are not for a held socket: its data is the master's.
func (h *heldSocket) Read(func(fd uintptr) bool) error  { return syscall.EINVAL }
func (h *heldSocket) Write(func(fd uintptr) bool) error { return syscall.EINVAL }

// close closes this process's share of the socket; with reset, a socket
// that nobody else holds any more ends with a reset rather than a FIN.
func (h *heldSocket) close(reset bool) {
	if reset {
		unix.SetsockoptLinger(h.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}) //nolint:errcheck // best effort: the close follows
	}
	unix.Close(h.fd)
}
