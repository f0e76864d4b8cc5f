package tests

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"socksd/ebcdic"
	"socksd/internal/testing/ftpjob"
	"socksd/internal/testing/testpeer"
	"socksd/socks"
)

// site is one network layout of the matrix: the SSH server on the FTP
// host itself, or an SSH gateway in front of an FTP host that only the
// gateway can reach. Both run in namespaces made by the test, so an active
// data connection that did not go through the tunnel would fail.
type site struct {
	name     string
	topo     *testpeer.Topology
	sshd     *testpeer.SSHD
	ftpd     *testpeer.VSFTPD
	ftpHost  string // the name the job gives for the FTP server
	ftpIP    string
	sshHost  string // profile host; "" = the FTP host itself
	clientIP string // the client host's address, which must never reach vsftpd
}

func newSite(t *testing.T, gateway bool) *site {
	topo := testpeer.NewTopology(t)
	s := &site{topo: topo, clientIP: topo.ClientIP}
	if gateway {
		s.name = "gateway"
		s.sshd = testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true, NetNS: topo.Gateway, ListenAddr: topo.GatewayIP})
		s.ftpd = testpeer.StartVSFTPD(t, testpeer.VSFTPDConfig{WriteEnable: true, NetNS: topo.FTP, ListenAddr: topo.FTPIP})
		s.ftpHost, s.ftpIP, s.sshHost = testpeer.FTPHost, topo.FTPIP, topo.GatewayIP
	} else {
		s.name = "ssh-on-ftp-host"
		s.sshd = testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true, NetNS: topo.Gateway, ListenAddr: topo.GatewayIP})
		s.ftpd = testpeer.StartVSFTPD(t, testpeer.VSFTPDConfig{WriteEnable: true, NetNS: topo.Gateway, ListenAddr: topo.GatewayIP})
		s.ftpHost, s.ftpIP, s.sshHost = testpeer.GatewayHost, topo.GatewayIP, ""
	}
	return s
}

// socksdConfig writes the rule set for the site; keysOnly makes the
// profile use the public key even though the job sends a password.
func (s *site) socksdConfig(keysOnly bool) string {
	auth := `["password", "keyboard-interactive", "publickey"]`
	if keysOnly {
		auth = `["publickey"]`
	}
	return fmt.Sprintf(`
[server]
listen = ["127.0.0.1:0"]
[console]
socket = ""
[ssh]
known_hosts = [%q]
[profiles.p]
host = %q
port = %d
auth = %s
identity_files = [%q]
[[rules]]
name = "ftp"
to = [%q, %q]
ports = ["%d"]
action = "ftp-tunnel"
profile = "p"
[rules.ftp]
data = "socks"
[[rules]]
name = "rest"
action = "block"
`, s.knownHosts(), s.sshHost, s.sshd.Port, auth, s.sshd.ClientKeyFile, s.ftpHost, s.ftpIP, s.ftpd.Port)
}

// knownHosts returns a known_hosts file that also names the server by
// host name, since the "SSH on the FTP host" profile reaches it by the
// name the job gave.
func (s *site) knownHosts() string {
	b, err := os.ReadFile(s.sshd.KnownHostsFile)
	if err != nil {
		return s.sshd.KnownHostsFile
	}
	text := string(b)
	named := strings.ReplaceAll(text, "["+s.ftpIP+"]", "["+testpeer.GatewayHost+"]")
	named = strings.ReplaceAll(named, s.ftpIP+" ", testpeer.GatewayHost+" ")
	path := filepath.Join(s.sshd.Dir, "known_hosts_named")
	os.WriteFile(path, []byte(text+named), 0o600)
	return path
}

type socksMode struct {
	name       string
	version    int
	byName     bool
	user, pass string
}

var socksModes = []socksMode{
	{"socks4", 4, false, "JOB1", ""},
	{"socks4a", 4, true, "JOB1", ""},
	{"socks5", 5, false, "", ""},
	{"socks5-userpass", 5, true, "JOB1", "socks-secret-1"},
}

