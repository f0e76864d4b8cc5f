package tests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"golang.org/x/net/proxy"

	"socksd/ebcdic"
	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
)

// requireOpenSSH fails (CI) or skips the test without an ssh client that
// the openssh engine can drive.
func requireOpenSSH(t *testing.T) {
	t.Helper()
	path := testpeer.RequireTool(t, "ssh")
	out, _ := exec.Command(path, "-V").CombinedOutput()
	var major, minor int
	if i := strings.Index(string(out), "OpenSSH_"); i >= 0 {
		fmt.Sscanf(string(out[i+len("OpenSSH_"):]), "%d.%d", &major, &minor)
	}
	if major < 8 || (major == 8 && minor < 4) {
		testpeer.Missing(t, "the openssh engine needs OpenSSH 8.4 or later: %q", out)
	}
}

// runtimeDir is a short directory for the masters' control sockets (a
// socket path is limited to 108 bytes).
func runtimeDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ss")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// opensshConfig is the openssh engine with a tunnel rule for everything
// but port 21 and an ftp-tunnel rule (ftpExtra in [rules.ftp]) for it.
func opensshConfig(t *testing.T, s *testpeer.SSHD, audit, ftpExtra string) string {
	return fmt.Sprintf(`
[server]
listen = ["127.0.0.1:0"]
[log]
audit_file = %q
[console]
socket = ""
[ssh]
engine = "openssh"
runtime_dir = %q
known_hosts = [%q]
[profiles.gw]
host = "127.0.0.1"
port = %d
auth = ["password", "publickey"]
identity_files = [%q]
[[rules]]
name = "ftp"
ports = ["21"]
action = "ftp-tunnel"
profile = "gw"
[rules.ftp]
%s
[[rules]]
name = "via-ssh"
action = "tunnel"
profile = "gw"
`, audit, runtimeDir(t), s.KnownHostsFile, s.Port, s.ClientKeyFile, ftpExtra)
}

// cpuTicks returns a process's user plus system CPU time in clock ticks
// (/proc/PID/stat fields 14 and 15).
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	// f[0] is field 3 (state): utime is field 14, stime 15.
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st
}

// sshMasters returns the ssh processes among pid's children.
func sshMasters(pid int) []int {
	var out []int
	for _, c := range testpeer.Descendants(pid) {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c))
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c))
		if strings.TrimSpace(string(comm)) != "ssh" || len(stat) == 0 {
			continue
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
		if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
			out = append(out, c)
		}
	}
	return out
}

// sourceServer serves n bytes of zeros to each connection, then closes.
func sourceServer(t *testing.T, n int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for i := 0; i < 16; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, io.LimitReader(zeroReader{}, n))
			}()
		}
	}()
	return ln.Addr().String()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestOpenSSHTunnelBypassesSocksd: with the openssh engine the tunnel
