package socksd

import (
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"socksd/internal/testing/wait"
)

const testConfig = `
[server]
listen = ["127.0.0.1:0"]
handshake_timeout = "500ms"
[console]
socket = ""
[[rules]]
name = "loopback"
to = ["127.0.0.0/8"]
action = "direct"
`

// sessionGoroutines counts goroutines that belong to sessions.
func sessionGoroutines() (int, string) {
	buf := make([]byte, 4<<20)
	all := string(buf[:runtime.Stack(buf, true)])
	n := 0
	for _, g := range strings.Split(all, "\n\n") {
		if strings.Contains(g, "(*Daemon).handle") || strings.Contains(g, "internal/relay") {
			n++
		}
	}
	return n, all
}

// waitNoSessionGoroutines waits until every session goroutine has ended.
func waitNoSessionGoroutines(t *testing.T) {
	t.Helper()
	var n int
	var all string
	if !wait.For(10*time.Second, func() bool { n, all = sessionGoroutines(); return n == 0 }) {
		t.Fatalf("%d session goroutines left:\n%s", n, all)
	}
}

func TestHostileInputLeaksNothing(t *testing.T) {
	td := newTestDaemon(t, testConfig, nil)
	d, addr := td.Daemon, td.addr
	inputs := [][]byte{
		{}, {5}, {5, 1}, {5, 255}, {4, 1}, {4, 1, 0, 80, 127, 0, 0, 1}, {5, 1, 0, 5, 1, 0, 3, 200},
		{0x16, 3, 1, 0, 1}, []byte("\r\n\r\n"), {5, 1, 2, 1, 255},
	}
	for round := 0; round < 5; round++ {
		for _, in := range inputs {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write(in)
			if round%2 == 0 {
				c.Close() // vanish at once
				continue
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.ReadAll(c) // wait for the reply or the handshake timeout
			c.Close()
		}
	}
	waitNoSessionGoroutines(t)
	if n := d.sessions.count(); n != 0 {
		t.Fatalf("%d sessions left in the table", n)
	}
	if d.Stats().Failed == 0 {
		t.Fatal("failed handshakes not counted")
	}
}

func TestCancelEndsSession(t *testing.T) {
	td := newTestDaemon(t, testConfig, nil)
	d, addr := td.Daemon, td.addr
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := ln.Addr().(*net.TCPAddr).Port
	c.Write([]byte{5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, byte(p >> 8), byte(p)})
	reply := make([]byte, 12)
	if _, err := io.ReadFull(c, reply); err != nil || reply[1] != 0 {
		t.Fatalf("reply % x %v", reply, err)
	}
	ss := d.Sessions()
	if len(ss) != 1 || ss[0].Rule != "loopback" {
		t.Fatalf("sessions = %+v", ss)
	}
	if err := d.Cancel(ss[0].ID); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("cancelled session not closed: %v", err)
	}
	if err := d.Cancel(999); err == nil {
		t.Fatal("cancel of an unknown session succeeded")
	}
}
