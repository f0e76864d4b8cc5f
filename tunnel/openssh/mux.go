package openssh

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Mux protocol message types, from OpenSSH's mux.c (PROTOCOL.mux lists the
// same numbers but omits MUX_C_PROXY and the "info" extension).
const (
	muxMsgHello          = 0x00000001
	muxCAliveCheck       = 0x10000004
	muxCTerminate        = 0x10000005
	muxCNewStdioFwd      = 0x10000008
	muxCStopListening    = 0x10000009
	muxSOK               = 0x80000001
	muxSPermissionDenied = 0x80000002
	muxSFailure          = 0x80000003
	muxSExitMessage      = 0x80000004
	muxSAlive            = 0x80000005
	muxSSessionOpened    = 0x80000006
	muxSTTYAllocFail     = 0x80000008

	// muxVersion is the only protocol version mux.c accepts (SSHMUX_VER).
	muxVersion = 4
	// maxMuxPacket bounds a reply's length; the master's replies are small.
	maxMuxPacket = 256 * 1024
)

// Sentinel errors of the mux protocol; the typed errors below wrap them.
var (
	// ErrMuxDenied: the master answered MUX_S_PERMISSION_DENIED.
	ErrMuxDenied = errors.New("openssh: master denied the request")
	// ErrMuxFailure: the master answered MUX_S_FAILURE.
	ErrMuxFailure = errors.New("openssh: master refused the request")
	// ErrMuxProtocol: the master sent something the protocol does not allow.
	ErrMuxProtocol = errors.New("openssh: mux protocol error")
	// ErrMasterGone: the master does not answer on its control socket (it
	// exited or was killed).
	ErrMasterGone = errors.New("openssh: master gone")
	// ErrForwardRefused: the SSH server refused the forward's direct-tcpip
	// channel (the master says "Session open refused by peer").
	ErrForwardRefused = errors.New("openssh: forward channel refused")
	// ErrForwardClosed: the forward was ended by Fwd.Close.
	ErrForwardClosed = errors.New("openssh: forward closed")
	// ErrInputDropped: the forward ended with bytes the client sent still
	// unread. OpenSSH's stdio forward stops reading the client once the
	// destination has closed its side (channels.c force_drain), so a
	// client still sending then loses the rest; the destination has seen
	// an end of data already.
	ErrInputDropped = errors.New("openssh: the destination closed its side first, and ssh stopped reading the client's bytes")
)

// MuxError is a refusal by the master: MUX_S_PERMISSION_DENIED or
// MUX_S_FAILURE with the master's reason.
type MuxError struct {
	Op     string // the request: "stdio forward", "alive check", ...
	Denied bool   // MUX_S_PERMISSION_DENIED (else MUX_S_FAILURE)
	Reason string // the master's text, e.g. "Session open refused by peer"
	Detail string // the master's log line about it, when one was seen (may be empty)
}

// Error shows the request and the master's reason.
func (e *MuxError) Error() string {
	s := fmt.Sprintf("openssh: %s: master answered %q", e.Op, e.Reason)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Unwrap returns ErrMuxDenied or ErrMuxFailure, and ErrForwardRefused when
// the SSH server refused the forward's channel.
func (e *MuxError) Unwrap() []error {
	if e.Denied {
		return []error{ErrMuxDenied}
	}
	if e.Reason == reasonChannelRefused {
		return []error{ErrMuxFailure, ErrForwardRefused}
	}
	return []error{ErrMuxFailure}
}

// reasonChannelRefused is mux.c's text when the channel open failed
// (mux_stdio_confirm). The master does not pass on the server's reason code.
const reasonChannelRefused = "Session open refused by peer"

// muxConn is one connection to a master's control socket after the hello
// exchange. It is not safe for concurrent requests.
type muxConn struct {
	c   *net.UnixConn
	rid uint32
}

// dialMux connects to the control socket and exchanges MUX_MSG_HELLO. The
// master sends its hello at once (with an "info" extension since OpenSSH
// 10.3; extensions are skipped); mux.c refuses any version but 4.
func dialMux(ctx context.Context, path string) (*muxConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("openssh: control socket: %w", errors.Join(ErrMasterGone, err))
	}
	m := &muxConn{c: c.(*net.UnixConn)}
	err = m.bounded(ctx, func() error {
		var b packet
		b.u32(muxMsgHello)
		b.u32(muxVersion)
		if err := m.write(b); err != nil {
			return err
		}
		p, err := m.read()
		if err != nil {
			return err
		}
		typ, ver := p.u32(), p.u32()
		for len(p.b) > 0 && p.err == nil { // extensions: name, value
			p.str()
			p.str()
		}
		if p.err != nil || typ != muxMsgHello {
			return fmt.Errorf("%w: bad hello (type %#x)", ErrMuxProtocol, typ)
		}
		if ver != muxVersion {
			return fmt.Errorf("%w: master speaks version %d, want %d", ErrMuxProtocol, ver, muxVersion)
		}
		return nil
	})
	if err != nil {
		m.c.Close()
		return nil, fmt.Errorf("openssh: hello: %w", err)
	}
	return m, nil
}

