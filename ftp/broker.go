package ftp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
)

// Broker lets data connections that arrive as separate SOCKS requests join
// their control session. One Broker serves all sessions of a daemon; it is
// safe for concurrent use.
type Broker struct {
	mu       sync.Mutex
	sessions []*session
	passive  []passiveReg
}

// passiveReg is a passive data connection waiting for its client.
type passiveReg struct {
	client netip.Addr
	hosts  []string
	port   uint16
	d      *dataSetup
}

// NewBroker returns an empty Broker.
func NewBroker() *Broker { return &Broker{} }

func (b *Broker) addSession(s *session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sessions = append(b.sessions, s)
}

func (b *Broker) removeSession(s *session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, x := range b.sessions {
		if x == s {
			b.sessions = append(b.sessions[:i], b.sessions[i+1:]...)
			break
		}
	}
	b.dropLocked(s)
}

// dropSession removes every passive registration of s.
func (b *Broker) dropSession(s *session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dropLocked(s)
}

func (b *Broker) dropLocked(s *session) {
	out := b.passive[:0]
	for _, r := range b.passive {
		if r.d.s != s {
			out = append(out, r)
		}
	}
	clear(b.passive[len(out):])
	b.passive = out
}

// register makes d reachable by a SOCKS CONNECT from client to any of hosts
// with port.
func (b *Broker) register(d *dataSetup, client netip.Addr, hosts []string, port uint16) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.passive = append(b.passive, passiveReg{client: client.Unmap(), hosts: hosts, port: port, d: d})
}

func (b *Broker) unregister(d *dataSetup) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.passive[:0]
	for _, r := range b.passive {
		if r.d != d {
			out = append(out, r)
		}
	}
	clear(b.passive[len(out):])
	b.passive = out
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

// Connect matches a SOCKS CONNECT from client to host:port against the
// passive replies that sessions of this client have seen: host is the 227
// address, the control host (by the name or address the job used for the
// control connection, as curl sends it), or socksd's own rewrite address,
// and port the port the job was given. The newest match wins, and each
// reply can be claimed once. ok is false when nothing matches; the daemon
// then handles the request by its rules.
func (b *Broker) Connect(client netip.Addr, host string, port uint16) (*DataConn, bool) {
	client = client.Unmap()
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.passive) - 1; i >= 0; i-- {
		r := b.passive[i]
		if r.client != client || r.port != port || r.d.claimed.Load() {
			continue
		}
		for _, h := range r.hosts {
			if sameHost(h, host) {
				return &DataConn{d: r.d}, true
			}
		}
	}
	return nil, false
}

// DataConn is a passive data connection that came back through SOCKS.
type DataConn struct {
	d  *dataSetup
	up net.Conn
}

// Open claims the data connection and dials the data channel on the same
// SSH connection as the control channel. The daemon sends its SOCKS success
// reply only after Open returns nil.
func (d *DataConn) Open(ctx context.Context) error {
	if d == nil || d.d == nil {
		return errors.New("ftp: no data connection")
	}
	if !d.d.claim() {
		return errors.New("ftp: data connection already taken")
	}
	d.d.mu.Lock()
	closed := d.d.closed
	d.d.mu.Unlock()
	if closed {
		return errors.New("ftp: data connection no longer expected")
	}
	up, err := d.d.open(ctx)
	if err != nil {
		return err
	}
	d.up = up
	return nil
}

// Serve relays between the job's connection and the data channel, accounts
// the bytes to the transfer, and closes both. A nil client (the daemon
// could not send its SOCKS reply) just releases the data channel.
func (d *DataConn) Serve(ctx context.Context, client net.Conn) error {
	if d == nil || d.up == nil {
		if client != nil {
			client.Close()
		}
		return errors.New("ftp: data connection not open")
	}
	if client == nil {
		d.up.Close()
		err := errors.New("ftp: data connection abandoned before use")
		d.d.finish(err)
		return err
	}
	return d.d.serve(ctx, client, d.up)
}

// Bind finds the FTP session of client whose control connection goes to
// host (by name or address) for a SOCKS BIND. ok is false when no
// logged-in FTP session of this client controls host, or its rule refuses
// active mode.
func (b *Broker) Bind(client netip.Addr, host string, port uint16) (*PendingBind, bool) {
	client = client.Unmap()
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.sessions) - 1; i >= 0; i-- {
		s := b.sessions[i]
		if s.clientIP != client || !s.ready.Load() || s.opt.Active == ActiveRefuse || !sameHost(s.controlHost, host) {
			continue
		}
		return &PendingBind{s: s, readyCh: make(chan struct{}), closedCh: make(chan struct{})}, true
	}
	return nil, false
}

// PendingBind is a SOCKS BIND that waits for its session's PORT/EPRT.
type PendingBind struct {
	s *session

	mu       sync.Mutex
	ln       net.Listener
	addr     netip.AddrPort
	d        *dataSetup
	peer     netip.AddrPort
	readyCh  chan struct{}
	closedCh chan struct{}
	once     sync.Once
	ready    bool
}

// Listen opens a real listener on local (the daemon's address the client
// reached) to reserve the address that goes in the first BIND reply. The
// job names this address in PORT/EPRT; the session converts that command.
func (p *PendingBind) Listen(local netip.Addr) (netip.AddrPort, error) {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(local, 0).String())
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("ftp: BIND listener: %w", err)
	}
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	p.mu.Lock()
	p.ln, p.addr = ln, ap
	p.mu.Unlock()
	p.s.addBind(p)
	return ap, nil
}

func (p *PendingBind) listenAddr() netip.AddrPort {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

func (p *PendingBind) isReady() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ready
}

// complete is called by the session once the data channel is open.
func (p *PendingBind) complete(d *dataSetup, peer netip.AddrPort) {
	p.mu.Lock()
	p.d, p.peer, p.ready = d, peer, true
	p.mu.Unlock()
	p.s.removeBind(p)
	close(p.readyCh)
}

// Accept waits until the session has turned the job's PORT/EPRT naming
// this BIND address into PASV/EPSV toward the server and opened the data
// channel through the tunnel. peer is the server's data address, for the
// second BIND reply.
func (p *PendingBind) Accept(ctx context.Context) (peer netip.AddrPort, err error) {
	select {
	case <-p.readyCh:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.peer, nil
	case <-p.closedCh:
		return netip.AddrPort{}, errors.New("ftp: BIND closed")
	case <-p.s.ctx.Done():
		return netip.AddrPort{}, errors.New("ftp: BIND: FTP session ended")
	case <-ctx.Done():
		return netip.AddrPort{}, fmt.Errorf("ftp: BIND: %w", ctx.Err())
	}
}

// Serve splices the data channel into the BIND connection, accounting the
// bytes to the transfer, and closes both.
func (p *PendingBind) Serve(ctx context.Context, client net.Conn) error {
	p.mu.Lock()
	d := p.d
	p.mu.Unlock()
	if d == nil {
		if client != nil {
			client.Close()
		}
		return errors.New("ftp: BIND not accepted")
	}
	d.mu.Lock()
	up := d.tconn
	d.mu.Unlock()
	if client == nil {
		up.Close()
		err := errors.New("ftp: BIND abandoned before use")
		d.finish(err)
		return err
	}
	return d.serve(ctx, client, up)
}

// Close releases the listener; a BIND that was never accepted ends.
func (p *PendingBind) Close() error {
	p.once.Do(func() {
		close(p.closedCh)
		p.mu.Lock()
		if p.ln != nil {
			p.ln.Close()
		}
		p.mu.Unlock()
		p.s.removeBind(p)
	})
	return nil
}