// action's bytes never pass through socksd. 256 MiB through the tunnel
// cost socksd far less CPU than its ssh master; the session's byte count
// is still exact. The builtin engine's run is there for the record: its
// socksd CPU is logged, not checked.
func TestOpenSSHTunnelBypassesSocksd(t *testing.T) {
	requireOpenSSH(t)
	const size = 256 << 20
	for _, engine := range []string{"builtin", "openssh"} {
		t.Run(engine, func(t *testing.T) {
			s := testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true})
			cfg := opensshConfig(t, s, "", "")
			if engine == "builtin" {
				cfg = strings.Replace(cfg, `engine = "openssh"`, `engine = "builtin"`, 1)
			}
			d := testpeer.StartSocksd(t, socksdBin, cfg)
			src := sourceServer(t, size)
			dialer, err := proxy.SOCKS5("tcp", d.Addr, &proxy.Auth{User: s.User, Password: s.Password}, proxy.Direct)
			if err != nil {
				t.Fatal(err)
			}
			fetch := func(limit int64) int64 {
				t.Helper()
				c, err := dialer.Dial("tcp", src)
				if err != nil {
					t.Fatalf("through socksd: %v\n%s", err, d.Log.String())
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Minute))
				n, err := io.Copy(io.Discard, io.LimitReader(c, limit))
				if err != nil {
					t.Fatalf("after %d bytes: %v", n, err)
				}
				return n
			}
			fetch(1 << 20) // starts the connection (the master)
			masters := sshMasters(d.PID())
			if want := map[string]int{"builtin": 0, "openssh": 1}[engine]; len(masters) != want {
				t.Fatalf("ssh masters under socksd: %v, want %d", masters, want)
			}
			master := func() int64 {
				if len(masters) == 0 {
					return 0
				}
				return cpuTicks(t, masters[0])
			}
			sock0, ssh0 := cpuTicks(t, d.PID()), master()
			start := time.Now()
			if n := fetch(size + 1); n != size {
				t.Fatalf("fetched %d bytes, want %d", n, size)
			}
			took := time.Since(start)
			sockCPU, sshCPU := cpuTicks(t, d.PID())-sock0, master()-ssh0
			t.Logf("%s: 256 MiB through the tunnel action in %v: socksd %d ticks, its ssh master %d ticks (1 tick = 10 ms)", engine, took.Round(time.Millisecond), sockCPU, sshCPU)
			testpeer.Summary(t, "%s tunnel 256 MiB: socksd CPU %d ticks, master %d ticks", engine, sockCPU, sshCPU)
			if engine == "openssh" && (sshCPU == 0 || sockCPU >= sshCPU/4) {
				t.Errorf("socksd used %d ticks against the master's %d: the bytes did not bypass socksd", sockCPU, sshCPU)
			}
			if !d.Log.WaitCount("bytes_down="+strconv.Itoa(size), 1, 20*time.Second) {
				t.Errorf("no session_end with bytes_down=%d:\n%s", size, d.Log.String())
			}
		})
	}
}

// TestOpenSSHFTPTunnel: RETR and STOR through vsftpd with the openssh
// engine, passive through SOCKS and through the rewrite listener: the
// data connections are handed to the master, and the audit and
// session_end counts stay exact.
func TestOpenSSHFTPTunnel(t *testing.T) {
	requireOpenSSH(t)
	for _, data := range []string{"socks", "rewrite"} {
		t.Run(data, func(t *testing.T) {
			s := testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true})
			v := testpeer.StartVSFTPD(t, testpeer.VSFTPDConfig{WriteEnable: true})
			audit := filepath.Join(t.TempDir(), "audit.jsonl")
			d := testpeer.StartSocksd(t, socksdBin, strings.Replace(opensshConfig(t, s, audit, `data = "`+data+`"`), `ports = ["21"]`, fmt.Sprintf(`ports = ["%d"]`, v.Port), 1))
			c, err := ftp.Dial(v.Addr, ftp.DialWithDialFunc(socksDialOnce(t, d.Addr, data == "rewrite")), ftp.DialWithTimeout(30*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Quit()
			if err := c.Login(v.User, v.Password); err != nil {
				t.Fatalf("login through socksd: %v\n%s", err, d.Log.String())
			}
			payload := testpeer.Data(32<<20, 3)
			roundTrip(t, c, v, "big.bin", payload)
			c.Quit()
			if n := len(sshMasters(d.PID())); n != 1 {
				t.Errorf("%d ssh masters, want 1", n)
			}
			if !d.Log.WaitCount("SOX0303I", 2, 20*time.Second) {
				t.Fatalf("two transfers not logged:\n%s", d.Log.String())
			}
			b, _ := os.ReadFile(audit)
			for _, cmd := range []string{"STOR", "RETR"} {
				want := fmt.Sprintf(`"command":"%s"`, cmd)
				var line string
				for _, l := range strings.Split(string(b), "\n") {
					if strings.Contains(l, want) {
						line = l
					}
				}
				if !strings.Contains(line, `"code":226`) || !strings.Contains(line, fmt.Sprintf(`"bytes":%d`, len(payload))) {
					t.Errorf("%s audit record: %s", cmd, line)
				}
			}
			if data == "socks" {
				if !d.Log.WaitCount("session_end", 3, 20*time.Second) {
					t.Fatalf("sessions did not end:\n%s", d.Log.String())
				}
				checkDataBytes(t, d.Log.String(), int64(len(payload)))
			}
		})
	}
}

