package tunnel

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"
)

func dialEcho(t *testing.T) net.Conn {
	t.Helper()
	s := newTestServer(t)
	p := testPool(t, s, nil)
	c, err := p.Dial(context.Background(), testProfile(s), "", Credentials{User: "alice", Password: []byte("s3cret")}, testpeer.EchoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestChannelReadDeadline(t *testing.T) {
	c := dialEcho(t)
	// Nothing to read: the deadline ends the Read.
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 8))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read = %v, want a timeout", err)
	}
	// A deadline in the past fails at once, again.
	c.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("past deadline: %v", err)
	}
	// Data that arrives after a timeout is not lost, and small reads drain it.
	c.SetReadDeadline(time.Time{})
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 0, 5)
	one := make([]byte, 1)
	for len(got) < 5 {
		n, err := c.Read(one)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, one[:n]...)
	}
	if string(got) != "hello" {
		t.Fatalf("read %q after timeouts", got)
	}
	// Back to plain reads once the pending read is consumed.
	echoOnce(t, c, "plain again")
}

func TestChannelDeadlineChangedWhileBlocked(t *testing.T) {
	c := dialEcho(t)
	c.SetReadDeadline(time.Now().Add(time.Hour))
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 8))
		errc <- err
	}()
	// Moving the deadline into the past wakes the blocked Read.
	c.SetReadDeadline(time.Now().Add(-time.Millisecond))
	if err := <-errc; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %v, want deadline exceeded", err)
	}
}

func TestChannelWriteDeadlineAndEOF(t *testing.T) {
	c := dialEcho(t)
	c.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write past deadline: %v", err)
	}
	c.SetDeadline(time.Now().Add(time.Hour))
	if _, err := c.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	c.(interface{ CloseWrite() error }).CloseWrite()
	b, err := io.ReadAll(c) // through the deadline path, to EOF
	if err != nil || string(b) != "bye" {
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
}

// TestChannelHoldsNothingWithoutDeadline: once the read deadline is
// cleared, the next Read drops what deadline reads kept (the background
// buffer and the timer), as the FTP control channel does after login.
func TestChannelHoldsNothingWithoutDeadline(t *testing.T) {
	c := dialEcho(t)
	ch, ok := c.(*channel)
	if !ok {
		t.Fatalf("Dial returned a %T", c)
	}
	c.SetReadDeadline(time.Now().Add(time.Hour))
	echoOnce(t, c, "with a deadline")
	if ch.bgbuf == nil || ch.timer == nil {
		t.Fatal("a deadline read kept no background buffer or timer")
	}
	if cap(ch.bgbuf) > readChunk {
		t.Fatalf("background buffer of %d bytes", cap(ch.bgbuf))
	}
	c.SetReadDeadline(time.Time{})
	echoOnce(t, c, "without")
	if ch.bgbuf != nil || ch.timer != nil || ch.pending {
		t.Fatalf("after a plain read: buffer %d bytes, timer %v, pending %v", cap(ch.bgbuf), ch.timer != nil, ch.pending)
	}
}

// TestChannelRequestsRefused: channel requests on a direct-tcpip channel
// are refused by the connection's one request sink, more than x/crypto
// queues per channel, and the connection goes on serving channels.
func TestChannelRequestsRefused(t *testing.T) {
	s := newTestServer(t)
	p := testPool(t, s, nil)
	creds := Credentials{User: "alice", Password: []byte("s3cret")}
	for i := 0; i < 2; i++ {
		c, err := p.Dial(context.Background(), testProfile(s), "", creds, "chatty.invalid:1")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(b) != "ok" {
			t.Fatalf("chatty channel %d: read %q, %v", i, b, err)
		}
	}
	s.mu.Lock()
	refused := s.refused
	s.mu.Unlock()
	if refused != 2*chattyRequests {
		t.Fatalf("%d requests refused, want %d", refused, 2*chattyRequests)
	}
	c, err := p.Dial(context.Background(), testProfile(s), "", creds, testpeer.EchoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echoOnce(t, c, "still serving")
}
