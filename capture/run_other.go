//go:build !linux

package capture

import (
	"errors"
	"io"
	"net/netip"
	"syscall"
	"time"
)

// ErrUnsupported is returned by Run on systems other than Linux.
var ErrUnsupported = errors.New("capture: only on Linux (cgroup v2 and nftables)")

// DefaultPrefix starts the names of a capture's cgroup and table.
const DefaultPrefix = "socksd_capture_"

// Options configure one capture; see the Linux version.
type Options struct {
	Command        []string
	Redirect       []netip.AddrPort
	Exclude        []Endpoint
	Ports          []PortRange
	Credential     *syscall.Credential
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Messages       io.Writer
	Prefix         string
	Grace          time.Duration
}

// Run fails with ErrUnsupported.
func Run(Options) (int, error) { return 0, ErrUnsupported }

// Credential fails with ErrUnsupported.
func Credential(string, func(string) string) (*syscall.Credential, error) {
	return nil, ErrUnsupported
}
