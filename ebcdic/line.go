package ebcdic

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Terminator names the line end that ended a line.
type Terminator int

// The line ends a LineReader recognizes.
const (
	TermNone Terminator = iota // no line end: the input ended mid-line
	TermCRLF                   // 0x0D 0x0A, ASCII CR LF
	TermCR25                   // 0x0D 0x25, EBCDIC CR LF
	TermNL                     // 0x15, EBCDIC NL
	TermLF                     // a bare 0x0A
)

// Bytes returns the bytes of the line end, nil for TermNone.
func (t Terminator) Bytes() []byte {
	switch t {
	case TermCRLF:
		return []byte{0x0D, 0x0A}
	case TermCR25:
		return []byte{0x0D, 0x25}
	case TermNL:
		return []byte{0x15}
	case TermLF:
		return []byte{0x0A}
	}
	return nil
}

// String returns a short name of the line end.
func (t Terminator) String() string {
	switch t {
	case TermCRLF:
		return "CRLF"
	case TermCR25:
		return "X'0D25'"
	case TermNL:
		return "X'15'"
	case TermLF:
		return "LF"
	}
	return "none"
}

// LineEnd returns the usual line end of code page cp: CRLF for ASCII,
// X'0D25' for EBCDIC.
func LineEnd(cp CodePage) []byte {
	if cp.IsEBCDIC() {
		return TermCR25.Bytes()
	}
	return TermCRLF.Bytes()
}

// DefaultTerminator returns the Terminator of LineEnd(cp).
func DefaultTerminator(cp CodePage) Terminator {
	if cp.IsEBCDIC() {
		return TermCR25
	}
	return TermCRLF
}

// ErrLineTooLong reports a line longer than the reader's maximum.
var ErrLineTooLong = errors.New("ebcdic: line too long")

// LineTooLongError is the error a LineReader returns for an oversized line;
// it matches ErrLineTooLong with errors.Is.
type LineTooLongError struct {
	Max int // the limit that was exceeded
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("ebcdic: line too long (more than %d bytes)", e.Max)
}

// Is makes errors.Is(err, ErrLineTooLong) true.
func (e *LineTooLongError) Is(target error) bool { return target == ErrLineTooLong }

// DefaultMaxLine is the line limit NewLineReader uses when given zero.
const DefaultMaxLine = 4096

// LineReader reads control lines ended by CRLF, X'0D25', X'15' or a bare LF,
// whatever the code page. A CR not followed by 0x0A or 0x25 is part of the
// line. It is not safe for concurrent use.
type LineReader struct {
	r    io.Reader
	max  int
	buf  []byte // the line being assembled
	in   []byte // read buffer
	head int    // next unread byte of in
	tail int    // end of valid bytes in in
	err  error  // sticky read error
	// resume: the last ReadLine ended at a read deadline; buf holds the
	// part of the line read so far, and the next ReadLine goes on with it.
	resume bool
}

// NewLineReader returns a LineReader on r that accepts lines of at most max
// bytes without their line end (DefaultMaxLine when max <= 0).
func NewLineReader(r io.Reader, max int) *LineReader {
	if max <= 0 {
		max = DefaultMaxLine
	}
	return &LineReader{r: r, max: max, in: make([]byte, readSize)}
}

// readSize is the size of a LineReader's read buffer. Control lines are
// short, and an idle FTP session holds two readers: a longer line only
// takes a few more reads.
const readSize = 512

// readByte returns the next input byte, filling the buffer as needed.
func (lr *LineReader) readByte() (byte, error) {
	for tries := 0; lr.head == lr.tail; tries++ {
		if lr.err != nil {
			return 0, lr.err
		}
		if tries >= 100 {
			return 0, io.ErrNoProgress
		}
		clear(lr.in[:lr.tail]) // consumed input may hold a secret
		n, err := lr.r.Read(lr.in)
		lr.head, lr.tail = 0, n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// Not final: the caller may clear the deadline and read on.
			if n == 0 {
				return 0, err
			}
			err = nil
		}
		if err != nil {
			lr.err = err
		}
	}
	c := lr.in[lr.head]
	lr.head++
	return c, nil
}

// ReadLine returns the next line without its line end, and which line end
// ended it. The returned slice is valid until the next call (the reader
// reuses and overwrites it).
//
// A read that ends at a read deadline (os.ErrDeadlineExceeded) is not
// final: ReadLine returns that error, and the next call goes on with the
// same line, so a caller may interrupt a waiting ReadLine with a deadline.
//
// At the end of the input it returns io.EOF with an empty line, or the
// partial line with TermNone and io.ErrUnexpectedEOF. A line longer than the
// maximum returns a *LineTooLongError (errors.Is ErrLineTooLong); the reader
// is then positioned inside that line and the caller should give up on the
// connection.
func (lr *LineReader) ReadLine() ([]byte, Terminator, error) {
	if !lr.resume {
		lr.buf = lr.buf[:0]
	}
	lr.resume = false
	for {
		c, err := lr.readByte()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				lr.resume = true
				return nil, TermNone, fmt.Errorf("ebcdic: read line: %w", err)
			}
			if err == io.EOF {
				if len(lr.buf) == 0 {
					return nil, TermNone, io.EOF
				}
				if len(lr.buf) > lr.max {
					return nil, TermNone, &LineTooLongError{Max: lr.max}
				}
				return lr.buf, TermNone, io.ErrUnexpectedEOF
			}
			return nil, TermNone, fmt.Errorf("ebcdic: read line: %w", err)
		}
		switch c {
		case 0x0A:
			if n := len(lr.buf); n > 0 && lr.buf[n-1] == 0x0D {
				lr.buf = lr.buf[:n-1]
				return lr.buf, TermCRLF, nil
			}
			return lr.buf, TermLF, nil
		case 0x25:
			if n := len(lr.buf); n > 0 && lr.buf[n-1] == 0x0D {
				lr.buf = lr.buf[:n-1]
				return lr.buf, TermCR25, nil
			}
		case 0x15:
			if len(lr.buf) > lr.max {
				return nil, TermNone, &LineTooLongError{Max: lr.max}
			}
			return lr.buf, TermNL, nil
		}
		// A trailing CR may still belong to a line end: allow one extra byte.
		if len(lr.buf) >= lr.max && !(len(lr.buf) == lr.max && c == 0x0D) {
			return nil, TermNone, &LineTooLongError{Max: lr.max}
		}
		lr.buf = append(lr.buf, c)
	}
}

// Buffered returns the bytes read from the underlying reader but not yet
// returned as lines, and removes them from the reader. A caller that stops
// reading lines (to relay raw bytes, for example after AUTH TLS) must send
// these on first.
func (lr *LineReader) Buffered() []byte {
	b := append([]byte(nil), lr.in[lr.head:lr.tail]...)
	lr.head = lr.tail
	return b
}

// Wipe overwrites the reader's line buffer and the input it has already
// consumed with zeros, so that a secret read as a line (an FTP password)
// does not stay in memory.
func (lr *LineReader) Wipe() {
	clear(lr.buf[:cap(lr.buf)])
	clear(lr.in[:lr.head])
}
