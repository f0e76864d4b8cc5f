package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"socksd/socks"
)

// ProxyMain is `socksd __proxy TIMEOUT HOST PORT`, the ProxyCommand that
// the openssh engine gives ssh for a profile's via: it connects to
// HOST:PORT through the SOCKS proxy whose URL is in the environment
// variable EnvProxyVia (so that the proxy's password is never in argv),
// within TIMEOUT, then copies stdin to the connection and the connection to
// stdout until both directions end. It returns the exit status; errors go
// to stderr (ssh logs them) without the password.
func ProxyMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "socksd proxy: "+format+"\n", a...)
		return 1
	}
	if len(args) != 3 {
		return fail("usage: socksd %s TIMEOUT HOST PORT", ProxySubcommand)
	}
	timeout, err := time.ParseDuration(args[0])
	if err != nil || timeout <= 0 {
		return fail("bad timeout %q", args[0])
	}
	via := socks.ProxyURL(os.Getenv(EnvProxyVia))
	if via == "" {
		return fail("no proxy URL in $%s", EnvProxyVia)
	}
	d, err := via.Dialer()
	if err != nil {
		return fail("proxy URL %s: not usable", via)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(args[1], args[2]))
	cancel()
	if err != nil {
		return fail("connect %s via %s: %v", net.JoinHostPort(args[1], args[2]), d, err)
	}
	defer conn.Close()
	up := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, stdin)
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite() //nolint:errcheck
		}
		up <- err
	}()
	_, derr := io.Copy(stdout, conn)
	if derr != nil && !errors.Is(derr, net.ErrClosed) {
		return fail("read: %v", derr)
	}
	// The server ended the stream: ssh has what it needs; do not wait for
	// stdin, which ssh may keep open.
	return 0
}
