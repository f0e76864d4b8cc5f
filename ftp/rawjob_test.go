package ftp

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"socksd/ebcdic"
)

// rawJob is a minimal FTP client speaking a chosen code page and line end,
// like a z/OS batch job.
type rawJob struct {
	t    *testing.T
	conn net.Conn
	rr   *ReplyReader
	cp   ebcdic.CodePage
	term ebcdic.Terminator
}

func newRawJob(t *testing.T, c net.Conn, cp ebcdic.CodePage, term ebcdic.Terminator, greetingCP ebcdic.CodePage) *rawJob {
	t.Helper()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	j := &rawJob{t: t, conn: c, cp: cp, term: term,
		rr: &ReplyReader{LR: ebcdic.NewLineReader(c, 0), CP: greetingCP}}
	j.expect(220)
	j.rr.CP = cp
	return j
}

func (j *rawJob) send(line string) {
	j.t.Helper()
	b := append(ebcdic.Encode(j.cp, line), j.term.Bytes()...)
	if _, err := j.conn.Write(b); err != nil {
		j.t.Fatalf("send %q: %v", line, err)
	}
}

func (j *rawJob) reply() *Reply {
	j.t.Helper()
	r, err := j.rr.ReadReply()
	if err != nil {
		j.t.Fatalf("read reply: %v", err)
	}
	return r
}

// expect reads replies until a final one, checks its code and returns it.
func (j *rawJob) expect(code int) *Reply {
	j.t.Helper()
	for i := 0; i < 5; i++ {
		r := j.reply()
		if r.Preliminary() && code >= 200 {
			continue
		}
		if r.Code != code {
			j.t.Fatalf("got %d %q, want %d", r.Code, r.Lines, code)
		}
		return r
	}
	j.t.Fatalf("no final reply")
	return nil
}

func (j *rawJob) cmd(line string, code int) *Reply {
	j.t.Helper()
	j.send(line)
	return j.expect(code)
}

func (j *rawJob) login(user, password string) {
	j.t.Helper()
	j.cmd("USER "+user, 331)
	j.cmd("PASS "+password, 230)
}

// readEOF reads from c until EOF or error, bounded by a deadline.
func readAll(t *testing.T, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("data read: %v", err)
	}
	return b
}

// socksData opens a passive data connection the way a SOCKS client would:
// Broker.Claim for a CONNECT to host:port, then DataLink.Serve.
func (h *harness) socksData(ctx context.Context, host string, port uint16) net.Conn {
	h.t.Helper()
	a, err := h.connectData(ctx, host, port)
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

func hostOf(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}
