package reliability

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
	"socksd/socks"
)

// bigSize is the file that a fault cuts: far larger than what the socket
// buffers and the SSH window can hold, so a cut transfer cannot complete
// from buffers alone.
const bigSize = 32 << 20

// headSize is how much of a transfer runs before the fault.
const headSize = 1 << 20

// faultRig is two lanes through one daemon: lane a gets the fault, lane b
// carries a witness transfer that is in flight while the fault happens
// and must complete intact.
type faultRig struct {
	t      *testing.T
	r      *recorder
	a, b   *lane
	d      *testpeer.Socksd
	audit  string // the daemon's audit file
	base   stats
	big    []byte
	bigSum [32]byte
}

func newFaultRig(t *testing.T, title string, adjust func(*rigConfig)) *faultRig {
	t.Helper()
	f := &faultRig{t: t, r: record(t, secFault, title)}
	f.a = newLane(t, "a", laneOptions{})
	f.b = newLane(t, "b", laneOptions{})
	f.audit = filepath.Join(t.TempDir(), "audit.jsonl")
	cfg := rigConfig{lanes: []*lane{f.a, f.b}, auditFile: f.audit}
	if adjust != nil {
		adjust(&cfg)
	}
	f.d = startSocksd(t, cfg, f.a.sshd.Password)
	f.big = testpeer.Data(bigSize, 42)
	f.bigSum = sha256.Sum256(f.big)
	for _, l := range []*lane{f.a, f.b} {
		l.ftpd.WriteFile(t, "big.bin", f.big)
		l.ftpd.WriteFile(t, "small.bin", f.big[:4096])
	}
	// Warm up both lanes (every code path once), then take the baseline
	// with the daemon idle.
	for _, l := range []*lane{f.a, f.b} {
		f.roundTrip(l, "warm.bin", f.big[:256<<10])
	}
	f.base = baseline(t, f.d)
	return f
}

// server returns a lane's FTP address as the job names it.
func (f *faultRig) server(l *lane) string { return l.ftpd.Addr }

// login opens a job on lane l and logs in.
func (f *faultRig) login(l *lane) *job {
	f.t.Helper()
	j, err := openJob(f.d.Addr, f.server(l))
	if err != nil {
		f.t.Fatalf("lane %s: %v", l.name, err)
	}
	if err := j.login(l.ftpd.User, l.ftpd.Password); err != nil {
		j.close()
		f.t.Fatalf("lane %s: login: %v", l.name, err)
	}
	if _, _, err := j.cmd("TYPE I"); err != nil {
		f.t.Fatal(err)
	}
	return j
}

// roundTrip stores data and reads it back on lane l, checking both ways.
func (f *faultRig) roundTrip(l *lane, name string, data []byte) {
	f.t.Helper()
	j := f.login(l)
	defer j.quit()
	if err := j.put(name, data); err != nil {
		f.t.Fatalf("lane %s: STOR: %v", l.name, err)
	}
	n, sum, err := j.get(name)
	if err != nil || n != int64(len(data)) || sum != sha256.Sum256(data) {
		f.t.Fatalf("lane %s: RETR: %d bytes, %v", l.name, n, err)
	}
}

// witness is a RETR on lane b held after its first bytes.
type witness struct {
	j *job
	p *partial
}

func (f *faultRig) startWitness() *witness {
	f.t.Helper()
	j := f.login(f.b)
	p, err := j.startRetr("big.bin", headSize, bigSize)
	if err != nil {
		f.t.Fatalf("witness: %v", err)
	}
	return &witness{j: j, p: p}
}

// finishWitness lets the witness go on; it must get the whole file and 226.
func (f *faultRig) finishWitness(w *witness) {
	f.t.Helper()
	res := w.j.finishRetr(w.p)
	w.j.quit()
	f.r.saw("the witness transfer on the other lane, in flight during the fault: %s", res)
	if res.dataErr != nil || res.ctrlErr != nil || res.code != 226 || res.n != bigSize || res.sum != f.bigSum {
		f.t.Errorf("witness transfer damaged by the fault on the other lane: %s", res)
	}
}

