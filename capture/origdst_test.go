//go:build linux

package capture

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"socksd/internal/testing/testpeer"
)

// redirectNS makes a network namespace with a link that has 10.78.0.1/24
// and fd00:78::1/64, and returns its path; it is deleted when the test
// ends. It needs root, ip and nft.
func redirectNS(t *testing.T) (name, path string) {
	t.Helper()
	testpeer.RequireTool(t, "ip")
	testpeer.RequireTool(t, "nft")
	if os.Geteuid() != 0 {
		testpeer.Missing(t, "capture: the redirect tests need root (network namespaces, nftables)")
	}
	var rnd [3]byte
	rand.Read(rnd[:])
	name = "sxo" + hex.EncodeToString(rnd[:])
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	for _, s := range [][]string{
		{"netns", "add", name},
		{"-n", name, "link", "set", "lo", "up"},
		{"-n", name, "link", "add", "sxa", "type", "veth", "peer", "name", "sxb"},
		{"-n", name, "addr", "add", "10.78.0.1/24", "dev", "sxa"},
		{"-n", name, "addr", "add", "fd00:78::1/64", "dev", "sxa", "nodad"},
		{"-n", name, "link", "set", "sxa", "up"},
		{"-n", name, "link", "set", "sxb", "up"},
	} {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return name, "/run/netns/" + name
}

// nft loads ruleset into namespace ns.
func nft(t *testing.T, ns, ruleset string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s\n%s", err, out, ruleset)
	}
}

// listenIn opens a TCP listener on addr inside the namespace at path.
func listenIn(t *testing.T, path, addr string) *net.TCPListener {
	t.Helper()
	var ln net.Listener
	if err := testpeer.InNS(path, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.(*net.TCPListener)
}

// acceptedFrom dials addr inside the namespace and returns the
// connection ln accepted for it.
func acceptedFrom(t *testing.T, path string, ln *net.TCPListener, addr string) *net.TCPConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := testpeer.DialIn(ctx, path, "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	ln.SetDeadline(time.Now().Add(10 * time.Second))
	a, err := ln.AcceptTCP()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestOriginalDestination(t *testing.T) {
	ns, path := redirectNS(t)
	ln4 := listenIn(t, path, "127.0.0.1:0")
	ln6 := listenIn(t, path, "[::1]:0")
	p4, p6 := ln4.Addr().(*net.TCPAddr).Port, ln6.Addr().(*net.TCPAddr).Port
	nft(t, ns, fmt.Sprintf(`table inet redirect_test {
	chain out {
		type nat hook output priority -100; policy accept;
		ip daddr 10.78.0.2 tcp dport 8021 redirect to :%d
		ip6 daddr fd00:78::2 tcp dport 8021 redirect to :%d
	}
}
`, p4, p6))
	tests := []struct {
		name string
		ln   *net.TCPListener
		dial string
		want string
	}{
		{"ipv4", ln4, "10.78.0.2:8021", "10.78.0.2:8021"},
		{"ipv6", ln6, "[fd00:78::2]:8021", "[fd00:78::2]:8021"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := acceptedFrom(t, path, tc.ln, tc.dial)
			got, err := OriginalDestination(c)
			if err != nil {
				t.Fatal(err)
			}
			if got != netip.MustParseAddrPort(tc.want) {
				t.Fatalf("original destination %s, want %s", got, tc.want)
			}
		})
	}
	// Not redirected: the kernel gives the listener's own address (the
	// caller's loop check then refuses it) or nothing.
	t.Run("not-redirected", func(t *testing.T) {
		c := acceptedFrom(t, path, ln4, ln4.Addr().String())
		got, err := OriginalDestination(c)
		if err != nil && !errors.Is(err, ErrNoOriginal) {
			t.Fatal(err)
		}
		if err == nil && got != ln4.Addr().(*net.TCPAddr).AddrPort() {
			t.Fatalf("a connection that was not redirected has original destination %s", got)
		}
	})
}

func TestListenTransparent(t *testing.T) {
	_, path := redirectNS(t)
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		var ln net.Listener
		if err := testpeer.InNS(path, func() (err error) { ln, err = ListenTransparent(context.Background(), addr); return err }); err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		rc, err := ln.(*net.TCPListener).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var v int
		var gerr error
		rc.Control(func(fd uintptr) {
			if strings.HasPrefix(addr, "[") {
				v, gerr = unix.GetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_TRANSPARENT)
			} else {
				v, gerr = unix.GetsockoptInt(int(fd), unix.SOL_IP, unix.IP_TRANSPARENT)
			}
		})
		if gerr != nil || v != 1 {
			t.Fatalf("%s: transparent option %d: %v", addr, v, gerr)
		}
	}
}

