package bench

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"golang.org/x/crypto/ssh/knownhosts"

	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
)

// The report's sections for ftp-sftp.
var (
	SecSFTP = Section{Title: "FTP jobs served from an SFTP server (rule `ftp-sftp`)",
		About: "An FTP client (jlaffaye/ftp, passive, its data connections through SOCKS5) through socksd's `ftp-sftp` rule, which serves the FTP commands itself from sshd's sftp subsystem, " +
			"against OpenSSH's own `sftp -b` (get and put) on the same sshd with the same cipher, and against the same FTP client through `ftp-tunnel` to vsftpd. " +
			"Higher MB/s is better; the goal against `sftp -b` is a ratio of at least 1."}
	SecSFTPDelay = Section{Title: "FTP jobs served from an SFTP server, 40 ms away",
		About: "The same through a delay line in front of sshd that holds each direction's bytes for 20 ms (40 ms more round-trip time), for every row alike: " +
			"`ftp-sftp` with one SFTP channel and with four (`streams = 4`), OpenSSH `sftp -b`, and the FTP client fetching from vsftpd behind sshd through OpenSSH `ssh -N -D`. " +
			"One SSH channel moves at most its 2 MiB window per round trip; the goal for `streams = 4` is at least 3 times `sftp -b` and 3 times `ssh -N -D`."}
)

// SecSFTPDelayDiag holds the delay line's own capacity beside the
// multi-stream rows.
var SecSFTPDelayDiag = Section{Title: "The delay line's capacity", Diagnostic: true,
	About: "This row diagnoses whether the delay line or socksd bounds the multi-stream rows above: the same number of SSH channels as `streams`, " +
		"as parallel FTP downloads of a part each through `ssh -N -D` over the same delay line, against `ftp-sftp` with `streams` moving the whole file. " +
		"If the parallel downloads reach several times one channel's rate and `ftp-sftp` does not, the bound is in socksd."}

// sftpStreams is the streams setting of the multi-channel rows.
const sftpStreams = 4

// The SOCKS destination ports that pick socksd's ftp-sftp rules (nothing
// listens on them: socksd is the FTP server).
const (
	sftpBenchPort        = 21   // ftp-sftp to sshd directly
	sftpBenchDelayed     = 2201 // ftp-sftp through the delay line, streams 1
	sftpBenchDelayedMany = 2204 // ftp-sftp through the delay line, streams = sftpStreams
	sftpBenchOpenSSH     = 2121 // ftp-sftp to sshd directly, openssh engine (proxy-mode channel)
)

// sftpBenchConfig is socksd with ftp-tunnel to vsftpd and the ftp-sftp
// rules, each logging in with the job's FTP user and password; the
// delayed profile reaches sshd through the delay line at delayPort.
func sftpBenchConfig(e *Env, delayPort int, delayedKnownHosts string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `
[server]
listen = ["127.0.0.1:0"]
max_sessions = 12000
[log]
level = "warn"
[console]
socket = ""
[ssh]
known_hosts = [%q, %q]
keepalive_interval = "0s"
# The rows without an engine in their name are builtin's: the default,
# auto, would take openssh where it is installed.
engine = "builtin"
[profiles.direct]
host = "127.0.0.1"
port = %d
auth = ["password"]
[profiles.delayed]
host = "127.0.0.1"
port = %d
auth = ["password"]
[profiles.direct-openssh]
host = "127.0.0.1"
port = %d
auth = ["password"]
engine = "openssh"
[[rules]]
name = "ftp-tunnel"
to = ["127.0.0.1"]
ports = ["%d"]
action = "ftp-tunnel"
profile = "direct"
[rules.ftp]
data = "socks"
`, e.SSHD.KnownHostsFile, delayedKnownHosts, e.SSHD.Port, delayPort, e.SSHD.Port, e.FTP.Port)
	for _, r := range []struct {
		name    string
		port    int
		profile string
		streams int
	}{
		{"sftp", sftpBenchPort, "direct", 1},
		{"sftp-openssh", sftpBenchOpenSSH, "direct-openssh", 1},
		{"sftp-delayed", sftpBenchDelayed, "delayed", 1},
		{"sftp-delayed-streams", sftpBenchDelayedMany, "delayed", sftpStreams},
	} {
		fmt.Fprintf(&b, `
[[rules]]
name = %q
to = ["127.0.0.1"]
ports = ["%d"]
action = "ftp-sftp"
profile = %q
[rules.sftp]
root = %q
streams = %d
`, r.name, r.port, r.profile, e.FTP.Root, r.streams)
	}
	b.WriteString("\n[[rules]]\nname = \"rest\"\naction = \"block\"\n")
	return b.String()
}