// afterwards checks that lane a serves again (after the test repaired
// it) and that the daemon returns to its baseline.
func (f *faultRig) afterwards(repaired bool) {
	f.t.Helper()
	if repaired {
		f.roundTrip(f.a, "after.bin", f.big[:2<<20])
		f.r.saw("after the peer was repaired, a new 2 MiB STOR+RETR on the faulty lane succeeded (SHA-256 equal)")
	}
	f.roundTrip(f.b, "after.bin", f.big[:2<<20])
	f.r.saw("a new 2 MiB STOR+RETR on the other lane succeeded (SHA-256 equal)")
	settled(f.t, f.r, f.d, f.base)
}

// checkRetrCut records and checks a RETR cut by a fault.
func (f *faultRig) checkRetrCut(res retrResult) {
	f.t.Helper()
	f.r.saw("the cut RETR: %s", res)
	f.r.figure("RETR bytes received of "+fmt.Sprint(bigSize), res.n)
	f.r.figure("RETR final reply", replyText(res.code, res.ctrlErr))
	if silentShort(res.code, res.n, bigSize) || (res.code == 226 && res.sum != f.bigSum) {
		f.t.Errorf("silent short file: %s", res)
	}
	if !gotError(res.code, res.ctrlErr) && !(res.code == 226 && res.n == bigSize && res.sum == f.bigSum) {
		f.t.Errorf("the job got no error for a cut RETR: %s", res)
	}
	f.checkAudit("RETR", "big.bin", res.code)
}

// jsonNum renders a decoded JSON number without an exponent.
func jsonNum(v any) string {
	if f, ok := v.(float64); ok {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprint(v)
}

// checkAudit finds the audit record of lane a's cut transfer and checks
// that it does not claim success either.
func (f *faultRig) checkAudit(command, path string, jobCode int) {
	f.t.Helper()
	var rec map[string]any
	found := wait.For(waitTimeout, func() bool {
		b, _ := os.ReadFile(f.audit)
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["command"] == command && m["path"] == path && m["server"] == f.a.ftpd.Addr {
				rec = m
				return true
			}
		}
		return false
	})
	if !found {
		f.t.Errorf("no audit record for the cut %s %s", command, path)
		return
	}
	f.r.saw("audit record of the cut %s: code %s, bytes %s, error %q", command, jsonNum(rec["code"]), jsonNum(rec["bytes"]), rec["error"])
	f.r.figure("audit record code / bytes", jsonNum(rec["code"])+" / "+jsonNum(rec["bytes"]))
	if rec["code"] == float64(226) {
		f.t.Errorf("the audit record of a cut %s says 226: %v", command, rec)
	}
	if jobCode != 0 && rec["code"] != float64(jobCode) {
		// Not a silent success, but the audit trail should say what the
		// job was told.
		f.r.saw("FINDING: the audit record says code %s (%q) while socksd told the job %d: ftp.(*session).serverGone writes the 426/421 itself, and the session's cleanup then records the pending transfer with code 0", jsonNum(rec["code"]), rec["error"], jobCode)
	}
}

func replyText(code int, err error) string {
	if err != nil {
		return fmt.Sprintf("none (control connection: %v)", err)
	}
	return fmt.Sprint(code)
}

func TestFaultSSHDKilledMidRetr(t *testing.T) {
	f := newFaultRig(t, "sshd killed in the middle of a RETR", nil)
	w := f.startWitness()
	j := f.login(f.a)
	defer j.close()
	p, err := j.startRetr("big.bin", headSize, bigSize)
	if err != nil {
		t.Fatal(err)
	}
	f.r.tried("RETR of a %d MiB file through lane a; after %d MiB, sshd (listener and session processes) killed with SIGKILL", bigSize>>20, headSize>>20)
	f.a.sshd.Stop()
	res := j.finishRetr(p)
	f.checkRetrCut(res)
	f.finishWitness(w)
	f.a.sshd.Restart(t)
	f.afterwards(true)
}

