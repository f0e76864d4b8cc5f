package ftp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"socksd/internal/relay"
)

// Broker lets data connections that arrive as separate SOCKS requests join
// their control session. One Broker serves all sessions of a daemon; it is
// safe for concurrent use. The daemon offers it each SOCKS CONNECT and
// BIND ([Broker.Claim]); how sessions pair their data connections stays
// inside this package.
type Broker struct {
	mu       sync.Mutex
	controls []*control
	passive  []passiveReg
	binds    []bindReg
}

// control is one logged-in FTP session as the broker sees it: what a data
// request is matched against. It holds no reference to the session.
type control struct {
	client netip.Addr // the job's address
	host   string     // the control host, as the job named it
	local  netip.Addr // the daemon's address on the control connection
	active bool       // the rule allows active mode (SOCKS BIND)
	deps   *dataDeps  // for the data connection of a BIND
}

// passiveReg is a passive data connection waiting for a SOCKS CONNECT from
// its job to any of hosts with port.
type passiveReg struct {
	owner *control
	hosts []string
	port  uint16
	d     *dataConn
}

// bindReg is a SOCKS BIND waiting for the PORT/EPRT of its session that
// names addr (invalid until the BIND listens).
type bindReg struct {
	owner *control
	addr  netip.AddrPort
	d     *dataConn
}

// NewBroker returns an empty Broker.
func NewBroker() *Broker { return &Broker{} }

// join makes c's session reachable for data requests.
func (b *Broker) join(c *control) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.controls = append(b.controls, c)
}

// leave removes c and every registration of its session; BINDs still
// waiting for their PORT/EPRT end.
func (b *Broker) leave(c *control) {
	b.mu.Lock()
	b.controls = deleteFunc(b.controls, func(x *control) bool { return x == c })
	b.passive = deleteFunc(b.passive, func(r passiveReg) bool { return r.owner == c })
	var ended []*dataConn
	b.binds = deleteFunc(b.binds, func(r bindReg) bool {
		if r.owner == c {
			ended = append(ended, r.d)
		}
		return r.owner == c
	})
	b.mu.Unlock()
	for _, d := range ended {
		d.fail(errDataSessionEnd)
	}
}

// expect makes the passive connection d reachable by a SOCKS CONNECT from
// c's job to any of hosts with port.
func (b *Broker) expect(c *control, d *dataConn, hosts []string, port uint16) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.passive = append(b.passive, passiveReg{owner: c, hosts: hosts, port: port, d: d})
}

// withdraw removes d from the broker's tables.
func (b *Broker) withdraw(d *dataConn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.passive = deleteFunc(b.passive, func(r passiveReg) bool { return r.d == d })
	b.binds = deleteFunc(b.binds, func(r bindReg) bool { return r.d == d })
}

// listening records the address a BIND listens on.
func (b *Broker) listening(d *dataConn, addr netip.AddrPort) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.binds {
		if b.binds[i].d == d {
			b.binds[i].addr = addr
		}
	}
}

// takeBind removes and returns the waiting BIND of c's session that
// listens at ap (the address the daemon gave in the first BIND reply), or
// nil. A BIND that listens on the unspecified address, or a PORT naming
// the daemon's own address, matches by port.
func (b *Broker) takeBind(c *control, ap netip.AddrPort) *dataConn {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.binds) - 1; i >= 0; i-- {
		r := b.binds[i]
		la := r.addr
		if r.owner != c || !la.IsValid() || la.Port() != ap.Port() {
			continue
		}
		if la.Addr() == ap.Addr() || la.Addr().IsUnspecified() || ap.Addr() == c.local {
			b.binds = append(b.binds[:i], b.binds[i+1:]...)
			return r.d
		}
	}
	return nil
}

// deleteFunc removes the elements for which del is true, in place, and
// clears the tail so that nothing stays referenced.
func deleteFunc[T any](s []T, del func(T) bool) []T {
	out := s[:0]
	for _, x := range s {
		if !del(x) {
			out = append(out, x)
		}
	}
	clear(s[len(out):])
	return out
}