// knownHostsAt writes a known_hosts file that names s's host keys under
// addr (the delay line's address), and returns its path.
func knownHostsAt(t testing.TB, s *testpeer.SSHD, addr string) string {
	t.Helper()
	var b bytes.Buffer
	for _, k := range s.HostKeys {
		b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(addr)}, k) + "\n")
	}
	p := filepath.Join(t.TempDir(), "known_hosts_delayed")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatalf("bench: %v", err)
	}
	return p
}

// sftpRef is OpenSSH's sftp client: `sftp -b` over a ControlMaster
// connection logged in beforehand (as socksd's shared SSH connection is),
// so that a timed run holds the transfer and not the login.
type sftpRef struct {
	sock, host, knownHosts, user string
	port                         int
	master                       *exec.Cmd
	done                         chan struct{}
	lastCPU                      float64 // CPU seconds of the last `sftp -b` with its children
}

// startSFTPRef starts the ControlMaster to addr (sshd, or the delay line
// in front of it) with s's client key and the reference cipher; it stops
// when t ends.
func startSFTPRef(t testing.TB, s *testpeer.SSHD, addr, knownHosts string) *sftpRef {
	t.Helper()
	sshPath := testpeer.RequireTool(t, "ssh")
	testpeer.RequireTool(t, "sftp")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	r := &sftpRef{sock: filepath.Join(t.TempDir(), "mux"), host: host, knownHosts: knownHosts, user: s.User, done: make(chan struct{})}
	r.port, _ = strconv.Atoi(port)
	var stderr bytes.Buffer
	r.master = exec.Command(sshPath, append([]string{"-M", "-S", r.sock, "-N", "-i", s.ClientKeyFile, "-o", "IdentitiesOnly=yes", "-o", "ControlPersist=no"},
		r.options()...)...)
	r.master.Stderr = &stderr
	r.master.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.master.Start(); err != nil {
		t.Fatalf("bench: ssh -M: %v", err)
	}
	go func() { r.master.Wait(); close(r.done) }()
	t.Cleanup(func() {
		r.master.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			r.master.Process.Kill()
			<-r.done
		}
	})
	ok := wait.For(30*time.Second, func() bool {
		select {
		case <-r.done:
			return true
		default:
		}
		return exec.Command(sshPath, "-S", r.sock, "-O", "check", "-F", "/dev/null", host).Run() == nil
	})
	select {
	case <-r.done:
		t.Fatalf("bench: ssh -M exited: %s", stderr.String())
	default:
	}
	if !ok {
		t.Fatalf("bench: ssh -M did not come up: %s", stderr.String())
	}
	return r
}

// options are the ssh options the master and sftp share: no user
// configuration, the reference cipher, strict host keys, no compression.
func (r *sftpRef) options() []string {
	return []string{"-F", "/dev/null", "-c", testpeer.ReferenceCipher,
		"-o", "BatchMode=yes", "-o", "UserKnownHostsFile=" + r.knownHosts, "-o", "StrictHostKeyChecking=yes",
		"-o", "Compression=no", "-o", "ControlPath=" + r.sock,
		"-o", "Port=" + strconv.Itoa(r.port), "-o", "User=" + r.user, r.host}
}

// run runs `sftp -b` with one batch command and returns MB/s for size
// bytes, from the start of sftp to its exit.
func (r *sftpRef) run(command string, size int64) (float64, error) {
	batch := filepath.Join(filepath.Dir(r.sock), "batch")
	if err := os.WriteFile(batch, []byte(command+"\n"), 0o600); err != nil {
		return 0, err
	}
	opts := r.options()
	args := append([]string{"-b", batch, "-o", "ControlMaster=no"}, opts[:len(opts)-1]...)
	args = append(args, opts[len(opts)-1])
	start := time.Now()
	cmd := exec.Command("sftp", args...)
	out, err := testpeer.RunBounded(cmd, transferTimeout)
	r.lastCPU = 0
	if ps := cmd.ProcessState; ps != nil {
		r.lastCPU = (ps.UserTime() + ps.SystemTime()).Seconds()
	}
	if err != nil {
		return 0, fmt.Errorf("bench: sftp %q: %v: %s", command, err, out)
	}
	return mbps(size, time.Since(start)), nil
}