func TestFaultSSHDKilledMidStor(t *testing.T) {
	f := newFaultRig(t, "sshd killed in the middle of a STOR", nil)
	w := f.startWitness()
	j := f.login(f.a)
	defer j.close()
	dc, err := j.start("STOR up.bin")
	if err != nil {
		t.Fatal(err)
	}
	dc.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := dc.Write(f.big[:headSize]); err != nil {
		t.Fatal(err)
	}
	// The first bytes reached the server: then kill sshd.
	stored := filepath.Join(f.a.ftpd.Root, "up.bin")
	if !wait.For(waitTimeout, func() bool { fi, err := os.Stat(stored); return err == nil && fi.Size() > 0 }) {
		t.Fatal("the first bytes of the STOR never reached the server")
	}
	f.r.tried("STOR of %d MiB through lane a; after the first %d MiB were written (and the server's file had grown), sshd killed with SIGKILL; the job then wrote the rest", bigSize>>20, headSize>>20)
	f.a.sshd.Stop()
	written := int64(headSize)
	var werr error
	for off := headSize; off < bigSize && werr == nil; off += 1 << 20 {
		var n int
		n, werr = dc.Write(f.big[off : off+(1<<20)])
		written += int64(n)
	}
	dc.Close()
	code, text, cerr := j.reply()
	fi, _ := os.Stat(stored)
	var size int64
	if fi != nil {
		size = fi.Size()
	}
	f.r.saw("the job wrote %d bytes (write error: %v); final reply %s %q; the server's file holds %d bytes", written, werr, replyText(code, cerr), text, size)
	f.r.figure("STOR bytes on the server of "+fmt.Sprint(bigSize), size)
	f.r.figure("STOR final reply", replyText(code, cerr))
	if code == 226 || code/100 == 2 {
		t.Errorf("the job was told the cut STOR succeeded: %d %q (server has %d of %d bytes)", code, text, size, bigSize)
	}
	if !gotError(code, cerr) {
		t.Errorf("the job got no error for a cut STOR: %d %q %v", code, text, cerr)
	}
	f.checkAudit("STOR", "up.bin", code)
	f.finishWitness(w)
	f.a.sshd.Restart(t)
	f.afterwards(true)
}

func TestFaultSSHDFrozen(t *testing.T) {
	f := newFaultRig(t, "sshd frozen (SIGSTOP) in the middle of a RETR, keepalive 1s x 2", func(c *rigConfig) {
		c.ssh = "keepalive_interval = \"1s\"\nkeepalive_max = 2"
	})
	w := f.startWitness()
	j := f.login(f.a)
	defer j.close()
	p, err := j.startRetr("big.bin", headSize, bigSize)
	if err != nil {
		t.Fatal(err)
	}
	f.r.tried("RETR of %d MiB through lane a; after %d MiB, every sshd process of lane a stopped with SIGSTOP (TCP stays open, nothing answers); [ssh] keepalive_interval = 1s, keepalive_max = 2", bigSize>>20, headSize>>20)
	f.a.sshd.Freeze()
	frozen := time.Now()
	res := j.finishRetr(p)
	took := time.Since(frozen).Round(100 * time.Millisecond)
	f.checkRetrCut(res)
	f.r.figure("time from SIGSTOP to the job's final reply (not asserted)", took)
	if l, ok := f.d.Log.WaitFor(regexp.MustCompile(`keepalive replies missed|SOX0207W`), waitTimeout, nil); ok {
		f.r.saw("socksd noticed the frozen server: %s", strings.TrimSpace(l))
	} else {
		t.Errorf("the frozen SSH server was not noticed (no keepalive message)")
	}
	// The operator message for this event is SOX0207W (console catalogue).
	if f.d.Log.Count("SOX0207W") == 0 {
		f.r.saw("BUG: the operator message SOX0207W (SSH connection lost: keepalives unanswered) was not logged; tunnel.Pool.finish logs only \"tunnel: ssh connection closed\" without a message ID")
		t.Errorf("no SOX0207W operator message for the connection lost to keepalives")
	}
	f.finishWitness(w)
	f.a.sshd.Thaw()
	f.a.sshd.Restart(t)
	f.afterwards(true)
}

func TestFaultFTPServerRefuses(t *testing.T) {
	f := newFaultRig(t, "FTP server refusing the connection (vsftpd stopped)", nil)
	w := f.startWitness()
	f.a.ftpd.Stop()
	f.r.tried("vsftpd of lane a stopped; a job connects through socksd and logs in (socksd opens the SSH connection, then the FTP connection through it is refused)")
	j, err := openJob(f.d.Addr, f.server(f.a))
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	code, text, err := j.cmd("USER " + f.a.ftpd.User)
	if err == nil && code == 331 {
		code, text, err = j.cmd("PASS " + f.a.ftpd.Password)
	}
	f.r.saw("login reply: %s %q", replyText(code, err), text)
	f.r.figure("login reply with the FTP server down", replyText(code, err))
	if !gotError(code, err) {
		t.Errorf("login with the FTP server down answered %d %q", code, text)
	}
	j.close()
	f.finishWitness(w)
	f.afterwards(false)
}

