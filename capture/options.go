package capture

import (
	"io"
	"net/netip"
	"syscall"
	"time"
)

// DefaultPrefix starts the names of the cgroup and the nftables table of
// a capture; the capture's process id follows.
const DefaultPrefix = "socksd_capture_"

// DefaultGrace is how long processes left in the cgroup get between
// SIGTERM and SIGKILL.
const DefaultGrace = 5 * time.Second

// Options configure one capture.
type Options struct {
	// Command is the program and its arguments.
	Command []string
	// Redirect are the daemon's redirect listeners, at most one per
	// address family.
	Redirect []netip.AddrPort
	// Exclude are the daemon's other listeners, never redirected.
	Exclude []Endpoint
	// Ports limits the capture to these destination ports; empty: all.
	Ports []PortRange
	// Credential, when set, is the user and groups the command runs as.
	Credential *syscall.Credential
	// Stdin, Stdout and Stderr are the command's; nil is /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Messages receives the operator messages (SOX07xx), one a line.
	Messages io.Writer
	// Prefix starts the names of the cgroup and the nftables table;
	// "" is DefaultPrefix. Leftovers are looked for under this prefix.
	Prefix string
	// Grace is the time between SIGTERM and SIGKILL; 0 is DefaultGrace.
	Grace time.Duration
}