// sameHost compares host names case-insensitively and addresses by value.
func sameHost(a, b string) bool {
	a = strings.TrimSuffix(strings.Trim(a, "[]"), ".")
	b = strings.TrimSuffix(strings.Trim(b, "[]"), ".")
	if strings.EqualFold(a, b) {
		return true
	}
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	return err1 == nil && err2 == nil && x.Unmap() == y.Unmap()
}

// DataRequest is a SOCKS request that may be a data connection of a live
// FTP session.
type DataRequest struct {
	Bind   bool           // a SOCKS BIND (active mode); false: a CONNECT (passive mode)
	Client netip.Addr     // the job's address
	Local  netip.AddrPort // the daemon's address the job reached: a CONNECT's reply names it, a BIND listens on its host
	Host   string         // the destination the request names, unresolved
	Port   uint16
}

// Claim offers a SOCKS request to the live FTP sessions and reports
// whether one takes it. ok is false when none does; the daemon then
// handles the request by its rules. A claimed request must be served
// ([DataLink.Serve]), which also answers it.
//
// A CONNECT is taken by the newest passive reply of a session of the same
// client that it matches: the host is the 227 address, the control host
// (by the name or address the job used for the control connection, as
// curl sends it), or socksd's own rewrite address, and the port the one
// the job was given. Each reply is taken once.
//
// A BIND is taken by the newest logged-in session of the same client whose
// control connection goes to the host named (by name or address) and whose
// rule allows active mode; it then waits for that session's PORT/EPRT.
func (b *Broker) Claim(r DataRequest) (link *DataLink, ok bool) {
	client := r.Client.Unmap()
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.Bind {
		for i := len(b.controls) - 1; i >= 0; i-- {
			c := b.controls[i]
			if c.client != client || !c.active || !sameHost(c.host, r.Host) {
				continue
			}
			d := newDataConn(c.deps, "active", "")
			b.binds = append(b.binds, bindReg{owner: c, d: d})
			return &DataLink{b: b, d: d, req: r}, true
		}
		return nil, false
	}
	for i := len(b.passive) - 1; i >= 0; i-- {
		reg := b.passive[i]
		if reg.owner.client != client || reg.port != r.Port || !matchHost(reg.hosts, r.Host) {
			continue
		}
		if !reg.d.claim() {
			continue
		}
		b.passive = append(b.passive[:i], b.passive[i+1:]...)
		return &DataLink{b: b, d: reg.d, req: r}, true
	}
	return nil, false
}

func matchHost(hosts []string, host string) bool {
	for _, h := range hosts {
		if sameHost(h, host) {
			return true
		}
	}
	return false
}

// DataJob is the daemon's side of a claimed data connection: the job's
// connection, the socksd session's own counters, and the SOCKS replies.
type DataJob struct {
	// Conn is the job's connection; Serve closes it.
	Conn net.Conn
	// Counters, when set, counts the bytes of this connection (up: from
	// the job). The control session counts them too, in its data totals
	// (SessionConfig.DataCounters), but not in its own Counters.
	Counters *relay.Counters
	// Trace, when set, is told each block relayed (see relay.Options).
	Trace func(up bool, n int)
	// BindWait is how long a BIND waits for its PORT/EPRT; 0 means
	// two minutes.
	BindWait time.Duration
	// Reply sends a SOCKS reply on Conn: success naming addr when err is
	// nil, else the failure for err (its result is then ignored). A
	// CONNECT gets one reply, a BIND two: the address it listens on, then
	// the server's data address. An error from Reply ends the data
	// connection.
	Reply func(addr netip.AddrPort, err error) error
	// Relaying, when set, is called once the last success reply is sent,
	// as the bytes begin to move.
	Relaying func()
}

// DataLink is a data connection of an FTP session claimed by one SOCKS
// request.
type DataLink struct {
	b   *Broker
	d   *dataConn
	req DataRequest
}

// SSHServer names the SSH server (host:port) whose connection carries the
// data connection: the one its control session logged in through.
func (l *DataLink) SSHServer() string { return l.d.deps.via }

