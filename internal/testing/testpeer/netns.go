package testpeer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Topology is three network namespaces made by a test: a client host
// (socksd and the job), an SSH gateway, and an FTP host that only the
// gateway can reach. The gateway does not forward, so the client and the
// FTP host can reach each other only through the SSH server: an active
// data connection that bypassed the tunnel would fail.
//
//	client 10.77.1.1 ── 10.77.1.2 gateway 10.77.2.1 ── 10.77.2.2 ftp
type Topology struct {
	Client, Gateway, FTP string // namespace names

	ClientIP      string // the client host's address
	GatewayIP     string // the gateway's address on the client side
	GatewayFTPIP  string // the gateway's address on the FTP side
	FTPIP         string // the FTP host's address
	ClientNSPath  string
	GatewayNSPath string
	FTPNSPath     string
}

// Host names that programs started with Command (and socksd started with
// StartSocksdIn) resolve inside a Topology.
const (
	ClientHost  = "client.sxtest"
	GatewayHost = "gw.sxtest"
	FTPHost     = "ftp.sxtest"
)

// NewTopology builds the namespaces; they are deleted when the test ends.
// It needs root and iproute2.
func NewTopology(t testing.TB) *Topology {
	t.Helper()
	RequireTool(t, "ip")
	if os.Geteuid() != 0 {
		Missing(t, "testpeer: network namespaces need root")
	}
	var rnd [3]byte
	rand.Read(rnd[:])
	id := "sx" + hex.EncodeToString(rnd[:])
	n := &Topology{
		Client: id + "c", Gateway: id + "g", FTP: id + "f",
		ClientIP: "10.77.1.1", GatewayIP: "10.77.1.2", GatewayFTPIP: "10.77.2.1", FTPIP: "10.77.2.2",
	}
	n.ClientNSPath = "/run/netns/" + n.Client
	n.GatewayNSPath = "/run/netns/" + n.Gateway
	n.FTPNSPath = "/run/netns/" + n.FTP
	t.Cleanup(func() {
		for _, ns := range []string{n.Client, n.Gateway, n.FTP} {
			exec.Command("ip", "netns", "del", ns).Run()
			os.RemoveAll("/etc/netns/" + ns)
		}
	})
	// Host names for the namespaces: `ip netns exec` bind-mounts
	// /etc/netns/NS/hosts over /etc/hosts for the programs it starts.
	hosts := fmt.Sprintf("127.0.0.1 localhost\n%s %s\n%s %s\n%s %s\n",
		n.ClientIP, ClientHost, n.GatewayIP, GatewayHost, n.FTPIP, FTPHost)
	for _, ns := range []string{n.Client, n.Gateway, n.FTP} {
		if err := os.MkdirAll("/etc/netns/"+ns, 0o755); err != nil {
			t.Fatalf("testpeer: %v", err)
		}
		if err := os.WriteFile("/etc/netns/"+ns+"/hosts", []byte(hosts), 0o644); err != nil {
			t.Fatalf("testpeer: %v", err)
		}
	}
	steps := [][]string{
		{"netns", "add", n.Client},
		{"netns", "add", n.Gateway},
		{"netns", "add", n.FTP},
		{"link", "add", id + "a", "netns", n.Client, "type", "veth", "peer", "name", id + "b", "netns", n.Gateway},
		{"link", "add", id + "d", "netns", n.Gateway, "type", "veth", "peer", "name", id + "e", "netns", n.FTP},
		{"-n", n.Client, "addr", "add", n.ClientIP + "/24", "dev", id + "a"},
		{"-n", n.Gateway, "addr", "add", n.GatewayIP + "/24", "dev", id + "b"},
		{"-n", n.Gateway, "addr", "add", n.GatewayFTPIP + "/24", "dev", id + "d"},
		{"-n", n.FTP, "addr", "add", n.FTPIP + "/24", "dev", id + "e"},
	}
	for _, ns := range []string{n.Client, n.Gateway, n.FTP} {
		steps = append(steps, []string{"-n", ns, "link", "set", "lo", "up"})
	}
	steps = append(steps,
		[]string{"-n", n.Client, "link", "set", id + "a", "up"},
		[]string{"-n", n.Gateway, "link", "set", id + "b", "up"},
		[]string{"-n", n.Gateway, "link", "set", id + "d", "up"},
		[]string{"-n", n.FTP, "link", "set", id + "e", "up"},
	)
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			t.Fatalf("testpeer: ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	// The gateway must not route between its two links.
	if out, err := exec.Command("ip", "netns", "exec", n.Gateway, "sysctl", "-qw", "net.ipv4.ip_forward=0").CombinedOutput(); err != nil {
		t.Fatalf("testpeer: sysctl: %v: %s", err, out)
	}
	return n
}

// Command runs a program inside namespace ns.
func (n *Topology) Command(ns, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// InNS runs f on an OS thread that has joined the namespace at path.
// Sockets that f creates belong to that namespace for their whole life.
func InNS(path string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked when switching back fails: it then
		// dies with the goroutine instead of serving others.
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("testpeer: %w", err)
			return
		}
		defer orig.Close()
		target, err := os.Open(path)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("testpeer: %w", err)
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("testpeer: setns: %w", err)
			return
		}
		ferr := f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// DialIn dials addr from inside the namespace at path.
func DialIn(ctx context.Context, path, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := InNS(path, func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}
