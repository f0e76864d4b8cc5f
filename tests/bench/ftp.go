package bench

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"socksd/internal/testing/testpeer"
)

// ftpConfig sends FTP to the vsftpd port through the test sshd with the
// job's own credentials (the FTP user and password log in to SSH), data
// connections through SOCKS as jlaffaye/ftp makes them.
func ftpConfig(s *testpeer.SSHD, ftpPort int) string {
	return fmt.Sprintf(`
[server]
listen = ["127.0.0.1:0"]
max_sessions = 12000
[log]
level = "warn"
[console]
socket = ""
[ssh]
known_hosts = [%q]
keepalive_interval = "0s"
[profiles.ftphost]
host = "127.0.0.1"
port = %d
auth = ["password", "publickey"]
identity_files = [%q]
[[rules]]
name = "ftp"
to = ["127.0.0.1"]
ports = ["%d"]
action = "ftp-tunnel"
profile = "ftphost"
[rules.ftp]
data = "socks"
[[rules]]
name = "rest"
action = "block"
`, s.KnownHostsFile, s.Port, s.ClientKeyFile, ftpPort)
}

// dialFunc opens a TCP connection, through a proxy or not.
type dialFunc func(network, address string) (net.Conn, error)

// sessionLifetime bounds every FTP connection the benchmarks open (control
// and data), so that a hung peer ends the run instead of stalling it.
const sessionLifetime = 15 * time.Minute

// bounded dials with dial and gives the connection a deadline
// sessionLifetime from now.
func bounded(dial dialFunc) dialFunc {
	return func(network, address string) (net.Conn, error) {
		c, err := dial(network, address)
		if err != nil {
			return nil, err
		}
		_ = c.SetDeadline(time.Now().Add(sessionLifetime))
		return c, nil
	}
}

// ftpLogin opens a control connection with dial and logs in.
func ftpLogin(dial dialFunc, v *testpeer.VSFTPD) (*ftp.ServerConn, error) {
	c, err := ftp.Dial(v.Addr, ftp.DialWithDialFunc(bounded(dial)), ftp.DialWithTimeout(30*time.Second))
	if err != nil {
		return nil, fmt.Errorf("bench: ftp dial: %w", err)
	}
	if err := c.Login(v.User, v.Password); err != nil {
		c.Quit()
		return nil, fmt.Errorf("bench: ftp login: %w", err)
	}
	return c, nil
}

// retr downloads name and returns MB/s from the RETR command to the final
// reply; it fails unless exactly size bytes arrive.
func retr(c *ftp.ServerConn, name string, size int64) (float64, error) {
	start := time.Now()
	r, err := c.Retr(name)
	if err != nil {
		return 0, fmt.Errorf("bench: RETR %s: %w", name, err)
	}
	n, err := io.CopyBuffer(io.Discard, r, make([]byte, 256<<10))
	cerr := r.Close()
	if err != nil || cerr != nil {
		return 0, fmt.Errorf("bench: RETR %s after %d bytes: %w", name, n, errors.Join(err, cerr))
	}
	if n != size {
		return 0, fmt.Errorf("bench: RETR %s: %d of %d bytes", name, n, size)
	}
	return mbps(size, time.Since(start)), nil
}

// stor uploads size bytes as name and returns MB/s from the STOR command
// to the final reply; it fails unless the server's file has size bytes.
// The file is removed afterwards.
func stor(c *ftp.ServerConn, v *testpeer.VSFTPD, name string, size int64) (float64, error) {
	start := time.Now()
	if err := c.Stor(name, newPattern(size)); err != nil {
		return 0, fmt.Errorf("bench: STOR %s: %w", name, err)
	}
	el := time.Since(start)
	p := filepath.Join(v.Root, name)
	fi, err := os.Stat(p)
	if err != nil {
		return 0, fmt.Errorf("bench: STOR %s: %w", name, err)
	}
	os.Remove(p)
	if fi.Size() != size {
		return 0, fmt.Errorf("bench: STOR %s: the server has %d of %d bytes", name, fi.Size(), size)
	}
	return mbps(size, el), nil
}

