package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"
	"golang.org/x/net/proxy"

	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
)

// unitFile is the systemd unit the package installs.
const unitFile = "../packaging/socksd.service"

// TestSystemdUnitVerify: the unit has what the package and operators rely
// on, and `systemd-analyze verify` finds nothing to say about it. The
// unit's /usr/bin/socksd is replaced by the built binary, as verify wants
// the programs to exist.
func TestSystemdUnitVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testpeer.Missing(t, "systemd-analyze not found (Debian package systemd; make deps installs it)")
	}
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, line := range []string{
		"Type=notify",
		"ExecStartPre=/usr/bin/socksd check -c /etc/socksd/socksd.toml",
		"ExecStart=/usr/bin/socksd serve -c /etc/socksd/socksd.toml",
		"ExecReload=/bin/kill -HUP $MAINPID",
		"User=socksd", "Group=socksd",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
		"RuntimeDirectory=socksd", "StateDirectory=socksd", "LogsDirectory=socksd",
		"#AmbientCapabilities=CAP_NET_ADMIN",
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + `$`).MatchString(unit) {
			t.Errorf("%s lacks the line %s", unitFile, line)
		}
	}
	if regexp.MustCompile(`(?m)^(AmbientCapabilities|CapabilityBoundingSet)=.+$`).MatchString(unit) {
		t.Errorf("%s grants a capability outside the commented TPROXY lines", unitFile)
	}
	if !regexp.MustCompile(`(?m)^WatchdogSec=\d+`).MatchString(unit) {
		t.Errorf("%s has no WatchdogSec", unitFile)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "socksd.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/bin/socksd", socksdBin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := testpeer.RunBounded(exec.Command(analyze, "verify", path), time.Minute)
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// notifyListener binds a datagram socket as systemd's NOTIFY_SOCKET and
// passes what arrives on a channel, until the test ends.
func notifyListener(t *testing.T) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 1024)
	go func() {
		defer close(ch)
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			select {
			case ch <- string(buf[:n]):
			default: // a test that stopped reading: drop
			}
		}
	}()
	t.Cleanup(func() { c.Close() })
	return path, ch
}

