package ftp

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"socksd/ebcdic"
	"socksd/internal/testing/testpeer"
)

// authServer is a fake FTP server that accepts AUTH TLS with 234 and then
// echoes raw bytes, standing in for a TLS handshake.
func authServer(t *testing.T) (string, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	seen := make(chan string, 16)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		c.Write([]byte("220 fake TLS server\r\n"))
		lr := ebcdic.NewLineReader(c, 0)
		for i := 0; i < 10; i++ {
			line, _, err := lr.ReadLine()
			if err != nil {
				return
			}
			cmd := string(line)
			seen <- cmd
			switch {
			case strings.HasPrefix(cmd, "USER"):
				c.Write([]byte("331 pw\r\n"))
			case strings.HasPrefix(cmd, "PASS"):
				c.Write([]byte("230 ok\r\n"))
			case strings.HasPrefix(cmd, "AUTH TLS"):
				c.Write([]byte("234 Proceed with negotiation.\r\n"))
				if b := lr.Buffered(); len(b) > 0 {
					c.Write(b)
				}
				io.Copy(c, c) // echo the "handshake"
				return
			default:
				c.Write([]byte("500 what\r\n"))
			}
		}
	}()
	return ln.Addr().String(), seen
}

func TestAuthTLSAllowed(t *testing.T) {
	for _, loginFirst := range []bool{false, true} {
		name := map[bool]string{false: "before login", true: "after login"}[loginFirst]
		t.Run(name, func(t *testing.T) {
			addr, seen := authServer(t)
			h := &harness{t: t, broker: NewBroker(), errs: make(chan error, 1), opts: Options{AllowAuthTLS: true}}
			h.v = &testpeer.VSFTPD{Addr: addr, Password: "pw"}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
			if loginFirst {
				j.login("u", "pw")
			}
			j.cmd("AUTH TLS", 234)
			hello := []byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00, '\r', '\n', 0x15}
			if _, err := j.conn.Write(hello); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(hello))
			if _, err := io.ReadFull(j.conn, got); err != nil || !bytes.Equal(got, hello) {
				t.Fatalf("raw bytes back: % X, %v", got, err)
			}
			j.conn.(*net.TCPConn).CloseWrite()
			if err := h.waitServe(); err != nil {
				t.Fatal(err)
			}
			want := "u/true"
			if !loginFirst {
				want = "/false" // the profile's key, no user from the job
			}
			if len(h.opens) != 1 || h.opens[0] != want {
				t.Errorf("opens = %v, want [%s]", h.opens, want)
			}
			var cmds []string
			for len(seen) > 0 {
				cmds = append(cmds, <-seen)
			}
			if cmds[len(cmds)-1] != "AUTH TLS" {
				t.Errorf("server saw %q", cmds)
			}
		})
	}
}
