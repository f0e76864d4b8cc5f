package console

import (
	"context"
	"fmt"

	"socksd/msg"
)

// OperatorConsole is a system operator console that sends MODIFY and STOP
// commands to the daemon, as the z/OS console does for a started task
// (F SOCKSD,APPL=text and P SOCKSD).
type OperatorConsole interface {
	// Next waits for the next operator command. It returns the MODIFY
	// text (with or without "APPL="), or stop true for a STOP command.
	Next(ctx context.Context) (text string, stop bool, err error)
	// Reply writes the reply lines to the console.
	Reply(lines []string) error
}

// RunOperatorConsole runs the commands that oc delivers until ctx ends or
// oc fails. A MODIFY runs its text as a command and replies on oc; a STOP
// stops the daemon with a drain, a second STOP ends it at once. It
// returns nil when ctx ends.
//
// Next may block in the system; when ctx ends, RunOperatorConsole returns
// without waiting for it.
func (c *Console) RunOperatorConsole(ctx context.Context, oc OperatorConsole) error {
	type next struct {
		text string
		stop bool
		err  error
	}
	stops := 0
	for {
		ch := make(chan next, 1)
		go func() {
			text, stop, err := oc.Next(ctx)
			ch <- next{text, stop, err}
		}()
		var n next
		select {
		case <-ctx.Done():
			return nil
		case n = <-ch:
		}
		if n.err != nil {
			if ctx.Err() != nil {
				return nil
			}
			msg.Log(&c.log, "SOX0421E", n.err.Error()).Err(n.err).Send()
			return fmt.Errorf("console: operator console: %w", n.err)
		}
		text := n.text
		if n.stop {
			text = "STOP"
			if stops++; stops > 1 {
				text = "STOP IMMEDIATE"
			}
		}
		resp := c.execute("operator console", text)
		if err := oc.Reply(resp.Lines); err != nil {
			msg.Log(&c.log, "SOX0421E", err.Error()).Err(err).Send()
			return fmt.Errorf("console: operator console reply: %w", err)
		}
	}
}