// TestSystemdNotify: the built daemon, started as systemd would start a
// Type=notify unit with WatchdogSec, sends READY=1 once it listens,
// RELOADING=1 (with MONOTONIC_USEC) then READY=1 around a SIGHUP and a
// console RELOAD, STOPPING=1 at SIGTERM, and WATCHDOG=1 all along.
func TestSystemdNotify(t *testing.T) {
	sock, notes := notifyListener(t)
	// WATCHDOG_PID is the daemon's own PID, as systemd sets it: a shell
	// learns it and execs the daemon in its place.
	wrapper := filepath.Join(t.TempDir(), "socksd-wd")
	script := fmt.Sprintf("#!/bin/sh\nWATCHDOG_PID=$$ exec %s \"$@\"\n", socksdBin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d := testpeer.StartSocksd(t, wrapper, `
[server]
listen = ["127.0.0.1:0"]
[console]
socket = "{{SOCKET}}"
[[rules]]
name = "rest"
action = "block"
`, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")

	// next returns the next notification that is not a watchdog ping, and
	// counts the pings on the way.
	pings := 0
	next := func(what string) string {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case n := <-notes:
				if n == "WATCHDOG=1" {
					pings++
					continue
				}
				return n
			case <-deadline:
				t.Fatalf("no notification %s; log:\n%s", what, d.Log.String())
			}
		}
	}
	monotonic := regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=[1-9][0-9]*\n?$`)
	if n := next("READY"); n != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", n)
	}
	for _, reload := range []struct {
		name string
		do   func()
	}{
		{"SIGHUP", func() { d.Signal(syscall.SIGHUP) }},
		{"console RELOAD", func() {
			if out, err := exec.Command(socksdBin, "cmd", "--socket", d.Socket, "RELOAD").CombinedOutput(); err != nil {
				t.Fatalf("socksd cmd RELOAD: %v\n%s", err, out)
			}
		}},
	} {
		reload.do()
		if n := next("RELOADING"); !monotonic.MatchString(n) {
			t.Errorf("%s: %q, want RELOADING=1 and MONOTONIC_USEC", reload.name, n)
		}
		if n := next("READY after the reload"); n != "READY=1" {
			t.Errorf("%s: %q, want READY=1", reload.name, n)
		}
	}
	// The pings come every 200 ms (half of WATCHDOG_USEC); wait for a few.
	deadline := time.After(30 * time.Second)
	for pings < 3 {
		select {
		case n := <-notes:
			if n != "WATCHDOG=1" {
				t.Fatalf("unexpected notification %q", n)
			}
			pings++
		case <-deadline:
			t.Fatalf("%d watchdog pings, want 3", pings)
		}
	}
	if !strings.Contains(d.Log.String(), "SOX0821I systemd watchdog on: WATCHDOG=1 every 200ms") {
		t.Errorf("no SOX0821I in the log")
	}
	d.Signal(syscall.SIGTERM)
	if n := next("STOPPING"); n != "STOPPING=1" {
		t.Errorf("at SIGTERM: %q, want STOPPING=1", n)
	}
	if code := d.Wait(60 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

// startLoggingDaemon starts the built daemon, which blocks every request
// and logs as JSON to logPath rather than to standard error, and waits
// until the log file says it is ready. It returns the process and the
// SOCKS address.
func startLoggingDaemon(t *testing.T, logPath string) (*exec.Cmd, string) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "socksd.toml")
	configTOML := fmt.Sprintf(`
[server]
listen = ["127.0.0.1:0"]
[log]
format = "json"
file = %q
[console]
socket = ""
[[rules]]
name = "rest"
action = "block"
`, logPath)
	if err := os.WriteFile(conf, []byte(configTOML), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(socksdBin, "serve", "-c", conf)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
	})
	ready := regexp.MustCompile(`SOX0002I socksd ready, listening on ([^ "]+)`)
	var addr string
	wait.Until(t, "the daemon is ready (its log file)", 30*time.Second, func() bool {
		b, _ := os.ReadFile(logPath)
		if m := ready.FindSubmatch(b); m != nil {
			addr = strings.Split(string(m[1]), ",")[0]
			return true
		}
		select {
		case <-done:
			t.Fatalf("the daemon ended: %s", stderr.String())
		default:
		}
		return false
	})
	return cmd, addr
}

// sessionEnds gives the session ids of the session_end events in a JSON
// log, with how often each appears.
func sessionEnds(t *testing.T, text string) map[uint64]int {
	t.Helper()
	out := map[uint64]int{}
	for _, line := range strings.Split(text, "\n") {
		if !strings.Contains(line, `"event":"session_end"`) {
			continue
		}
		var ev struct {
			Session uint64 `json:"session"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("log line %q: %v (a line split by the rotation?)", line, err)
		}
		out[ev.Session]++
	}
	return out
}

// TestLogReopenOnSIGHUP: logrotate moves the log file away while sessions
// are logged and sends SIGHUP; the daemon makes a new file, the lines from
// then on go there, and every session's end is in one of the two files,
// exactly once. SIGUSR1 keeps its meaning (DISPLAY STATS) and reopens
// nothing.
func TestLogReopenOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "socksd.log")
	cmd, addr := startLoggingDaemon(t, logPath)
	cmd.Process.Signal(syscall.SIGUSR1)
	wait.Until(t, "DISPLAY STATS for SIGUSR1", 30*time.Second, func() bool {
		return strings.Contains(readText(logPath), "DISPLAY STATS")
	})
	if strings.Contains(readText(logPath), "SOX0823I") || strings.Contains(readText(logPath), `"event":"reload"`) {
		t.Errorf("SIGUSR1 reloaded or reopened the log")
	}
	_, cur := rotateUnderLoad(t, addr, logPath, logPath+".1", func() {
		if err := os.Rename(logPath, logPath+".1"); err != nil {
			t.Fatal(err)
		}
		cmd.Process.Signal(syscall.SIGHUP)
	})
	if !strings.Contains(cur, `"event":"reload"`) {
		t.Errorf("the reload's own message is not in the new file")
	}
}

// TestAuditSyslog: the audit records of FTP transfers reach a syslog
// listener over UDP and over TCP (octet counting) as RFC 5424 messages,
// whose structured data holds the same fields as the audit file's JSON
// record.
func TestAuditSyslog(t *testing.T) {
	s := testpeer.StartSSHD(t, testpeer.SSHDConfig{PasswordAuth: true, PubkeyAuth: true})
	v := testpeer.StartVSFTPD(t, testpeer.VSFTPDConfig{WriteEnable: true})
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			var (
				mu   sync.Mutex
				msgs []gosyslog.Message
				errs []error
			)
			collect := func(r *gosyslog.Result) {
				mu.Lock()
				defer mu.Unlock()
				if r.Error != nil {
					errs = append(errs, r.Error)
					return
				}
				msgs = append(msgs, r.Message)
			}
			var addr string
			tcpDone := make(chan struct{})
			switch network {
			case "udp":
				pc, err := net.ListenPacket("udp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer pc.Close()
				addr = pc.LocalAddr().String()
				go func() {
					buf := make([]byte, 65536)
					for {
						n, _, err := pc.ReadFrom(buf)
						if err != nil {
							return
						}
						m, err := rfc5424.NewParser().Parse(buf[:n])
						collect(&gosyslog.Result{Message: m, Error: err})
					}
				}()
				close(tcpDone)
			case "tcp":
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				addr = ln.Addr().String()
				go func() {
					defer close(tcpDone)
					c, err := ln.Accept()
					if err != nil {
						return
					}
					defer c.Close()
					c.SetReadDeadline(time.Now().Add(5 * time.Minute))
					// Parses until the daemon closes the connection.
					octetcounting.NewParser(gosyslog.WithListener(collect)).Parse(bufio.NewReader(c))
				}()
			}
			audit := filepath.Join(t.TempDir(), "audit.jsonl")
			conf := strings.Replace(ftpTunnelConfig(s, "", v.Port, audit, ""), "[log]\n",
				fmt.Sprintf("[log]\naudit_syslog = \"%s://%s\"\nsyslog_facility = \"local3\"\n", network, addr), 1)
			d := testpeer.StartSocksd(t, socksdBin, conf)
			c, err := ftp.Dial(v.Addr, ftp.DialWithDialFunc(socksDial(t, d.Addr, proxy.Direct)), ftp.DialWithTimeout(30*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Login(v.User, v.Password); err != nil {
				t.Fatalf("login through socksd: %v", err)
			}
			name := fmt.Sprintf(`syslog-%s "x"].bin`, network) // a name whose value needs escaping
			roundTrip(t, c, v, name, testpeer.Data(64<<10, 2))
			c.Quit()
			// Both records in the audit file, then stop the daemon: it
			// closes the TCP connection, which ends the parser.
			wait.Until(t, "two audit records", 30*time.Second, func() bool {
				b, _ := os.ReadFile(audit)
				return bytes.Count(b, []byte("\n")) >= 2
			})
			d.Signal(syscall.SIGTERM)
			if code := d.Wait(60 * time.Second); code != 0 {
				t.Fatalf("exit code %d", code)
			}
			<-tcpDone
			wait.Until(t, "two syslog records", 30*time.Second, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(msgs)+len(errs) >= 2
			})
			mu.Lock()
			defer mu.Unlock()
			if len(errs) != 0 {
				t.Fatalf("records that do not parse as RFC 5424: %v", errs)
			}
			b, _ := os.ReadFile(audit)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(msgs) != len(lines) {
				t.Fatalf("%d syslog records, %d audit file records", len(msgs), len(lines))
			}
			for i, m := range msgs {
				sm := m.(*rfc5424.SyslogMessage)
				var rec map[string]any
				if err := json.Unmarshal([]byte(lines[i]), &rec); err != nil {
					t.Fatal(err)
				}
				if *sm.Facility != 19 || *sm.Severity != 6 || *sm.Appname != "socksd" || *sm.MsgID != "transfer" ||
					*sm.ProcID != strconv.Itoa(d.PID()) || sm.Message == nil || *sm.Message != lines[i] {
					t.Errorf("record %d: header or MSG: %+v", i, sm.Base)
				}
				params := (*sm.StructuredData)["socksd@32473"]
				if len(params) != len(rec) {
					t.Errorf("record %d: %d parameters, %d JSON fields: %v", i, len(params), len(rec), params)
				}
				for k, want := range rec {
					if s, ok := want.(string); ok {
						if params[k] != s {
							t.Errorf("record %d: %s=%q, want %q", i, k, params[k], s)
						}
					} else if f, ok := want.(float64); ok && params[k] != strconv.FormatFloat(f, 'f', -1, 64) {
						t.Errorf("record %d: %s=%q, want %v", i, k, params[k], f)
					}
				}
				if params["path"] != name || strings.Contains(params["path"]+*sm.Message, v.Password) {
					t.Errorf("record %d: path %q", i, params["path"])
				}
			}
		})
	}
}

// TestLogrotateSample: logrotate, run on the shipped sample (its paths,
// user and postrotate command pointed at this test's daemon), rotates the
// log while sessions are logged; the daemon writes on in a new file and no
// line is lost.
func TestLogrotateSample(t *testing.T) {
	logrotate, err := exec.LookPath("logrotate")
	if err != nil {
		logrotate = "/usr/sbin/logrotate"
		if _, err := os.Stat(logrotate); err != nil {
			testpeer.Missing(t, "logrotate not found (Debian package logrotate; make deps installs it)")
		}
	}
	b, err := os.ReadFile("../packaging/socksd.logrotate")
	if err != nil {
		t.Fatal(err)
	}
	sample := string(b)
	post := regexp.MustCompile(`(?s)\n\tpostrotate\n.*?\n\tendscript\n`)
	if strings.Contains(sample, "\tcopytruncate") || !post.MatchString(sample) ||
		!strings.Contains(sample, "systemctl reload socksd.service") || !strings.Contains(sample, "/var/log/socksd/*.log") {
		t.Fatalf("the sample lacks postrotate with systemctl reload, or has copytruncate:\n%s", sample)
	}
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.Mkdir(logs, 0o700); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(logs, "socksd.log")
	cmd, addr := startLoggingDaemon(t, logPath)

	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	grp, err := user.LookupGroupId(me.Gid)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.ReplaceAll(sample, "/var/log/socksd/", logs+"/")
	conf = strings.ReplaceAll(conf, "socksd socksd\n", me.Username+" "+grp.Name+"\n")
	conf = post.ReplaceAllLiteralString(conf, fmt.Sprintf("\n\tpostrotate\n\t\tkill -HUP %d\n\tendscript\n", cmd.Process.Pid))
	confPath := filepath.Join(dir, "socksd.logrotate")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	var out []byte
	_, cur := rotateUnderLoad(t, addr, logPath, logPath+".1", func() { // delaycompress: .1 is not compressed
		var err error
		out, err = testpeer.RunBounded(exec.Command(logrotate, "-v", "-f", "-s", filepath.Join(dir, "state"), confPath), time.Minute)
		if err != nil {
			t.Fatalf("logrotate: %v\n%s", err, out)
		}
	})
	if t.Failed() {
		t.Logf("logrotate said:\n%s", out)
	}
	if !strings.Contains(cur, `"event":"reload"`) {
		t.Errorf("the reload's own message is not in the new file")
	}
}

// readText reads a file as text; a missing file is "".
func readText(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// rotateUnderLoad logs sessions from several clients (each a request the
// rules block: start, block, end) while rotate moves the log away and has
// the daemon reopen it. It checks that the daemon writes a new file that
// gets the sessions made after the reopen, and that every session's end is
// in the rotated file or the new one, exactly once. It returns both
// files' text.
func rotateUnderLoad(t *testing.T, addr, logPath, rotated string, rotate func()) (old, cur string) {
	t.Helper()
	socks, err := proxy.SOCKS5("tcp", addr, nil, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	request := func() { // 192.0.2.1 (TEST-NET-1): blocked, never dialed
		if c, err := socks.Dial("tcp", "192.0.2.1:80"); err == nil {
			c.Close()
			t.Error("a request that the rules block succeeded")
		}
	}
	const clients, each, after = 4, 50, 5
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				request()
			}
		}()
	}
	wait.Until(t, "some sessions logged", 30*time.Second, func() bool {
		return len(sessionEnds(t, readText(logPath))) >= 20
	})
	rotate() // while the clients run
	wait.Until(t, "a new log file with SOX0823I", 30*time.Second, func() bool {
		return strings.Contains(readText(logPath), "SOX0823I log file "+logPath+" reopened")
	})
	wg.Wait()
	for j := 0; j < after; j++ {
		request() // after the reopen: in the new file
	}
	wait.Until(t, "every session's end logged", 30*time.Second, func() bool {
		return len(sessionEnds(t, readText(rotated)+readText(logPath))) == clients*each+after
	})
	old, cur = readText(rotated), readText(logPath)
	for id, n := range sessionEnds(t, old+cur) {
		if n != 1 {
			t.Errorf("session %d ended %d times in the logs", id, n)
		}
	}
	if n := len(sessionEnds(t, cur)); n < after {
		t.Errorf("the new file has %d session ends, want at least the %d after the reopen", n, after)
	}
	if len(sessionEnds(t, old)) < 20 {
		t.Errorf("the rotated file lost its lines")
	}
	return old, cur
}
