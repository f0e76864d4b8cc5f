package socks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// ioDeadline bounds every loopback exchange so that a bug hangs no test;
// it is a safety net, not a timing assertion.
const ioDeadline = 30 * time.Second

// listenLoopback listens on 127.0.0.1 ("tcp4") or ::1 ("tcp6"); it skips
// the test when ::1 is not available.
func listenLoopback(t *testing.T, network string) net.Listener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		if network == "tcp6" {
			t.Skipf("IPv6 loopback unavailable: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// serveOne accepts one connection on ln and runs handle on it in a
// goroutine; at the end of the test it closes ln (ending an Accept that
// never got a client) and waits for the handler.
func serveOne(t *testing.T, ln net.Listener, handle func(c *net.TCPConn)) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("accept: %v", err)
			}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(ioDeadline))
		handle(c.(*net.TCPConn))
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
}

// dial connects to ln with the safety deadline set.
func dial(t *testing.T, ln net.Listener) *net.TCPConn {
	t.Helper()
	c, err := net.Dial(ln.Addr().Network(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(ioDeadline))
	return c.(*net.TCPConn)
}

// echoAfterReply is a server that answers the request with its own local
// address and then echoes until EOF.
func echoAfterReply(t *testing.T, cfg ServerConfig, got chan<- *Request) func(c *net.TCPConn) {
	return func(c *net.TCPConn) {
		req, err := ReadRequest(c, cfg)
		got <- req
		if err != nil {
			t.Errorf("server: %v", err)
			return
		}
		if err := WriteReply(c, req.Version, RepSucceeded, AddrFromNet(c.LocalAddr())); err != nil {
			t.Errorf("server: %v", err)
			return
		}
		if _, err := io.Copy(c, c); err != nil {
			t.Errorf("server echo: %v", err)
		}
		c.CloseWrite()
	}
}

// echoCheck sends payload and expects it back.
func echoCheck(t *testing.T, c net.Conn, payload string) {
	t.Helper()
	if _, err := io.WriteString(c, payload); err != nil {
		t.Fatal(err)
	}
	back := make([]byte, len(payload))
	if _, err := io.ReadFull(c, back); err != nil {
		t.Fatal(err)
	}
	if string(back) != payload {
		t.Errorf("echo %q, want %q", back, payload)
	}
}

func TestRoundTripTCP(t *testing.T) {
	userFirst := ServerConfig{Methods: []Method{MethodUserPass, MethodNone}}
	for _, tc := range []struct {
		name       string
		network    string
		cfg        ServerConfig
		version    int
		dest       Addr
		user, pass string
		want       Request
	}{
		{"socks4", "tcp4", bothCfg, 4, Addr{"192.0.2.10", 21}, "JOB1", "",
			Request{Version: 4, Command: CmdConnect, Dest: Addr{"192.0.2.10", 21}, User: "JOB1"}},
		{"socks4a", "tcp4", bothCfg, 4, Addr{"ftp.partner.example", 21}, "JOB1", "",
			Request{Version: 4, Command: CmdConnect, Dest: Addr{"ftp.partner.example", 21}, User: "JOB1"}},
		{"socks5 ipv4", "tcp4", bothCfg, 5, Addr{"192.0.2.10", 21}, "", "",
			Request{Version: 5, Command: CmdConnect, Dest: Addr{"192.0.2.10", 21}, Method: MethodNone}},
		{"socks5 ipv6 dest", "tcp4", bothCfg, 5, Addr{"2001:db8::10", 21}, "", "",
			Request{Version: 5, Command: CmdConnect, Dest: Addr{"2001:db8::10", 21}, Method: MethodNone}},
		{"socks5 domain", "tcp4", bothCfg, 5, Addr{"ftp.partner.example", 2121}, "", "",
			Request{Version: 5, Command: CmdConnect, Dest: Addr{"ftp.partner.example", 2121}, Method: MethodNone}},
		{"socks5 userpass", "tcp4", userFirst, 5, Addr{"ftp.partner.example", 21}, "JOB1", "s3cret",
			Request{Version: 5, Command: CmdConnect, Dest: Addr{"ftp.partner.example", 21}, User: "JOB1", Password: []byte("s3cret"), Method: MethodUserPass}},
		{"socks5 over ::1", "tcp6", userFirst, 5, Addr{"2001:db8::10", 21}, "JOB1", "s3cret",
			Request{Version: 5, Command: CmdConnect, Dest: Addr{"2001:db8::10", 21}, User: "JOB1", Password: []byte("s3cret"), Method: MethodUserPass}},
		{"socks4a over ::1", "tcp6", bothCfg, 4, Addr{"h.example", 21}, "", "",
			Request{Version: 4, Command: CmdConnect, Dest: Addr{"h.example", 21}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := listenLoopback(t, tc.network)
			got := make(chan *Request, 1)
			serveOne(t, ln, echoAfterReply(t, tc.cfg, got))
			c := dial(t, ln)
			bound, err := ClientHandshake(c, tc.version, tc.dest, tc.user, tc.pass)
			if err != nil {
				t.Fatalf("client: %v", err)
			}
			req := <-got
			if req == nil || !sameRequest(*req, tc.want) {
				t.Fatalf("server read %#v, want %#v", req, tc.want)
			}
			wantBound := AddrFromNet(c.RemoteAddr())
			if tc.version == 4 && tc.network == "tcp6" {
				wantBound.Host = "0.0.0.0" // SOCKS4 cannot carry IPv6
			}
			if bound != wantBound {
				t.Errorf("bound %v, want %v", bound, wantBound)
			}
			echoCheck(t, c, "250 data after the handshake\r\n")
		})
	}
}

func TestRoundTripFailureReply(t *testing.T) {
	for _, tc := range []struct {
		version int
		code    Reply
		want    Reply
	}{
		{5, RepConnectionRefused, RepConnectionRefused},
		{5, RepNotAllowed, RepNotAllowed},
		{5, RepHostUnreachable, RepHostUnreachable},
		{4, RepConnectionRefused, RepGeneralFailure},
	} {
		ln := listenLoopback(t, "tcp4")
		serveOne(t, ln, func(c *net.TCPConn) {
			req, err := ReadRequest(c, bothCfg)
			if err != nil {
				t.Errorf("server: %v", err)
				return
			}
			if err := WriteReply(c, req.Version, tc.code, Addr{}); err != nil {
				t.Errorf("server: %v", err)
			}
		})
		c := dial(t, ln)
		_, err := ClientHandshake(c, tc.version, Addr{"192.0.2.1", 21}, "", "")
		var re *ReplyError
		if !errors.As(err, &re) || re.Code != tc.want {
			t.Errorf("socks%d %v: client error %v, want ReplyError %v", tc.version, tc.code, err, tc.want)
		}
	}
}

// TestRefusalReachesClient checks that a refusal written by ReadRequest
// arrives even though the server closes right after it: the request was
// read completely, so the close sends FIN, not a reset.
func TestRefusalReachesClient(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     ServerConfig
		version int
		user    string
		wantErr error
		wantRep Reply
	}{
		{"socks4 disabled", ServerConfig{Versions: []int{5}}, 4, "JOB1", nil, RepGeneralFailure},
		{"socks5 disabled", ServerConfig{Versions: []int{4}}, 5, "", ErrMethod, 0},
		{"userpass required", ServerConfig{Methods: []Method{MethodUserPass}}, 5, "", ErrMethod, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := listenLoopback(t, "tcp4")
			serveOne(t, ln, func(c *net.TCPConn) {
				if _, err := ReadRequest(c, tc.cfg); err == nil {
					t.Errorf("server accepted the request")
				}
			})
			c := dial(t, ln)
			_, err := ClientHandshake(c, tc.version, Addr{"ftp.example", 21}, tc.user, "")
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("client error %v, want %v", err, tc.wantErr)
				}
				return
			}
			var re *ReplyError
			if !errors.As(err, &re) || re.Code != tc.wantRep {
				t.Errorf("client error %v, want ReplyError %v", err, tc.wantRep)
			}
		})
	}
}

