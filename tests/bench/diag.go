package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"socksd/tunnel"
)

// relayBufSize is the copy buffer of internal/relay, which the diagnostic
// reads use.
const relayBufSize = 64 << 10

// relayIdle is the idle timeout the diagnostic re-arms before every Read
// ([server] idle_timeout's default).
const relayIdle = 30 * time.Minute

// drainConn reads c to EOF in relayBufSize reads, setting a read deadline
// before each when perRead is true, and returns MB/s; it fails unless
// exactly size bytes arrive.
func drainConn(c net.Conn, size int64, perRead bool) (float64, error) {
	buf := make([]byte, relayBufSize)
	start := time.Now()
	end := start.Add(transferTimeout)
	// Plain reads must run with no deadline at all: a watchdog closes the
	// connection instead, should the transfer hang.
	watchdog := time.AfterFunc(transferTimeout, func() { c.Close() })
	defer watchdog.Stop()
	var n int64
	for time.Now().Before(end) {
		if perRead {
			_ = c.SetReadDeadline(time.Now().Add(relayIdle))
		}
		m, err := c.Read(buf)
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("bench: read after %d bytes: %w", n, err)
		}
	}
	if n != size {
		return 0, fmt.Errorf("bench: read %d of %d bytes", n, size)
	}
	return mbps(size, time.Since(start)), nil
}

// BenchTunnelDiag splits the tunnel's download cost: the same bulk
// download through socksd's own tunnel package in this process (no SOCKS,
// no relay), once reading plainly and once re-arming a read deadline before
// every Read (what internal/relay did until it re-armed at most every
// idle/8), each against `ssh -N -D`.
func BenchTunnelDiag(t testing.TB, e *Env) []Row {
	s := e.SSHD
	p, err := tunnel.NewPool(tunnel.Options{KnownHosts: []string{s.KnownHostsFile}, KeepaliveInterval: -1, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	defer p.Close()
	prof := tunnel.Profile{Name: "bench", Host: "127.0.0.1", Port: s.Port, User: s.User,
		Auth: []string{"publickey"}, IdentityFiles: []string{s.ClientKeyFile}, Share: true}
	source := sourceServer(t, e.Opt.Size())
	dialPool := func() (net.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return p.Dial(ctx, prof, "", tunnel.Credentials{User: s.User}, source)
	}
	ref := socks5(t, e.Ref.Addr, "", "")
	sec := SecTunnelDiag
	plain := Row{Section: sec, Label: "x/crypto/ssh read",
		Name: fmt.Sprintf("%d MiB download through socksd's tunnel package in-process (tunnel.Pool.Dial; no SOCKS, no relay), plain reads of 64 KiB", e.Opt.SizeMiB),
		Unit: "MB/s", RefName: "`ssh -N -D`, same sshd and cipher"}
	armed := Row{Section: sec, Label: "read + deadline",
		Name: "the same, with a read deadline re-armed before every Read (an idle timeout kept per read)",
		Unit: "MB/s", RefName: "`ssh -N -D`, same sshd and cipher"}
	for i := 0; i < e.Opt.Runs; i++ {
		for _, ours := range order(i) {
			if !ours {
				c, err := ref("tcp", source)
				if err != nil {
					t.Fatalf("bench: ssh -D: %v", err)
				}
				v, err := drainConn(c, e.Opt.Size(), false)
				c.Close()
				if err != nil {
					t.Fatalf("bench: ssh -D: %v", err)
				}
				plain.Ref = append(plain.Ref, v)
				armed.Ref = append(armed.Ref, v)
				continue
			}
			for _, perRead := range []bool{false, true} {
				c, err := dialPool()
				if err != nil {
					t.Fatalf("bench: tunnel.Pool.Dial: %v", err)
				}
				v, err := drainConn(c, e.Opt.Size(), perRead)
				c.Close()
				if err != nil {
					t.Fatalf("bench: tunnel (deadline per read %v): %v", perRead, err)
				}
				if perRead {
					armed.Ours = append(armed.Ours, v)
				} else {
					plain.Ours = append(plain.Ours, v)
				}
			}
		}
		e.Logf("tunnel diag run %d: plain %.0f MB/s, deadline per read %.0f MB/s, ssh -D %.0f MB/s",
			i+1, plain.Ours[i], armed.Ours[i], plain.Ref[i])
	}
	return []Row{plain, armed}
}
