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
	"time"

	"github.com/jlaffaye/ftp"

	"socksd/ebcdic"
	"socksd/internal/testing/ftpjob"
	"socksd/internal/testing/testpeer"
	"socksd/socks"
)

// gatewaySite starts the gateway layout with socksd in the client
// namespace; extraFTP goes into the rule's [rules.ftp] table.
func gatewaySite(t *testing.T, extraFTP string) (*site, *testpeer.Socksd) {
	s := newSite(t, true)
	cfg := strings.Replace(s.socksdConfig(false), `data = "socks"`, extraFTP, 1)
	d := testpeer.StartSocksdIn(t, s.topo.Client, socksdBin, cfg)
	return s, d
}

func (s *site) job(d *testpeer.Socksd, version int, cp ebcdic.CodePage, end []byte) *ftpjob.Job {
	return &ftpjob.Job{
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return testpeer.DialIn(ctx, s.topo.ClientNSPath, network, addr)
		},
		Proxy: d.Addr, Version: version, User: "JOB1", CP: cp, End: end,
		Server: socks.Addr{Host: s.ftpIP, Port: uint16(s.ftpd.Port)},
	}
}

// TestEBCDICJob is the z/OS client with its control connection in
// IBM-1047, with each line-end form, against an ASCII vsftpd.
func TestEBCDICJob(t *testing.T) {
	s, d := gatewaySite(t, `encoding = "auto"`)
	s1047, d1047 := gatewaySite(t, `encoding = "ibm-1047"`)
	data := testpeer.Data(64<<20, 3)
	want := sha256.Sum256(data)
	ends := map[string][]byte{"CRLF": {0x0d, 0x0a}, "X'0D25'": {0x0d, 0x25}, "X'15'": {0x15}}
	for name, end := range ends {
		for _, active := range []bool{true, false} {
			s, d, encoding := s, d, "auto"
			if active {
				// The named code page: even the greeting is in IBM-1047.
				s, d, encoding = s1047, d1047, "ibm-1047"
			}
			t.Run(fmt.Sprintf("%s/%s/active=%v", name, encoding, active), func(t *testing.T) {
				job := s.job(d, 4, ebcdic.IBM1047, end)
				job.ASCIIGreeting = encoding == "auto"
				ctx := context.Background()
				if err := job.Open(ctx); err != nil {
					t.Fatal(err)
				}
				defer job.Close()
				if err := job.Login(s.ftpd.User, s.ftpd.Password); err != nil {
					t.Fatalf("%v\n%s", err, strings.Join(job.Log, "\n"))
				}
				// z/OS command forms pass through: SITE parameters, TYPE.
				if _, err := job.Expect("SITE RECFM=FB LRECL=80 BLKSIZE=27920", 2); err != nil {
					t.Logf("SITE (vsftpd answers what it can): %v", err)
				}
				if _, err := job.Expect("TYPE I", 2); err != nil {
					t.Fatalf("%v\n%s", err, strings.Join(job.Log, "\n"))
				}
				file := "EBC" + strings.Trim(name, "X'") + fmt.Sprint(active) + ".BIN"
				if err := job.Put(ctx, file, data, active); err != nil {
					t.Fatalf("%v\n%s", err, strings.Join(job.Log, "\n"))
				}
				sum, n, err := job.Get(ctx, file, active)
				if err != nil || sum != want {
					t.Fatalf("GET %d bytes: %v\n%s", n, err, strings.Join(job.Log, "\n"))
				}
				// ASCII-mode text travels untranslated on the data connection.
				text := []byte("HELLO FROM Z/OS\r\nLINE 2\r\n")
				if _, err := job.Expect("TYPE A", 2); err != nil {
					t.Fatal(err)
				}
				if err := job.Put(ctx, "TEXT.TXT", text, active); err != nil {
					t.Fatal(err)
				}
				got, _ := os.ReadFile(filepath.Join(s.ftpd.Root, "TEXT.TXT"))
				if string(got) != string(text) {
					t.Fatalf("ASCII text stored as %q", got)
				}
				os.Remove(filepath.Join(s.ftpd.Root, file))
				job.Expect("QUIT", 2)
			})
		}
	}
}

// TestPolicyAndAuthTLS refuses denied commands and AUTH TLS.
func TestPolicyAndAuthTLS(t *testing.T) {
	s, d := gatewaySite(t, `deny = ["SITE FILETYPE=JES", "DELE"]`)
	job := s.job(d, 5, ebcdic.ASCII, []byte("\r\n"))
	ctx := context.Background()
	if err := job.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	if code, text, _ := job.Cmd("AUTH TLS"); code/100 != 5 {
		t.Errorf("AUTH TLS before login: %q", text)
	}
	if err := job.Login(s.ftpd.User, s.ftpd.Password); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"SITE FILETYPE=JES", "site filetype=jes", "DELE X.BIN"} {
		code, text, err := job.Cmd(c)
		if err != nil || code != 550 {
			t.Errorf("%s: %d %q %v", c, code, text, err)
		}
	}
	if _, err := job.Expect("NOOP", 2); err != nil {
		t.Errorf("session unusable after refusals: %v", err)
	}
	if n := s.ftpd.CountLog("FILETYPE") + s.ftpd.CountLog(`"DELE`); n != 0 {
		t.Errorf("a denied command reached the server")
	}
	if !d.Log.WaitCount("SOX0302W", 3, 10*time.Second) {
		t.Errorf("refusals not logged")
	}
}

