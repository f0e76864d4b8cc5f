package ftp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"socksd/ebcdic"
	"socksd/internal/relay"
)

// side is one end of the control connection: the job or the server.
type side struct {
	name string
	conn net.Conn
	lr   *ebcdic.LineReader
	cp   ebcdic.CodePage
	term ebcdic.Terminator // the line end for lines socksd writes; mirrors the peer's

	wmu sync.Mutex
}

// newSide wraps a control connection. Bytes read count towards ctr.Up for
// the job and ctr.Down for the server.
func newSide(name string, c net.Conn, maxLine int, ctr *relay.Counters, isJob bool) *side {
	var r io.Reader = c
	if ctr != nil {
		n := &ctr.Down
		if isJob {
			n = &ctr.Up
		}
		r = &countReader{r: c, n: n}
	}
	return &side{name: name, conn: c, lr: ebcdic.NewLineReader(r, maxLine), term: ebcdic.TermCRLF}
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// setCodePage sets the side's code page; the line end for socksd's own
// lines follows unless the peer already showed one.
func (s *side) setCodePage(cp ebcdic.CodePage, seen ebcdic.Terminator) {
	s.cp = cp
	if seen != ebcdic.TermNone {
		s.term = seen
	} else {
		s.term = ebcdic.DefaultTerminator(cp)
	}
}

// writeLines writes lines socksd composed, in the side's code page and
// with its line end.
func (s *side) writeLines(lines ...string) error {
	var b []byte
	for _, l := range lines {
		b = append(b, ebcdic.Encode(s.cp, l)...)
		b = append(b, s.term.Bytes()...)
	}
	return s.writeRaw(b)
}

// writeRaw writes bytes as they are, bounded by writeTimeout so that a
// peer that stops reading cannot hold the session forever.
func (s *side) writeRaw(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := s.conn.Write(b); err != nil {
		return fmt.Errorf("ftp: write to %s: %w", s.name, err)
	}
	return nil
}

// writeReply writes code and text as a reply of one or more lines.
func (s *side) writeReply(code int, lines ...string) error {
	return s.writeLines(FormatReply(code, lines...)...)
}

// relayLine sends a line read from "from" (its bytes and line end) to s:
// untouched when the code pages match, translated otherwise. It returns
// the number of bytes written.
func (s *side) relayLine(fromCP ebcdic.CodePage, line []byte, term ebcdic.Terminator) (int, error) {
	b := s.wireLine(fromCP, line, term)
	err := s.writeRaw(b)
	n := len(b)
	clear(b) // the line may be a PASS
	return n, err
}

// wireLine renders a line read from "from" for s. The buffer is sized for
// the worst case up front: a growing append would leave a partial copy of
// the line, which may be a PASS, behind in the old buffer.
func (s *side) wireLine(fromCP ebcdic.CodePage, line []byte, term ebcdic.Terminator) []byte {
	if fromCP == s.cp {
		if term == ebcdic.TermNone {
			term = s.term
		}
		b := make([]byte, 0, len(line)+len(term.Bytes()))
		b = append(b, line...)
		return append(b, term.Bytes()...)
	}
	b := make([]byte, 0, len(line)*utf8.UTFMax+len(s.term.Bytes()))
	b = ebcdic.Translate(b, fromCP, s.cp, line)
	return append(b, s.term.Bytes()...)
}

// noop returns a NOOP line in the side's code page and line end, padded
// with spaces to n bytes when n is longer (see session.overwriteSecret).
func (s *side) noop(n int) []byte {
	b := ebcdic.Encode(s.cp, "NOOP")
	t := s.term.Bytes()
	if pad := n - len(b) - len(t); pad > 0 {
		b = append(b, bytes.Repeat(ebcdic.Encode(s.cp, " "), pad)...)
	}
	return append(b, t...)
}

// relayReply sends a reply read from the server side to s (the job).
func (s *side) relayReply(fromCP ebcdic.CodePage, r *Reply) error {
	if fromCP == s.cp && r.raw != nil {
		return s.writeRaw(r.raw)
	}
	var b []byte
	for _, l := range r.Lines {
		b = append(b, ebcdic.Encode(s.cp, l)...)
		b = append(b, s.term.Bytes()...)
	}
	return s.writeRaw(b)
}

// isTooLong reports an oversized line.
func isTooLong(err error) bool { return errors.Is(err, ebcdic.ErrLineTooLong) }
