package capture

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ip6tSoOriginalDst is IP6T_SO_ORIGINAL_DST of linux/netfilter_ipv6/
// ip6_tables.h, read at level SOL_IPV6; x/sys has no constant for it.
const ip6tSoOriginalDst = 80

func originalDestination(c *net.TCPConn) (netip.AddrPort, error) {
	la, ok := c.LocalAddr().(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, errors.New("capture: original destination: not a TCP connection")
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("capture: original destination: %w", err)
	}
	v6 := la.IP.To4() == nil
	var ap netip.AddrPort
	var gerr error
	err = rc.Control(func(fd uintptr) {
		ap, gerr = getOriginalDst(int(fd), v6)
	})
	if err == nil {
		err = gerr
	}
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return netip.AddrPort{}, ErrNoOriginal
		}
		return netip.AddrPort{}, fmt.Errorf("capture: original destination: %w", err)
	}
	return ap, nil
}

// getOriginalDst reads the original destination of socket fd: a struct
// sockaddr_in for IPv4, a struct sockaddr_in6 for IPv6 (the port in
// network order in both).
func getOriginalDst(fd int, v6 bool) (netip.AddrPort, error) {
	if !v6 {
		// SO_ORIGINAL_DST fills a sockaddr_in, which has the size of
		// struct ipv6_mreq: the x/sys helper for that size reads it.
		m, err := unix.GetsockoptIPv6Mreq(fd, unix.SOL_IP, unix.SO_ORIGINAL_DST)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("getsockopt SO_ORIGINAL_DST: %w", err)
		}
		return parseSockaddrIn(m.Multiaddr[:])
	}
	// IP6T_SO_ORIGINAL_DST fills a sockaddr_in6, the head of struct
	// ip6_mtuinfo: the x/sys helper for that struct reads it.
	m, err := unix.GetsockoptIPv6MTUInfo(fd, unix.SOL_IPV6, ip6tSoOriginalDst)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("getsockopt IP6T_SO_ORIGINAL_DST: %w", err)
	}
	return parseSockaddrIn6(m.Addr)
}

// parseSockaddrIn decodes a struct sockaddr_in: family (host order), port
// and address (network order).
func parseSockaddrIn(b []byte) (netip.AddrPort, error) {
	if len(b) < 8 || binary.NativeEndian.Uint16(b[0:2]) != unix.AF_INET {
		return netip.AddrPort{}, errors.New("getsockopt SO_ORIGINAL_DST: not an IPv4 address")
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:4])), nil
}

// parseSockaddrIn6 decodes a struct sockaddr_in6, whose port is in
// network order.
func parseSockaddrIn6(sa unix.RawSockaddrInet6) (netip.AddrPort, error) {
	if sa.Family != unix.AF_INET6 {
		return netip.AddrPort{}, errors.New("getsockopt IP6T_SO_ORIGINAL_DST: not an IPv6 address")
	}
	var port [2]byte
	binary.NativeEndian.PutUint16(port[:], sa.Port)
	return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), binary.BigEndian.Uint16(port[:])), nil
}

func listenTransparent(ctx context.Context, addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if network == "tcp6" {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_TRANSPARENT, 1)
				return
			}
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_TRANSPARENT, 1)
		})
		if err != nil {
			return err
		}
		if serr != nil {
			if errors.Is(serr, unix.EPERM) {
				return fmt.Errorf("IP_TRANSPARENT needs CAP_NET_ADMIN: %w", serr)
			}
			return fmt.Errorf("IP_TRANSPARENT: %w", serr)
		}
		return nil
	}}
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("capture: transparent listener %s: %w", addr, err)
	}
	return ln, nil
}

func peerIsSelf(c *net.TCPConn) (bool, error) {
	ra, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return false, errors.New("capture: peer lookup: not a TCP connection")
	}
	peer := ra.AddrPort()
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	var inode, uid string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		ino, u, err := socketInode(table, peer)
		if err != nil {
			return false, fmt.Errorf("capture: peer lookup: %w", err)
		}
		if ino != "" {
			inode, uid = ino, u
			break
		}
	}
	if inode == "" {
		return false, nil // not a socket of this host (in this namespace)
	}
	if uid != strconv.Itoa(os.Geteuid()) {
		// Another user's socket (a captured command's, as a rule): not
		// one of this process's, and its descriptors need no search.
		return false, nil
	}
	want := "socket:[" + inode + "]"
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return false, fmt.Errorf("capture: peer lookup: %w", err)
	}
	for _, fd := range fds {
		if l, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && l == want {
			return true, nil
		}
	}
	return false, nil
}

// maxProcLines bounds the rows read from one /proc/net table.
const maxProcLines = 1 << 20

// socketInode returns the inode and owner uid of the connected socket
// whose local address is local in a /proc/net/tcp or tcp6 table, or "".
func socketInode(table string, local netip.AddrPort) (inode, uid string, err error) {
	f, err := os.Open(table)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", "", nil // no IPv6 in this kernel
		}
		return "", "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 0; sc.Scan() && n < maxProcLines; n++ {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] == "0A" { // 0A: LISTEN
			continue
		}
		if ap, ok := parseProcAddr(fields[1]); ok && ap == local {
			return fields[9], fields[7], nil
		}
	}
	return "", "", sc.Err()
}

// parseProcAddr decodes an address of /proc/net/tcp ("0100007F:1F90"):
// the address as 32-bit words in host order, the port in hex.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok || (len(h) != 8 && len(h) != 32) {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(h)
	port, perr := strconv.ParseUint(p, 16, 16)
	if err != nil || perr != nil {
		return netip.AddrPort{}, false
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), true
}
