// Package syslog sends records to a syslog receiver as RFC 5424 messages,
// each with one structured-data element: over the local socket (/dev/log),
// UDP (one datagram a record, RFC 5426) or TCP (octet-counting framing,
// RFC 6587). It imports nothing of the project, so that config can check
// the settings with the same parsers. (The library that its tests parse
// with, github.com/leodido/go-syslog, builds messages too, but drops
// parameter values that need escaping.)
//
// A record that cannot be sent is reported to the caller and not queued:
// Send tries once more on a new connection, then gives up.
package syslog

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Severities of RFC 5424 that socksd uses.
const (
	Warning = 4
	Info    = 6
)

// LocalSocket is the local syslog socket that the address "local" names.
const LocalSocket = "/dev/log"

// Address is where a Writer sends: Network is "unix" (the local socket,
// a datagram socket, else a stream one), "udp" or "tcp".
type Address struct {
	Network string
	Addr    string // a path for unix, host:port otherwise
}

// String gives the address in the form ParseAddress reads.
func (a Address) String() string {
	if a.Network == "unix" {
		return "unix:" + a.Addr
	}
	return a.Network + "://" + a.Addr
}

// ParseAddress reads a receiver's address: "local" (the local socket
// /dev/log), "unix:PATH", "udp://HOST[:PORT]" or "tcp://HOST[:PORT]"; the
// port defaults to 514.
func ParseAddress(s string) (Address, error) {
	if s == "local" {
		return Address{"unix", LocalSocket}, nil
	}
	if path, ok := strings.CutPrefix(s, "unix:"); ok {
		path = strings.TrimPrefix(path, "//")
		if !strings.HasPrefix(path, "/") {
			return Address{}, fmt.Errorf("syslog: %q: a unix socket needs an absolute path", s)
		}
		return Address{"unix", path}, nil
	}
	scheme, hostport, ok := strings.Cut(s, "://")
	if !ok || (scheme != "udp" && scheme != "tcp") {
		return Address{}, fmt.Errorf("syslog: %q: want local, unix:PATH, udp://HOST[:PORT] or tcp://HOST[:PORT]", s)
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port: the whole is the host (an IPv6 literal in brackets too).
		host, port = hostport, "514"
		if h, ok := strings.CutPrefix(host, "["); ok && strings.HasSuffix(h, "]") {
			host = strings.TrimSuffix(h, "]")
			if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
				return Address{}, fmt.Errorf("syslog: %q: %q is not an IPv6 address", s, host)
			}
		}
	}
	if !validHost(host) {
		return Address{}, fmt.Errorf("syslog: %q: %q is not a host name or an IP address", s, host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return Address{}, fmt.Errorf("syslog: %q: bad port %q", s, port)
	}
	return Address{scheme, net.JoinHostPort(host, port)}, nil
}

// validHost tells whether h is an IP address or a host name (letters,
// digits, '-', '_' and '.').
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// facilities are the facility names of RFC 5424 and syslog(3), by code.
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
	"lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"ntp": 12, "security": 13, "console": 14, "solaris-cron": 15,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// ParseFacility gives the code of a facility name such as "local0" or
// "authpriv".
func ParseFacility(name string) (int, error) {
	if f, ok := facilities[name]; ok {
		return f, nil
	}
	return 0, fmt.Errorf("syslog: unknown facility %q (want a name such as daemon, authpriv or local0 to local7)", name)
}

// CheckAppName checks an APP-NAME: 1 to 48 printable ASCII characters, no
// space.
func CheckAppName(s string) error {
	if len(s) < 1 || len(s) > 48 || !printable(s, "") {
		return fmt.Errorf("syslog: app name %q: want 1 to 48 printable ASCII characters without spaces", s)
	}
	return nil
}

// CheckSDID checks a structured-data element ID: NAME@NUMBER with a
// private enterprise number (such as the default "socksd@32473"), 1 to 32
// printable ASCII characters without '=', ' ', ']' or '"'. IDs without
// '@' are reserved to the IETF and refused.
func CheckSDID(s string) error {
	name, pen, ok := strings.Cut(s, "@")
	if !ok || len(s) > 32 || name == "" || !printable(s, "=]\"") || strings.Contains(pen, "@") || !digits(pen) {
		return fmt.Errorf("syslog: structured-data ID %q: want NAME@NUMBER (a private enterprise number), at most 32 characters, without '=', ']', '\"' or spaces", s)
	}
	return nil
}

func printable(s, except string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 || strings.IndexByte(except, s[i]) >= 0 {
			return false
		}
	}
	return true
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Options configure a Writer; ParseAddress, ParseFacility, CheckAppName
// and CheckSDID check their parts.
type Options struct {
	Address  Address
	Facility int
	AppName  string
	SDID     string // the structured-data element's ID
	// Hostname is the HOSTNAME field; "" takes os.Hostname.
	Hostname string
	// Timeout bounds each connect and write; 0 means 5 seconds.
	Timeout time.Duration
}

// Record is one message: its severity, MSGID, the structured-data
// element's parameters and the free-form MSG.
type Record struct {
	Severity int
	MsgID    string
	Params   map[string]string
	Msg      string
	Time     time.Time // zero: now
}

