package ftp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"socksd/ebcdic"
	"socksd/internal/testing/testpeer"
)

func TestOpenFailure(t *testing.T) {
	h := newHarness(t, testpeer.VSFTPDConfig{}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
	j.cmd("USER "+h.v.User, 331)
	r := j.cmd("PASS WrongSecret99", 530)
	if !strings.Contains(r.Lines[0], "SSH login to 127.0.0.1 failed") || strings.Contains(r.Lines[0], "WrongSecret99") {
		t.Errorf("530 reply %q", r.Lines)
	}
	// The session closes: no retry with the same password.
	j.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := j.conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after 530 the connection should close, got %v", err)
	}
	err := h.waitServe()
	var le *LoginError
	if !errors.As(err, &le) || strings.Contains(err.Error(), "WrongSecret99") {
		t.Errorf("Serve = %v", err)
	}
	if len(h.opens) != 1 || h.opens[0] != h.v.User+"/true" {
		t.Errorf("opens = %v, want exactly one", h.opens)
	}
	if log := h.logBuf.String(); !strings.Contains(log, "SOX0307E") || strings.Contains(log, "WrongSecret99") {
		t.Errorf("log:\n%s", log)
	}
}

// TestTunnelUnavailable: when the tunnel cannot be built for a reason other
// than the job's credentials, the job gets 421 (not 530), and SOX0307E,
// which says the credentials were refused, is not logged.
func TestTunnelUnavailable(t *testing.T) {
	h := newHarness(t, testpeer.VSFTPDConfig{}, Options{})
	h.openErr = &TunnelError{Err: errors.New("tunnel: dial 127.0.0.1:22: SSH server unreachable")}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
	j.cmd("USER "+h.v.User, 331)
	r := j.cmd("PASS "+h.v.Password, 421)
	if !strings.Contains(r.Lines[0], "unreachable") || strings.Contains(r.Lines[0], h.v.Password) {
		t.Errorf("421 reply %q", r.Lines)
	}
	var le *LoginError
	if err := h.waitServe(); !errors.As(err, &le) {
		t.Errorf("Serve = %v", err)
	}
	if log := h.logBuf.String(); strings.Contains(log, "SOX0307E") {
		t.Errorf("SOX0307E logged for an unreachable SSH server:\n%s", log)
	}
}

