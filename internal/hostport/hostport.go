// Package hostport parses the HOST:PORT addresses of listen settings. It
// is the one parser of them: the configuration checks server.listen with
// it, and the JCL renderer picks the listener the z/OS FTP client uses
// with it.
package hostport

import (
	"fmt"
	"net"
	"strconv"
)

// Error reports an address that is not HOST:PORT.
type Error struct {
	Addr   string
	Reason string // what is wrong, in the configuration's terms, without a package prefix
}

func (e *Error) Error() string { return "hostport: " + e.Reason }

// ParseListen splits a listen address such as "127.0.0.1:1080",
// "[::1]:1080" or ":1080". The host may be empty (every address of the
// system), an IP address (IPv6 in brackets) or a name; it is returned
// without brackets and not resolved. The port is 0-65535, where 0 lets the
// system choose one. The error is an *Error.
func ParseListen(s string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, &Error{Addr: s, Reason: fmt.Sprintf("%q is not a host:port address, such as 127.0.0.1:1080", s)}
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, &Error{Addr: s, Reason: fmt.Sprintf("%q does not end in a port (0-65535)", s)}
	}
	return host, port, nil
}
