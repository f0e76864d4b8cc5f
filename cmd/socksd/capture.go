package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"socksd/capture"
	"socksd/console"
	"socksd/msg"
)

const captureUsage = `usage: socksd capture [--redirect HOST:PORT] [--ports LIST] [--user U] [--socket PATH] -- COMMAND [ARGS...]
  Runs COMMAND with its outgoing TCP connections, and those of its children,
  redirected to a running daemon's redirect listener, where the daemon's
  rules decide each as for a SOCKS CONNECT (Linux, root: cgroup v2 and
  nftables). Connections to the daemon's own listeners are left alone.
  --redirect  the redirect listener (twice, or comma-separated, for IPv4
              and IPv6); default: ask the daemon (D LISTENERS)
  --ports     capture only these destination ports, e.g. 21,80,8000-8099
  --user      run COMMAND as this user; default: $SUDO_UID/$SUDO_GID, else root
  --socket    the daemon's control socket; default $SOCKSD_CONSOLE, else ` + defaultConsoleSocket + `
  Processes left in the capture when COMMAND ends get SIGTERM, then SIGKILL.
  Exit status: COMMAND's; 1 when the capture could not be set up; 2 on a usage error.
`

// captureArgs are the parsed arguments of `socksd capture`.
type captureArgs struct {
	redirect []netip.AddrPort
	ports    []capture.PortRange
	user     string
	socket   string
	command  []string
}

// parseCaptureArgs parses the flags up to "--" (or the first word that
// is not a flag) and the command after it.
func parseCaptureArgs(args []string, getenv func(string) string) (captureArgs, error) {
	a := captureArgs{socket: getenv("SOCKSD_CONSOLE")}
	if a.socket == "" {
		a.socket = defaultConsoleSocket
	}
	i := 0
	for ; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			i++
			break
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		switch name {
		case "redirect", "ports", "user", "socket":
		default:
			return a, fmt.Errorf("unknown flag %s", arg)
		}
		if !hasValue {
			if i+1 >= len(args) {
				return a, fmt.Errorf("flag %s needs a value", arg)
			}
			i++
			value = args[i]
		}
		switch name {
		case "redirect":
			for _, s := range strings.Split(value, ",") {
				ap, err := netip.ParseAddrPort(strings.TrimSpace(s))
				if err != nil || ap.Port() == 0 {
					return a, fmt.Errorf("--redirect needs HOST:PORT with an IP address, not %q", s)
				}
				a.redirect = append(a.redirect, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
			}
		case "ports":
			p, err := capture.ParsePorts(value)
			if err != nil {
				return a, fmt.Errorf("--ports: %w", err)
			}
			a.ports = append(a.ports, p...)
		case "user":
			if value == "" {
				return a, errors.New("--user needs a user name or uid")
			}
			a.user = value
		case "socket":
			a.socket = value
		}
	}
	a.command = args[i:]
	if len(a.command) == 0 {
		return a, errors.New("no command given")
	}
	for _, v6 := range []bool{false, true} {
		n := 0
		for _, r := range a.redirect {
			if r.Addr().Is6() == v6 {
				n++
			}
		}
		if n > 1 {
			return a, errors.New("--redirect names two listeners of the same address family")
		}
	}
	return a, nil
}

// parseListeners reads the reply to D LISTENERS: the redirect listeners,
// and the others as endpoints to leave alone. A rewrite listener's
// "host:*" stands for the ephemeral port range eph.
func parseListeners(lines []string, eph capture.PortRange) (redirect []netip.AddrPort, exclude []capture.Endpoint, err error) {
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		kind := f[0]
		switch kind {
		case console.ListenerSOCKS, console.ListenerRedirect, console.ListenerTProxy, console.ListenerRewrite,
			console.ListenerForward, console.ListenerMetrics:
		default:
			continue // the message line and the column titles
		}
		if host, ok := strings.CutSuffix(f[1], ":*"); ok {
			a, perr := netip.ParseAddr(strings.Trim(host, "[]"))
			if perr != nil {
				return nil, nil, fmt.Errorf("the reply to D LISTENERS has a bad address %q", f[1])
			}
			exclude = append(exclude, capture.Endpoint{Addr: a.Unmap(), Ports: eph})
			continue
		}
		ap, perr := netip.ParseAddrPort(f[1])
		if perr != nil {
			return nil, nil, fmt.Errorf("the reply to D LISTENERS has a bad address %q", f[1])
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		if kind == console.ListenerRedirect {
			redirect = append(redirect, ap)
			continue
		}
		exclude = append(exclude, capture.Endpoint{Addr: ap.Addr(), Ports: capture.PortRange{From: ap.Port(), To: ap.Port()}})
	}
	return redirect, exclude, nil
}

// onePerFamily keeps the first listener of each address family.
func onePerFamily(rs []netip.AddrPort) []netip.AddrPort {
	var out []netip.AddrPort
	var has4, has6 bool
	for _, r := range rs {
		if r.Addr().Is6() {
			if !has6 {
				out, has6 = append(out, r), true
			}
		} else if !has4 {
			out, has4 = append(out, r), true
		}
	}
	return out
}

// askListeners sends D LISTENERS to the daemon's control socket.
func askListeners(socket string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := console.Send(ctx, socket, "D LISTENERS")
	if err != nil {
		return nil, errors.New(socketCause(err))
	}
	if !resp.OK {
		return nil, fmt.Errorf("%s", strings.Join(resp.Lines, " "))
	}
	return resp.Lines, nil
}

// runCapture implements `socksd capture`.
func runCapture(args []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprint(stdout, captureUsage)
			return exitOK
		}
	}
	a, err := parseCaptureArgs(args, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "socksd capture: %v\n%s", err, captureUsage)
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, msg.Format("SOX0726E", strings.TrimPrefix(err.Error(), "capture: ")))
		return exitFail
	}
	if os.Geteuid() != 0 {
		return fail(errors.New("must run as root (cgroup v2 and nftables)"))
	}
	cred, err := capture.Credential(a.user, os.Getenv)
	if err != nil {
		return fail(err)
	}
	redirect := a.redirect
	lines, qerr := askListeners(a.socket)
	var exclude []capture.Endpoint
	if qerr == nil {
		var daemonRedirect []netip.AddrPort
		daemonRedirect, exclude, err = parseListeners(lines, capture.EphemeralPorts())
		if err != nil {
			return fail(err)
		}
		if len(redirect) == 0 {
			redirect = daemonRedirect
		}
	}
	switch {
	case len(a.redirect) > 0 && qerr != nil:
		fmt.Fprintln(stderr, msg.Format("SOX0730W", a.socket, qerr))
	case len(redirect) == 0 && qerr != nil:
		fmt.Fprintln(stderr, msg.Format("SOX0420E", a.socket, qerr))
		return exitFail
	case len(redirect) == 0:
		fmt.Fprintln(stderr, msg.Format("SOX0731E", a.socket))
		return exitFail
	}
	status, err := capture.Run(capture.Options{
		Command:    a.command,
		Redirect:   onePerFamily(redirect),
		Exclude:    exclude,
		Ports:      a.ports,
		Credential: cred,
		Stdin:      os.Stdin,
		Stdout:     stdout,
		Stderr:     stderr,
		Messages:   stderr,
	})
	if err != nil {
		return fail(err)
	}
	return status
}
