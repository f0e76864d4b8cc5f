package console

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The control socket protocol is line based and readable with socat:
//
//	client: one command line, ending in "\n"
//	server: the reply lines, each ending in "\n"; a line that begins
//	        with "." gets a second "." in front (dot-stuffing); then
//	        ".OK" or ".FAIL"; then the server closes the connection.
const (
	maxRequestLine = 4096  // longest command line the server reads
	maxReplyLine   = 4096  // longer reply lines are cut
	maxReplyLines  = 65536 // the client gives up after this many lines
	maxDiscard     = 1 << 20
	statusOK       = ".OK"
	statusFail     = ".FAIL"
)

// lineTooLongError reports an input line longer than the limit.
type lineTooLongError struct{ max int }

func (e *lineTooLongError) Error() string {
	return fmt.Sprintf("console: line longer than %d bytes", e.max)
}

// readLine reads one line of at most max bytes, without its "\r\n" or
// "\n". A last line without "\n" is returned before io.EOF. A longer line
// is read to its end (at most maxDiscard bytes more) and dropped, and
// readLine returns a *lineTooLongError.
func readLine(br *bufio.Reader, max int) (string, error) {
	var buf []byte
	for len(buf) <= max+2 {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && (!errors.Is(err, io.EOF) || len(buf) == 0) {
			return "", err
		}
		line := strings.TrimSuffix(strings.TrimSuffix(string(buf), "\n"), "\r")
		if len(line) > max {
			return "", &lineTooLongError{max}
		}
		return line, nil
	}
	if err := skipLine(br); err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return "", &lineTooLongError{max}
}

// skipLine discards the rest of a line, at most maxDiscard bytes.
func skipLine(br *bufio.Reader) error {
	for n := 0; n < maxDiscard; {
		chunk, err := br.ReadSlice('\n')
		n += len(chunk)
		if err == nil {
			return nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
	return &lineTooLongError{maxDiscard}
}

// writeReply writes resp in the wire format.
func writeReply(w io.Writer, resp Response) error {
	bw := bufio.NewWriter(w)
	for _, l := range resp.Lines {
		l = sanitize(l)
		if len(l) > maxReplyLine-1 {
			l = l[:maxReplyLine-1]
		}
		if strings.HasPrefix(l, ".") {
			l = "." + l
		}
		bw.WriteString(l)
		bw.WriteByte('\n')
	}
	status := statusFail
	if resp.OK {
		status = statusOK
	}
	bw.WriteString(status + "\n")
	return bw.Flush()
}

// readReply reads a reply in the wire format.
func readReply(br *bufio.Reader) (Response, error) {
	var resp Response
	for range maxReplyLines {
		l, err := readLine(br, maxReplyLine)
		if errors.Is(err, io.EOF) {
			return Response{}, errors.New("console: reply ended without a status line")
		}
		if err != nil {
			return Response{}, fmt.Errorf("console: reading reply: %w", err)
		}
		switch {
		case l == statusOK, l == statusFail:
			resp.OK = l == statusOK
			if len(resp.Lines) == 0 {
				return Response{}, errors.New("console: reply has a status but no message")
			}
			return resp, nil
		case strings.HasPrefix(l, ".."):
			l = l[1:]
		case strings.HasPrefix(l, "."):
			return Response{}, fmt.Errorf("console: reply has an unknown status line %q", sanitize(shorten(l)))
		}
		resp.Lines = append(resp.Lines, l)
	}
	return Response{}, fmt.Errorf("console: reply longer than %d lines", maxReplyLines)
}
