package tests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"golang.org/x/net/proxy"

	"socksd/internal/testing/testpeer"
)

// ftpTunnelConfig sends FTP on ftpPort through SSH. sshHost "" means the
// SSH server on the FTP host itself.
func ftpTunnelConfig(s *testpeer.SSHD, sshHost string, ftpPort int, auditFile string, ftpExtra string) string {
	return fmt.Sprintf(`
[server]
listen = ["127.0.0.1:0"]
[log]
audit_file = %q
[console]
socket = ""
[ssh]
known_hosts = [%q]
[profiles.ftphost]
host = %q
port = %d
auth = ["password", "publickey"]
identity_files = [%q]
[[rules]]
name = "ftp"
ports = ["%d"]
action = "ftp-tunnel"
profile = "ftphost"
[rules.ftp]
%s
[[rules]]
name = "rest"
action = "block"
`, auditFile, s.KnownHostsFile, sshHost, s.Port, s.ClientKeyFile, ftpPort, ftpExtra)
}

// socksDial returns a dial function through socksd's SOCKS5 listener.
func socksDial(t *testing.T, socksAddr string, forward proxy.Dialer) func(network, address string) (net.Conn, error) {
	d, err := proxy.SOCKS5("tcp", socksAddr, nil, forward)
	if err != nil {
		t.Fatal(err)
	}
	return d.Dial
}

// roundTrip stores data as name, reads it back and checks SHA-256 both ways.
func roundTrip(t *testing.T, c *ftp.ServerConn, v *testpeer.VSFTPD, name string, data []byte) {
	t.Helper()
	want := sha256.Sum256(data)
	if err := c.Stor(name, bytes.NewReader(data)); err != nil {
		t.Fatalf("STOR %s: %v", name, err)
	}
	if v != nil {
		got, err := os.ReadFile(filepath.Join(v.Root, name))
		if err != nil || sha256.Sum256(got) != want {
			t.Fatalf("STOR %s: the server's file differs (%d bytes, %v)", name, len(got), err)
		}
	}
	r, err := c.Retr(name)
	if err != nil {
		t.Fatalf("RETR %s: %v", name, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("RETR %s: %v after %d bytes", name, err, n)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("RETR %s: final reply: %v", name, err)
	}
	if n != int64(len(data)) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("RETR %s: %d bytes, digest differs", name, n)
	}
}

func TestFTPTunnelPassiveOnLoopback(t *testing.T) {
	s := testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true})
	v := testpeer.StartVSFTPD(t, testpeer.VSFTPDConfig{WriteEnable: true})
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	d := testpeer.StartSocksd(t, socksdBin, ftpTunnelConfig(s, "", v.Port, audit, `data = "socks"`))

	c, err := ftp.Dial(v.Addr, ftp.DialWithDialFunc(socksDial(t, d.Addr, proxy.Direct)), ftp.DialWithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login(v.User, v.Password); err != nil {
		t.Fatalf("login through socksd: %v", err)
	}
	data := testpeer.Data(64<<20, 1)
	roundTrip(t, c, v, "big.bin", data)
	entries, err := c.List("")
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	if len(entries) != 1 || entries[0].Name != "big.bin" || entries[0].Size != uint64(len(data)) {
		t.Errorf("LIST = %+v", entries)
	}
	c.Quit()

	// Every connection to vsftpd came through sshd: control + 3 data.
	if n := s.WaitLog("server_request_direct_tcpip", 4, 10*time.Second); n < 4 {
		t.Errorf("sshd opened %d channels, want at least 4", n)
	}
	if s.CountLog("Accepted password for "+s.User) != 1 {
		t.Errorf("SSH logins: %d, want 1 shared connection", s.CountLog("Accepted password"))
	}
	// One audit record per transfer, without the password.
	if !d.Log.WaitCount("session_end", 4, 20*time.Second) {
		t.Errorf("sessions did not end")
	}
	b, _ := os.ReadFile(audit)
	if bytes.Contains(b, []byte(v.Password)) || strings.Contains(d.Log.String(), v.Password) {
		t.Fatal("password in the audit file or the log")
	}
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		recs = append(recs, m)
	}
	cmds := map[string]map[string]any{}
	for _, r := range recs {
		cmds[fmt.Sprint(r["command"])] = r
	}
	for _, cmd := range []string{"STOR", "RETR", "LIST"} {
		r, ok := cmds[cmd]
		if !ok {
			t.Errorf("no audit record for %s in %s", cmd, b)
			continue
		}
		if r["code"] != float64(226) || r["mode"] != "passive" || r["user"] != v.User {
			t.Errorf("%s audit record: %v", cmd, r)
		}
	}
	if r := cmds["RETR"]; r != nil && (r["bytes"] != float64(len(data)) || r["path"] != "big.bin") {
		t.Errorf("RETR audit: %v", r)
	}
	checkDataBytes(t, d.Log.String(), int64(len(data)))
	_ = context.Background
}

// checkDataBytes checks the session_end events of one FTP session whose
// job stored and retrieved n bytes through SOCKS data connections: each
// data session reports its own bytes and the SSH server that carried it,
// and the control session reports them as data_bytes_up/data_bytes_down,
// outside its own bytes_up/down.
func checkDataBytes(t *testing.T, log string, n int64) {
	t.Helper()
	field := func(line, key string) int64 {
		m := regexp.MustCompile(`\b` + key + `=(\d+)`).FindStringSubmatch(line)
		if m == nil {
			return -1
		}
		v, _ := strconv.ParseInt(m[1], 10, 64)
		return v
	}
	var up, down, control int
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "session_end") {
			continue
		}
		switch {
		case strings.Contains(l, "action=ftp-data"):
			if !regexp.MustCompile(`\bssh_server=[^ ]+:\d+`).MatchString(l) {
				t.Errorf("data session_end does not name the SSH server that carried it: %s", l)
			}
			if field(l, "bytes_up") == n {
				up++
			}
			if field(l, "bytes_down") == n {
				down++
			}
		case strings.Contains(l, "action=ftp-tunnel"):
			control++
			if field(l, "data_bytes_up") < n || field(l, "data_bytes_down") < n {
				t.Errorf("control session_end lacks the data bytes: %s", l)
			}
			if field(l, "bytes_up") >= n || field(l, "bytes_down") >= n {
				t.Errorf("control session_end counts the data bytes as its own: %s", l)
			}
		}
	}
	if up != 1 || down != 1 || control != 1 {
		t.Errorf("session_end: %d data sessions up %d bytes, %d down, %d control sessions; want 1, 1, 1:\n%s", up, n, down, control, log)
	}
}