// Serve carries the claimed data connection to its end. A CONNECT: it
// opens the data channel on the same SSH connection as the control
// channel, replies, and relays (or, when the session's tunnel is a
// Splicer, hands the job's connection to it, replying just before the
// bytes flow). A BIND: it listens on the daemon's
// address to reserve the address of the first reply, waits until the
// session has turned the job's PORT/EPRT naming that address into
// PASV/EPSV toward the server and opened the data channel, sends the
// second reply and relays. The success reply goes out only once the data
// channel is open. The bytes count for the session's transfer. Serve
// closes j.Conn.
func (l *DataLink) Serve(ctx context.Context, j DataJob) error {
	if l == nil || l.d == nil || j.Conn == nil || j.Reply == nil {
		if j.Conn != nil {
			j.Conn.Close()
		}
		if l != nil && l.d != nil {
			l.d.fail(errDataAbandoned)
			l.b.withdraw(l.d)
		}
		return errNoLink
	}
	defer j.Conn.Close()
	defer l.b.withdraw(l.d)
	if l.req.Bind {
		return l.serveBind(ctx, j)
	}
	if l.d.deps.splice != nil {
		return l.splice(ctx, j, l.req.Local)
	}
	if err := l.d.openChannel(ctx); err != nil {
		j.Reply(netip.AddrPort{}, err)
		return err
	}
	if err := j.Reply(l.req.Local, nil); err != nil {
		l.d.fail(errDataAbandoned)
		return err
	}
	return l.relay(ctx, j)
}

// splice carries a bound data connection through the session's Splicer:
// the success reply naming addr goes out as the bytes begin to flow; a
// failure before that gets the failure reply.
func (l *DataLink) splice(ctx context.Context, j DataJob, addr netip.AddrPort) error {
	handed, err := l.d.splice(ctx, j.Conn, j.Counters, j.Trace, func() error {
		if err := j.Reply(addr, nil); err != nil {
			return err
		}
		if j.Relaying != nil {
			j.Relaying()
		}
		return nil
	})
	if err != nil && !handed {
		j.Reply(netip.AddrPort{}, err)
	}
	return err
}

func (l *DataLink) relay(ctx context.Context, j DataJob) error {
	if j.Relaying != nil {
		j.Relaying()
	}
	return l.d.serve(ctx, j.Conn, j.Counters, j.Trace)
}

// serveBind is Serve for a BIND.
func (l *DataLink) serveBind(ctx context.Context, j DataJob) error {
	d := l.d
	ln, err := net.Listen("tcp", netip.AddrPortFrom(l.req.Local.Addr(), 0).String())
	if err != nil {
		err = fmt.Errorf("ftp: BIND listener: %w", err)
		d.fail(err)
		j.Reply(netip.AddrPort{}, err)
		return err
	}
	defer ln.Close()
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	l.b.listening(d, ap)
	if err := j.Reply(ap, nil); err != nil {
		d.fail(errDataAbandoned)
		return err
	}
	wait := j.BindWait
	if wait <= 0 {
		wait = listenTimeout
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	select {
	case <-d.bound:
	case <-d.done:
	case <-wctx.Done():
		d.step(dataWaiting, dataDone, fmt.Errorf("ftp: BIND: %w", wctx.Err()), nil)
	}
	st, err := d.snapshot()
	if st == dataDone {
		if err == nil {
			err = errDataClosed
		}
		j.Reply(netip.AddrPort{}, err)
		return err
	}
	d.mu.Lock()
	peer := d.peer
	d.mu.Unlock()
	if d.deps.splice != nil {
		// The session's PORT/EPRT waits until the splice carries the
		// bytes (connectActive).
		return l.splice(ctx, j, peer)
	}
	if err := j.Reply(peer, nil); err != nil {
		d.fail(errDataAbandoned)
		return err
	}
	return l.relay(ctx, j)
}

// errNoLink reports a DataLink that was not claimed, or a DataJob without
// a connection or a way to reply.
var errNoLink = errors.New("ftp: no data connection to serve")
