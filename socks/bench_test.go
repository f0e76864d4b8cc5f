package socks

import (
	"bytes"
	"io"
	"testing"
)

// benchConn replays one request for every ReadRequest call.
type benchConn struct {
	r bytes.Reader
}

func (c *benchConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *benchConn) Write(p []byte) (int, error) { return len(p), nil }

func BenchmarkReadRequest(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  ServerConfig
		in   []byte
	}{
		{"socks4", bothCfg, cat(4, 1, uint16(21), 10, 0, 0, 1, "JOB1", 0)},
		{"socks4a", bothCfg, cat(4, 1, uint16(21), 0, 0, 0, 1, "JOB1", 0, "ftp.partner.example", 0)},
		{"socks5 domain", bothCfg, cat(5, 1, 0, 5, 1, 0, 3, 19, "ftp.partner.example", uint16(21))},
		{"socks5 ipv6", bothCfg, cat(5, 1, 0, 5, 1, 0, 4, make([]byte, 16), uint16(21))},
		{"socks5 userpass", ServerConfig{Methods: []Method{MethodUserPass}},
			cat(5, 2, 0, 2, 1, 4, "JOB1", 6, "s3cret", 5, 1, 0, 3, 19, "ftp.partner.example", uint16(21))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := &benchConn{}
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				c.r.Reset(bc.in)
				if _, err := ReadRequest(c, bc.cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteReply(b *testing.B) {
	bound := Addr{"127.0.0.1", 40000}
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteReply(io.Discard, 5, RepSucceeded, bound); err != nil {
			b.Fatal(err)
		}
	}
}
