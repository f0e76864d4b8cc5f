package openssh

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"
)

// BenchmarkForward moves b.N chunks of 1 MiB from a loopback server to a
// client through a master (aes128-gcm) and reports the throughput and the
// CPU seconds per GiB of the master and of this process (which runs both
// ends and only handed the socket over).
func BenchmarkForward(b *testing.B) {
	testpeer.RequireTool(b, "ssh")
	s := testpeer.StartSSHD(b, testpeer.SSHDConfig{PubkeyAuth: true})
	dir, err := os.MkdirTemp("", "oshb")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	exe, _ := os.Executable()
	m, err := Start(context.Background(), Options{
		Dir: dir, Askpass: exe, Host: "127.0.0.1", Port: s.Port, User: s.User,
		KnownHosts: []string{s.KnownHostsFile}, IdentityFiles: []string{s.ClientKeyFile},
		Ciphers: "aes128-gcm@openssh.com", StartTimeout: 30 * time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Stop()
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	n := b.N
	target := testpeer.ServeTCP(b, func(c net.Conn) {
		for i := 0; i < n; i++ {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	host, p, _ := net.SplitHostPort(target)
	port, _ := strconv.Atoi(p)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	acc, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(chunk)))
	masterCPU0, selfCPU0 := procCPU(m.PID()), selfCPU()
	b.ResetTimer()
	f, err := m.Forward(context.Background(), acc.(*net.TCPConn), host, port)
	if err != nil {
		b.Fatal(err)
	}
	got, err := io.Copy(io.Discard, client)
	b.StopTimer()
	if err != nil || got != int64(n*len(chunk)) {
		b.Fatalf("read %d bytes (%v), want %d", got, err, n*len(chunk))
	}
	if err := f.Wait(context.Background()); err != nil {
		b.Fatal(err)
	}
	gib := float64(got) / (1 << 30)
	b.ReportMetric((procCPU(m.PID())-masterCPU0)/gib, "master-cpu-s/GiB")
	// This process is also both ends (the server writing, the client
	// reading): the forward itself adds no per-byte work here.
	b.ReportMetric((selfCPU()-selfCPU0)/gib, "endpoints-cpu-s/GiB")
}

// procCPU returns a process's user plus system CPU seconds from /proc.
func procCPU(pid int) float64 {
	bs, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(bs, ')')
	f := strings.Fields(string(bs[i+1:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru) //nolint:errcheck
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