// bounded runs f with the connection's deadline set from ctx; a cancelled
// ctx interrupts f, and f's timeout then reads as ctx's error.
func (m *muxConn) bounded(ctx context.Context, f func() error) error {
	if dl, ok := ctx.Deadline(); ok {
		m.c.SetDeadline(dl) //nolint:errcheck
	}
	stop := context.AfterFunc(ctx, func() { m.c.SetDeadline(time.Unix(1, 0)) }) //nolint:errcheck
	err := f()
	stop()
	m.c.SetDeadline(time.Time{}) //nolint:errcheck
	return ctxErr(ctx, err)
}

// ctxErr adds ctx's error to err when ctx ended it. A connection deadline
// set from ctx's may fire before ctx itself reports it.
func ctxErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return errors.Join(cerr, err)
	}
	if dl, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(dl) {
		return errors.Join(context.DeadlineExceeded, err)
	}
	return err
}

func (m *muxConn) close() error { return m.c.Close() }

func (m *muxConn) nextID() uint32 {
	id := m.rid
	m.rid++
	return id
}

// write sends one packet: u32 length, then the body.
func (m *muxConn) write(p packet) error {
	buf := make([]byte, 4, 4+len(p.b))
	binary.BigEndian.PutUint32(buf, uint32(len(p.b)))
	_, err := m.c.Write(append(buf, p.b...))
	return err
}

