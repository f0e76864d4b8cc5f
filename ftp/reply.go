package ftp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"socksd/ebcdic"
)

// maxReplyLines bounds a multi-line reply.
const maxReplyLines = 1000

// ErrBadReply reports a server line that is not a valid FTP reply.
var ErrBadReply = errors.New("ftp: bad reply")

// ReplyError describes a malformed reply. It matches ErrBadReply with
// errors.Is.
type ReplyError struct {
	Reason string
}

func (e *ReplyError) Error() string { return "ftp: bad reply: " + e.Reason }

// Is makes errors.Is(err, ErrBadReply) true.
func (e *ReplyError) Is(target error) bool { return target == ErrBadReply }

// Reply is one complete FTP reply, possibly of several lines.
type Reply struct {
	Code  int      // the three-digit reply code
	Lines []string // every line as received, without line ends ("227 Entering...")

	raw []byte // the reply's bytes as received, line ends included
}

// Text returns the reply's text without codes: the text of the first line,
// and for a multi-line reply each further line, joined by newlines.
func (r *Reply) Text() string {
	var parts []string
	for i, l := range r.Lines {
		if i == 0 || i == len(r.Lines)-1 {
			if len(l) >= 4 {
				l = l[4:]
			} else if len(l) == 3 {
				l = ""
			}
		}
		parts = append(parts, l)
	}
	return strings.Join(parts, "\n")
}

// Positive reports whether the code is 1xx, 2xx or 3xx.
func (r *Reply) Positive() bool { return r.Code < 400 }

// Preliminary reports whether the code is 1xx (another reply will follow).
func (r *Reply) Preliminary() bool { return r.Code < 200 }

// Error returns the reply as an error text.
func (r *Reply) Error() string { return fmt.Sprintf("ftp: server replied %d %s", r.Code, r.Text()) }

// ParseReply parses one reply line: a three-digit code 100-599, then a
// blank (the last line of a reply), a hyphen (the first line of a multi-line
// reply), or nothing. It returns the code, the separator (' ', '-' or 0)
// and the text after it.
func ParseReply(line string) (code int, sep byte, text string, err error) {
	if len(line) < 3 {
		return 0, 0, "", &ReplyError{Reason: fmt.Sprintf("line %q too short", truncate(line))}
	}
	for i := 0; i < 3; i++ {
		if line[i] < '0' || line[i] > '9' {
			return 0, 0, "", &ReplyError{Reason: fmt.Sprintf("line %q has no reply code", truncate(line))}
		}
	}
	code, _ = strconv.Atoi(line[:3])
	if code < 100 || code > 599 {
		return 0, 0, "", &ReplyError{Reason: fmt.Sprintf("code %d out of range", code)}
	}
	if len(line) == 3 {
		return code, 0, "", nil
	}
	switch line[3] {
	case ' ', '-':
		return code, line[3], line[4:], nil
	}
	return 0, 0, "", &ReplyError{Reason: fmt.Sprintf("line %q: code not followed by blank or hyphen", truncate(line))}
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// ReplyReader reads complete replies from a control connection in a given
// code page.
type ReplyReader struct {
	LR *ebcdic.LineReader
	CP ebcdic.CodePage
	// Term is the line end of the last line read.
	Term ebcdic.Terminator
	// Detect, when set, makes the next reply's first line decide CP (see
	// ebcdic.Detect; ASCII when undecided) and is then cleared.
	Detect bool
}

// ReadReply reads one complete reply. A multi-line reply starts with
// "ddd-" and ends with a line "ddd " of the same code (RFC 959 §4.2); the
// lines between may hold anything. Lines are decoded from the reader's code
// page.
func (rr *ReplyReader) ReadReply() (*Reply, error) {
	r := &Reply{}
	for n := 0; n < maxReplyLines; n++ {
		b, term, err := rr.LR.ReadLine()
		if err != nil {
			if n > 0 && errors.Is(err, ebcdic.ErrLineTooLong) {
				return nil, fmt.Errorf("ftp: reply %d: %w", r.Code, err)
			}
			return nil, err
		}
		rr.Term = term
		if rr.Detect {
			rr.CP, _ = ebcdic.Detect(b)
			rr.Detect = false
		}
		r.raw = append(r.raw, b...)
		r.raw = append(r.raw, term.Bytes()...)
		line := ebcdic.Decode(rr.CP, b)
		r.Lines = append(r.Lines, line)
		if n == 0 {
			code, sep, _, err := ParseReply(line)
			if err != nil {
				return nil, err
			}
			r.Code = code
			if sep != '-' {
				return r, nil
			}
			continue
		}
		if len(line) >= 4 && line[3] == ' ' && line[:3] == strconv.Itoa(r.Code) {
			return r, nil
		}
		if len(line) == 3 && line == strconv.Itoa(r.Code) {
			return r, nil
		}
	}
	return nil, &ReplyError{Reason: fmt.Sprintf("reply %d longer than %d lines", r.Code, maxReplyLines)}
}

// FormatReply formats a reply of one or more text lines with code, the way
// RFC 959 wants a multi-line reply: "ddd-first", the middle lines as they
// are, and "ddd last". Line ends are not included.
func FormatReply(code int, lines ...string) []string {
	if len(lines) == 0 {
		lines = []string{""}
	}
	out := make([]string, len(lines))
	c := strconv.Itoa(code)
	for i, l := range lines {
		switch {
		case len(lines) == 1:
			out[i] = c + " " + l
		case i == 0:
			out[i] = c + "-" + l
		case i == len(lines)-1:
			out[i] = c + " " + l
		default:
			out[i] = " " + l
		}
	}
	return out
}
