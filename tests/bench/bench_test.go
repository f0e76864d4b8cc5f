package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"socksd/internal/testing/gitrev"
	"socksd/internal/testing/testpeer"
)

// section is one group of measurements.
type section struct {
	name  string
	peers bool // needs sshd, vsftpd and ssh -D
	run   func(testing.TB, *Env) []Row
}

var sections = []section{
	{"direct", false, BenchDirect},
	{"idle-direct", false, BenchIdleDirect},
	{"tunnel", true, BenchTunnel},
	{"tunnel-diag", true, BenchTunnelDiag},
	{"ftp-transfers", true, BenchFTPTransfers},
	{"ftp-sessions", true, BenchFTPSessions},
	{"ftp-parallel", true, BenchFTPParallel},
	{"sftp", true, BenchSFTP},
	{"idle-ftp", true, BenchIdleFTP},
	{"metrics-direct", false, BenchMetricsDirect},
	{"metrics-ftp", true, BenchMetricsFTP},
}

// TestBenchmarks runs every benchmark section and writes the report named
// by SOCKSD_BENCH_OUT, with its plots beside it. It is not a correctness
// test: without SOCKSD_BENCH_OUT it is skipped, also under CI=true.
func TestBenchmarks(t *testing.T) {
	opt, err := OptionsFromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if opt.Out == "" {
		t.Skip("the benchmarks run only when SOCKSD_BENCH_OUT names the report file (make bench)")
	}
	rep := &Report{Written: time.Now(), Commit: measured(opt.Out), Intro: intro(opt), Terms: terms, Machine: MachineFacts()}
	onTmpfs := useTmpfs(t, opt)
	rep.Method = method(opt, onTmpfs)
	bin, err := testpeer.BuildSocksd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Opt: opt, Bin: bin, Logf: t.Logf, Note: func(s string) { rep.Notes = append(rep.Notes, s) }}
	// Written also when a section fails or the peers are missing.
	defer writeReport(t, rep, opt.Out, e)
	started := false
	for _, s := range sections {
		if opt.Only != "" && !strings.Contains(s.name, opt.Only) {
			continue
		}
		if s.peers && !started {
			StartPeers(t, e)
			started = true
		}
		var rows []Row
		begin := time.Now()
		ok := t.Run(s.name, func(t *testing.T) { rows = s.run(t, e) })
		t.Logf("section %s took %v", s.name, time.Since(begin).Round(time.Second))
		switch {
		case !ok:
			rep.NotRun = append(rep.NotRun, s.name+": failed in this run (see the test log)")
		case len(rows) == 0:
			rep.NotRun = append(rep.NotRun, s.name+": skipped in this run (see the test log)")
		}
		rep.Add(rows...)
	}
}

// useTmpfs puts the test's temporary files (vsftpd's root among them) on
// /dev/shm when it is a tmpfs with room for the transfers, so that disk
// speed does not hide the proxies' cost. It reports whether it did.
func useTmpfs(t *testing.T, opt Options) bool {
	var st syscall.Statfs_t
	const tmpfsMagic = 0x01021994
	if err := syscall.Statfs("/dev/shm", &st); err != nil || st.Type != tmpfsMagic {
		return false
	}
	need := 4*opt.Size() + 1<<30
	if int64(st.Bavail)*st.Bsize < need {
		return false
	}
	t.Setenv("TMPDIR", "/dev/shm")
	return true
}

// measured reads the commit the run measures, before the binary is built
// from the tree. The report and its plots, which the run rewrites, and the
// other reports (gitrev.Reports) do not count as changes.
func measured(out string) string {
	if abs, err := filepath.Abs(out); err == nil {
		out = abs
	}
	base := strings.TrimSuffix(out, filepath.Ext(out))
	rev, err := gitrev.Read(".", append([]string{out, base + ".svg", base + "-*.svg"}, gitrev.Reports...)...)
	if err != nil {
		return "an unknown commit (" + err.Error() + ")"
	}
	return rev.String()
}