// read reads one packet's body.
func (m *muxConn) read() (*reader, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(m.c, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 4 || n > maxMuxPacket {
		return nil, fmt.Errorf("%w: packet length %d", ErrMuxProtocol, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(m.c, b); err != nil {
		return nil, err
	}
	return &reader{b: b}, nil
}

// reply reads the answer to request rid and returns its type and the rest
// of the body; MUX_S_PERMISSION_DENIED and MUX_S_FAILURE become *MuxError.
func (m *muxConn) reply(op string, rid uint32) (uint32, *reader, error) {
	p, err := m.read()
	if err != nil {
		return 0, nil, err
	}
	typ, id := p.u32(), p.u32()
	if p.err != nil {
		return 0, nil, fmt.Errorf("%w: short reply", ErrMuxProtocol)
	}
	if id != rid {
		return 0, nil, fmt.Errorf("%w: reply to request %d, want %d", ErrMuxProtocol, id, rid)
	}
	switch typ {
	case muxSPermissionDenied, muxSFailure:
		reason := p.str()
		return typ, p, &MuxError{Op: op, Denied: typ == muxSPermissionDenied, Reason: reason}
	}
	return typ, p, nil
}

// simple sends a request that has only a request id and returns the reply.
func (m *muxConn) simple(ctx context.Context, op string, typ uint32) (uint32, *reader, error) {
	var (
		rtyp uint32
		rp   *reader
	)
	err := m.bounded(ctx, func() error {
		rid := m.nextID()
		var b packet
		b.u32(typ)
		b.u32(rid)
		if err := m.write(b); err != nil {
			return err
		}
		var err error
		rtyp, rp, err = m.reply(op, rid)
		return err
	})
	return rtyp, rp, err
}

// aliveCheck sends MUX_C_ALIVE_CHECK and returns the master's PID.
func (m *muxConn) aliveCheck(ctx context.Context) (int, error) {
	typ, p, err := m.simple(ctx, "alive check", muxCAliveCheck)
	if err != nil {
		return 0, fmt.Errorf("openssh: alive check: %w", err)
	}
	pid := p.u32()
	if typ != muxSAlive || p.err != nil {
		return 0, fmt.Errorf("openssh: alive check: %w: reply type %#x", ErrMuxProtocol, typ)
	}
	return int(pid), nil
}

// expectOK sends a request answered by MUX_S_OK (terminate, stop listening).
// A master that exits at once after MUX_C_TERMINATE may close before its
// reply arrives (mux.c: "exit happens too soon"): EOF counts as done there.
func (m *muxConn) expectOK(ctx context.Context, op string, typ uint32) error {
	rtyp, _, err := m.simple(ctx, op, typ)
	if err != nil {
		if typ == muxCTerminate && errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("openssh: %s: %w", op, err)
	}
	if rtyp != muxSOK {
		return fmt.Errorf("openssh: %s: %w: reply type %#x", op, ErrMuxProtocol, rtyp)
	}
	return nil
}

// stdioFwd sends MUX_C_NEW_STDIO_FWD for host:port and then the socket's
// descriptor twice, as the forward's stdin and stdout. Fields as mux.c reads
// them (PROTOCOL.mux's text differs): u32 type, u32 request id, string
// reserved, string host, u32 port (the text says "string connect port").
// Each descriptor travels in its own sendmsg with one data byte, as
// mm_receive_fd takes one per call. It returns the master's channel id from
// MUX_S_SESSION_OPENED, which the master sends once the SSH server has
// confirmed the direct-tcpip channel (it reads no other request meanwhile).
func (m *muxConn) stdioFwd(ctx context.Context, host string, port int, sock syscall.Conn) (uint32, error) {
	var sid uint32
	err := m.bounded(ctx, func() error {
		rid := m.nextID()
		var b packet
		b.u32(muxCNewStdioFwd)
		b.u32(rid)
		b.str("") // reserved
		b.str(host)
		b.u32(uint32(port))
		if err := m.write(b); err != nil {
			return err
		}
		if err := m.sendFD(sock); err != nil {
			return err
		}
		typ, p, err := m.reply("stdio forward", rid)
		if err != nil {
			return err
		}
		sid = p.u32()
		if typ != muxSSessionOpened || p.err != nil {
			return fmt.Errorf("%w: reply type %#x", ErrMuxProtocol, typ)
		}
		return nil
	})
	if err != nil {
		addr := net.JoinHostPort(host, fmt.Sprint(port))
		var me *MuxError
		if errors.As(err, &me) {
			me.Op = "stdio forward to " + addr
			return 0, me
		}
		return 0, fmt.Errorf("openssh: stdio forward to %s: %w", addr, err)
	}
	return sid, nil
}

// sendFD passes sock's descriptor twice (stdin, stdout), one per sendmsg.
func (m *muxConn) sendFD(sock syscall.Conn) error {
	rc, err := sock.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		rights := unix.UnixRights(int(fd))
		for i := 0; i < 2 && serr == nil; i++ {
			_, _, serr = m.c.WriteMsgUnix([]byte{0}, rights, nil)
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("pass descriptor: %w", serr)
	}
	return nil
}

// packet builds a message body in SSH wire format.
type packet struct{ b []byte }

func (p *packet) u32(v uint32) { p.b = binary.BigEndian.AppendUint32(p.b, v) }

func (p *packet) str(s string) {
	p.u32(uint32(len(s)))
	p.b = append(p.b, s...)
}

func (p *packet) bytes(b []byte) {
	p.u32(uint32(len(b)))
	p.b = append(p.b, b...)
}

// reader parses a message body; the first short read sets err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) u32() uint32 {
	if r.err != nil || len(r.b) < 4 {
		r.err = io.ErrUnexpectedEOF
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) str() string {
	n := r.u32()
	if r.err != nil || uint32(len(r.b)) < n {
		r.err = io.ErrUnexpectedEOF
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