// Writer sends records to one receiver. Its methods may be called from
// several goroutines at once; each Send is written whole, one at a time.
type Writer struct {
	opt Options
	pid string

	mu     sync.Mutex
	conn   net.Conn
	stream bool // the connection is a stream: frame each message
	octets bool // frame by octet counting (TCP), else by a trailing LF (a unix stream)
}

// New returns a Writer; it connects at the first Send.
func New(opt Options) *Writer {
	if opt.Hostname == "" {
		opt.Hostname, _ = os.Hostname()
	}
	if opt.Timeout == 0 {
		opt.Timeout = 5 * time.Second
	}
	return &Writer{opt: opt, pid: strconv.Itoa(os.Getpid())}
}

// Format builds the RFC 5424 message of r, without framing: the header,
// one structured-data element with r.Params in the order of their names
// (names cut to the 32 characters allowed, a character not allowed in a
// name replaced by '_'; '"', '\' and ']' in values escaped with '\'),
// then r.Msg as MSG (without a BOM, which many receivers mishandle).
func (w *Writer) Format(r Record) string {
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<%d>1 %s %s %s %s %s ", w.opt.Facility*8+r.Severity,
		t.UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
		headerField(w.opt.Hostname, 255), headerField(w.opt.AppName, 48), w.pid, headerField(r.MsgID, 32))
	if len(r.Params) == 0 {
		b.WriteString("-")
	} else {
		names := make([]string, 0, len(r.Params))
		for k := range r.Params {
			names = append(names, k)
		}
		sort.Strings(names)
		b.WriteString("[" + w.opt.SDID)
		for _, k := range names {
			b.WriteString(" " + paramName(k) + `="` + escaper.Replace(r.Params[k]) + `"`)
		}
		b.WriteString("]")
	}
	if r.Msg != "" {
		b.WriteString(" " + r.Msg)
	}
	return b.String()
}

// escaper escapes a PARAM-VALUE (RFC 5424 section 6.3.3).
var escaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`)

// headerField gives a header field: printable ASCII, at most max long, "-"
// (the nil value) when empty or not printable.
func headerField(s string, max int) string {
	if s == "" || len(s) > max || !printable(s, "") {
		return "-"
	}
	return s
}

// paramName makes an SD-NAME of k: at most 32 characters, printable ASCII
// but '=', ' ', ']' and '"', which become '_'.
func paramName(k string) string {
	if len(k) > 32 {
		k = k[:32]
	}
	if k == "" {
		return "_"
	}
	b := []byte(k)
	for i, c := range b {
		if c < 33 || c > 126 || c == '=' || c == ']' || c == '"' {
			b[i] = '_'
		}
	}
	return string(b)
}

// Send writes one record. On a failure it tries once more on a new
// connection (a TCP receiver may have restarted); a record that still
// cannot be sent is dropped and the error returned.
func (w *Writer) Send(r Record) error {
	text := w.Format(r)
	w.mu.Lock()
	defer w.mu.Unlock()
	for try := 0; ; try++ {
		err := w.write(text)
		if err == nil {
			return nil
		}
		w.closeConn()
		if try == 1 {
			return fmt.Errorf("syslog: send to %s: %w", w.opt.Address, err)
		}
	}
}

// write sends text on the connection, connecting first if needed.
func (w *Writer) write(text string) error {
	if w.conn != nil && w.octets && peerClosed(w.conn) {
		w.closeConn()
	}
	if w.conn == nil {
		if err := w.connect(); err != nil {
			return err
		}
	}
	b := []byte(text)
	switch {
	case w.octets:
		b = append([]byte(strconv.Itoa(len(b))+" "), b...)
	case w.stream:
		b = append(b, '\n')
	}
	if err := w.conn.SetWriteDeadline(time.Now().Add(w.opt.Timeout)); err != nil {
		return err
	}
	_, err := w.conn.Write(b)
	return err
}

// peerClosed tells whether a TCP receiver has closed or reset the
// connection, without waiting: a write would still succeed once and its
// record be lost, as RFC 6587 has no acknowledgement. (A Read with a past
// deadline would not even look: it peeks at the socket instead.)
func peerClosed(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = (n == 0 && err == nil) || (err != nil && err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR)
		return true // never wait for the socket
	})
	return closed || err != nil
}

// connect dials the receiver. The local socket is tried as a datagram
// socket, then as a stream socket, as syslog(3) does.
func (w *Writer) connect() error {
	a := w.opt.Address
	d := net.Dialer{Timeout: w.opt.Timeout}
	var err error
	switch a.Network {
	case "unix":
		if w.conn, err = d.Dial("unixgram", a.Addr); err == nil {
			w.stream, w.octets = false, false
			return nil
		}
		var err2 error
		if w.conn, err2 = d.Dial("unix", a.Addr); err2 == nil {
			w.stream, w.octets = true, false
			return nil
		}
		return errors.Join(err, err2)
	case "udp":
		w.conn, err = d.Dial("udp", a.Addr)
		w.stream, w.octets = false, false
	case "tcp":
		w.conn, err = d.Dial("tcp", a.Addr)
		w.stream, w.octets = true, true
	default:
		err = fmt.Errorf("unknown network %q", a.Network)
	}
	return err
}

func (w *Writer) closeConn() {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// Close closes the connection; a later Send connects again.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closeConn()
	return nil
}