// intro is the report's first paragraph: what it compares with what, on
// which machine, and how the figures are summarized.
func intro(opt Options) string {
	return fmt.Sprintf("This report compares socksd with the tools an operator would otherwise use, on one machine (%d CPU cores) in one run: "+
		"its `direct` relay with plain loopback TCP; its SSH tunnel (rules `tunnel` and `ftp-tunnel`) with OpenSSH `ssh -N -D`, "+
		"a SOCKS proxy over one SSH connection, logged in to the same OpenSSH sshd with the same cipher (%s); "+
		"and its FTP transfers also with the same FTP client talking to vsftpd with no proxy at all (the ceiling). "+
		"Every row through SSH is measured with each of socksd's SSH engines, `builtin` (socksd's own SSH client) and `openssh` (one `ssh -M` ControlMaster per connection), side by side in the same run; the `engine` column says which. "+
		"Every figure is the median of %d runs (%d for the memory of idle FTP sessions, defined below), with the minimum and maximum beside it; "+
		"each ratio is socksd's median divided by the reference's, and each table says whether higher or lower favours socksd.",
		runtime.NumCPU(), testpeer.ReferenceCipher, opt.Runs, opt.IdleRuns)
}

// terms defines the words the report's tables use.
var terms = []string{
	"**reference**: what socksd is compared with in a row: plain loopback TCP, OpenSSH `ssh -N -D`, or the ceiling.",
	"**ceiling**: the same FTP client talking to vsftpd directly, with no proxy and no SSH: the most any proxy could reach on this machine, not a competitor.",
	"**ratio**: socksd's median ÷ the reference's median. For throughput (MB/s) higher is better for socksd; for time (ms) and memory (KiB) lower is better. The tables say which, row by row.",
	"**shared SSH connection**: socksd, like `ssh -N -D`, carries many sessions as channels of one SSH connection to the sshd; a *warm* one is already logged in when the measurement starts.",
	"**set-up**: the time to open one session on a warm shared SSH connection: for the tunnel, from the SOCKS5 CONNECT request until the first byte echoes back; for FTP, a whole session of login, LIST and QUIT.",
	"**engine**: which SSH client carries socksd's SSH connections: `builtin` (socksd's own, every byte passes through socksd) or `openssh` (the system's `ssh` as a ControlMaster child of socksd; a tunnel session or FTP data connection is handed to it and its bytes bypass socksd).",
	"**CPU per GiB**: the CPU seconds (user + system, from /proc/PID/stat) a transfer cost, per GiB moved: for socksd its own process plus its `ssh` children (the openssh engine's masters); for `ssh -N -D` its ssh process; for `sftp -b` the sftp process with its children plus the ControlMaster. Lower is better. \"socksd's own CPU\" counts socksd's process alone.",
	"**idle session**: a session that is open and carries no data (a `direct` connection held open, or an FTP control connection that has logged in and waits); its cost is the resident memory (VmRSS) it adds.",
}