// ftpLoginAt is ftpLogin to addr (an ftp-sftp destination) instead of
// vsftpd's own address.
func ftpLoginAt(dial dialFunc, addr string, v *testpeer.VSFTPD) (*ftp.ServerConn, error) {
	c, err := ftp.Dial(addr, ftp.DialWithDialFunc(bounded(dial)), ftp.DialWithTimeout(30*time.Second))
	if err != nil {
		return nil, fmt.Errorf("bench: ftp dial %s: %w", addr, err)
	}
	if err := c.Login(v.User, v.Password); err != nil {
		c.Quit()
		return nil, fmt.Errorf("bench: ftp login: %w", err)
	}
	return c, nil
}

// xferPath is one way to move a file: through an FTP client, or with
// `sftp -b`. It returns MB/s for RETR (get) and STOR (put) of file. When
// pid is set, measureXfers also takes the CPU time of that process and its
// children per GiB, plus extraCPU's seconds when set (the `sftp` process).
type xferPath struct {
	name     string
	get      func(file string, size int64) (float64, error)
	put      func(file, dst string, size int64) (float64, error)
	pid      int
	extraCPU func() float64
}

// ftpXfer moves files with jlaffaye/ftp logged in at addr with dial.
func ftpXfer(name string, dial dialFunc, addr string, v *testpeer.VSFTPD) xferPath {
	return xferPath{name: name,
		get: func(file string, size int64) (float64, error) {
			c, err := ftpLoginAt(dial, addr, v)
			if err != nil {
				return 0, err
			}
			defer c.Quit()
			return retr(c, file, size)
		},
		put: func(_, dst string, size int64) (float64, error) {
			c, err := ftpLoginAt(dial, addr, v)
			if err != nil {
				return 0, err
			}
			defer c.Quit()
			return stor(c, v, dst, size)
		}}
}

// sftpXfer moves files with `sftp -b`: get to /dev/null (as the FTP rows
// discard what they read), put from the server's own copy of the file.
func sftpXfer(r *sftpRef, v *testpeer.VSFTPD) xferPath {
	return xferPath{name: "sftp -b", pid: r.master.Process.Pid, extraCPU: func() float64 { return r.lastCPU },
		get: func(file string, size int64) (float64, error) {
			return r.run(fmt.Sprintf("get %s /dev/null", filepath.Join(v.Root, file)), size)
		},
		put: func(file, dst string, size int64) (float64, error) {
			x, err := r.run(fmt.Sprintf("put %s %s", filepath.Join(v.Root, file), filepath.Join(v.Root, dst)), size)
			if err != nil {
				return 0, err
			}
			p := filepath.Join(v.Root, dst)
			fi, err := os.Stat(p)
			os.Remove(p)
			if err != nil || fi.Size() != size {
				return 0, fmt.Errorf("bench: sftp put: the server has %v bytes of %d (%v)", fi, size, err)
			}
			return x, nil
		}}
}

// measureXfers runs get and put of file on every path, Runs times in
// rotating order, and returns MB/s by path name and "RETR"/"STOR", and
// CPU seconds per GiB under "RETR cpu"/"STOR cpu" for paths with a pid.
func measureXfers(t testing.TB, e *Env, what string, paths []xferPath, file string, size int64) map[string]map[string][]float64 {
	res := map[string]map[string][]float64{"RETR": {}, "STOR": {}, "RETR cpu": {}, "STOR cpu": {}}
	cpu := func(p xferPath, m *cpuMeter) (float64, bool) {
		if p.pid == 0 {
			return 0, false
		}
		c, err := m.stop(size)
		if err != nil {
			t.Fatalf("%s %s: CPU: %v", what, p.name, err)
		}
		x := c.Total
		if p.extraCPU != nil {
			x += perGiB(p.extraCPU(), size)
		}
		return x, true
	}
	for i := 0; i < e.Opt.Runs; i++ {
		for j := range paths {
			p := paths[(i+j)%len(paths)]
			m := startCPU(p.pid)
			g, err := p.get(file, size)
			if err != nil {
				t.Fatalf("%s %s: RETR: %v", what, p.name, err)
			}
			gc, hasCPU := cpu(p, m)
			m = startCPU(p.pid)
			s, err := p.put(file, fmt.Sprintf("up-%d.bin", i), size)
			if err != nil {
				t.Fatalf("%s %s: STOR: %v", what, p.name, err)
			}
			sc, _ := cpu(p, m)
			res["RETR"][p.name] = append(res["RETR"][p.name], g)
			res["STOR"][p.name] = append(res["STOR"][p.name], s)
			if hasCPU {
				res["RETR cpu"][p.name] = append(res["RETR cpu"][p.name], gc)
				res["STOR cpu"][p.name] = append(res["STOR cpu"][p.name], sc)
				e.Logf("%s run %d %-18s RETR %.0f MB/s %.3f s/GiB, STOR %.0f MB/s %.3f s/GiB", what, i+1, p.name, g, gc, s, sc)
				continue
			}
			e.Logf("%s run %d %-18s RETR %.0f MB/s, STOR %.0f MB/s", what, i+1, p.name, g, s)
		}
	}
	return res
}