func TestFaultFTPServerKilledMidRetr(t *testing.T) {
	f := newFaultRig(t, "FTP server dropping the connection in the middle of a RETR (vsftpd killed)", nil)
	w := f.startWitness()
	j := f.login(f.a)
	defer j.close()
	p, err := j.startRetr("big.bin", headSize, bigSize)
	if err != nil {
		t.Fatal(err)
	}
	tree := testpeer.Descendants(f.a.ftpd.PID())
	f.r.tried("RETR of %d MiB through lane a; after %d MiB, vsftpd and its session processes killed with SIGKILL", bigSize>>20, headSize>>20)
	f.r.saw("vsftpd's process tree before the kill: listener %d, below it %v", f.a.ftpd.PID(), tree)
	f.a.ftpd.Stop() // kills the whole tree, session processes included
	res := j.finishRetr(p)
	j.close()
	f.checkRetrCut(res)
	f.finishWitness(w)
	f.afterwards(false)
}

func TestFaultClientVanishes(t *testing.T) {
	f := newFaultRig(t, "client vanishing in the middle of a RETR and of a STOR", nil)
	w := f.startWitness()
	before := dStats(t, f.d)
	// RETR: read a little, then reset both connections.
	j := f.login(f.a)
	p, err := j.startRetr("big.bin", headSize, bigSize)
	if err != nil {
		t.Fatal(err)
	}
	// STOR: write a little, then reset both connections.
	j2 := f.login(f.a)
	dc, err := j2.start("STOR vanish.bin")
	if err != nil {
		t.Fatal(err)
	}
	dc.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := dc.Write(f.big[:headSize]); err != nil {
		t.Fatal(err)
	}
	mid := dStats(t, f.d)
	f.r.tried("two jobs on lane a, one %d MiB into a RETR, one %d MiB into a STOR, close their control and data sockets with a reset (SO_LINGER 0), without QUIT", headSize>>20, headSize>>20)
	for _, c := range []net.Conn{p.dc, j.ctrl, dc, j2.ctrl} {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
	f.r.figure("sessions active before / during / (witness only)", fmt.Sprintf("%d / %d / 2 expected", before.active, mid.active))
	var st stats
	if !wait.For(waitTimeout, func() bool { st = dStats(t, f.d); return st.active == 2 }) {
		t.Errorf("the vanished jobs' sessions stayed: %d active (want the witness's 2)", st.active)
	}
	f.r.saw("socksd ended the 4 sessions of the vanished jobs (D STATS active %d → %d, the witness's control and data remain)", mid.active, st.active)
	f.finishWitness(w)
	f.afterwards(false)
}

func TestFaultHalfClosedData(t *testing.T) {
	f := newFaultRig(t, "half-closed data connection (STOR ends with CloseWrite)", nil)
	j := f.login(f.a)
	defer j.close()
	dc, err := j.start("STOR half.bin")
	if err != nil {
		t.Fatal(err)
	}
	dc.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := dc.Write(f.big); err != nil {
		t.Fatal(err)
	}
	f.r.tried("STOR of %d MiB; the job then half-closes the data connection (shutdown SHUT_WR) and keeps it open for reading while it waits for the final reply", bigSize>>20)
	if err := dc.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	code, text, err := j.reply()
	dc.Close()
	got, _ := os.ReadFile(filepath.Join(f.a.ftpd.Root, "half.bin"))
	f.r.saw("final reply %s %q; the server's file: %d bytes, SHA-256 equal: %v", replyText(code, err), text, len(got), sha256.Sum256(got) == f.bigSum)
	f.r.figure("STOR bytes on the server", len(got))
	f.r.figure("STOR final reply", replyText(code, err))
	if err != nil || code != 226 || sha256.Sum256(got) != f.bigSum {
		t.Errorf("half-closed STOR: reply %d %q %v, %d bytes on the server", code, text, err, len(got))
	}
	// And a RETR whose reader half-closes its (unused) sending side first.
	dc, err = j.start("RETR big.bin")
	if err != nil {
		t.Fatal(err)
	}
	dc.(*net.TCPConn).CloseWrite()
	p := &partial{dc: dc, h: sha256.New(), total: bigSize}
	res := j.finishRetr(p)
	f.r.saw("RETR after the job half-closed its sending side of the data connection first: %s", res)
	if res.code != 226 || res.n != bigSize || res.sum != f.bigSum {
		t.Errorf("RETR with a half-closed data connection: %s", res)
	}
	j.quit()
	f.afterwards(false)
}

// countingServer is a TCP server on loopback that greets each connection
// with a line and counts the connections it accepted.
type countingServer struct {
	ln       net.Listener
	accepted atomic.Int64
}

func newCountingServer(t testing.TB, ip string) *countingServer {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	s := &countingServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			c.SetDeadline(time.Now().Add(ioTimeout))
			io.WriteString(c, "hello from the destination\n")
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *countingServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func TestFaultSSHUnreachable(t *testing.T) {
	var noFB, withFB *countingServer
	deadPort := 0
	f := newFaultRig(t, "SSH server unreachable, with and without fallback_to_plain", func(c *rigConfig) {
		noFB, withFB = newCountingServer(t, "127.0.0.1"), newCountingServer(t, "127.0.0.1")
		deadPort = testpeer.FreePort(t, "127.0.0.1")
		c.profiles = fmt.Sprintf("[profiles.dead]\nhost = \"127.0.0.1\"\nport = %d\nauth = [\"password\"]\n", deadPort)
		c.rules = fmt.Sprintf(`[[rules]]
name = "tunnel-closed"
ports = ["%d"]
action = "tunnel"
profile = "dead"
[[rules]]
name = "tunnel-fallback"
ports = ["%d"]
action = "tunnel"
profile = "dead"
fallback_to_plain = true
[[rules]]
name = "ftp-dead"
ports = ["%d"]
action = "ftp-tunnel"
profile = "dead"
`, noFB.port(), withFB.port(), deadPort)
	})
	w := f.startWitness()
	user, pw := f.a.sshd.User, f.a.sshd.Password
	f.r.tried("profile \"dead\" names 127.0.0.1:%d where nothing listens; SOCKS5 CONNECT (user/password) by a tunnel rule without fallback, by one with fallback_to_plain = true, and an FTP job by an ftp-tunnel rule", deadPort)

	// Without fallback: a SOCKS failure, and nothing reaches the destination.
	_, err := dialSOCKS(f.d.Addr, "", socksAddr(noFB.port()), user, pw)
	code := replyCode(err)
	f.r.saw("tunnel rule without fallback: SOCKS reply %s (%v); connections that reached the destination: %d", code, err, noFB.accepted.Load())
	f.r.figure("SOCKS reply without fallback", code)
	if err == nil || code != "0x04 host unreachable" || noFB.accepted.Load() != 0 {
		t.Errorf("without fallback: %v, destination reached %d times", err, noFB.accepted.Load())
	}

	// With fallback: connected directly, and the operator is told.
	c, err := dialSOCKS(f.d.Addr, "", socksAddr(withFB.port()), user, pw)
	var line string
	if err == nil {
		c.SetDeadline(time.Now().Add(ioTimeout))
		line, _ = bufio.NewReader(c).ReadString('\n')
		c.Close()
	}
	f.r.saw("tunnel rule with fallback_to_plain: SOCKS reply %s, destination said %q, connections there: %d", replyCode(err), strings.TrimSpace(line), withFB.accepted.Load())
	f.r.figure("SOCKS reply with fallback", replyCode(err))
	if err != nil || line != "hello from the destination\n" {
		t.Errorf("with fallback: %v %q", err, line)
	}
	if l, ok := f.d.Log.WaitFor(regexp.MustCompile(`SOX0208W`), waitTimeout, nil); ok {
		f.r.saw("logged: %s", strings.TrimSpace(l[strings.Index(l, "SOX0208W"):]))
	} else {
		t.Errorf("fallback not logged with SOX0208W")
	}

	// An FTP job: socksd greets it, and the login fails with an FTP error.
	j, err := openJob(f.d.Addr, fmt.Sprintf("127.0.0.1:%d", deadPort))
	if err != nil {
		t.Fatal(err)
	}
	fcode, text, err := j.cmd("USER " + user)
	if err == nil && fcode == 331 {
		fcode, text, err = j.cmd("PASS " + pw)
	}
	j.close()
	f.r.saw("ftp-tunnel rule, SSH server unreachable: login reply %s %q", replyText(fcode, err), text)
	f.r.figure("FTP login reply, SSH server unreachable", replyText(fcode, err))
	if !gotError(fcode, err) {
		t.Errorf("FTP login with the SSH server down: %d %q %v", fcode, text, err)
	}
	f.finishWitness(w)
	f.afterwards(false)
}

// socksAddr is a loopback destination.
func socksAddr(port int) socks.Addr { return socks.Addr{Host: "127.0.0.1", Port: uint16(port)} }

// replyCode describes the SOCKS reply behind a dial error.
func replyCode(err error) string {
	if err == nil {
		return "0x00 succeeded"
	}
	var re *socks.ReplyError
	if errors.As(err, &re) {
		return fmt.Sprintf("0x%02x %s", byte(re.Code), re.Code)
	}
	return "none (" + err.Error() + ")"
}

// TestFaultFTPServerSilent: the FTP server accepts the connection through
// the tunnel but never greets (a hung server, or a connection its full
// listen queue dropped after sshd saw it open). The job must not hang for
// ever, and when it gives up, socksd must end the session.
func TestFaultFTPServerSilent(t *testing.T) {
	var silent int
	f := newFaultRig(t, "FTP server accepting the connection but never greeting", func(c *rigConfig) {
		silent = holdServer(t)
		c.rules = fmt.Sprintf("[[rules]]\nname = \"ftp-silent\"\nports = [\"%d\"]\naction = \"ftp-tunnel\"\nprofile = \"a\"\n[rules.ftp]\ndata = \"socks\"\n", silent)
	})
	w := f.startWitness()
	j, err := openJob(f.d.Addr, fmt.Sprintf("127.0.0.1:%d", silent))
	if err != nil {
		t.Fatal(err)
	}
	// A second job that waits as long as it takes.
	j2, err := openJob(f.d.Addr, fmt.Sprintf("127.0.0.1:%d", silent))
	if err != nil {
		t.Fatal(err)
	}
	defer j2.close()
	const patience = 10 * time.Second
	f.r.tried("an ftp-tunnel rule whose FTP server (127.0.0.1:%d, reached through lane a's sshd) accepts and never writes; two jobs log in: one waits %v for an answer, then closes its control connection; the other waits (up to %v) for whatever socksd answers", silent, patience, ioTimeout)
	for _, j := range []*job{j, j2} {
		code, text, err := j.cmd("USER " + f.a.ftpd.User)
		if err != nil || code != 331 {
			t.Fatalf("USER: %d %q %v", code, text, err)
		}
		io.WriteString(j.ctrl, "PASS "+f.a.ftpd.Password+"\r\n")
	}
	waited := time.Now()
	j.ctrl.SetReadDeadline(time.Now().Add(patience))
	line, rerr := j.r.ReadString('\n')
	f.r.saw("answer to PASS within %v: %q (%v)", patience, strings.TrimSpace(line), rerr)
	before := dStats(t, f.d)
	j.close()
	var st stats
	ended := wait.For(waitTimeout, func() bool { st = dStats(t, f.d); return st.active < before.active })
	f.r.saw("sessions active before / after the job closed (witness control+data = 2): %d / %d", before.active, st.active)
	if !ended {
		out, _ := opCmd(f.d, "D SESSIONS")
		t.Errorf("the session waiting for the silent server's greeting outlived its job (%v):\n%s", waitTimeout, out)
		f.r.saw("BUG: the session stays in the login phase after its job left: ftp.(*session).connectServer reads the server greeting with no deadline, and nothing watches the job's control connection meanwhile")
	}
	code, text, err := j2.reply()
	f.r.saw("the job that kept waiting got, after %v: %s %q", time.Since(waited).Round(time.Second), replyText(code, err), text)
	f.r.figure("reply to the patient job", replyText(code, err))
	if !gotError(code, err) {
		t.Errorf("the patient job got %d %q %v", code, text, err)
	}
	j2.close()
	f.finishWitness(w)
	if ended {
		f.afterwards(false)
	}
}