// pattern is an io.Reader of a fixed size that repeats a random block.
type pattern struct {
	block []byte
	left  int64
	off   int
}

func newPattern(size int64) *pattern {
	b := make([]byte, 1<<20)
	fillRandom(b, uint64(size))
	return &pattern{block: b, left: size}
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.block[p.off:])
	if int64(n) > p.left {
		n = int(p.left)
	}
	p.left -= int64(n)
	p.off = (p.off + n) % len(p.block)
	return n, nil
}

// fillRandom fills b from a seeded generator.
func fillRandom(b []byte, seed uint64) {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	_, _ = rand.NewChaCha8(key).Read(b)
}

// writeServerFile creates a file of size random bytes in vsftpd's root,
// owned by the test user.
func writeServerFile(t testing.TB, v *testpeer.VSFTPD, name string, size int64) {
	t.Helper()
	p := filepath.Join(v.Root, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	if _, err := io.CopyBuffer(f, newPattern(size), make([]byte, 1<<20)); err != nil {
		f.Close()
		t.Fatalf("bench: write %s: %v", p, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("bench: write %s: %v", p, err)
	}
	u, err := user.Lookup(v.User)
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(p, uid, gid); err != nil {
		t.Fatalf("bench: %v", err)
	}
	t.Cleanup(func() { os.Remove(p) })
}

// socksdPaths starts one socksd per engine with cfg (spread > 0 sets
// every profile's spread) and returns them as paths named "socksd ENGINE".
func socksdPaths(t testing.TB, e *Env, cfg string, spread int) []sockPath {
	var out []sockPath
	for _, eng := range Engines {
		d := testpeer.StartSocksd(t, e.Bin, withEngine(cfg, eng, spread))
		out = append(out, sockPath{"socksd " + eng, eng, socks5(t, d.Addr, "", ""), d.PID()})
	}
	return out
}

// ftpPaths returns socksd with each engine, `ssh -D` and the raw loopback
// path, in that order.
func ftpPaths(t testing.TB, e *Env, cfg string) []sockPath {
	return append(socksdPaths(t, e, cfg, 0),
		sockPath{"ssh -D", "", socks5(t, e.Ref.Addr, "", ""), e.Ref.PID()},
		sockPath{"raw", "", direct, 0})
}

// rotate returns the paths in a different order for each run.
func rotate[P any](paths []P, i int) []P {
	out := make([]P, 0, len(paths))
	for j := range paths {
		out = append(out, paths[(i+j)%len(paths)])
	}
	return out
}

// BenchFTPTransfers compares large RETR and STOR through `ftp-tunnel`,
// with each engine, with the same jlaffaye/ftp transfer through
// `ssh -N -D`, and with the raw loopback transfer as the ceiling; and the
// CPU time per GiB of socksd (with its `ssh` children) against the
// `ssh -N -D` process.
func BenchFTPTransfers(t testing.TB, e *Env) []Row {
	v := e.FTP
	size := e.Opt.Size()
	writeServerFile(t, v, "big.bin", size)
	paths := ftpPaths(t, e, ftpConfig(e.SSHD, v.Port))
	res := map[string]map[string][]float64{}
	add := func(key, path string, x float64) {
		if res[key] == nil {
			res[key] = map[string][]float64{}
		}
		res[key][path] = append(res[key][path], x)
	}
	for i := 0; i < e.Opt.Runs; i++ {
		for _, p := range rotate(paths, i) {
			c, err := ftpLogin(p.dial, v)
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			m := startCPU(p.pid)
			r, err := retr(c, "big.bin", size)
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			rc, err := m.stop(size)
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			m = startCPU(p.pid)
			s, err := stor(c, v, "up-"+strconv.Itoa(i)+".bin", size)
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			sc, err := m.stop(size)
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			c.Quit()
			add("RETR", p.name, r)
			add("STOR", p.name, s)
			add("RETR cpu", p.name, rc.Total)
			add("STOR cpu", p.name, sc.Total)
			add("RETR own", p.name, rc.Own)
			add("STOR own", p.name, sc.Own)
			e.Logf("ftp run %d %-15s RETR %.0f MB/s %.3f s/GiB (own %.3f), STOR %.0f MB/s %.3f s/GiB (own %.3f)",
				i+1, p.name, r, rc.Total, rc.Own, s, sc.Total, sc.Own)
		}
	}
	var rows []Row
	for _, eng := range Engines {
		name := "socksd " + eng
		var goal, goalCPU float64
		if eng == "openssh" {
			goal, goalCPU = 1, 1.05
		}
		for _, cmd := range []string{"RETR", "STOR"} {
			rows = append(rows, Row{Section: SecFTP, Label: engineLabel(cmd, eng), Engine: eng,
				Name: fmt.Sprintf("%s of %d MiB, jlaffaye/ftp through SOCKS5, passive", cmd, e.Opt.SizeMiB),
				Unit: "MB/s", Ours: res[cmd][name], RefName: refName, Ref: res[cmd]["ssh -D"], Goal: goal})
		}
		for _, cmd := range []string{"RETR", "STOR"} {
			rows = append(rows, Row{Section: SecFTP, Label: engineLabel(cmd+" CPU", eng), Engine: eng,
				Name: fmt.Sprintf("CPU per GiB of the %s: socksd and its `ssh` children", cmd),
				Unit: "s/GiB", Ours: res[cmd+" cpu"][name], RefName: "the `ssh -N -D` process", Ref: res[cmd+" cpu"]["ssh -D"], Goal: goalCPU})
			if eng == "openssh" {
				rows = append(rows, Row{Section: SecFTP, Label: engineLabel(cmd+" socksd CPU", eng), Engine: eng,
					Name: fmt.Sprintf("CPU per GiB of the %s in socksd's own process (the master carries the data connection)", cmd),
					Unit: "s/GiB", Ours: res[cmd+" own"][name], Bound: 0.05})
			}
		}
		for _, cmd := range []string{"RETR", "STOR"} {
			rows = append(rows, Row{Section: SecFTP, Label: engineLabel(cmd+" ceiling", eng), Engine: eng,
				Name: fmt.Sprintf("%s of %d MiB, against the ceiling", cmd, e.Opt.SizeMiB),
				Unit: "MB/s", Ours: res[cmd][name], RefName: "raw loopback FTP, jlaffaye/ftp straight to vsftpd (no SSH)", Ref: res[cmd]["raw"], Ceiling: true})
		}
	}
	return rows
}

// BenchFTPSessions times sequential login/LIST/QUIT sessions on a warm
// shared SSH connection through `ftp-tunnel`, against `ssh -N -D`, and the
// same sessions straight to vsftpd.
func BenchFTPSessions(t testing.TB, e *Env) []Row {
	v := e.FTP
	paths := ftpPaths(t, e, ftpConfig(e.SSHD, v.Port))
	res := map[string][]float64{}
	for _, p := range paths { // warm: socksd opens its shared SSH connection
		if err := listSession(p.dial, v); err != nil {
			t.Fatalf("%s: warm-up: %v", p.name, err)
		}
	}
	loginsBefore := e.SSHD.CountLog("Accepted password for " + e.SSHD.User)
	n := e.Opt.Sessions
	for i := 0; i < e.Opt.Runs; i++ {
		for _, p := range rotate(paths, i) {
			start := time.Now()
			for j := 0; j < n; j++ {
				if err := listSession(p.dial, v); err != nil {
					t.Fatalf("%s: session %d: %v", p.name, j, err)
				}
			}
			ms := float64(time.Since(start).Microseconds()) / 1000 / float64(n)
			res[p.name] = append(res[p.name], ms)
			e.Logf("ftp sessions run %d %-15s %.2f ms per session", i+1, p.name, ms)
		}
	}
	logins := e.SSHD.CountLog("Accepted password for "+e.SSHD.User) - loginsBefore
	e.Note(fmt.Sprintf("FTP set-up: after the warm-up session, each socksd (one per engine) ran %d timed login/LIST/QUIT sessions; sshd logged %d new SSH login(s) for both together: the shared connections were reused.",
		n*e.Opt.Runs, logins))
	name := fmt.Sprintf("set-up: %d sequential login/LIST/QUIT sessions on a warm shared SSH connection, mean per session", n)
	var rows []Row
	for _, eng := range Engines {
		var goal float64
		if eng == "openssh" {
			goal = 1
		}
		rows = append(rows,
			Row{Section: SecFTP, Label: engineLabel("FTP session", eng), Engine: eng, Name: name, Unit: "ms",
				Ours: res["socksd "+eng], RefName: refName, Ref: res["ssh -D"], Goal: goal},
			Row{Section: SecFTP, Label: engineLabel("FTP session ceiling", eng), Engine: eng, Name: name + ", against the ceiling", Unit: "ms",
				Ours: res["socksd "+eng], RefName: "raw loopback FTP (no SSH)", Ref: res["raw"], Ceiling: true})
	}
	return rows
}

// listSession logs in, lists the root directory and quits.
func listSession(dial dialFunc, v *testpeer.VSFTPD) error {
	c, err := ftpLogin(dial, v)
	if err != nil {
		return err
	}
	if _, err := c.List(""); err != nil {
		c.Quit()
		return fmt.Errorf("bench: LIST: %w", err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("bench: QUIT: %w", err)
	}
	return nil
}

// BenchFTPParallel measures the total throughput of 4 and 16 simultaneous
// RETR sessions through `ftp-tunnel` against `ssh -N -D`. Each transfer
// fetches its share of the bulk size.
func BenchFTPParallel(t testing.TB, e *Env) []Row {
	v := e.FTP
	paths := append(socksdPaths(t, e, ftpConfig(e.SSHD, v.Port), parallelSpread),
		sockPath{"ssh -D", "", socks5(t, e.Ref.Addr, "", ""), e.Ref.PID()})
	var rows []Row
	for _, n := range []int{4, 16} {
		part := e.Opt.Size() / int64(n)
		name := fmt.Sprintf("part%d.bin", n)
		writeServerFile(t, v, name, part)
		res := map[string][]float64{}
		for i := 0; i < e.Opt.Runs; i++ {
			for _, p := range rotate(paths, i) {
				x, err := parallelRetr(p.dial, v, name, n, part)
				if err != nil {
					t.Fatalf("%s: %d parallel: %v", p.name, n, err)
				}
				res[p.name] = append(res[p.name], x)
				e.Logf("ftp parallel run %d %-15s %2d × RETR: %.0f MB/s total", i+1, p.name, n, x)
			}
		}
		if n == 16 {
			for _, p := range paths {
				if p.engine == "openssh" {
					e.Note(fmt.Sprintf("Parallel FTP: after the 16 parallel RETRs, socksd with the openssh engine (`spread = %d`) had %d child processes (its `ssh` masters).",
						parallelSpread, len(childPIDs(p.pid))))
				}
			}
		}
		for _, eng := range Engines {
			var goal float64
			if eng == "openssh" && n == 16 {
				goal = 1.2
			}
			rows = append(rows, Row{Section: SecFTP, Label: engineLabel(fmt.Sprintf("%d parallel RETR", n), eng), Engine: eng,
				Name: fmt.Sprintf("%d parallel RETR sessions of %d MiB each, total throughput, `spread = %d`", n, part>>20, parallelSpread),
				Unit: "MB/s", Ours: res["socksd "+eng], RefName: refName, Ref: res["ssh -D"], Goal: goal})
		}
	}
	return rows
}

// parallelRetr logs in n sessions, starts n RETRs of name together, and
// returns the total MB/s from the start to the last final reply.
func parallelRetr(dial dialFunc, v *testpeer.VSFTPD, name string, n int, part int64) (float64, error) {
	conns := make([]*ftp.ServerConn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Quit()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := ftpLogin(dial, v)
		if err != nil {
			return 0, err
		}
		conns = append(conns, c)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = retr(c, name, part)
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return mbps(part*int64(n), el), nil
}

// idleFTPBound is the goal for the builtin engine's idle FTP session, KiB.
const idleFTPBound = 34

// BenchIdleFTP measures resident memory per idle, logged-in FTP control
// session through `ftp-tunnel`, with each engine (socksd's process, and
// with openssh also its `ssh` masters), against the same sessions through
// `ssh -N -D` (the ssh process). Each run starts a fresh socksd and a
// fresh ssh.
func BenchIdleFTP(t testing.TB, e *Env) []Row {
	v := e.FTP
	n := e.Opt.IdleSessions
	sides := append(append([]string{}, Engines...), "ssh -D")
	res := map[string][]float64{}
	loginsBefore := e.SSHD.CountLog("Accepted password for " + e.SSHD.User)
	for i := 0; i < e.Opt.IdleRuns; i++ {
		for _, side := range rotate(sides, i) {
			start := time.Now()
			var per float64
			var err error
			if side == "ssh -D" {
				ref := testpeer.StartSSHDynamic(t, e.SSHD)
				per, err = idleFTPOnce(socks5(t, ref.Addr, "", ""), v, func() (int64, error) { return RSSKiB(ref.PID()) }, n)
				ref.Stop()
			} else {
				d, lerr := testpeer.LaunchSocksd(e.Bin, t.TempDir(), withEngine(ftpConfig(e.SSHD, v.Port), side, 0))
				if lerr != nil {
					t.Fatalf("bench: %v", lerr)
				}
				per, err = idleFTPOnce(socks5(t, d.Addr, "", ""), v, func() (int64, error) { return treeRSSKiB(d.PID()) }, n)
				d.Kill()
			}
			if err != nil {
				t.Fatalf("bench: idle FTP run %d (%s): %v", i+1, side, err)
			}
			res[side] = append(res[side], per)
			e.Logf("idle ftp run %d %-7s: %.1f KiB per session (%d sessions in %v)", i+1, side, per, n, time.Since(start).Round(time.Millisecond))
		}
	}
	logins := e.SSHD.CountLog("Accepted password for "+e.SSHD.User) - loginsBefore
	e.Note(fmt.Sprintf("Idle FTP: socksd held %d sessions per run; sshd logged %d SSH password logins from socksd, both engines, over %d runs (max_channels = 64 per shared connection).",
		n+1, logins, e.Opt.IdleRuns))
	var rows []Row
	for _, eng := range Engines {
		r := Row{Section: SecIdle, Label: engineLabel("idle FTP", eng), Engine: eng,
			Name: fmt.Sprintf("resident memory per idle logged-in FTP control session through `ftp-tunnel`, %d open: socksd", n),
			Unit: "KiB", Ours: res[eng], RefName: "`ssh -N -D` (the ssh process), same sessions", Ref: res["ssh -D"]}
		if eng == "openssh" {
			r.Name += " plus its `ssh` masters"
		} else {
			r.Bound = idleFTPBound
		}
		rows = append(rows, r)
	}
	return rows
}

// idleFTPOnce logs in one session, reads the memory with rss, logs in n more and
// keeps them all open, reads it again, and returns KiB per session.
func idleFTPOnce(dial dialFunc, v *testpeer.VSFTPD, rss func() (int64, error), n int) (float64, error) {
	var mu sync.Mutex
	var conns []*ftp.ServerConn
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Quit()
		}
	}()
	warm, err := ftpLogin(dial, v)
	if err != nil {
		return 0, err
	}
	conns = append(conns, warm)
	return perSession(rss, n, func(i int) error {
		c, err := ftpLogin(dial, v)
		if err != nil {
			return fmt.Errorf("session %d: %w", i, err)
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		return nil
	})
}
