package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"socksd/console"
	"socksd/msg"
)

// defaultConsoleSocket is where `socksd cmd` looks when neither --socket
// nor $SOCKSD_CONSOLE names the control socket.
const defaultConsoleSocket = "/run/socksd/console.sock"

const cmdUsage = `usage: socksd cmd [--socket PATH] [--timeout DURATION] 'COMMAND'
  Sends an operator command to the daemon's control socket and prints the
  reply. PATH defaults to $SOCKSD_CONSOLE, else ` + defaultConsoleSocket + `.
  Exit 0 when the command succeeded, 1 when it was refused or failed,
  2 on a usage error. 'socksd cmd HELP' lists the commands.
`

// runCmd implements `socksd cmd [--socket P] 'TEXT'`. Flags may come
// before or after the command text; the words of the text are joined with
// blanks, so `socksd cmd D SESSIONS` works too.
func runCmd(args []string, stdout, stderr io.Writer) int {
	socket := os.Getenv("SOCKSD_CONSOLE")
	if socket == "" {
		socket = defaultConsoleSocket
	}
	timeout := console.DefaultSendTimeout
	var words []string
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "socksd cmd: "+format+"\n%s", append(a, cmdUsage)...)
		return exitUsage
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			words = append(words, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			words = append(words, arg)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		switch name {
		case "h", "help":
			fmt.Fprint(stdout, cmdUsage)
			return exitOK
		case "socket", "timeout":
		default:
			return usageErr("unknown flag %s", arg)
		}
		if !hasValue {
			if i+1 >= len(args) {
				return usageErr("flag %s needs a value", arg)
			}
			i++
			value = args[i]
		}
		if name == "socket" {
			socket = value
			continue
		}
		d, err := time.ParseDuration(value)
		if err != nil || d <= 0 {
			return usageErr("--timeout needs a positive duration such as 10s, not %q", value)
		}
		timeout = d
	}
	text := strings.TrimSpace(strings.Join(words, " "))
	if text == "" {
		return usageErr("no command given")
	}
	if socket == "" {
		return usageErr("the socket path is empty")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := console.Send(ctx, socket, text)
	if err != nil {
		fmt.Fprintln(stderr, msg.Format("SOX0420E", socket, socketCause(err)))
		return exitFail
	}
	for _, l := range resp.Lines {
		fmt.Fprintln(stdout, l)
	}
	if !resp.OK {
		return exitFail
	}
	return exitOK
}

// socketCause is the reason a control socket operation failed, without the
// "console: control socket PATH:" that SOX0420E says itself.
func socketCause(err error) string {
	var se *console.SocketError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	return err.Error()
}
