package socks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
)

func TestNewDialer(t *testing.T) {
	d, err := NewDialer("socks5h://JOB1:s3cret-pw@proxy.lan:1081")
	if err != nil {
		t.Fatal(err)
	}
	want := Dialer{Version: 5, ProxyAddr: "proxy.lan:1081", User: "JOB1", Password: "s3cret-pw"}
	if *d != want {
		t.Errorf("NewDialer = %v, want %v", d, want)
	}
	js, _ := json.Marshal(d)
	for _, s := range []string{d.String(), fmt.Sprintf("%v %+v %#v %s", d, d, d, *d), string(js)} {
		if strings.Contains(s, "s3cret-pw") {
			t.Errorf("%q shows the password", s)
		}
	}
	if got := d.String(); got != "socks5://JOB1:***@proxy.lan:1081" {
		t.Errorf("String() = %q", got)
	}
	if _, err := NewDialer("socks6://x"); err == nil {
		t.Error("NewDialer accepted socks6")
	}
}

func TestDialerErrors(t *testing.T) {
	d := &Dialer{Version: 5, ProxyAddr: "127.0.0.1:1"}
	if _, err := d.Dial("udp", "h.example:1"); err == nil || !strings.HasPrefix(err.Error(), "socks: ") {
		t.Errorf("udp: %v", err)
	}
	if _, err := d.Dial("tcp", "h.example"); err == nil {
		t.Error("address without a port accepted")
	}
	// A proxy that is not listening.
	d.ProxyAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	_, err := d.Dial("tcp", "h.example:22")
	if !errors.Is(err, syscall.ECONNREFUSED) || ReplyCode(err) != RepConnectionRefused {
		t.Errorf("dead proxy: %v (code %v)", err, ReplyCode(err))
	}
}

func TestDialerThroughServer(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want Request
	}{
		{"socks5://JOB1:s3cret@", Request{Version: 5, Command: CmdConnect, Dest: Addr{"ssh.partner.example", 22}, User: "JOB1", Password: []byte("s3cret"), Method: MethodUserPass}},
		{"socks5://", Request{Version: 5, Command: CmdConnect, Dest: Addr{"ssh.partner.example", 22}, Method: MethodNone}},
		{"socks4a://JOB1@", Request{Version: 4, Command: CmdConnect, Dest: Addr{"ssh.partner.example", 22}, User: "JOB1"}},
	} {
		t.Run(tc.url, func(t *testing.T) {
			ln := listenLoopback(t, "tcp4")
			got := make(chan *Request, 1)
			serveOne(t, ln, echoAfterReply(t, ServerConfig{Methods: []Method{MethodUserPass, MethodNone}}, got))
			d, err := NewDialer(tc.url + ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), ioDeadline)
			defer cancel()
			c, err := d.DialContext(ctx, "tcp", "ssh.partner.example:22")
			if err != nil {
				t.Fatalf("DialContext: %v", err)
			}
			defer c.Close()
			if req := <-got; req == nil || !sameRequest(*req, tc.want) {
				t.Fatalf("server read %#v, want %#v", req, tc.want)
			}
			echoCheck(t, c, "SSH-2.0-test\r\n")
		})
	}
}

func TestDialerRefused(t *testing.T) {
	ln := listenLoopback(t, "tcp4")
	serveOne(t, ln, func(c *net.TCPConn) {
		req, err := ReadRequest(c, bothCfg)
		if err != nil {
			t.Errorf("server: %v", err)
			return
		}
		WriteReply(c, req.Version, RepHostUnreachable, Addr{})
	})
	d := &Dialer{Version: 5, ProxyAddr: ln.Addr().String(), User: "u", Password: "pw-never-shown"}
	_, err := d.Dial("tcp", "10.9.9.9:22")
	var re *ReplyError
	if !errors.As(err, &re) || re.Code != RepHostUnreachable {
		t.Fatalf("error %v, want ReplyError host unreachable", err)
	}
	if !strings.HasPrefix(err.Error(), "socks: ") || !strings.Contains(err.Error(), ln.Addr().String()) || strings.Contains(err.Error(), "pw-never-shown") {
		t.Errorf("error text %q", err)
	}
}

// TestDialerCancel cancels the context while the proxy is silent.
func TestDialerCancel(t *testing.T) {
	ln := listenLoopback(t, "tcp4")
	greeted := make(chan struct{})
	serveOne(t, ln, func(c *net.TCPConn) {
		var b [3]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			t.Errorf("server: %v", err)
			return
		}
		close(greeted)
		io.Copy(io.Discard, c) // never answers; returns when the client closes
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-greeted
		cancel()
	}()
	d := &Dialer{Version: 5, ProxyAddr: ln.Addr().String()}
	_, err := d.DialContext(ctx, "tcp", "h.example:22")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestDialerThroughDante(t *testing.T) {
	proxyAddr := startDante(t)
	for _, v := range []int{4, 5} {
		echo := listenLoopback(t, "tcp4")
		serveOne(t, echo, func(c *net.TCPConn) {
			io.Copy(c, c)
		})
		d := &Dialer{Version: v, ProxyAddr: proxyAddr}
		ctx, cancel := context.WithTimeout(context.Background(), ioDeadline)
		c, err := d.DialContext(ctx, "tcp", echo.Addr().String())
		cancel()
		if err != nil {
			t.Fatalf("socks%d via Dante: %v", v, err)
		}
		echoCheck(t, c, "SSH-2.0-OpenSSH_9.2\r\n")
		c.Close()
	}
}
