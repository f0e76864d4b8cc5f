package ftp

import (
	"io"
)

// TYPE A line-end conversion between the FTP wire form (CRLF) and the
// form an ftp-sftp rule keeps on the server (SFTPOptions.LineEnd). Both
// directions stream: a CRLF split between two Reads or Writes is still one
// line end, at most one byte is held back between calls, and a bare CR
// passes unchanged.

// maxEmptyReads bounds the Reads of (0, nil) in a row that crlfToLF
// accepts before it gives up with io.ErrNoProgress, as bufio does.
const maxEmptyReads = 100

// newWireToServer converts what a job sends (STOR/APPE in TYPE A) to the
// server's form. For LineEndLF each CRLF becomes LF; a CR not followed by
// LF (also one that ends the input) and a bare LF pass unchanged. For any
// other lineEnd (LineEndCRLF) it returns r itself.
func newWireToServer(r io.Reader, lineEnd string) io.Reader {
	if lineEnd != LineEndLF {
		return r
	}
	return &crlfToLF{r: r}
}

// crlfToLF drops the CR of every CRLF. It reads straight into the
// caller's buffer and converts in place. A CR at the end of one Read is
// held back until the next byte shows whether an LF follows.
type crlfToLF struct {
	r    io.Reader
	held bool    // one[0] is a byte read and not yet given out
	one  [1]byte // the held byte, or the look-ahead of a one-byte Read
	err  error   // the error of r, returned once nothing is held
}

func (c *crlfToLF) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for range maxEmptyReads {
		if c.err != nil {
			if c.held {
				// The input ended: a held CR had no LF after it.
				c.held = false
				p[0] = c.one[0]
				return 1, nil
			}
			return 0, c.err
		}
		off := 0
		if c.held {
			p[0] = c.one[0]
			c.held = false
			off = 1
		}
		if off == len(p) {
			// A one-byte buffer already filled by the held byte.
			if p[0] != '\r' {
				return 1, nil
			}
			n, err := c.r.Read(c.one[:])
			c.err = err
			if n == 0 {
				c.one[0], c.held = '\r', true
				continue
			}
			if c.one[0] == '\n' {
				p[0] = '\n'
				return 1, nil
			}
			c.held = true // give out the CR now and the byte after it next time
			return 1, nil
		}
		n, err := c.r.Read(p[off:])
		c.err = err
		if m := c.convert(p[:off+n]); m > 0 {
			return m, nil
		}
	}
	return 0, io.ErrNoProgress
}

// convert drops the CR of each CRLF in b in place and returns the length
// of what remains. A final CR is held back unless the input has ended.
func (c *crlfToLF) convert(b []byte) int {
	if len(b) > 0 && b[len(b)-1] == '\r' && c.err == nil {
		c.one[0], c.held = '\r', true
		b = b[:len(b)-1]
	}
	w := 0
	for i := 0; i < len(b); i++ {
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			continue
		}
		b[w] = b[i]
		w++
	}
	return w
}

// newServerToWire converts the server's form to the wire's (RETR in TYPE
// A). For LineEndLF each LF not already preceded by CR becomes CRLF, also
// when the CR came at the end of the previous Write. For any other
// lineEnd (LineEndCRLF) bytes pass unchanged. Close writes nothing (no
// byte is ever held back) and does not close w; the caller always calls
// it.
func newServerToWire(w io.Writer, lineEnd string) io.WriteCloser {
	if lineEnd != LineEndLF {
		return nopWriteCloser{w}
	}
	return &lfToCRLF{w: w}
}

// nopWriteCloser is a Writer with a Close that does nothing.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// lfToCRLF puts a CR before each bare LF. It converts into one buffer of
// its own (made on the first Write, then reused) and writes it to w before
// each Write returns.
type lfToCRLF struct {
	w      io.Writer
	prevCR bool // the last byte written was a CR
	buf    []byte
}

// lfToCRLFBuffer is the size of lfToCRLF's buffer.
const lfToCRLFBuffer = 64 << 10

func (c *lfToCRLF) Write(p []byte) (int, error) {
	if c.buf == nil {
		c.buf = make([]byte, 0, lfToCRLFBuffer)
	}
	done := 0 // bytes of p whose conversion is written to w
	for done < len(p) {
		out := c.buf[:0]
		i := done
		prev := c.prevCR
		for ; i < len(p) && len(out) < cap(out)-1; i++ {
			b := p[i]
			if b == '\n' && !prev {
				out = append(out, '\r')
			}
			out = append(out, b)
			prev = b == '\r'
		}
		if _, err := c.w.Write(out); err != nil {
			return done, err
		}
		c.prevCR = prev
		done = i
	}
	return done, nil
}

// Close writes nothing and leaves w open.
func (c *lfToCRLF) Close() error { return nil }