// TestPipelinedRequest sends the whole SOCKS5 exchange and the first
// application bytes in one segment, as optimistic clients do: the bytes
// after the request must stay in the connection for the relay.
func TestPipelinedRequest(t *testing.T) {
	const payload = "USER JOB1\r\n"
	for _, in := range [][]byte{
		cat(5, 1, 0, 5, 1, 0, 3, 11, "ftp.example", uint16(21), payload),
		cat(4, 1, uint16(21), 0, 0, 0, 1, "JOB1", 0, "ftp.example", 0, payload),
		cat(5, 1, 2, 1, 4, "JOB1", 2, "pw", 5, 1, 0, 3, 11, "ftp.example", uint16(21), payload),
	} {
		ln := listenLoopback(t, "tcp4")
		serveOne(t, ln, func(c *net.TCPConn) {
			req, err := ReadRequest(c, ServerConfig{Methods: []Method{MethodNone, MethodUserPass}})
			if err != nil {
				t.Errorf("server: %v", err)
				return
			}
			if req.Dest != (Addr{"ftp.example", 21}) {
				t.Errorf("dest %v", req.Dest)
			}
			buf := make([]byte, len(payload))
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != payload {
				t.Errorf("relay bytes %q, %v; want %q", buf, err, payload)
			}
		})
		c := dial(t, ln)
		if _, err := c.Write(in); err != nil {
			t.Fatal(err)
		}
		// Drain whatever the server answers until it closes.
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRoundTripBind runs a BIND over loopback: the first reply names the
// server's listener, a peer connects to it, the second reply names the
// peer, and data flows between peer and client.
func TestRoundTripBind(t *testing.T) {
	for _, tc := range []struct {
		version int
		network string
	}{{4, "tcp4"}, {5, "tcp4"}, {5, "tcp6"}} {
		t.Run(fmt.Sprintf("socks%d %s", tc.version, tc.network), func(t *testing.T) {
			ln := listenLoopback(t, tc.network)
			dl := listenLoopback(t, tc.network) // the server's BIND socket
			serveOne(t, ln, func(c *net.TCPConn) {
				req, err := ReadRequest(c, bothCfg)
				if err != nil || req.Command != CmdBind {
					t.Errorf("server: %v, %v", req, err)
					return
				}
				if err := WriteReply(c, req.Version, RepSucceeded, AddrFromNet(dl.Addr())); err != nil {
					t.Errorf("server: first reply: %v", err)
					return
				}
				peer, err := dl.Accept()
				if err != nil {
					t.Errorf("server: accept: %v", err)
					return
				}
				defer peer.Close()
				if err := WriteReply(c, req.Version, RepSucceeded, AddrFromNet(peer.RemoteAddr())); err != nil {
					t.Errorf("server: second reply: %v", err)
					return
				}
				if _, err := io.Copy(c, peer); err != nil {
					t.Errorf("server: relay: %v", err)
				}
			})
			c := dial(t, ln)
			expect := Addr{"127.0.0.1", 0}
			if tc.network == "tcp6" {
				expect.Host = "::1"
			}
			first, err := ClientBind(c, tc.version, expect, "JOB1", "")
			if err != nil {
				t.Fatalf("ClientBind: %v", err)
			}
			peer, err := net.Dial(tc.network, first.String())
			if err != nil {
				t.Fatalf("peer dial %v: %v", first, err)
			}
			defer peer.Close()
			second, err := ReadBindSecond(c, tc.version)
			if err != nil {
				t.Fatalf("ReadBindSecond: %v", err)
			}
			if want := AddrFromNet(peer.LocalAddr()); second != want {
				t.Errorf("second reply names %v, want the peer %v", second, want)
			}
			const data = "150 data for the bind socket"
			io.WriteString(peer, data)
			peer.Close()
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, []byte(data)) {
				t.Errorf("relayed %q, %v; want %q", got, err, data)
			}
		})
	}
}
