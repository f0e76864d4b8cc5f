package ftp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"socksd/internal/relay"
	"socksd/internal/testing/testpeer"
)

// fakeTunnel dials loopback directly and counts the dials, standing in for
// an SSH connection. Kill closes every connection it made, like a dying
// SSH connection.
type fakeTunnel struct {
	dials  atomic.Int32
	closed atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
	// failDial makes Dial fail for targets other than the control port.
	failData atomic.Bool
	control  string
}

func (f *fakeTunnel) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	f.dials.Add(1)
	if f.failData.Load() && addr != f.control {
		return nil, errors.New("fake: channel open failed")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.mu.Unlock()
	return c, nil
}

func (f *fakeTunnel) Server() string { return "127.0.0.1:22" }
func (f *fakeTunnel) ID() string     { return "fake-1" }
func (f *fakeTunnel) Close() error   { f.closed.Store(true); return nil }

// Kill closes every connection dialed so far.
func (f *fakeTunnel) Kill() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
}

// harness runs sessions against one vsftpd.
type harness struct {
	t      *testing.T
	v      *testpeer.VSFTPD
	broker *Broker
	opts   Options

	openErr  error
	splice   spliceMode // how the tunnels splice; spliceNone: they do not
	mu       sync.Mutex
	opens    []string // "user/password-given"
	tunnels  []*fakeTunnel
	splicers []*fakeSplicer // with splice set, one per tunnel
	audits   []Transfer
	counters relay.Counters    // the control session's own (Counters)
	dataCtr  relay.Counters    // its data totals (DataCounters)
	dataSess []*relay.Counters // each data connection's own, like a socksd data session's
	logBuf   syncBuffer
	errs     chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness(t *testing.T, vc testpeer.VSFTPDConfig, opts Options) *harness {
	t.Helper()
	v := testpeer.StartVSFTPD(t, vc)
	return &harness{t: t, v: v, broker: NewBroker(), opts: opts, errs: make(chan error, 16)}
}

func (h *harness) open(ctx context.Context, user string, pw []byte) (Tunnel, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	password := string(pw)
	h.opens = append(h.opens, user+"/"+strconv.FormatBool(password != ""))
	if password != "" && password != h.v.Password {
		return nil, fmt.Errorf("fake: ssh: unable to authenticate, password %s rejected", password)
	}
	if h.openErr != nil {
		return nil, h.openErr
	}
	ft := &fakeTunnel{control: h.v.Addr}
	h.tunnels = append(h.tunnels, ft)
	if h.splice != spliceNone {
		fs := &fakeSplicer{fakeTunnel: ft, mode: h.splice}
		h.splicers = append(h.splicers, fs)
		return fs, nil
	}
	return ft, nil
}

func (h *harness) tunnel(i int) *fakeTunnel {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tunnels[i]
}

func (h *harness) auditList() []Transfer {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Transfer(nil), h.audits...)
}

// serve starts a session for a new loopback control connection and returns
// the job's end. The session's error goes to h.errs.
func (h *harness) serve(ctx context.Context) net.Conn {
	h.t.Helper()
	return h.serveWith(ctx, h.open)
}

// serveWith is serve with another Opener.
func (h *harness) serveWith(ctx context.Context, open Opener) net.Conn {
	h.t.Helper()
	job, srv, err := tcpPair()
	if err != nil {
		h.t.Fatal(err)
	}
	cfg := SessionConfig{
		ID:         1,
		Client:     srv,
		ClientAddr: job.LocalAddr().(*net.TCPAddr).AddrPort(),
		LocalAddr:  netip.MustParseAddr("127.0.0.1"),
		Server:     h.v.Addr,
		Rule:       "test-rule",
		Options:    h.opts,
		Open:       open,
		Broker:     h.broker,
		Audit: func(tr Transfer) {
			h.mu.Lock()
			h.audits = append(h.audits, tr)
			h.mu.Unlock()
		},
		Log:          zerolog.New(&h.logBuf),
		Counters:     &h.counters,
		DataCounters: &h.dataCtr,
	}
	go func() { h.errs <- Serve(ctx, cfg) }()
	return job
}

