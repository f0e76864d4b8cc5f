package tests

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"
)

// forwardBytes is what the local forward carries each way.
const forwardBytes = 64 << 20

// forwardHead is a configuration whose SOCKS rules block everything: only
// the [[forwards]] appended to it carry anything, through profile gw.
func forwardHead(s *testpeer.SSHD) string {
	return fmt.Sprintf(`
[server]
listen = ["127.0.0.1:0"]
allow_clients = ["127.0.0.1/32"]
[console]
socket = "{{SOCKET}}"
[ssh]
known_hosts = [%q]
[profiles.gw]
host = "127.0.0.1"
port = %d
user = %q
auth = ["publickey"]
identity_files = [%q]
[[rules]]
name = "nothing"
action = "block"
`, s.KnownHostsFile, s.Port, s.User, s.ClientKeyFile)
}

// forwardTable is one [[forwards]] table.
func forwardTable(name, listen, to string) string {
	return fmt.Sprintf("[[forwards]]\nname = %q\nlisten = %q\nto = %q\nprofile = \"gw\"\n", name, listen, to)
}

// setForwards rewrites the daemon's configuration file with the given
// [[forwards]] tables in place of those it has, keeping the rest (and
// what testpeer set for the engine), and enters RELOAD.
func setForwards(t *testing.T, d *testpeer.Socksd, tables ...string) {
	t.Helper()
	b, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(string(b), "[[forwards]]")
	if err := os.WriteFile(d.ConfigPath, []byte(head+strings.Join(tables, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCmd(t, d, "RELOAD", "SOX0404I")
}

// exchangeServer is a TCP server that, on each connection, sends its own
// forwardBytes while it reads the client's, and reports the SHA-256 of
// what it read.
func exchangeServer(t *testing.T, down []byte) (string, <-chan [32]byte) {
	got := make(chan [32]byte, 4)
	addr := testpeer.ServeTCP(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Minute))
		sent := make(chan error, 1)
		go func() {
			_, err := c.Write(down)
			c.(*net.TCPConn).CloseWrite()
			sent <- err
		}()
		h := sha256.New()
		io.Copy(h, c)
		<-sent
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		got <- sum
	})
	return addr, got
}

// forwardRow returns D FORWARDS' row for name, nil if there is none.
func forwardRow(t *testing.T, d *testpeer.Socksd, name string) map[string]string {
	t.Helper()
	for _, r := range mustCmd(t, d, "D FORWARDS", "SOX0743I").rows(t) {
		if r["NAME"] == name {
			return r
		}
	}
	return nil
}

// refused checks that nothing accepts on addr.
func refused(t *testing.T, addr, why string) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", addr, waitTimeout); err == nil {
		c.Close()
		t.Errorf("%s accepts %s", addr, why)
	}
}

