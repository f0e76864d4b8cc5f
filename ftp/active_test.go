package ftp

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"socksd/ebcdic"
	"socksd/internal/relay"
	"socksd/internal/testing/testpeer"
)

// TestActiveBindConversion plays the z/OS client: SOCKS BIND, then PORT
// naming the BIND address. vsftpd has port_enable=NO, so the transfer only
// works if socksd converted PORT to PASV through the tunnel.
func TestActiveBindConversion(t *testing.T) {
	for _, verb := range []string{"PORT", "EPRT"} {
		t.Run(verb, func(t *testing.T) {
			h := newHarness(t, testpeer.VSFTPDConfig{WriteEnable: true, PortEnable: false}, Options{})
			want := testpeer.Data(300<<10, 3)
			h.v.WriteFile(t, "act.bin", want)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
			bindReq := func(client netip.Addr, host string) DataRequest {
				return DataRequest{Bind: true, Client: client, Local: daemonAddr, Host: host, Port: 20}
			}
			if _, ok := h.broker.Claim(bindReq(loopback, hostOf(h.v.Addr))); ok {
				t.Fatal("BIND matched before login")
			}
			j.login(h.v.User, h.v.Password)
			j.cmd("TYPE I", 200)
			if _, ok := h.broker.Claim(bindReq(netip.MustParseAddr("127.0.0.2"), hostOf(h.v.Addr))); ok {
				t.Fatal("BIND matched another client")
			}
			if _, ok := h.broker.Claim(bindReq(loopback, "ftp.other.example")); ok {
				t.Fatal("BIND matched another server")
			}
			link, ok := h.broker.Claim(bindReq(loopback, hostOf(h.v.Addr)))
			if !ok {
				t.Fatal("BIND did not match the session")
			}
			client, bindSock, err := tcpPair()
			if err != nil {
				t.Fatal(err)
			}
			replies := make(chan dataReply, 2)
			var sessCtr relay.Counters
			go link.Serve(ctx, DataJob{Conn: bindSock, Counters: &sessCtr, BindWait: 30 * time.Second, Reply: replyTo(replies)})
			next := func(what string) netip.AddrPort {
				select {
				case r := <-replies:
					if r.err != nil {
						t.Fatalf("%s: %v", what, r.err)
					}
					return r.addr
				case <-time.After(30 * time.Second):
					t.Fatalf("no %s", what)
				}
				return netip.AddrPort{}
			}
			ap := next("first BIND reply")
			if ap.Addr() != loopback || ap.Port() == 0 {
				t.Fatalf("first BIND reply names %v", ap)
			}
			arg, _ := FormatPORT(ap)
			if verb == "EPRT" {
				arg = FormatEPRT(ap)
			}
			j.cmd(verb+" "+arg, 200)
			peer := next("second BIND reply after the 200")
			if peer.Addr() != loopback || int(peer.Port()) < h.v.PasvMin || int(peer.Port()) > h.v.PasvMax {
				t.Errorf("BIND peer = %v, want vsftpd's passive address", peer)
			}
			j.send("RETR act.bin")
			if r := j.reply(); r.Code != 150 {
				t.Fatalf("RETR: %d %q", r.Code, r.Lines)
			}
			got := readAll(t, client)
			client.Close()
			j.expect(226)
			if !bytes.Equal(got, want) {
				t.Fatalf("active RETR: %d bytes", len(got))
			}
			j.cmd("QUIT", 221)
			if err := h.waitServe(); err != nil {
				t.Fatal(err)
			}
			if h.v.CountLog(`"PORT `)+h.v.CountLog(`"EPRT `) != 0 {
				t.Errorf("PORT/EPRT reached vsftpd:\n%s", h.v.Log())
			}
			if h.v.CountLog(`"PASV"`)+h.v.CountLog(`"EPSV"`) == 0 {
				t.Errorf("no PASV/EPSV at vsftpd:\n%s", h.v.Log())
			}
			a := h.auditList()
			if len(a) != 1 || a[0].Mode != "active" || a[0].Bytes != int64(len(want)) || a[0].Code != 226 {
				t.Errorf("audit = %+v", a)
			}
			// The BIND's own session counts the file; the control
			// session counts it in its data totals only.
			if got := sessCtr.Down.Load(); got != int64(len(want)) {
				t.Errorf("BIND session bytes down = %d, want %d", got, len(want))
			}
			if got := h.dataCtr.Down.Load(); got != int64(len(want)) {
				t.Errorf("control session data bytes down = %d, want %d", got, len(want))
			}
			if got := h.counters.Down.Load(); got >= int64(len(want)) {
				t.Errorf("control session bytes down = %d: data counted on the control session too", got)
			}
		})
	}
}