func TestParseSockaddr(t *testing.T) {
	b := make([]byte, 16)
	binary.NativeEndian.PutUint16(b, unix.AF_INET)
	b[2], b[3] = 0x1f, 0x90 // 8080
	copy(b[4:8], []byte{10, 1, 2, 3})
	got, err := parseSockaddrIn(b)
	if err != nil || got != netip.MustParseAddrPort("10.1.2.3:8080") {
		t.Fatalf("sockaddr_in: %s %v", got, err)
	}
	binary.NativeEndian.PutUint16(b, unix.AF_INET6)
	if _, err := parseSockaddrIn(b); err == nil {
		t.Fatal("a sockaddr of another family was taken for IPv4")
	}
	var sa unix.RawSockaddrInet6
	sa.Family = unix.AF_INET6
	var pb [2]byte
	pb[0], pb[1] = 0x00, 0x15 // 21 in network order
	sa.Port = binary.NativeEndian.Uint16(pb[:])
	sa.Addr = netip.MustParseAddr("fd00::5").As16()
	got, err = parseSockaddrIn6(sa)
	if err != nil || got != netip.MustParseAddrPort("[fd00::5]:21") {
		t.Fatalf("sockaddr_in6: %s %v", got, err)
	}
	sa.Addr = netip.MustParseAddr("::ffff:10.0.0.9").As16()
	if got, _ = parseSockaddrIn6(sa); got != netip.MustParseAddrPort("10.0.0.9:21") {
		t.Fatalf("a mapped address is returned as %s", got)
	}
}

func TestPeerIsSelf(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tl := ln.(*net.TCPListener)
	accept := func() *net.TCPConn {
		tl.SetDeadline(time.Now().Add(10 * time.Second))
		c, err := tl.AcceptTCP()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// A connection of this process.
	own, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if self, err := PeerIsSelf(accept()); err != nil || !self {
		t.Fatalf("a connection from this process: self %v, %v", self, err)
	}
	// A connection of another process: bash holds it until its stdin ends.
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	cmd := exec.Command("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/"+port+"; read -r _")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	if self, err := PeerIsSelf(accept()); err != nil || self {
		t.Fatalf("a connection from another process: self %v, %v", self, err)
	}
}

func TestParseProcAddr(t *testing.T) {
	var w [4]byte
	binary.NativeEndian.PutUint32(w[:], binary.BigEndian.Uint32([]byte{127, 0, 0, 1}))
	v4 := fmt.Sprintf("%08X", binary.BigEndian.Uint32(w[:]))
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{v4 + ":1F90", "127.0.0.1:8080", true},
		{"00000000000000000000000001000000:0015", "[::1]:21", binary.NativeEndian.Uint16([]byte{1, 0}) == 1},
		{"0100007F", "", false},
		{"XYZ0007F:0015", "", false},
		{"0100007F:XYZ", "", false},
	}
	for _, tc := range tests {
		got, ok := parseProcAddr(tc.in)
		if !tc.ok {
			if ok && tc.want == "" {
				t.Errorf("%q: parsed as %s", tc.in, got)
			}
			continue
		}
		if !ok || got.String() != tc.want {
			t.Errorf("%q: %s %v, want %s", tc.in, got, ok, tc.want)
		}
	}
}
