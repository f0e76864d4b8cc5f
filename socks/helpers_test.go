package socks

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// cat concatenates message parts: a string or []byte as is, an int as
// one byte, a uint16 as two big-endian bytes.
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		case int:
			if v < 0 || v > 255 {
				panic(fmt.Sprintf("cat: byte %d out of range", v))
			}
			b = append(b, byte(v))
		case uint16:
			b = binary.BigEndian.AppendUint16(b, v)
		default:
			panic(fmt.Sprintf("cat: unsupported part %T", p))
		}
	}
	return b
}

// scripted is an io.ReadWriter that reads from a fixed input and records
// what is written to it.
type scripted struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func newScripted(in []byte) *scripted { return &scripted{in: bytes.NewReader(in)} }

func (s *scripted) Read(p []byte) (int, error)  { return s.in.Read(p) }
func (s *scripted) Write(p []byte) (int, error) { return s.out.Write(p) }

// rest returns the input not consumed yet.
func (s *scripted) rest() []byte {
	b, _ := io.ReadAll(s.in)
	return b
}

// failWriter fails every write.
type failWriter struct{ io.Reader }

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// repeat returns n copies of c.
func repeat(c byte, n int) string { return string(bytes.Repeat([]byte{c}, n)) }

// sameRequest compares two requests field by field (Request holds a
// slice, so == does not apply); nil and empty passwords are the same.
func sameRequest(a, b Request) bool {
	return a.Version == b.Version && a.Command == b.Command && a.Dest == b.Dest &&
		a.User == b.User && bytes.Equal(a.Password, b.Password) && a.Method == b.Method
}