// TestForwardEndToEnd: a [[forwards]] listener is ssh -L kept by the
// daemon. 64 MiB go each way byte for byte through the real sshd (its
// direct-tcpip log names the destination); allow_clients turns away a
// client it does not list, and nothing reaches sshd for it; a RELOAD opens
// an added forward and closes a removed one while the removed one's
// session goes on. With SOCKSD_TEST_ENGINE=openssh the client's socket is
// handed to the ssh master.
func TestForwardEndToEnd(t *testing.T) {
	s := testpeer.StartSSHD(t, testpeer.SSHDConfig{PubkeyAuth: true})
	up, down := testpeer.Data(forwardBytes, 41), testpeer.Data(forwardBytes, 42)
	dataAddr, gotUp := exchangeServer(t, down)
	echoAddr := testpeer.EchoServer(t)
	dataListen := fmt.Sprintf("127.0.0.1:%d", testpeer.FreePort(t, "127.0.0.1"))
	echoListen := fmt.Sprintf("127.0.0.1:%d", testpeer.FreePort(t, "127.0.0.1"))
	laterListen := fmt.Sprintf("127.0.0.1:%d", testpeer.FreePort(t, "127.0.0.1"))
	d := testpeer.StartSocksd(t, socksdBin, forwardHead(s)+
		forwardTable("data", dataListen, dataAddr)+forwardTable("echo", echoListen, echoAddr))
	for _, name := range []string{"data", "echo"} {
		if !d.Log.WaitCount("SOX0740I forward "+name+" listening on", 1, waitTimeout) {
			t.Fatalf("no SOX0740I for forward %s", name)
		}
	}
	if !d.Log.WaitCount("SOX0230I profile gw uses the "+testpeer.Engine()+" SSH engine", 1, waitTimeout) {
		t.Fatalf("profile gw does not use the %s engine", testpeer.Engine())
	}
	_, dataPort, _ := net.SplitHostPort(dataAddr)
	_, echoPort, _ := net.SplitHostPort(echoAddr)

	// 64 MiB each way, at once.
	c, err := net.DialTimeout("tcp", dataListen, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Minute))
	sent := make(chan error, 1)
	go func() {
		_, err := c.Write(up)
		c.(*net.TCPConn).CloseWrite()
		sent <- err
	}()
	back, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(back, down) {
		t.Fatalf("download through the forward: %d bytes, equal %v, %v", len(back), bytes.Equal(back, down), err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("upload through the forward: %v", err)
	}
	c.Close()
	select {
	case sum := <-gotUp:
		if sum != sha256.Sum256(up) {
			t.Fatal("the server did not get the uploaded bytes exactly")
		}
	case <-time.After(waitTimeout):
		t.Fatal("the server did not finish reading the upload")
	}
	if n := s.WaitLog("target 127.0.0.1 port "+dataPort, 1, waitTimeout); n != 1 {
		t.Fatalf("sshd logged %d direct-tcpip channels to the destination, want 1 (sshd.log in the evidence directory)", n)
	}
	if line, ok := d.Log.WaitFor(regexp.MustCompile(`SOX0102I session \d+ end .*rule=forward:data`), waitTimeout, d.Done()); !ok {
		t.Errorf("no session_end of the forward")
	} else {
		for _, f := range []string{"origin=forward", "action=tunnel", "result=ok", fmt.Sprintf("bytes_up=%d", forwardBytes), fmt.Sprintf("bytes_down=%d", forwardBytes)} {
			if !strings.Contains(line, f) {
				t.Errorf("the forward's session_end lacks %s: %s", f, line)
			}
		}
	}
	if r := forwardRow(t, d, "data"); r == nil || r["TOTAL"] != "1" || r["SESSIONS"] != "0" || r["STATE"] != "LISTEN" || r["TO"] != dataAddr || r["PROFILE"] != "gw" {
		t.Errorf("D FORWARDS row of data: %v", r)
	}

	// allow_clients lists 127.0.0.1 only: from 127.0.0.2 the connection is
	// closed before anything goes to sshd.
	dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: waitTimeout}
	other, err := dl.Dial("tcp", echoListen)
	if err != nil {
		t.Fatal(err)
	}
	other.SetDeadline(time.Now().Add(waitTimeout))
	if n, err := other.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a client outside allow_clients: read %d %v, want the connection closed", n, err)
	}
	other.Close()
	if !d.Log.WaitCount("SOX0103W client 127.0.0.2:", 1, waitTimeout) {
		t.Error("the refused client was not logged (SOX0103W)")
	}
	if n := s.CountLog("target 127.0.0.1 port " + echoPort); n != 0 {
		t.Errorf("sshd opened %d channels for the refused client", n)
	}

	// A session on echo, then a RELOAD that removes echo and adds later.
	live, err := net.DialTimeout("tcp", echoListen, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	echoTrip(t, live, "before the reload")
	refused(t, laterListen, "before the RELOAD that adds it")
	setForwards(t, d, forwardTable("data", dataListen, dataAddr), forwardTable("later", laterListen, echoAddr))
	if !d.Log.WaitCount("SOX0741I forward echo on "+echoListen+" closed; 1 running sessions go on", 1, waitTimeout) ||
		!d.Log.WaitCount("SOX0740I forward later listening on", 1, waitTimeout) {
		t.Fatalf("RELOAD did not close echo and open later:\n%s", d.Log.String())
	}
	refused(t, echoListen, "after the RELOAD that removed it")
	echoTrip(t, live, "after the reload") // the removed forward's session goes on
	live.(*net.TCPConn).CloseWrite()
	if rest, err := io.ReadAll(live); err != nil || len(rest) != 0 {
		t.Errorf("the end of the removed forward's session: %q %v", rest, err)
	}
	c2, err := net.DialTimeout("tcp", laterListen, waitTimeout)
	if err != nil {
		t.Fatalf("the added forward does not accept: %v", err)
	}
	defer c2.Close()
	echoTrip(t, c2, "through the added forward")
	if n := s.WaitLog("target 127.0.0.1 port "+echoPort, 2, waitTimeout); n != 2 {
		t.Errorf("sshd logged %d channels to the echo server, want 2", n)
	}
	if conf := mustCmd(t, d, "D CONFIG", "SOX0415I").String(); !strings.Contains(conf, "FORWARD    later: listen "+laterListen+" to "+echoAddr+" through profile gw") ||
		strings.Contains(conf, "FORWARD    echo:") {
		t.Errorf("D CONFIG after the RELOAD:\n%s", conf)
	}
	rows := mustCmd(t, d, "D FORWARDS", "SOX0743I").rows(t)
	if len(rows) != 2 || rows[0]["NAME"] != "data" || rows[1]["NAME"] != "later" || rows[1]["SESSIONS"] != "1" || rows[1]["LISTEN"] != laterListen {
		t.Errorf("D FORWARDS after the RELOAD: %v", rows)
	}
	if r := sessionRow(t, d, echoAddr); r["IN"] != "forward" || r["RULE"] != "forward:later" || r["ACTION"] != "tunnel" {
		t.Errorf("D SESSIONS row of the added forward's session: %v", r)
	}
}