// TestCurlFTP runs curl in the client namespace: passive with EPSV and
// PASV, and active with --ftp-port (no BIND: socksd converts PORT/EPRT
// and connects to curl's own address).
func TestCurlFTP(t *testing.T) {
	testpeer.RequireTool(t, "curl")
	s, d := gatewaySite(t, `data = "auto"`)
	data := testpeer.Data(64<<20, 5)
	want := sha256.Sum256(data)
	src := filepath.Join(t.TempDir(), "up.bin")
	os.WriteFile(src, data, 0o644)
	cases := []struct {
		name  string
		proxy string
		args  []string
	}{
		{"epsv", "--socks5", nil},
		{"pasv", "--socks5-hostname", []string{"--disable-epsv"}},
		{"pasv-227-address", "--socks5", []string{"--disable-epsv", "--no-ftp-skip-pasv-ip"}},
		{"active-port", "--socks5", []string{"--ftp-port", "-", "--disable-eprt"}},
		{"active-eprt", "--socks5-hostname", []string{"--ftp-port", "-"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			host := s.ftpIP
			if c.proxy == "--socks5-hostname" {
				host = s.ftpHost
			}
			url := fmt.Sprintf("ftp://%s:%d/%s.bin", host, s.ftpd.Port, c.name)
			base := []string{"curl", "-sS", "--max-time", "120", c.proxy, d.Addr, "--user", s.ftpd.User + ":" + s.ftpd.Password}
			up := append(append(append([]string(nil), base...), c.args...), "-T", src, url)
			if out, err := s.topo.Command(s.topo.Client, up[0], up[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("curl upload: %v %s", err, out)
			}
			dst := filepath.Join(t.TempDir(), "down.bin")
			down := append(append(append([]string(nil), base...), c.args...), "-o", dst, url)
			if out, err := s.topo.Command(s.topo.Client, down[0], down[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("curl download: %v %s", err, out)
			}
			got, err := os.ReadFile(dst)
			if err != nil || sha256.Sum256(got) != want {
				t.Fatalf("download differs (%d bytes): %v", len(got), err)
			}
		})
	}
	if n := s.ftpd.CountLog(`"PORT `) + s.ftpd.CountLog(`"EPRT `); n != 0 {
		t.Errorf("vsftpd received %d PORT/EPRT commands", n)
	}
}

// TestJlaffayeInNamespaces is jlaffaye/ftp dialing through SOCKS5 from the
// client host; its data connections come back through SOCKS.
func TestJlaffayeInNamespaces(t *testing.T) {
	s, d := gatewaySite(t, `data = "auto"`)
	dial := func(network, address string) (net.Conn, error) {
		c, err := testpeer.DialIn(context.Background(), s.topo.ClientNSPath, "tcp", d.Addr)
		if err != nil {
			return nil, err
		}
		host, port, _ := net.SplitHostPort(address)
		var p uint16
		fmt.Sscan(port, &p)
		if _, err := socks.ClientHandshake(c, 5, socks.Addr{Host: host, Port: p}, "", ""); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	c, err := ftp.Dial(fmt.Sprintf("%s:%d", s.ftpHost, s.ftpd.Port), ftp.DialWithDialFunc(dial), ftp.DialWithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login(s.ftpd.User, s.ftpd.Password); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, s.ftpd, "jl.bin", testpeer.Data(64<<20, 9))
}

// TestLftpUnderProxychains runs lftp in the client namespace with
// proxychains4 sending its connections to socksd (passive mode: proxychains
// hooks connect only, so it cannot do active mode).
func TestLftpUnderProxychains(t *testing.T) {
	testpeer.RequireTool(t, "lftp")
	testpeer.RequireTool(t, "proxychains4")
	s, d := gatewaySite(t, `data = "auto"`)
	host, port, _ := net.SplitHostPort(d.Addr)
	dir := t.TempDir()
	conf := filepath.Join(dir, "proxychains.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("strict_chain\nquiet_mode\ntcp_read_time_out 60000\ntcp_connect_time_out 15000\n[ProxyList]\nsocks5 %s %s\n", host, port)), 0o644)
	data := testpeer.Data(64<<20, 11)
	want := sha256.Sum256(data)
	src := filepath.Join(dir, "up.bin")
	os.WriteFile(src, data, 0o644)
	dst := filepath.Join(dir, "down.bin")
	script := fmt.Sprintf("set ftp:passive-mode on; set net:max-retries 1; set net:timeout 60; put %s -o lftp.bin; get lftp.bin -o %s; bye", src, dst)
	cmd := s.topo.Command(s.topo.Client, "proxychains4", "-f", conf, "lftp", "-u", s.ftpd.User+","+s.ftpd.Password,
		"-e", script, fmt.Sprintf("ftp://%s:%d", s.ftpIP, s.ftpd.Port))
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("lftp did not finish: %s", out)
	}
	if err != nil {
		t.Fatalf("lftp: %v\n%s", err, out)
	}
	got, err := os.ReadFile(dst)
	if err != nil || sha256.Sum256(got) != want {
		t.Fatalf("lftp round trip differs (%d bytes): %v", len(got), err)
	}
	if n := s.ftpd.CountLog(`Client "` + s.clientIP + `"`); n != 0 {
		t.Errorf("vsftpd saw the client host directly")
	}
}
