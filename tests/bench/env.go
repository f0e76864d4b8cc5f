package bench

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"socksd/internal/testing/testpeer"
)

// Options size the benchmark run. They come from the environment (see
// OptionsFromEnv), so that `make bench` and a developer's `go test` agree.
type Options struct {
	Out          string // the report file (SOCKSD_BENCH_OUT)
	Runs         int    // repetitions per measurement (SOCKSD_BENCH_RUNS, default 5)
	SizeMiB      int    // MiB per bulk transfer (SOCKSD_BENCH_MB, default 1024)
	IdleSessions int    // sessions held open for the memory figures (SOCKSD_BENCH_IDLE, default 1000)
	IdleRuns     int    // repetitions of the idle-session figures (SOCKSD_BENCH_IDLE_RUNS, default 3)
	Sessions     int    // sequential FTP sessions per set-up run (SOCKSD_BENCH_SESSIONS, default 100)
	DelayMiB     int    // MiB per transfer through the delay line (SOCKSD_BENCH_DELAY_MB, default 256)
	Only         string // run only sections whose name contains this (SOCKSD_BENCH_ONLY)
}

// OptionsFromEnv reads Options from getenv (os.Getenv in the test). A
// malformed or out-of-range number is an error naming the variable.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	o := Options{Out: getenv("SOCKSD_BENCH_OUT"), Only: getenv("SOCKSD_BENCH_ONLY")}
	ints := []struct {
		name     string
		dst      *int
		def      int
		min, max int
	}{
		{"SOCKSD_BENCH_RUNS", &o.Runs, 5, 1, 100},
		{"SOCKSD_BENCH_MB", &o.SizeMiB, 1024, 1, 16384},
		{"SOCKSD_BENCH_IDLE", &o.IdleSessions, 1000, 1, 10000},
		{"SOCKSD_BENCH_IDLE_RUNS", &o.IdleRuns, 3, 1, 100},
		{"SOCKSD_BENCH_SESSIONS", &o.Sessions, 100, 1, 10000},
		{"SOCKSD_BENCH_DELAY_MB", &o.DelayMiB, 256, 1, 16384},
	}
	for _, v := range ints {
		s := strings.TrimSpace(getenv(v.name))
		if s == "" {
			*v.dst = v.def
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return Options{}, fmt.Errorf("bench: %s=%q: not a number", v.name, s)
		}
		if n < v.min || n > v.max {
			return Options{}, fmt.Errorf("bench: %s=%d: out of range %d..%d", v.name, n, v.min, v.max)
		}
		*v.dst = n
	}
	return o, nil
}

// Size is the bulk transfer size in bytes.
func (o Options) Size() int64 { return int64(o.SizeMiB) << 20 }

// DelaySize is the size in bytes of a transfer through the delay line.
func (o Options) DelaySize() int64 { return int64(o.DelayMiB) << 20 }

// Env is what every section gets: the built binary and the shared peers.
type Env struct {
	Opt  Options
	Bin  string               // the socksd binary
	SSHD *testpeer.SSHD       // OpenSSH sshd, Ciphers pinned to testpeer.ReferenceCipher
	FTP  *testpeer.VSFTPD     // vsftpd on loopback, its root on tmpfs when available
	Ref  *testpeer.SSHDynamic // `ssh -N -D` to SSHD: the reference proxy
	Logf func(string, ...any) // progress lines (t.Logf)
	Note func(string)         // a fact observed in the run, for the report
}

// sshdExtra pins the cipher for every client of the test sshd.
const sshdExtra = "Ciphers " + testpeer.ReferenceCipher + "\n"

// vsftpdExtra lifts vsftpd's per-server and per-address session limits
// (the harness sets 200) for the idle-session figures; later lines win.
const vsftpdExtra = "max_clients=0\nmax_per_ip=0\n"

// StartPeers starts sshd, vsftpd and `ssh -D` for the sections that need
// them. Each is stopped when t ends.
func StartPeers(t testing.TB, e *Env) {
	t.Helper()
	e.SSHD = testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true, ExtraConfig: sshdExtra,
		SFTP: testpeer.SFTPSubsystem{Server: testpeer.InternalSFTP}})
	lo, hi := passiveRange(t, 200)
	e.FTP = testpeer.StartVSFTPD(t, testpeer.VSFTPDConfig{WriteEnable: true, PasvMin: lo, PasvMax: hi, ExtraConfig: vsftpdExtra})
	e.Ref = testpeer.StartSSHDynamic(t, e.SSHD)
}

// passiveRange finds n consecutive loopback ports that were free a moment
// ago, for vsftpd's passive listeners (the parallel and sequential FTP
// figures need more than the harness's default 20).
func passiveRange(t testing.TB, n int) (int, int) {
	t.Helper()
	for attempt := 0; attempt < 100; attempt++ {
		base := 30000 + (attempt*7919+os.Getpid())%25000
		free := true
		for p := base; p < base+n && free; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				free = false
				continue
			}
			l.Close()
		}
		if free {
			return base, base + n - 1
		}
	}
	t.Fatalf("bench: no %d free consecutive ports", n)
	return 0, 0
}

// socks5 returns a dial function through the SOCKS5 proxy at addr, with
// user/password authentication when user is not empty.
func socks5(t testing.TB, addr, user, password string) func(network, address string) (net.Conn, error) {
	t.Helper()
	var auth *proxy.Auth
	if user != "" {
		auth = &proxy.Auth{User: user, Password: password}
	}
	d, err := proxy.SOCKS5("tcp", addr, auth, &net.Dialer{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("bench: socks5 dialer: %v", err)
	}
	return d.Dial
}

// direct dials without a proxy.
func direct(network, address string) (net.Conn, error) {
	return net.DialTimeout(network, address, 30*time.Second)
}

// MachineFacts describes the machine for the report: CPUs, kernel, Go and
// the peers' versions, read in this run.
func MachineFacts() []string {
	facts := []string{
		fmt.Sprintf("CPUs: %d (%s)", runtime.NumCPU(), testpeer.CPUModel()),
		fmt.Sprintf("OS: %s/%s, kernel %s", runtime.GOOS, runtime.GOARCH, firstLine(command("uname", "-r"))),
		fmt.Sprintf("Go: %s", runtime.Version()),
		fmt.Sprintf("OpenSSH (`ssh -V`): %s", firstLine(command("ssh", "-V"))),
		fmt.Sprintf("vsftpd: %s (Debian package)", firstLine(command("dpkg-query", "-W", "-f", "${Version}", "vsftpd"))),
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		facts = append(facts, "Memory: "+strings.Join(strings.Fields(firstLine(string(b)))[1:], " "))
	}
	return facts
}

// command runs a short command and returns its combined output, or the
// error text.
func command(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "unknown (" + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
