package testpeer

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// ServeTCP listens on a loopback port and runs handle for each connection
// (ServeTCP closes the connection when handle returns). When tb ends it
// closes the listener and every open connection and waits for the
// handlers. It returns the listener's address.
func ServeTCP(tb testing.TB, handle func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// EchoServer is a ServeTCP that echoes each connection until EOF (at most
// 10 minutes), then half-closes its side.
func EchoServer(tb testing.TB) string {
	tb.Helper()
	return ServeTCP(tb, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Minute))
		io.Copy(c, c)
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	})
}
