package tunnel

import (
	"context"
	"io"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"socksd/internal/testing/wait"

	"github.com/rs/zerolog"
	"golang.org/x/net/proxy"

	"socksd/internal/testing/testpeer"
)

// benchPayload is what the source server sends per throughput connection.
const benchPayload = 64 << 20

// sourceServer sends benchPayload bytes to each connection, then closes it.
func sourceServer(tb testing.TB) string {
	tb.Helper()
	buf := make([]byte, 256<<10)
	return testpeer.ServeTCP(tb, func(c net.Conn) {
		for sent := 0; sent < benchPayload; sent += len(buf) {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
}

// sshDynamic starts `ssh -N -D` against the test sshd (aes128-gcm, the
// harness's client key) and returns a SOCKS5 dialer through it.
func sshDynamic(b *testing.B, s *testpeer.SSHD) proxy.ContextDialer {
	b.Helper()
	sshPath := testpeer.RequireTool(b, "ssh")
	port := testpeer.FreePort(b, "127.0.0.1")
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(sshPath, "-N", "-D", listen, "-c", "aes128-gcm@openssh.com",
		"-i", s.ClientKeyFile, "-o", "UserKnownHostsFile="+s.KnownHostsFile, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-p", strconv.Itoa(s.Port), s.User+"@127.0.0.1")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		<-done
	})
	wait.Until(b, "ssh -D to listen", 20*time.Second, func() bool {
		c, err := net.Dial("tcp", listen)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	d, err := proxy.SOCKS5("tcp", listen, nil, proxy.Direct)
	if err != nil {
		b.Fatal(err)
	}
	return d.(proxy.ContextDialer)
}

// BenchmarkTunnelVsSSHD compares session set-up on a warm shared connection
// and bulk throughput of the pool against `ssh -D` on the same sshd with the
// same cipher (aes128-gcm@openssh.com). Compare tunnel/* with ssh-D/*.
func BenchmarkTunnelVsSSHD(b *testing.B) {
	s := testpeer.StartSSHD(b, testpeer.SSHDConfig{PubkeyAuth: true})
	echo := testpeer.EchoServer(b)
	source := sourceServer(b)
	p, err := NewPool(Options{KnownHosts: []string{s.KnownHostsFile}, KeepaliveInterval: -1, Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	prof := Profile{Name: "bench", Host: "127.0.0.1", Port: s.Port, IdentityFiles: []string{s.ClientKeyFile}, Share: true}
	cred := Credentials{User: s.User}
	tunnelDial := func(ctx context.Context, addr string) (net.Conn, error) {
		return p.Dial(ctx, prof, "", cred, addr)
	}
	sshD := sshDynamic(b, s)
	dialers := []struct {
		name string
		dial func(ctx context.Context, addr string) (net.Conn, error)
	}{
		{"tunnel", tunnelDial},
		{"ssh-D", func(ctx context.Context, addr string) (net.Conn, error) { return sshD.DialContext(ctx, "tcp", addr) }},
	}
	// Warm both up.
	for _, d := range dialers {
		c, err := d.dial(context.Background(), echo)
		if err != nil {
			b.Fatalf("%s: %v", d.name, err)
		}
		c.Close()
	}
	for _, d := range dialers {
		b.Run(d.name+"/setup", func(b *testing.B) {
			one := make([]byte, 1)
			for i := 0; i < b.N; i++ {
				c, err := d.dial(context.Background(), echo)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Write(one); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, one); err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
	for _, d := range dialers {
		b.Run(d.name+"/throughput", func(b *testing.B) {
			b.SetBytes(benchPayload)
			buf := make([]byte, 256<<10)
			for i := 0; i < b.N; i++ {
				c, err := d.dial(context.Background(), source)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.CopyBuffer(io.Discard, c, buf)
				c.Close()
				if err != nil || n != benchPayload {
					b.Fatalf("read %d bytes: %v", n, err)
				}
			}
		})
	}
}
