package bench

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"
)

// TestDelayLine passes 8 MiB each way through the delay line intact, with
// the half-close after them, and a byte's round trip takes at least the
// two delays (a lower bound, which cannot fail for a slow machine).
func TestDelayLine(t *testing.T) {
	const oneWay = 20 * time.Millisecond
	echo := testpeer.EchoServer(t)
	addr := startDelayLine(t, echo, oneWay)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	start := time.Now()
	one := []byte{'x'}
	if _, err := c.Write(one); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, one); err != nil || one[0] != 'x' {
		t.Fatalf("echo: %q %v", one, err)
	}
	if rtt := time.Since(start); rtt < 2*oneWay {
		t.Errorf("round trip %v, less than the two delays of %v", rtt, oneWay)
	}
	data := testpeer.Data(8<<20, 5)
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("echo through the delay line: %d of %d bytes, equal %v, %v", len(got), len(data), sha256.Sum256(got) == sha256.Sum256(data), err)
	}
}