// socksDialOnce sends the first connection (the control connection)
// through socksd's SOCKS5 listener, and the later ones (data) through it
// too, or, with direct, straight to the address (the rewrite listener).
func socksDialOnce(t *testing.T, socksAddr string, direct bool) func(network, address string) (net.Conn, error) {
	through := socksDial(t, socksAddr, proxy.Direct)
	first := true
	return func(network, address string) (net.Conn, error) {
		if first || !direct {
			first = false
			return through(network, address)
		}
		return net.Dial(network, address)
	}
}

// TestOpenSSHMasterKilledMidTransfer: the ssh master dies in the middle of
// a RETR and of a STOR. The job never sees 226, the transfer is audited
// as failed, and the next session starts a new master.
func TestOpenSSHMasterKilledMidTransfer(t *testing.T) {
	requireOpenSSH(t)
	for _, verb := range []string{"RETR", "STOR"} {
		t.Run(verb, func(t *testing.T) {
			s := testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true})
			v := testpeer.StartVSFTPD(t, testpeer.VSFTPDConfig{WriteEnable: true})
			audit := filepath.Join(t.TempDir(), "audit.jsonl")
			d := testpeer.StartSocksd(t, socksdBin, strings.Replace(opensshConfig(t, s, audit, `data = "socks"`), `ports = ["21"]`, fmt.Sprintf(`ports = ["%d"]`, v.Port), 1))
			const size = 256 << 20
			if verb == "RETR" {
				f, err := os.Create(filepath.Join(v.Root, "big.bin"))
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(f, io.LimitReader(zeroReader{}, size))
				f.Close()
				os.Chmod(f.Name(), 0o644)
			}
			c, err := ftp.Dial(v.Addr, ftp.DialWithDialFunc(socksDial(t, d.Addr, proxy.Direct)), ftp.DialWithTimeout(30*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Quit()
			if err := c.Login(v.User, v.Password); err != nil {
				t.Fatalf("login through socksd: %v", err)
			}
			masters := sshMasters(d.PID())
			if len(masters) != 1 {
				t.Fatalf("ssh masters %v, want one", masters)
			}
			kill := func() {
				if err := syscall.Kill(masters[0], syscall.SIGKILL); err != nil {
					t.Errorf("kill master %d: %v", masters[0], err)
				}
			}
			var xferErr error
			switch verb {
			case "RETR":
				r, err := c.Retr("big.bin")
				if err != nil {
					t.Fatalf("RETR: %v", err)
				}
				n, err := io.CopyN(io.Discard, r, 4<<20)
				if err != nil {
					t.Fatalf("RETR: %v after %d bytes", err, n)
				}
				kill()
				r.SetDeadline(time.Now().Add(60 * time.Second))
				rest, err := io.Copy(io.Discard, r)
				if n+rest == size && err == nil {
					t.Logf("all %d bytes arrived before the master died", size)
				}
				xferErr = r.Close()
			case "STOR":
				xferErr = c.Stor("up.bin", &killingReader{r: io.LimitReader(zeroReader{}, size), at: 4 << 20, kill: kill})
			}
			if xferErr == nil {
				t.Fatalf("%s ended with 226 after the master was killed", verb)
			}
			// The reply code, not the text: a port such as 42261 holds "226".
			if te := (*textproto.Error)(nil); errors.As(xferErr, &te) && te.Code == 226 {
				t.Errorf("%s: %v", verb, xferErr)
			}
			t.Logf("%s after the master died: %v", verb, xferErr)
			if !d.Log.WaitCount("SOX0308W", 1, 30*time.Second) {
				t.Errorf("no SOX0308W for the cut transfer:\n%s", d.Log.String())
			}
			b, _ := os.ReadFile(audit)
			if bytes.Contains(b, []byte(`"code":226`)) {
				t.Errorf("a 226 in the audit: %s", b)
			}
			// The next session gets a new master.
			wait.Until(t, "the killed master to be gone", 10*time.Second, func() bool {
				ms := sshMasters(d.PID())
				return len(ms) == 0 || ms[0] != masters[0]
			})
			c2, err := ftp.Dial(v.Addr, ftp.DialWithDialFunc(socksDial(t, d.Addr, proxy.Direct)), ftp.DialWithTimeout(30*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Quit()
			if err := c2.Login(v.User, v.Password); err != nil {
				t.Fatalf("login after the master died: %v", err)
			}
			roundTrip(t, c2, v, "again.bin", testpeer.Data(1<<20, 5))
			if ms := sshMasters(d.PID()); len(ms) != 1 || ms[0] == masters[0] {
				t.Errorf("masters after a new session %v (killed %d)", ms, masters[0])
			}
		})
	}
}

// killingReader calls kill once at bytes into its reader.
type killingReader struct {
	r    io.Reader
	at   int64
	n    int64
	kill func()
}

func (k *killingReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	before := k.n
	k.n += int64(n)
	if before < k.at && k.n >= k.at {
		k.kill()
	}
	return n, err
}

// TestOpenSSHCancelEndsOnlyItsForward: with the openssh engine, D
// SESSIONS shows a forward's bytes while it runs, and CANCEL SESSION=n
// ends only that session's forward: another session on the same master
// goes on, and the master lives.
func TestOpenSSHCancelEndsOnlyItsForward(t *testing.T) {
	requireOpenSSH(t)
	s := testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true})
	d := testpeer.StartSocksd(t, socksdBin, strings.Replace(opensshConfig(t, s, "", ""), `socket = ""`, `socket = "{{SOCKET}}"`, 1))
	dl := socks5Dialer(t, d, s.User, s.Password)
	srcA, srcB := streamSource(t), streamSource(t)
	ca, err := dl.Dial("tcp", srcA)
	if err != nil {
		t.Fatalf("through socksd: %v\n%s", err, d.Log.String())
	}
	defer ca.Close()
	cb, err := dl.Dial("tcp", srcB)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	ra, rb := readStream(ca), readStream(cb)
	ra.waitStarted(t)
	rb.waitStarted(t)
	masters := sshMasters(d.PID())
	if len(masters) != 1 {
		t.Fatalf("ssh masters %v, want one shared", masters)
	}
	// The counts come from the kernel while the forward runs.
	wait.Until(t, "D SESSIONS to show session A's bytes", waitTimeout, func() bool {
		down := sessionRow(t, d, srcA)["DOWN"]
		return down != "" && down != "0"
	})
	id := sessionID(t, d, srcA)
	mustCmd(t, d, fmt.Sprintf("CANCEL SESSION=%d", id), "SOX0406I")
	ra.waitCut(t)
	if res := sessionEnd(t, d, id); res != "cancelled" {
		t.Errorf("session %d ended with result=%s, want cancelled", id, res)
	}
	n := rb.n.Load()
	wait.Until(t, "session B to go on after A's cancel", waitTimeout, func() bool { return rb.n.Load() > n+(4<<20) })
	if ms := sshMasters(d.PID()); len(ms) != 1 || ms[0] != masters[0] {
		t.Errorf("masters after the cancel %v, want %d still", ms, masters[0])
	}
	cb.Close()
}

