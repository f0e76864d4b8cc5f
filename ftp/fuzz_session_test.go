package ftp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"socksd/ebcdic"
)

// pipeTunnel connects the control dial to a fake FTP server over a
// loopback TCP pair (buffered like an SSH channel, unlike net.Pipe, so that
// pipelined commands do not block) and refuses every other dial.
type pipeTunnel struct{ server string }

func (p *pipeTunnel) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if addr != p.server {
		return nil, errors.New("fake: no data channels")
	}
	a, b, err := tcpPair()
	if err != nil {
		return nil, err
	}
	go fakeServer(b)
	return a, nil
}
func (p *pipeTunnel) Server() string { return "ssh.example:22" }
func (p *pipeTunnel) ID() string     { return "pipe" }
func (p *pipeTunnel) Close() error   { return nil }

// fakeServer answers every command plausibly.
func fakeServer(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	w := bufio.NewWriter(c)
	say := func(s string) { w.WriteString(s + "\r\n"); w.Flush() }
	say("220-fake")
	say("220 ready")
	lr := ebcdic.NewLineReader(c, 0)
	for i := 0; i < 200; i++ {
		line, _, err := lr.ReadLine()
		if err != nil {
			return
		}
		verb, _, _ := strings.Cut(strings.ToUpper(string(line)), " ")
		switch verb {
		case "USER":
			say("331 pw")
		case "PASS":
			say("230 in")
		case "PASV":
			say("227 Entering Passive Mode (127,0,0,1,200,1).")
		case "EPSV":
			say("229 Entering Extended Passive Mode (|||51201|)")
		case "RETR", "LIST", "STOR":
			say("150 go")
			say("226 done")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("200 ok")
		}
	}
}

// FuzzSession feeds arbitrary job input to a whole session against a fake
// server: the session must never panic, must end when the job's input
// ends, and everything the job gets must be well-formed replies.
func FuzzSession(f *testing.F) {
	f.Add([]byte("USER u\r\nPASS p\r\nPASV\r\nRETR x\r\nQUIT\r\n"), false)
	f.Add([]byte("USER u\r\nPASS p\r\nPORT 127,0,0,1,200,1\r\nEPRT |1|10.0.0.1|5000|\r\nSITE FILETYPE=JES\r\nAUTH TLS\r\n"), false)
	f.Add(append(ebcdic.Encode(ebcdic.IBM1047, "USER u"), append([]byte{0x15}, ebcdic.Encode(ebcdic.IBM1047, "PASS p\x15EPSV\x15LIST")...)...), true)
	f.Add([]byte("PASS x\r\nFEAT\r\nUSER\r\n\r\n\x00\x01\r\nUSER a\nPASS\nQUOTE SITE RECFM=FB\nLPRT 1\nABOR\n"), false)
	f.Fuzz(func(t *testing.T, input []byte, auto bool) {
		job, sess, err := tcpPair()
		if err != nil {
			t.Fatal(err)
		}
		enc := "ascii"
		if auto {
			enc = "auto"
		}
		cfg := SessionConfig{
			ID: 1, Client: sess,
			ClientAddr: job.LocalAddr().(*net.TCPAddr).AddrPort(),
			LocalAddr:  netip.MustParseAddr("127.0.0.1"),
			Server:     "ftp.example:21",
			Options:    Options{Encoding: enc, Deny: []string{"SITE FILETYPE=JES", "DELE"}, MaxLine: 128},
			Open: func(ctx context.Context, user string, password []byte) (Tunnel, error) {
				return &pipeTunnel{server: "ftp.example:21"}, nil
			},
			Log: zerolog.Nop(),
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- Serve(ctx, cfg) }()
		out := make(chan []byte, 1)
		var readErr error
		go func() {
			b, err := io.ReadAll(job)
			readErr = err
			out <- b
		}()
		job.SetWriteDeadline(time.Now().Add(10 * time.Second))
		job.Write(input)
		job.(*net.TCPConn).CloseWrite()
		var serveErr error
		select {
		case serveErr = <-done:
		case <-time.After(15 * time.Second):
			t.Fatal("session did not end")
		}
		// Serve closed its end: the reader sees the end of the replies.
		var got []byte
		select {
		case got = <-out:
		case <-time.After(10 * time.Second):
			t.Fatal("job connection not closed by the session")
		}
		job.Close()
		if len(got) == 0 {
			t.Fatalf("no greeting; Serve = %v, read: %v", serveErr, readErr)
		}
		// Every reply line is a reply in some code page.
		lr := ebcdic.NewLineReader(bytes.NewReader(got), 0)
		for i := 0; i < 1000; i++ {
			line, _, err := lr.ReadLine()
			if err != nil {
				break
			}
			cp, _ := ebcdic.Detect(line)
			text := ebcdic.Decode(cp, line)
			if _, _, _, err := ParseReply(text); err != nil && !strings.HasPrefix(text, " ") {
				t.Fatalf("job got a line that is not a reply: %q", text)
			}
		}
	})
}