// waitServe returns the session's result, bounded.
func (h *harness) waitServe() error {
	h.t.Helper()
	select {
	case err := <-h.errs:
		return err
	case <-time.After(30 * time.Second):
		h.t.Fatal("session did not end")
		return nil
	}
}

// socksDial is a jlaffaye DialFunc: the first call is the control
// connection (to a new session); later calls are data connections that
// come back through the broker, like a SOCKS client's, or, with direct,
// are dialed as they are (a client that does not use SOCKS for data).
func (h *harness) socksDial(ctx context.Context, direct bool) func(network, address string) (net.Conn, error) {
	first := true
	data := h.dataDial(ctx, direct)
	return func(network, address string) (net.Conn, error) {
		if first {
			first = false
			return h.serve(ctx), nil
		}
		return data(network, address)
	}
}

// dataDial opens data connections for socksDial.
func (h *harness) dataDial(ctx context.Context, direct bool) func(network, address string) (net.Conn, error) {
	return func(network, address string) (net.Conn, error) {
		if direct {
			return net.Dial(network, address)
		}
		host, ps, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		port, _ := strconv.Atoi(ps)
		return h.connectData(ctx, host, uint16(port))
	}
}

// daemonAddr stands for the daemon's address in DataRequest.Local.
var daemonAddr = netip.AddrPortFrom(loopback, 1080)

// connectData plays the daemon for a SOCKS CONNECT from the job: it offers
// the request to the broker, serves it on one end of a loopback pair with
// counters of its own (recorded in h.dataSess), and returns the other end
// once the success reply would have gone out.
func (h *harness) connectData(ctx context.Context, host string, port uint16) (net.Conn, error) {
	link, ok := h.broker.Claim(DataRequest{Client: loopback, Local: daemonAddr, Host: host, Port: port})
	if !ok {
		return nil, fmt.Errorf("broker: no passive reply matches %s:%d", host, port)
	}
	a, b, err := tcpPair()
	if err != nil {
		return nil, err
	}
	ctr := new(relay.Counters)
	h.mu.Lock()
	h.dataSess = append(h.dataSess, ctr)
	h.mu.Unlock()
	replies := make(chan dataReply, 2)
	go link.Serve(ctx, DataJob{Conn: b, Counters: ctr, Reply: replyTo(replies)})
	var r dataReply
	select {
	case r = <-replies: // Serve always replies once before it relays or returns
	case <-time.After(30 * time.Second):
		a.Close()
		return nil, errors.New("no CONNECT reply within 30s")
	}
	if r.err != nil {
		a.Close()
		return nil, r.err
	}
	if r.addr != daemonAddr {
		a.Close()
		return nil, fmt.Errorf("CONNECT reply names %v, want %v", r.addr, daemonAddr)
	}
	return a, nil
}

// dataReply is one SOCKS reply a DataLink asked for.
type dataReply struct {
	addr netip.AddrPort
	err  error
}

// replyTo returns a DataJob.Reply that sends each reply to ch.
func replyTo(ch chan<- dataReply) func(netip.AddrPort, error) error {
	return func(addr netip.AddrPort, err error) error {
		ch <- dataReply{addr, err}
		return nil
	}
}

// tcpPair returns two ends of a loopback TCP connection.
func tcpPair() (net.Conn, net.Conn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	b, err := ln.Accept()
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, b, nil
}

// seededReader streams n bytes from a seeded PRNG without holding them.
type seededReader struct {
	r *rand.Rand
	n int64
}

func newSeededReader(n int64, seed uint64) *seededReader {
	return &seededReader{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), n: n}
}

func (s *seededReader) Read(p []byte) (int, error) {
	if s.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.n {
		p = p[:s.n]
	}
	for i := range p {
		p[i] = byte(s.r.Uint32())
	}
	s.n -= int64(len(p))
	return len(p), nil
}

var loopback = netip.MustParseAddr("127.0.0.1")