// method describes how the figures were taken.
func method(opt Options, onTmpfs bool) []string {
	where := "vsftpd's files are on the machine's disk."
	if onTmpfs {
		where = "vsftpd's files are on tmpfs (/dev/shm), so that disk speed does not hide the proxies' cost."
	}
	return []string{
		fmt.Sprintf("Each figure is the median of repeated runs with the minimum and maximum in brackets: %d runs per measurement, %d for the memory of idle FTP sessions (each of those runs logs in %d sessions twice). "+
			"In every run socksd and its reference are measured one after the other, in alternating or rotating order, so that drift on the machine hits both alike. "+
			"The ratio is median(socksd) ÷ median(reference): for MB/s higher is better for socksd (above 1, socksd is faster); for ms and KiB lower is better (below 1, socksd is quicker or smaller).", opt.Runs, opt.IdleRuns, opt.IdleSessions+1),
		"The references: plain loopback TCP for the direct relay; OpenSSH `ssh -N -D` logged in to the same sshd as socksd (one SSH connection for all its sessions, as socksd's shared connection) for the tunnel and FTP figures; " +
			"jlaffaye/ftp straight to vsftpd as the ceiling. The test sshd allows only `Ciphers " + testpeer.ReferenceCipher + "`, so socksd's x/crypto/ssh client and OpenSSH's ssh negotiate the same cipher (checked in sshd's log below).",
		fmt.Sprintf("Bulk transfers move %d MiB each (SOCKSD_BENCH_MB). FTP uses github.com/jlaffaye/ftp in passive mode (EPSV) with its data connections through the same SOCKS proxy as its control connection; socksd's rule is `ftp-tunnel` with `data = \"socks\"`, logging in to SSH with the job's FTP user and password. %s "+
			"socksd and the peers run at log level warn (socksd) and the harness's levels (sshd DEBUG1, vsftpd protocol log), alike for socksd and the reference.", opt.SizeMiB, where),
		fmt.Sprintf("FTP from an SFTP server: socksd's `ftp-sftp` rule serves jlaffaye/ftp (passive, data through SOCKS5) from the sshd's sftp subsystem (internal-sftp) with the same files as vsftpd's root. "+
			"OpenSSH's `sftp -b` runs one get (to /dev/null, as the FTP client discards what it reads) or put per run over a ControlMaster connection logged in beforehand, as socksd's shared connection is, and is timed from its start to its exit. "+
			"The delay line is a relay in the benchmark's process in front of sshd that stamps each read and passes it on 20 ms later in each direction, without a cap on bytes in flight below 64 MiB; every delayed row goes through it alike. Delayed transfers move %d MiB each (SOCKSD_BENCH_DELAY_MB).", opt.DelayMiB),
		fmt.Sprintf("Memory per idle session: the growth of the process's VmRSS (/proc/PID/status) from one open session to %d more, divided by %d; for socksd the daemon's process (with the openssh engine plus its `ssh` masters), for the reference the ssh client's process. Each run starts a fresh process.", opt.IdleSessions, opt.IdleSessions),
		fmt.Sprintf("Engines: each section starts one socksd per engine (`[ssh] engine`), alike in every other setting, and rotates them with the reference run by run. The parallel FTP rows set `spread = %d` for both engines, so that 16 sessions are spread over several SSH connections (with openssh, several masters). "+
			"CPU is read from /proc/PID/stat (1/100 s ticks) just before and after each transfer; the `ssh` children of socksd are found by their parent PID. `ftp-sftp` with the openssh engine carries SFTP over a channel of the master in proxy mode, so its bytes pass through socksd. "+
			"Goals with a bound (socksd's own CPU, the builtin idle FTP session) compare socksd's median with a fixed figure rather than with the reference.", parallelSpread),
		"Nothing here asserts a timing. The machine is shared with other work: read the ratios, which compare runs taken side by side, rather than single timings.",
	}
}

// writeReport adds what sshd's log shows about the ciphers, writes the
// plots and the Markdown report.
func writeReport(t *testing.T, rep *Report, out string, e *Env) {
	if e.SSHD != nil {
		rep.Notes = append(rep.Notes, cipherNote(e.SSHD.LogPath))
	}
	base := strings.TrimSuffix(out, filepath.Ext(out))
	plots := []struct {
		file string
		draw func(*bytes.Buffer, []Row) error
	}{
		{base + ".svg", func(b *bytes.Buffer, r []Row) error { return WriteRatioSVG(b, r) }},
		{base + "-throughput.svg", func(b *bytes.Buffer, r []Row) error { return WriteThroughputSVG(b, r) }},
	}
	for _, p := range plots {
		var b bytes.Buffer
		if err := p.draw(&b, rep.Rows); err != nil {
			t.Logf("plot %s: %v", p.file, err)
			continue
		}
		if err := os.WriteFile(p.file, b.Bytes(), 0o644); err != nil {
			t.Errorf("bench: %v", err)
			continue
		}
		rep.Plots = append(rep.Plots, filepath.Base(p.file))
	}
	if err := os.WriteFile(out, []byte(rep.Markdown()), 0o644); err != nil {
		t.Errorf("bench: %v", err)
		return
	}
	t.Logf("wrote %s", out)
}

// cipherNote summarizes the clients and ciphers sshd's DEBUG1 log shows.
func cipherNote(logPath string) string {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return fmt.Sprintf("sshd's log could not be read: %v", err)
	}
	return ParseSSHDLog(b).String()
}
