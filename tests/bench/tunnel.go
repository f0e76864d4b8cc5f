package bench

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"
)

// tunnelConfig carries every loopback connection through the test sshd,
// logging in with the harness's client key (the SOCKS client sends no
// credentials), as `ssh -D` does.
func tunnelConfig(s *testpeer.SSHD) string {
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
[profiles.bench]
host = "127.0.0.1"
port = %d
user = %q
auth = ["publickey"]
identity_files = [%q]
[[rules]]
name = "via-ssh"
to = ["127.0.0.0/8"]
action = "tunnel"
profile = "bench"
`, s.KnownHostsFile, s.Port, s.User, s.ClientKeyFile)
}

// setupsPerRun is how many sequential set-ups one tunnel set-up run times.
const setupsPerRun = 100

// sourceServer sends size bytes to every connection, then closes it. It
// stops when t ends.
func sourceServer(t testing.TB, size int64) string {
	t.Helper()
	return testpeer.ServeTCP(t, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(transferTimeout))
		buf := make([]byte, 256<<10)
		for sent := int64(0); sent < size; {
			n := min(int64(len(buf)), size-sent)
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
			sent += n
		}
	})
}

// echoOnce opens a connection with dial, sends one byte and waits for it to
// come back: one session set-up.
func echoOnce(dial func(string, string) (net.Conn, error), addr string) error {
	c, err := dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	one := []byte{'x'}
	if _, err := c.Write(one); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, one); err != nil {
		return err
	}
	if one[0] != 'x' {
		return fmt.Errorf("bench: echo returned %q", one)
	}
	return nil
}

// pull reads a whole connection from addr and returns MB/s; it fails
// unless exactly size bytes arrive.
func pull(dial func(string, string) (net.Conn, error), addr string, size int64) (float64, error) {
	start := time.Now()
	c, err := dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(transferTimeout))
	n, err := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
	if err != nil {
		return 0, fmt.Errorf("bench: read after %d bytes: %w", n, err)
	}
	if n != size {
		return 0, fmt.Errorf("bench: read %d of %d bytes", n, size)
	}
	return mbps(size, time.Since(start)), nil
}

// sockPath is one SOCKS proxy a section measures: socksd with one
// engine, or `ssh -N -D`; pid is the process whose CPU (with its
// children) a transfer costs.
type sockPath struct {
	name, engine string // engine "" for the reference
	dial         dialFunc
	pid          int
}

// refName is the reference of the tunnel and FTP rows.
const refName = "`ssh -N -D`, same sshd and cipher"

// BenchTunnel compares the `tunnel` action, with each engine, with
// `ssh -N -D` on the same sshd and cipher: session set-up on a warm shared
// SSH connection (SOCKS5 CONNECT until the first byte echoes), bulk
// download throughput and its CPU time per GiB.
func BenchTunnel(t testing.TB, e *Env) []Row {
	loginsBefore := e.SSHD.CountLog("Accepted publickey for " + e.SSHD.User)
	var paths []sockPath
	for _, eng := range Engines {
		d := testpeer.StartSocksd(t, e.Bin, withEngine(tunnelConfig(e.SSHD), eng, 0))
		paths = append(paths, sockPath{"socksd " + eng, eng, socks5(t, d.Addr, "", ""), d.PID()})
	}
	paths = append(paths, sockPath{"ssh -D", "", socks5(t, e.Ref.Addr, "", ""), e.Ref.PID()})
	echo := testpeer.EchoServer(t)
	size := e.Opt.Size()
	source := sourceServer(t, size)
	// Warm: socksd opens its shared SSH connection here.
	for _, p := range paths {
		if err := echoOnce(p.dial, echo); err != nil {
			t.Fatalf("bench: warm-up %s: %v", p.name, err)
		}
	}
	setup, bulk, cpu, own := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	for i := 0; i < e.Opt.Runs; i++ {
		for j := range paths {
			p := paths[(i+j)%len(paths)]
			start := time.Now()
			for k := 0; k < setupsPerRun; k++ {
				if err := echoOnce(p.dial, echo); err != nil {
					t.Fatalf("bench: set-up %d (%s): %v", k, p.name, err)
				}
			}
			ms := float64(time.Since(start).Microseconds()) / 1000 / setupsPerRun
			m := startCPU(p.pid)
			v, err := pull(p.dial, source, size)
			if err != nil {
				t.Fatalf("bench: bulk (%s): %v", p.name, err)
			}
			c, err := m.stop(size)
			if err != nil {
				t.Fatalf("bench: CPU of %s: %v", p.name, err)
			}
			setup[p.name], bulk[p.name] = append(setup[p.name], ms), append(bulk[p.name], v)
			cpu[p.name], own[p.name] = append(cpu[p.name], c.Total), append(own[p.name], c.Own)
			e.Logf("tunnel run %d %-15s set-up %.2f ms, bulk %.0f MB/s, CPU %.3f s/GiB (own %.3f)", i+1, p.name, ms, v, c.Total, c.Own)
		}
	}
	var rows []Row
	ref := "ssh -D"
	for _, eng := range Engines {
		name := "socksd " + eng
		var goalSetup, goalCPU float64
		if eng == "openssh" {
			goalSetup, goalCPU = 1, 1.05
		}
		rows = append(rows,
			Row{Section: SecTunnel, Label: engineLabel("tunnel set-up", eng), Engine: eng,
				Name: fmt.Sprintf("session set-up on a warm shared SSH connection: SOCKS5 CONNECT until the first byte echoes, mean of %d sequential", setupsPerRun),
				Unit: "ms", Ours: setup[name], RefName: refName, Ref: setup[ref], Goal: goalSetup},
			Row{Section: SecTunnel, Label: engineLabel("tunnel bulk", eng), Engine: eng,
				Name: fmt.Sprintf("bulk throughput, %d MiB download through a `tunnel` rule", e.Opt.SizeMiB),
				Unit: "MB/s", Ours: bulk[name], RefName: refName, Ref: bulk[ref]},
			Row{Section: SecTunnel, Label: engineLabel("tunnel bulk CPU", eng), Engine: eng,
				Name: "CPU per GiB of the bulk download: socksd and its `ssh` children",
				Unit: "s/GiB", Ours: cpu[name], RefName: "the `ssh -N -D` process", Ref: cpu[ref], Goal: goalCPU})
		if eng == "openssh" {
			rows = append(rows, Row{Section: SecTunnel, Label: engineLabel("tunnel bulk socksd CPU", eng), Engine: eng,
				Name: "CPU per GiB of the bulk download in socksd's own process (the master carries the bytes)",
				Unit: "s/GiB", Ours: own[name], Bound: 0.05})
		}
	}
	logins := e.SSHD.CountLog("Accepted publickey for "+e.SSHD.User) - loginsBefore
	e.Note(fmt.Sprintf("Tunnel section: each socksd (one per engine) carried %d sessions; sshd logged %d SSH login(s) from both together.",
		1+e.Opt.Runs*(setupsPerRun+1), logins))
	return rows
}
