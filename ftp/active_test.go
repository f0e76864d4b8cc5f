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
			if _, ok := h.broker.Bind(loopback, hostOf(h.v.Addr), 20); ok {
				t.Fatal("Bind matched before login")
			}
			j.login(h.v.User, h.v.Password)
			j.cmd("TYPE I", 200)
			if _, ok := h.broker.Bind(netip.MustParseAddr("127.0.0.2"), hostOf(h.v.Addr), 20); ok {
				t.Fatal("Bind matched another client")
			}
			if _, ok := h.broker.Bind(loopback, "ftp.other.example", 20); ok {
				t.Fatal("Bind matched another server")
			}
			pb, ok := h.broker.Bind(loopback, hostOf(h.v.Addr), 20)
			if !ok {
				t.Fatal("Bind did not match the session")
			}
			defer pb.Close()
			ap, err := pb.Listen(loopback)
			if err != nil {
				t.Fatal(err)
			}
			accepted := make(chan netip.AddrPort, 1)
			go func() {
				actx, acancel := context.WithTimeout(ctx, 30*time.Second)
				defer acancel()
				peer, err := pb.Accept(actx)
				if err != nil {
					t.Errorf("accept: %v", err)
				}
				accepted <- peer
			}()
			arg, _ := FormatPORT(ap)
			if verb == "EPRT" {
				arg = FormatEPRT(ap)
			}
			j.cmd(verb+" "+arg, 200)
			var peer netip.AddrPort
			select {
			case peer = <-accepted:
			case <-time.After(30 * time.Second):
				t.Fatal("Accept did not return after the 200")
			}
			if peer.Addr() != loopback || int(peer.Port()) < h.v.PasvMin || int(peer.Port()) > h.v.PasvMax {
				t.Errorf("BIND peer = %v, want vsftpd's passive address", peer)
			}
			client, bindSock, err := tcpPair()
			if err != nil {
				t.Fatal(err)
			}
			go pb.Serve(ctx, bindSock)
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
