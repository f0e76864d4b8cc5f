package socks

import (
	"errors"
	"io"
)

// wireReader reads exact lengths from a connection, never more than asked,
// so that the bytes after a handshake stay in the connection for the relay.
type wireReader struct {
	r   io.Reader
	n   int // bytes consumed so far
	one [1]byte
	buf [255]byte // scratch for one field at a time
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
	err := w.full(w.one[:])
	return w.one[0], err
}

// field reads n (at most 255) bytes into the scratch buffer. The result is
// valid until the next call of field or cstring.
func (w *wireReader) field(n byte) ([]byte, error) {
	b := w.buf[:n]
	return b, w.full(b)
}

// cstring reads a NUL-terminated string of at most limit (1 to 255) bytes,
// not counting the NUL, into the scratch buffer and returns the bytes
// before the NUL, valid until the next call of field or cstring. It reads
// one byte at a time: the protocol gives no length, and reading ahead
// would consume bytes that belong to the relay.
func (w *wireReader) cstring(limit int, what string) ([]byte, error) {
	buf := w.buf[:limit]
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