// TestActivePlainPORT is curl --ftp-port: PORT with the job's own address
// and no BIND. socksd converts it and connects to the job itself.
func TestActivePlainPORT(t *testing.T) {
	h := newHarness(t, testpeer.VSFTPDConfig{WriteEnable: true}, Options{})
	want := testpeer.Data(200<<10, 5)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
	j.login(h.v.User, h.v.Password)
	j.cmd("TYPE I", 200)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	arg, _ := FormatPORT(ln.Addr().(*net.TCPAddr).AddrPort())
	j.cmd("PORT "+arg, 200)
	j.send("STOR up.bin")
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	dc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if r := j.reply(); r.Code != 150 {
		t.Fatalf("STOR: %d %q", r.Code, r.Lines)
	}
	if _, err := dc.Write(want); err != nil {
		t.Fatal(err)
	}
	dc.Close()
	j.expect(226)
	j.cmd("QUIT", 221)
	if err := h.waitServe(); err != nil {
		t.Fatal(err)
	}
	if got := h.v.CountLog(`"PORT `); got != 0 {
		t.Errorf("PORT reached vsftpd %d times:\n%s", got, h.v.Log())
	}
	a := h.auditList()
	if len(a) != 1 || a[0].Command != "STOR" || a[0].Mode != "active" || a[0].Bytes != int64(len(want)) {
		t.Errorf("audit = %+v", a)
	}
}

func TestActiveRefusals(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		cmd    string
		code   int
		logMsg string
	}{
		{"third host", Options{}, "PORT 10,1,2,3,200,1", 504, "SOX0304W"},
		{"third host EPRT", Options{}, "EPRT |1|192.0.2.7|5000|", 504, "SOX0304W"},
		{"privileged port", Options{}, "PORT 127,0,0,1,0,25", 504, "SOX0304W"},
		{"syntax", Options{}, "PORT 1,2,3", 501, ""},
		{"refuse", Options{Active: ActiveRefuse}, "PORT 127,0,0,1,200,1", 502, ""},
		{"LPRT", Options{}, "LPRT 4,4,127,0,0,1,2,200,1", 502, ""},
	}
	h := newHarness(t, testpeer.VSFTPDConfig{PortEnable: true}, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.opts = tt.opts
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
			j.login(h.v.User, h.v.Password)
			r := j.cmd(tt.cmd, tt.code)
			if tt.code == 504 && !strings.Contains(r.Text(), "RFC 2577") {
				t.Errorf("reply %q", r.Lines)
			}
			j.cmd("NOOP", 200) // the session goes on
			j.cmd("QUIT", 221)
			if err := h.waitServe(); err != nil {
				t.Fatal(err)
			}
			if tt.logMsg != "" && !strings.Contains(h.logBuf.String(), tt.logMsg) {
				t.Errorf("no %s in the log", tt.logMsg)
			}
		})
	}
	if n := h.v.CountLog(`"PORT `) + h.v.CountLog(`"EPRT `) + h.v.CountLog(`"LPRT `); n != 0 {
		t.Errorf("refused commands reached vsftpd %d times:\n%s", n, h.v.Log())
	}
}
