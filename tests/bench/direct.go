package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/proxy"

	"socksd/internal/testpeer"
)

const directBenchConfig = `
[server]
listen = ["127.0.0.1:0"]
max_sessions = 4096
[log]
level = "warn"
[console]
socket = ""
[[rules]]
name = "loopback"
to = ["127.0.0.0/8"]
action = "direct"
`

// sink accepts connections and discards what they send; each connection
// reports its byte count when it ends.
func sink() (net.Listener, chan int64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	done := make(chan int64, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				n := drain(c)
				c.Close()
				done <- n
			}()
		}
	}()
	return ln, done, nil
}

// drain reads c to EOF with a large buffer and returns the byte count.
func drain(c io.Reader) int64 {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		m, err := c.Read(buf)
		n += int64(m)
		if err != nil {
			return n
		}
	}
}

// push sends size bytes over c and returns MB/s, counted when the
// receiver has seen the last byte.
func push(c net.Conn, size int64, done chan int64) (float64, error) {
	buf := make([]byte, 256<<10)
	start := time.Now()
	var sent int64
	for sent < size {
		n := int64(len(buf))
		if size-sent < n {
			n = size - sent
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return 0, err
		}
		sent += n
	}
	c.Close()
	select {
	case got := <-done:
		if got != size {
			return 0, fmt.Errorf("receiver got %d of %d bytes", got, size)
		}
	case <-time.After(5 * time.Minute):
		return 0, fmt.Errorf("receiver did not finish")
	}
	return float64(size) / 1e6 / time.Since(start).Seconds(), nil
}

func benchDirect(e *env) ([]row, error) {
	d, err := testpeer.LaunchSocksd(e.bin, e.dir, directBenchConfig)
	if err != nil {
		return nil, err
	}
	defer d.Kill()
	ln, done, err := sink()
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	dialer, err := proxy.SOCKS5("tcp", d.Addr, nil, proxy.Direct)
	if err != nil {
		return nil, err
	}
	r := row{Section: "Direct relay (issue 2)", Name: fmt.Sprintf("%d MiB through a direct rule", e.size>>20),
		Unit: "MB/s", RefName: "plain loopback TCP", HigherIsBetter: true}
	for i := 0; i < e.runs; i++ {
		// Alternate, so that drift on the machine hits both alike.
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return nil, err
		}
		ref, err := push(c, e.size, done)
		if err != nil {
			return nil, err
		}
		c, err = dialer.Dial("tcp", ln.Addr().String())
		if err != nil {
			return nil, err
		}
		ours, err := push(c, e.size, done)
		if err != nil {
			return nil, err
		}
		e.logf("   run %d: socksd %.0f MB/s, loopback %.0f MB/s", i+1, ours, ref)
		r.Ours = append(r.Ours, ours)
		r.Ref = append(r.Ref, ref)
	}
	return []row{r}, nil
}

// rssKiB reads a process's resident set size.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

func benchIdle(e *env) ([]row, error) {
	const sessions = 1000
	r := row{Section: "Idle sessions (issue 2)", Name: fmt.Sprintf("resident memory per idle session, %d open", sessions),
		Unit: "KiB"}
	for i := 0; i < e.runs; i++ {
		per, err := idleOnce(e, sessions)
		if err != nil {
			return nil, err
		}
		e.logf("   run %d: %.1f KiB per session", i+1, per)
		r.Ours = append(r.Ours, per)
	}
	return []row{r}, nil
}

func idleOnce(e *env, n int) (float64, error) {
	d, err := testpeer.LaunchSocksd(e.bin, e.dir, directBenchConfig)
	if err != nil {
		return 0, err
	}
	defer d.Kill()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // only this goroutine appends until ln closes
		}
	}()
	dialer, _ := proxy.SOCKS5("tcp", d.Addr, nil, proxy.Direct)
	// One session first, so that the baseline includes warm buffers.
	warm, err := dialer.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	defer warm.Close()
	before, err := rssKiB(d.PID())
	if err != nil {
		return 0, err
	}
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := dialer.Dial("tcp", ln.Addr().String())
		if err != nil {
			return 0, fmt.Errorf("session %d: %w", i, err)
		}
		clients = append(clients, c)
	}
	after, err := rssKiB(d.PID())
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(n), nil
}
