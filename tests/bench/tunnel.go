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

// BenchTunnel compares the `tunnel` action with `ssh -N -D` on the same
// sshd and cipher: session set-up on a warm shared SSH connection
// (SOCKS5 CONNECT until the first byte echoes) and bulk download
// throughput.
func BenchTunnel(t testing.TB, e *Env) []Row {
	loginsBefore := e.SSHD.CountLog("Accepted publickey for " + e.SSHD.User)
	d := testpeer.StartSocksd(t, e.Bin, tunnelConfig(e.SSHD))
	ours := socks5(t, d.Addr, "", "")
	ref := socks5(t, e.Ref.Addr, "", "")
	echo := testpeer.EchoServer(t)
	source := sourceServer(t, e.Opt.Size())
	// Warm: socksd opens its shared SSH connection here.
	for _, dial := range []func(string, string) (net.Conn, error){ours, ref} {
		if err := echoOnce(dial, echo); err != nil {
			t.Fatalf("bench: warm-up: %v", err)
		}
	}
	setup := Row{Section: SecTunnel, Label: "tunnel set-up",
		Name: fmt.Sprintf("session set-up on a warm shared SSH connection: SOCKS5 CONNECT until the first byte echoes, mean of %d sequential", setupsPerRun),
		Unit: "ms", RefName: "`ssh -N -D`, same sshd and cipher"}
	bulk := Row{Section: SecTunnel, Label: "tunnel bulk",
		Name: fmt.Sprintf("bulk throughput, %d MiB download through a `tunnel` rule", e.Opt.SizeMiB),
		Unit: "MB/s", RefName: "`ssh -N -D`, same sshd and cipher"}
	for i := 0; i < e.Opt.Runs; i++ {
		for _, isOurs := range order(i) {
			dial := ref
			if isOurs {
				dial = ours
			}
			start := time.Now()
			for j := 0; j < setupsPerRun; j++ {
				if err := echoOnce(dial, echo); err != nil {
					t.Fatalf("bench: set-up %d (socksd=%v): %v", j, isOurs, err)
				}
			}
			ms := float64(time.Since(start).Microseconds()) / 1000 / setupsPerRun
			v, err := pull(dial, source, e.Opt.Size())
			if err != nil {
				t.Fatalf("bench: bulk (socksd=%v): %v", isOurs, err)
			}
			if isOurs {
				setup.Ours, bulk.Ours = append(setup.Ours, ms), append(bulk.Ours, v)
			} else {
				setup.Ref, bulk.Ref = append(setup.Ref, ms), append(bulk.Ref, v)
			}
		}
		e.Logf("tunnel run %d: set-up socksd %.2f ms, ssh -D %.2f ms; bulk socksd %.0f MB/s, ssh -D %.0f MB/s",
			i+1, setup.Ours[i], setup.Ref[i], bulk.Ours[i], bulk.Ref[i])
	}
	logins := e.SSHD.CountLog("Accepted publickey for "+e.SSHD.User) - loginsBefore
	e.Note(fmt.Sprintf("Tunnel section: socksd carried %d sessions over %d SSH login(s) to sshd (counted in sshd's log).",
		1+e.Opt.Runs*(setupsPerRun+1), logins))
	return []Row{setup, bulk}
}
