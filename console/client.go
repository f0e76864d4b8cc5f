package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// DefaultSendTimeout bounds Send when ctx has no deadline.
const DefaultSendTimeout = 30 * time.Second

// Send sends one command to the control socket at path and returns the
// reply. An error means the command could not be delivered or the reply
// not read; a command the daemon refused is a Response with OK false.
func Send(ctx context.Context, path, text string) (Response, error) {
	if strings.ContainsAny(text, "\r\n") {
		return Response{}, errors.New("console: command contains a line break")
	}
	if len(text) > maxRequestLine {
		return Response{}, fmt.Errorf("console: command longer than %d bytes", maxRequestLine)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultSendTimeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return Response{}, &SocketError{Path: path, Err: err}
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write([]byte(text + "\n")); err != nil {
		return Response{}, &SocketError{Path: path, Err: fmt.Errorf("sending command: %w", err)}
	}
	resp, err := readReply(bufio.NewReader(conn))
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return Response{}, &SocketError{Path: path, Err: err}
	}
	return resp, nil
}