func TestAnonymousUsesPublicKey(t *testing.T) {
	h := newHarness(t, testpeer.VSFTPDConfig{Anonymous: true}, Options{})
	h.v.WriteFile(t, "pub.txt", []byte("public\n"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
	j.cmd("USER anonymous", 331)
	j.cmd("PASS job@example.com", 230)
	j.cmd("SIZE pub.txt", 213)
	j.cmd("QUIT", 221)
	if err := h.waitServe(); err != nil {
		t.Fatal(err)
	}
	if len(h.opens) != 1 || h.opens[0] != "anonymous/false" {
		t.Errorf("opens = %v, want anonymous without password", h.opens)
	}
}

func TestLineTooLong(t *testing.T) {
	h := newHarness(t, testpeer.VSFTPDConfig{}, Options{MaxLine: 64})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, afterLogin := range []bool{false, true} {
		j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
		if afterLogin {
			j.login(h.v.User, h.v.Password)
		}
		j.send("SITE " + strings.Repeat("X", 100))
		j.expect(500)
		err := h.waitServe()
		if !errors.Is(err, ebcdic.ErrLineTooLong) {
			t.Errorf("Serve = %v", err)
		}
		j.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := j.conn.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("connection not closed: %v", err)
		}
	}
	if n := strings.Count(h.logBuf.String(), "SOX0305E"); n != 2 {
		t.Errorf("SOX0305E logged %d times", n)
	}
}

// binaryEPSV logs j in, sets TYPE I and returns the data connection of an
// EPSV, made through socksd as a SOCKS client.
func (h *harness) binaryEPSV(ctx context.Context, j *rawJob) net.Conn {
	h.t.Helper()
	j.login(h.v.User, h.v.Password)
	j.cmd("TYPE I", 200)
	r := j.cmd("EPSV", 229)
	port, _ := Parse229(r.Lines[0])
	return h.socksData(ctx, hostOf(h.v.Addr), port)
}

// TestTunnelDiesMidTransfer: the SSH connection dies during a RETR. The job
// must get an error reply, not 226.
func TestTunnelDiesMidTransfer(t *testing.T) {
	h := newHarness(t, testpeer.VSFTPDConfig{}, Options{Data: DataSocks})
	h.v.WriteFile(t, "big.bin", testpeer.Data(32<<20, 9))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
	data := h.binaryEPSV(ctx, j)
	j.send("RETR big.bin")
	if r := j.reply(); r.Code != 150 {
		t.Fatalf("RETR %d", r.Code)
	}
	buf := make([]byte, 64<<10)
	data.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(data, buf); err != nil {
		t.Fatal(err)
	}
	h.tunnel(0).Kill()
	r := j.reply()
	if r.Code/100 == 2 {
		t.Fatalf("job got %d %q after the tunnel died", r.Code, r.Lines)
	}
	if r.Code != 426 {
		t.Errorf("got %d, want 426", r.Code)
	}
	io.Copy(io.Discard, data)
	data.Close()
	if err := h.waitServe(); err == nil {
		t.Error("Serve returned nil after the tunnel died")
	}
	a := h.auditList()
	if len(a) != 1 || a[0].Code != 426 || a[0].Error == "" {
		t.Errorf("audit = %+v", a)
	}
}

// TestJobDataFailsDuringStor: the job's data connection breaks (RST) during
// STOR. vsftpd sees only an end of file and says 226; the job must get 426.
func TestJobDataFailsDuringStor(t *testing.T) {
	h := newHarness(t, testpeer.VSFTPDConfig{WriteEnable: true}, Options{Data: DataSocks})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
	data := h.binaryEPSV(ctx, j)
	j.send("STOR short.bin")
	if r := j.reply(); r.Code != 150 {
		t.Fatalf("STOR %d", r.Code)
	}
	if _, err := data.Write(testpeer.Data(256<<10, 2)); err != nil {
		t.Fatal(err)
	}
	data.(*net.TCPConn).SetLinger(0)
	data.Close() // RST
	r := j.reply()
	if r.Code != 426 {
		t.Fatalf("job got %d %q, want 426", r.Code, r.Lines)
	}
	j.cmd("QUIT", 221)
	if err := h.waitServe(); err != nil {
		t.Fatal(err)
	}
	t.Logf("vsftpd's final reply to STOR: %d lines with 226", h.v.CountLog(`"226 `))
	a := h.auditList()
	if len(a) != 1 || a[0].Code != 426 || a[0].Error == "" {
		t.Errorf("audit = %+v", a)
	}
}

func TestCancelEndsSession(t *testing.T) {
	h := newHarness(t, testpeer.VSFTPDConfig{}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
	j.login(h.v.User, h.v.Password)
	cancel()
	if err := h.waitServe(); !errors.Is(err, context.Canceled) {
		t.Errorf("Serve = %v", err)
	}
	j.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(j.conn); err != nil {
		t.Errorf("job connection: %v", err)
	}
	if !h.tunnel(0).closed.Load() {
		t.Error("tunnel lease not released")
	}
}

// TestPassiveAuto: in auto mode the reply is rewritten to socksd's
// listener, and the data connection may come directly to it or back
// through SOCKS to the control host with the rewritten port.
func TestPassiveAuto(t *testing.T) {
	h := newHarness(t, testpeer.VSFTPDConfig{}, Options{Data: DataAuto})
	want := []byte(strings.Repeat("auto mode data\n", 1000))
	h.v.WriteFile(t, "a.txt", want)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
	j.login(h.v.User, h.v.Password)
	for _, how := range []string{"direct", "socks-control-host", "socks-227-address"} {
		r := j.cmd("PASV", 227)
		ap, err := Parse227(r.Lines[0])
		if err != nil {
			t.Fatal(err)
		}
		if int(ap.Port()) >= h.v.PasvMin && int(ap.Port()) <= h.v.PasvMax {
			t.Fatalf("227 not rewritten: %q", r.Lines)
		}
		var data net.Conn
		switch how {
		case "direct":
			data, err = net.Dial("tcp", ap.String())
			if err != nil {
				t.Fatal(err)
			}
		case "socks-control-host":
			data = h.socksData(ctx, hostOf(h.v.Addr), ap.Port())
		default:
			data = h.socksData(ctx, ap.Addr().String(), ap.Port())
		}
		j.send("RETR a.txt")
		if r := j.reply(); r.Code != 150 {
			t.Fatalf("%s: RETR %d", how, r.Code)
		}
		got := readAll(t, data)
		data.Close()
		j.expect(226)
		if string(got) != string(want) {
			t.Fatalf("%s: %d bytes", how, len(got))
		}
	}
	j.cmd("QUIT", 221)
	if err := h.waitServe(); err != nil {
		t.Fatal(err)
	}
	if n := h.tunnel(0).dials.Load(); n != 4 {
		t.Errorf("tunnel dials = %d, want 4", n)
	}
	// A data connection from a foreign address or to an unknown port finds
	// nothing.
	if _, ok := h.broker.Claim(DataRequest{Client: loopback, Local: daemonAddr, Host: hostOf(h.v.Addr), Port: 1}); ok {
		t.Error("broker matched an unknown port")
	}
}

// TestDataLinkReplyFails: when the daemon cannot send its SOCKS success
// reply, Serve releases the data channel and returns the error; a claimed
// reply is never claimed again, and a nil link does not panic.
func TestDataLinkReplyFails(t *testing.T) {
	h := newHarness(t, testpeer.VSFTPDConfig{}, Options{Data: DataSocks})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
	j.login(h.v.User, h.v.Password)
	r := j.cmd("EPSV", 229)
	port, _ := Parse229(r.Lines[0])
	req := DataRequest{Client: loopback, Local: daemonAddr, Host: hostOf(h.v.Addr), Port: port}
	link, ok := h.broker.Claim(req)
	if !ok {
		t.Fatal("no match")
	}
	if _, ok := h.broker.Claim(req); ok {
		t.Error("a claimed passive reply matched twice")
	}
	a, b, err := tcpPair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	replyErr := errors.New("reply: broken pipe")
	var failures []error
	err = link.Serve(ctx, DataJob{Conn: b, Reply: func(_ netip.AddrPort, err error) error {
		if err != nil {
			failures = append(failures, err)
			return nil
		}
		return replyErr
	}})
	if !errors.Is(err, replyErr) || len(failures) != 0 {
		t.Errorf("Serve = %v, failure replies %v; want the reply's error and no failure reply", err, failures)
	}
	if st, err := link.d.snapshot(); st != dataDone || !errors.Is(err, errDataAbandoned) {
		t.Errorf("data connection %v (%v), want done (abandoned)", st, err)
	}
	var nilLink *DataLink
	if err := nilLink.Serve(ctx, DataJob{}); err == nil {
		t.Error("nil DataLink served")
	}
	j.cmd("QUIT", 221)
	if err := h.waitServe(); err != nil {
		t.Fatal(err)
	}
}

// TestJobLeavesDuringTransfer: the job disconnects while a transfer waits
// for its data connection on a rewrite listener. The session must end
// promptly, release the tunnel and audit the transfer with code 0.
func TestJobLeavesDuringTransfer(t *testing.T) {
	h := newHarness(t, testpeer.VSFTPDConfig{}, Options{Data: DataRewrite})
	h.v.WriteFile(t, "f.txt", []byte("data\n"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
	j.login(h.v.User, h.v.Password)
	j.cmd("PASV", 227)
	j.send("RETR f.txt")
	j.conn.Close()
	select {
	case err := <-h.errs:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("session did not end after the job left")
	}
	if !h.tunnel(0).closed.Load() {
		t.Error("tunnel lease not released")
	}
	a := h.auditList()
	if len(a) != 1 || a[0].Code != 0 || a[0].Command != "RETR" {
		t.Errorf("audit = %+v", a)
	}
}