// opensshSite is the gateway layout (job, SSH gateway and FTP server in
// their own namespaces) with socksd in the client namespace on the openssh
// engine; extraFTP goes into the rule's [rules.ftp] table.
func opensshSite(t *testing.T, extraFTP string) (*site, *testpeer.Socksd) {
	requireOpenSSH(t)
	s := newSite(t, true)
	cfg := strings.Replace(s.socksdConfig(false), `data = "socks"`, extraFTP, 1)
	cfg = strings.Replace(cfg, "[ssh]\n", fmt.Sprintf("[ssh]\nengine = \"openssh\"\nruntime_dir = %q\n", runtimeDir(t)), 1)
	return s, testpeer.StartSocksdIn(t, s.topo.Client, socksdBin, cfg)
}

// TestOpenSSHZOSJobAndCurlActive: with the openssh engine, the z/OS
// client's data connections (SOCKS BIND for active mode, SOCKS CONNECT for
// passive) and curl's plain PORT/EPRT are spliced into the master, across
// namespaces, byte-exact.
func TestOpenSSHZOSJobAndCurlActive(t *testing.T) {
	s, d := opensshSite(t, `data = "auto"`)
	data := testpeer.Data(16<<20, 11)
	want := sha256.Sum256(data)
	for _, active := range []bool{true, false} {
		t.Run(fmt.Sprintf("zos/active=%v", active), func(t *testing.T) {
			job := s.job(d, 4, ebcdic.IBM1047, []byte{0x15})
			job.ASCIIGreeting = true
			ctx := context.Background()
			if err := job.Open(ctx); err != nil {
				t.Fatal(err)
			}
			defer job.Close()
			if err := job.Login(s.ftpd.User, s.ftpd.Password); err != nil {
				t.Fatalf("%v\n%s\n%s", err, strings.Join(job.Log, "\n"), d.Log.String())
			}
			if _, err := job.Expect("TYPE I", 2); err != nil {
				t.Fatal(err)
			}
			file := fmt.Sprintf("OPENSSH%v.BIN", active)
			if err := job.Put(ctx, file, data, active); err != nil {
				t.Fatalf("%v\n%s", err, strings.Join(job.Log, "\n"))
			}
			sum, n, err := job.Get(ctx, file, active)
			if err != nil || sum != want {
				t.Fatalf("GET %d bytes: %v\n%s", n, err, strings.Join(job.Log, "\n"))
			}
			job.Expect("QUIT", 2)
		})
	}
	t.Run("curl-active", func(t *testing.T) {
		testpeer.RequireTool(t, "curl")
		src := filepath.Join(t.TempDir(), "up.bin")
		os.WriteFile(src, data, 0o644)
		for _, args := range [][]string{{"--ftp-port", "-", "--disable-eprt"}, {"--ftp-port", "-"}} {
			url := fmt.Sprintf("ftp://%s:%d/curl.bin", s.ftpIP, s.ftpd.Port)
			base := append([]string{"curl", "-sS", "--max-time", "120", "--socks5", d.Addr, "--user", s.ftpd.User + ":" + s.ftpd.Password}, args...)
			up := append(append([]string(nil), base...), "-T", src, url)
			if out, err := s.topo.Command(s.topo.Client, up[0], up[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("curl upload %v: %v %s", args, err, out)
			}
			dst := filepath.Join(t.TempDir(), "down.bin")
			down := append(append([]string(nil), base...), "-o", dst, url)
			if out, err := s.topo.Command(s.topo.Client, down[0], down[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("curl download %v: %v %s", args, err, out)
			}
			if got, err := os.ReadFile(dst); err != nil || sha256.Sum256(got) != want {
				t.Fatalf("curl %v: download differs (%d bytes): %v", args, len(got), err)
			}
		}
	})
	if n := s.ftpd.CountLog(`"PORT `) + s.ftpd.CountLog(`"EPRT `); n != 0 {
		t.Errorf("vsftpd received %d PORT/EPRT commands", n)
	}
	if n := len(sshMasters(d.PID())); n < 1 {
		t.Errorf("no ssh master under socksd")
	}
	if c := d.Log.Count(`"code":226`) + d.Log.Count("code=226"); c == 0 {
		t.Errorf("no transfer logged with 226:\n%s", d.Log.String())
	}
}
