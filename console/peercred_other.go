//go:build !linux

package console

import (
	"errors"
	"fmt"
	"net"
)

// peerUID is not available here; the socket's mode 0600 is the only
// check.
func peerUID(net.Conn) (int, error) {
	return -1, fmt.Errorf("console: peer credentials: %w", errors.ErrUnsupported)
}
