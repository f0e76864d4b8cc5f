//go:build !unix

package relay

import "net"

// readWaiter returns nil: without a known way to wait for readability,
// a direction reads into a small buffer first.
func readWaiter(net.Conn) func() error { return nil }
