package socks

import (
	"errors"
	"io"
)

// wireReader reads exact lengths from a connection, never more than asked,
// so that the bytes after a handshake stay in the connection for the relay.
type wireReader struct {
	r io.Reader
	n int // bytes consumed so far
}

// full fills b. An EOF before b is full is io.ErrUnexpectedEOF, except at
// the very start of the exchange (nothing consumed yet), where it stays
// io.EOF so that a caller can tell a client that hung up without a word.
func (w *wireReader) full(b []byte) error {
	n, err := io.ReadFull(w.r, b)
	w.n += n
	if errors.Is(err, io.EOF) && w.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// byte reads one byte.
func (w *wireReader) byte() (byte, error) {
	var b [1]byte
	err := w.full(b[:])
	return b[0], err
}

// cstring reads a NUL-terminated string of at most limit bytes (not
// counting the NUL) into buf, which must hold limit bytes, and returns the
// bytes before the NUL. It reads one byte at a time: the protocol gives no
// length, and reading ahead would consume bytes that belong to the relay.
func (w *wireReader) cstring(buf []byte, limit int, what string) ([]byte, error) {
	for i := 0; ; i++ {
		c, err := w.byte()
		if err != nil {
			return nil, err
		}
		if c == 0 {
			return buf[:i], nil
		}
		if i >= limit {
			return nil, errorf(ErrTooLong, "%s longer than %d bytes", what, limit)
		}
		buf[i] = c
	}
}
