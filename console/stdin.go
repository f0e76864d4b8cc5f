package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"socksd/msg"
)

// ServeReader reads operator commands from r, one per line, and writes
// each reply to w, one line per reply line. Blank lines are ignored. It
// returns nil at the end of r or when ctx ends, and an error when reading
// or writing fails. This is the transport for `[console] stdin = true`.
//
// A read from r that blocks is not interrupted when ctx ends; ServeReader
// returns anyway and the blocked read ends with r.
func (c *Console) ServeReader(ctx context.Context, r io.Reader, w io.Writer) error {
	type result struct {
		line string
		err  error
	}
	lines := make(chan result)
	go func() {
		br := bufio.NewReaderSize(r, 1024)
		for {
			line, err := readLine(br, maxRequestLine)
			select {
			case lines <- result{line, err}:
			case <-ctx.Done():
				return
			}
			var tooLong *lineTooLongError
			if err != nil && (!errors.As(err, &tooLong) || tooLong.max == maxDiscard) {
				return
			}
		}
	}()
	for {
		var res result
		select {
		case <-ctx.Done():
			return nil
		case res = <-lines:
		}
		var tooLong *lineTooLongError
		var resp Response
		switch {
		case errors.Is(res.err, io.EOF):
			msg.Log(&c.log, "SOX0419W", "end of standard input").Send()
			return nil
		case errors.As(res.err, &tooLong) && tooLong.max != maxDiscard:
			resp = syntaxResponse(syntaxErr("(line too long)", "", "command longer than %d bytes", MaxCommandLen))
			c.logReply("stdin", resp)
		case res.err != nil:
			msg.Log(&c.log, "SOX0419W", res.err.Error()).Err(res.err).Send()
			return fmt.Errorf("console: reading commands: %w", res.err)
		case isBlank(res.line):
			continue
		default:
			resp = c.execute("stdin", res.line)
		}
		bw := bufio.NewWriter(w)
		for _, l := range resp.Lines {
			bw.WriteString(sanitize(l) + "\n")
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("console: writing reply: %w", err)
		}
	}
}

func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' {
			return false
		}
	}
	return true
}