// TestMatrix runs the main job — login, SITE, PUT, GET, LIST — for every
// SOCKS form, data mode, SSH login and site layout, with byte-exact checks.
func TestMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end matrix")
	}
	size := 64 << 20
	data := testpeer.Data(size, 7)
	want := sha256.Sum256(data)
	for _, gateway := range []bool{false, true} {
		s := newSite(t, gateway)
		for _, keysOnly := range []bool{false, true} {
			auth := "password"
			if keysOnly {
				auth = "publickey"
			}
			d := testpeer.StartSocksdIn(t, s.topo.Client, socksdBin, s.socksdConfig(keysOnly))
			for _, m := range socksModes {
				for _, active := range []bool{false, true} {
					mode := "passive"
					if active {
						mode = "active"
					}
					name := fmt.Sprintf("%s/%s/%s/%s", s.name, auth, m.name, mode)
					t.Run(name, func(t *testing.T) {
						job := &ftpjob.Job{
							Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
								return testpeer.DialIn(ctx, s.topo.ClientNSPath, network, addr)
							},
							Proxy: d.Addr, Version: m.version, User: m.user, Pass: m.pass,
							CP: ebcdic.ASCII, End: []byte("\r\n"),
							Server: socks.Addr{Host: s.ftpIP, Port: uint16(s.ftpd.Port)},
						}
						if m.byName {
							job.Server.Host = s.ftpHost
						}
						ctx := context.Background()
						if err := job.Open(ctx); err != nil {
							t.Fatal(err)
						}
						defer job.Close()
						if err := job.Login(s.ftpd.User, s.ftpd.Password); err != nil {
							t.Fatalf("%v\n%s", err, strings.Join(job.Log, "\n"))
						}
						if _, err := job.Expect("SITE UMASK 022", 2); err != nil {
							t.Logf("SITE: %v", err)
						}
						if _, err := job.Expect("TYPE I", 2); err != nil {
							t.Fatal(err)
						}
						file := strings.ReplaceAll(name, "/", "_") + ".bin"
						if err := job.Put(ctx, file, data, active); err != nil {
							t.Fatalf("%v\n%s", err, strings.Join(job.Log, "\n"))
						}
						got, err := os.ReadFile(filepath.Join(s.ftpd.Root, file))
						if err != nil || sha256.Sum256(got) != want {
							t.Fatalf("PUT: the server's copy differs (%d bytes): %v", len(got), err)
						}
						sum, n, err := job.Get(ctx, file, active)
						if err != nil || n != int64(size) || sum != want {
							t.Fatalf("GET: %d bytes, digest equal %v: %v\n%s", n, sum == want, err, strings.Join(job.Log, "\n"))
						}
						listing, err := job.List(ctx, active)
						if err != nil || !strings.Contains(listing, file) {
							t.Fatalf("LIST: %v %q", err, listing)
						}
						os.Remove(filepath.Join(s.ftpd.Root, file))
						job.Expect("QUIT", 2)
					})
				}
			}
			if strings.Contains(d.Log.String(), s.ftpd.Password) || strings.Contains(d.Log.String(), "socks-secret-1") {
				t.Errorf("a password reached the socksd log")
			}
		}
		// Nothing reached vsftpd from the client host: every connection
		// came through the SSH server.
		if n := s.ftpd.CountLog(`Client "` + s.clientIP + `"`); n != 0 {
			t.Errorf("%s: vsftpd saw %d connections from the client host", s.name, n)
		}
		if s.ftpd.CountLog(`Client "`) == 0 || s.ftpd.CountLog(`"PASV"`) == 0 {
			t.Errorf("%s: vsftpd's log shows no clients or no PASV; the checks here would prove nothing", s.name)
		}
		if n := s.ftpd.CountLog(`"PORT `) + s.ftpd.CountLog(`"EPRT `); n != 0 {
			t.Errorf("%s: vsftpd received %d PORT/EPRT commands; active mode was not converted", s.name, n)
		}
	}
}