// BenchSFTP compares `ftp-sftp` with OpenSSH's `sftp -b` and with
// `ftp-tunnel`, on sshd directly, and then through a delay line of 40 ms
// round trip with one and with several SFTP channels, against `sftp -b`
// and `ssh -N -D` through the same delay line.
func BenchSFTP(t testing.TB, e *Env) []Row {
	v := e.FTP
	relay := startDelayLine(t, e.SSHD.Addr, 20*time.Millisecond)
	_, rp, _ := net.SplitHostPort(relay)
	relayPort, _ := strconv.Atoi(rp)
	relayKnown := knownHostsAt(t, e.SSHD, relay)
	d := testpeer.StartSocksd(t, e.Bin, sftpBenchConfig(e, relayPort, relayKnown))
	viaSocksd := socks5(t, d.Addr, "", "")
	sftpAt := func(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
	cmds := []string{"RETR", "STOR"}
	verb := map[string]string{"RETR": "get", "STOR": "put"}

	// On sshd directly.
	size := e.Opt.Size()
	writeServerFile(t, v, "sftp-big.bin", size)
	direct := startSFTPRef(t, e.SSHD, e.SSHD.Addr, e.SSHD.KnownHostsFile)
	withPID := func(x xferPath) xferPath { x.pid = d.PID(); return x }
	res := measureXfers(t, e, "sftp", []xferPath{
		withPID(ftpXfer("ftp-sftp builtin", viaSocksd, sftpAt(sftpBenchPort), v)),
		withPID(ftpXfer("ftp-sftp openssh", viaSocksd, sftpAt(sftpBenchOpenSSH), v)),
		sftpXfer(direct, v),
		ftpXfer("ftp-tunnel", viaSocksd, v.Addr, v),
	}, "sftp-big.bin", size)
	var rows []Row
	for _, eng := range Engines {
		for _, cmd := range cmds {
			rows = append(rows, Row{Section: SecSFTP, Label: engineLabel("sftp "+cmd, eng), Engine: eng,
				Name: fmt.Sprintf("%s of %d MiB through `ftp-sftp`", cmd, e.Opt.SizeMiB), Unit: "MB/s", Ours: res[cmd]["ftp-sftp "+eng],
				RefName: fmt.Sprintf("OpenSSH `sftp -b` (%s), same sshd and cipher", verb[cmd]), Ref: res[cmd]["sftp -b"], Goal: 1})
		}
		for _, cmd := range cmds {
			rows = append(rows, Row{Section: SecSFTP, Label: engineLabel("sftp "+cmd+" CPU", eng), Engine: eng,
				Name: fmt.Sprintf("CPU per GiB of the %s through `ftp-sftp`: socksd and its `ssh` children", cmd), Unit: "s/GiB", Ours: res[cmd+" cpu"]["ftp-sftp "+eng],
				RefName: fmt.Sprintf("OpenSSH `sftp -b` (%s): the `sftp` process with its `ssh` and the ControlMaster", verb[cmd]), Ref: res[cmd+" cpu"]["sftp -b"]})
		}
	}
	for _, cmd := range cmds {
		rows = append(rows, Row{Section: SecSFTP, Label: "sftp " + cmd + " vs ftp-tunnel", Engine: "builtin",
			Name: fmt.Sprintf("%s of %d MiB through `ftp-sftp`, against `ftp-tunnel`", cmd, e.Opt.SizeMiB), Unit: "MB/s", Ours: res[cmd]["ftp-sftp builtin"],
			RefName: "socksd `ftp-tunnel` to vsftpd, same sshd and cipher", Ref: res[cmd]["ftp-tunnel"]})
	}

	// Through the delay line.
	dsize := e.Opt.DelaySize()
	writeServerFile(t, v, "sftp-delay.bin", dsize)
	delayed := startSFTPRef(t, e.SSHD, relay, relayKnown)
	ref := testpeer.StartSSHDynamic(t, &testpeer.SSHD{Addr: relay, Port: relayPort, KnownHostsFile: relayKnown, ClientKeyFile: e.SSHD.ClientKeyFile, User: e.SSHD.User})
	many := fmt.Sprintf("ftp-sftp streams=%d", sftpStreams)
	res = measureXfers(t, e, "sftp delayed", []xferPath{
		ftpXfer("ftp-sftp", viaSocksd, sftpAt(sftpBenchDelayed), v),
		ftpXfer(many, viaSocksd, sftpAt(sftpBenchDelayedMany), v),
		sftpXfer(delayed, v),
		ftpXfer("ssh -D", socks5(t, ref.Addr, "", ""), v.Addr, v),
	}, "sftp-delay.bin", dsize)
	for _, cmd := range cmds {
		sftpName := fmt.Sprintf("OpenSSH `sftp -b` (%s) through the same delay line", verb[cmd])
		rows = append(rows,
			Row{Section: SecSFTPDelay, Label: "40 ms " + cmd + " 1 channel", Engine: "builtin",
				Name: fmt.Sprintf("%s of %d MiB, 40 ms round trip, `ftp-sftp` with one SFTP channel", cmd, e.Opt.DelayMiB), Unit: "MB/s",
				Ours: res[cmd]["ftp-sftp"], RefName: sftpName, Ref: res[cmd]["sftp -b"]},
			Row{Section: SecSFTPDelay, Label: fmt.Sprintf("40 ms %s %d streams", cmd, sftpStreams), Engine: "builtin",
				Name: fmt.Sprintf("%s of %d MiB, 40 ms round trip, `ftp-sftp` with `streams = %d`", cmd, e.Opt.DelayMiB, sftpStreams), Unit: "MB/s",
				Ours: res[cmd][many], RefName: sftpName, Ref: res[cmd]["sftp -b"], Goal: 3},
			Row{Section: SecSFTPDelay, Label: fmt.Sprintf("40 ms %s %d streams vs ssh -D", cmd, sftpStreams), Engine: "builtin",
				Name: fmt.Sprintf("%s of %d MiB, 40 ms round trip, `ftp-sftp` with `streams = %d`, against `ssh -N -D`", cmd, e.Opt.DelayMiB, sftpStreams), Unit: "MB/s",
				Ours: res[cmd][many], RefName: "`ssh -N -D` through the same delay line, jlaffaye/ftp to vsftpd behind sshd", Ref: res[cmd]["ssh -D"], Goal: 3},
		)
	}
	// The delay line's capacity for as many channels.
	part := dsize / sftpStreams
	writeServerFile(t, v, "sftp-delay-part.bin", part)
	diag := Row{Section: SecSFTPDelayDiag, Label: "delay line capacity",
		Name: fmt.Sprintf("RETR of %d MiB, 40 ms round trip, `ftp-sftp` with `streams = %d`, against %d parallel RETRs of a part each", e.Opt.DelayMiB, sftpStreams, sftpStreams),
		Unit: "MB/s", Ours: res["RETR"][many], RefName: fmt.Sprintf("%d parallel jlaffaye/ftp RETRs through `ssh -N -D` over the same delay line, total", sftpStreams)}
	for i := 0; i < e.Opt.Runs; i++ {
		x, err := parallelRetr(socks5(t, ref.Addr, "", ""), v, "sftp-delay-part.bin", sftpStreams, part)
		if err != nil {
			t.Fatalf("bench: parallel RETR through the delay line: %v", err)
		}
		diag.Ref = append(diag.Ref, x)
		e.Logf("sftp delayed run %d: %d parallel RETR through ssh -D %.0f MB/s total", i+1, sftpStreams, x)
	}
	rows = append(rows, diag)
	var missed []string
	for _, r := range rows {
		if met, ok := r.GoalMet(); ok && !met {
			missed = append(missed, r.Label)
		}
	}
	if len(missed) == 0 {
		e.Note("ftp-sftp: every goal was met in this run.")
	} else {
		e.Note("ftp-sftp: goals not met in this run: " + strings.Join(missed, ", ") + ".")
	}
	return rows
}
