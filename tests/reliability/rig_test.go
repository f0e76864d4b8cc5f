package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
)

// Generous bounds for a noisy 2-core machine; none is a timing assertion.
const (
	cmdTimeout    = 60 * time.Second  // one `socksd cmd` run
	waitTimeout   = 90 * time.Second  // a log line, a reply, a settled count
	ioTimeout     = 120 * time.Second // one control or data read
	settleSlackGR = 4                 // goroutines above the baseline still "near" it
	settleSlackFD = 2                 // open files above the baseline still "near" it
)

// lane is one path through socksd: an sshd and the vsftpd behind it. A
// test breaks one lane while a transfer on another one must go on.
type lane struct {
	name string
	sshd *testpeer.SSHD
	ftpd *testpeer.VSFTPD
}

// laneOptions adjust newLane.
type laneOptions struct {
	sshdExtra, ftpdExtra string
	pasvRange            int // passive ports for vsftpd; 0 = the harness's 20
}

func newLane(t testing.TB, name string, o laneOptions) *lane {
	t.Helper()
	l := &lane{name: name}
	l.sshd = testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true, ExtraConfig: o.sshdExtra})
	vc := testpeer.VSFTPDConfig{WriteEnable: true, ExtraConfig: o.ftpdExtra}
	if o.pasvRange > 0 {
		vc.PasvMin, vc.PasvMax = freeRange(t, o.pasvRange)
	}
	l.ftpd = testpeer.StartVSFTPD(t, vc)
	return l
}

// freeRange picks n consecutive loopback ports that were free a moment
// ago, below the kernel's ephemeral range (where outgoing connections,
// thousands of them in the load tests, take their ports).
func freeRange(t testing.TB, n int) (int, int) {
	t.Helper()
	for attempt := 0; attempt < 50; attempt++ {
		base := 10000 + rand.IntN(32000-10000-n)
		ok := true
		for p := base; p < base+n && ok; p++ {
			ok = portFree(p)
		}
		if ok {
			return base, base + n - 1
		}
	}
	t.Fatalf("no %d free consecutive ports", n)
	return 0, 0
}

// rigConfig is the socksd configuration for a set of lanes: one ftp-tunnel
// rule per lane (matched by the lane's vsftpd port, profile by its sshd),
// the console socket, and short SSH timers so that leak checks settle.
type rigConfig struct {
	lanes       []*lane
	server      string // extra [server] keys
	handshake   string // handshake_timeout; default 10s
	ssh         string // extra [ssh] keys
	profileAuth string // the profiles' auth list; default password then publickey
	rules       string // extra rules before the lanes' (TOML)
	profiles    string // extra profiles (TOML)
	auditFile   string
}

func (c rigConfig) String() string {
	var kh, prof, rules []string
	handshake := c.handshake
	if handshake == "" {
		handshake = "10s"
	}
	auth := c.profileAuth
	if auth == "" {
		auth = `["password", "publickey"]`
	}
	for _, l := range c.lanes {
		kh = append(kh, strconv.Quote(l.sshd.KnownHostsFile))
		prof = append(prof, fmt.Sprintf("[profiles.%s]\nhost = \"127.0.0.1\"\nport = %d\nauth = %s\nidentity_files = [%q]\n",
			l.name, l.sshd.Port, auth, l.sshd.ClientKeyFile))
		rules = append(rules, fmt.Sprintf("[[rules]]\nname = \"ftp-%s\"\nto = [\"127.0.0.1\"]\nports = [\"%d\"]\naction = \"ftp-tunnel\"\nprofile = %q\n[rules.ftp]\ndata = \"socks\"\n",
			l.name, l.ftpd.Port, l.name))
	}
	return fmt.Sprintf(`
[server]
listen = ["127.0.0.1:0"]
handshake_timeout = %q
%s
[log]
audit_file = %q
[console]
socket = "{{SOCKET}}"
[ssh]
known_hosts = [%s]
idle_close = "2s"
connect_timeout = "10s"
%s
%s
%s
%s
%s
[[rules]]
name = "rest"
action = "block"
`, handshake, c.server, c.auditFile, strings.Join(kh, ", "), c.ssh, strings.Join(prof, "\n"), c.profiles, c.rules, strings.Join(rules, "\n"))
}

// startSocksd starts the daemon and checks, when the test ends, that none
// of the secrets reached its log or audit file.
func startSocksd(t testing.TB, cfg rigConfig, secrets ...string) *testpeer.Socksd {
	t.Helper()
	if cfg.auditFile == "" {
		cfg.auditFile = filepath.Join(t.TempDir(), "audit.jsonl")
	}
	d := testpeer.StartSocksd(t, socksdBin, cfg.String())
	audit := cfg.auditFile
	t.Cleanup(func() {
		b, _ := os.ReadFile(audit)
		for _, s := range secrets {
			if s != "" && (strings.Contains(d.Log.String(), s) || bytes.Contains(b, []byte(s))) {
				t.Errorf("a secret reached the daemon's log or audit file")
			}
		}
	})
	return d
}

// stats is one D STATS reply, parsed.
type stats struct {
	active, total, refused, failed, ssh, goroutines, fds int
	raw                                                  map[string]string
}

// dStats runs `socksd cmd 'D STATS'` and parses the reply.
func dStats(t testing.TB, d *testpeer.Socksd) stats {
	t.Helper()
	out, err := opCmd(d, "D STATS")
	if err != nil {
		t.Fatalf("D STATS: %v", err)
	}
	kv := map[string]string{}
	for _, l := range strings.Split(out, "\n")[1:] {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
			kv[k] = strings.TrimSpace(v)
		}
	}
	num := func(k string) int {
		f := strings.Fields(kv[k])
		if len(f) == 0 {
			t.Fatalf("D STATS: no %q in\n%s", k, out)
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("D STATS %s = %q", k, kv[k])
		}
		return n
	}
	return stats{active: num("sessions active"), total: num("sessions total"), refused: num("refused"),
		failed: num("failed"), ssh: num("ssh connections"), goroutines: num("goroutines"), fds: num("open files"), raw: kv}
}

// opCmd sends an operator command with the real CLI and returns stdout.
func opCmd(d *testpeer.Socksd, text string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, socksdBin, "cmd", "--socket", d.Socket, text)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("socksd cmd %q: %w: %s%s", text, err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// baseline waits until the daemon is idle (no session, no SSH connection)
// and returns its counts.
func baseline(t testing.TB, d *testpeer.Socksd) stats {
	t.Helper()
	var st stats
	if !wait.For(waitTimeout, func() bool { st = dStats(t, d); return st.active == 0 && st.ssh == 0 }) {
		t.Fatalf("daemon not idle: %v", st.raw)
	}
	return st
}

// settled waits until no session and no SSH connection is left and the
// goroutine and open-file counts are back near base, records the counts
// before and after, and fails the test if they do not come back.
func settled(t testing.TB, r *recorder, d *testpeer.Socksd, base stats) stats {
	t.Helper()
	var st stats
	ok := wait.For(waitTimeout, func() bool {
		st = dStats(t, d)
		return st.active == 0 && st.ssh == 0 && st.goroutines <= base.goroutines+settleSlackGR && st.fds <= base.fds+settleSlackFD
	})
	r.figure("goroutines before / after", fmt.Sprintf("%d / %d", base.goroutines, st.goroutines))
	r.figure("open files before / after", fmt.Sprintf("%d / %d", base.fds, st.fds))
	r.figure("sessions active / SSH connections after", fmt.Sprintf("%d / %d", st.active, st.ssh))
	if !ok {
		sess, _ := opCmd(d, "D SESSIONS")
		tun, _ := opCmd(d, "D TUNNELS")
		t.Errorf("no return to the baseline within %v: sessions %d, ssh %d, goroutines %d (base %d), fds %d (base %d); D SESSIONS and D TUNNELS kept in %s",
			waitTimeout, st.active, st.ssh, st.goroutines, base.goroutines, st.fds, base.fds, testpeer.Keep(t, "not-settled.txt", sess+"\n"+tun))
	}
	return st
}

// rss returns the resident set size of a process in KiB, from /proc.
func rss(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				return strconv.Atoi(f[0])
			}
		}
	}
	return 0, errors.New("no VmRSS")
}

// portFree reports whether a loopback TCP port could be bound a moment ago.
func portFree(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// tableRows parses a console table reply (header message, column titles,
// rows) into one map per row keyed by column title; the last column takes
// the rest of the line.
func tableRows(out string) []map[string]string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 2 {
		return nil
	}
	cols := strings.Fields(lines[1])
	var rows []map[string]string
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		if !strings.HasPrefix(l, " ") || len(f) < len(cols) || strings.HasPrefix(l, " * = ") {
			continue
		}
		row := map[string]string{}
		for i, c := range cols {
			row[c] = f[i]
		}
		row[cols[len(cols)-1]] = strings.Join(f[len(cols)-1:], " ")
		rows = append(rows, row)
	}
	return rows
}
