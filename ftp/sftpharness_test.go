package ftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"github.com/pkg/sftp"
	"github.com/rs/zerolog"

	"socksd/ebcdic"
)

// sftpTunnel is a fake SSH connection whose "sftp" subsystem is an
// in-process pkg/sftp server working in dir. It has no FTP server: Dial
// fails. Kill ends every SFTP stream, like a dying SSH connection.
type sftpTunnel struct {
	dir    string
	refuse error // Subsystem fails with it

	mu      sync.Mutex
	streams []net.Conn
	closed  bool
}

func (f *sftpTunnel) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return nil, errors.New("fake: no FTP server behind an ftp-sftp tunnel")
}
func (f *sftpTunnel) Server() string { return "127.0.0.1:22" }
func (f *sftpTunnel) ID() string     { return "fake-sftp-1" }
func (f *sftpTunnel) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *sftpTunnel) Subsystem(ctx context.Context, name string) (io.ReadWriteCloser, error) {
	if f.refuse != nil {
		return nil, f.refuse
	}
	if name != "sftp" {
		return nil, fmt.Errorf("fake: unknown subsystem %q", name)
	}
	a, b, err := socketPair()
	if err != nil {
		return nil, err
	}
	srv, err := sftp.NewServer(b, sftp.WithServerWorkingDirectory(f.dir))
	if err != nil {
		a.Close()
		b.Close()
		return nil, err
	}
	go func() { _ = srv.Serve(); srv.Close() }()
	f.mu.Lock()
	f.streams = append(f.streams, a, b)
	f.mu.Unlock()
	return a, nil
}

// Kill closes every SFTP stream.
func (f *sftpTunnel) Kill() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.streams {
		c.Close()
	}
}

// sftpHarness runs ftp-sftp sessions against a temporary directory. It
// reuses harness (broker, counters, audit, connectData) without vsftpd.
type sftpHarness struct {
	*harness
	dir  string
	sopt SFTPOptions
	tun  *sftpTunnel
	open Opener // nil: the sftpTunnel for the password "secret"
	// tunnelMode runs ftp-tunnel sessions (SessionConfig.SFTP unset).
	tunnelMode bool
}

func newSFTPHarness(t *testing.T, opts Options, sopt SFTPOptions) *sftpHarness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, broker: NewBroker(), opts: opts, errs: make(chan error, 16)}
	return &sftpHarness{harness: h, dir: dir, sopt: sopt, tun: &sftpTunnel{dir: dir}}
}

func (h *sftpHarness) opener(ctx context.Context, user string, pw []byte) (Tunnel, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.opens = append(h.opens, user+"/"+strconv.FormatBool(len(pw) > 0))
	if string(pw) != "secret" {
		return nil, errors.New("fake: ssh: unable to authenticate")
	}
	return h.tun, nil
}

// serve starts an ftp-sftp session for a new loopback control connection
// and returns the job's end.
func (h *sftpHarness) serve(ctx context.Context) net.Conn {
	h.t.Helper()
	job, srv, err := tcpPair()
	if err != nil {
		h.t.Fatal(err)
	}
	open := h.open
	if open == nil {
		open = h.opener
	}
	sopt := h.sopt
	cfg := SessionConfig{
		ID:         7,
		Client:     srv,
		ClientAddr: job.LocalAddr().(*net.TCPAddr).AddrPort(),
		LocalAddr:  loopback,
		Server:     "partner.example:21",
		Rule:       "sftp-rule",
		Options:    h.opts,
		Open:       open,
		SFTP:       &sopt,
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
	if h.tunnelMode {
		cfg.SFTP = nil
	}
	go func() { h.errs <- Serve(ctx, cfg) }()
	return job
}

// client logs in with jlaffaye/ftp; data connections come back through
// the broker (a SOCKS client) or, with direct, to socksd's listener.
func (h *sftpHarness) client(ctx context.Context, direct bool, opts ...ftp.DialOption) *ftp.ServerConn {
	h.t.Helper()
	first := true
	data := h.dataDial(ctx, direct)
	dial := func(network, address string) (net.Conn, error) {
		if first {
			first = false
			return h.serve(ctx), nil
		}
		return data(network, address)
	}
	opts = append([]ftp.DialOption{ftp.DialWithDialFunc(dial), ftp.DialWithTimeout(30 * time.Second)}, opts...)
	c, err := ftp.Dial("partner.example:21", opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := c.Login("job", "secret"); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Quit() })
	return c
}

// raw logs in a rawJob (ASCII, CRLF).
func (h *sftpHarness) raw(ctx context.Context) *rawJob {
	h.t.Helper()
	j := newRawJob(h.t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
	j.login("job", "secret")
	h.t.Cleanup(func() { j.conn.Close() })
	return j
}

// pasv sends EPSV and opens the data connection through the broker.
func (h *sftpHarness) pasv(ctx context.Context, j *rawJob) net.Conn {
	h.t.Helper()
	r := j.cmd("EPSV", 229)
	port, err := Parse229(r.Text())
	if err != nil {
		h.t.Fatal(err)
	}
	return h.socksData(ctx, "partner.example", port)
}

// file returns the content of a file under the server directory.
func (h *sftpHarness) file(name string) string {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dir, name))
	if err != nil {
		h.t.Fatalf("server file %s: %v", name, err)
	}
	return string(b)
}

// put writes a file under the server directory.
func (h *sftpHarness) put(name, content string) {
	h.t.Helper()
	p := filepath.Join(h.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// absent fails when name exists under the server directory.
func (h *sftpHarness) absent(name string) {
	h.t.Helper()
	if _, err := os.Lstat(filepath.Join(h.dir, name)); !errors.Is(err, os.ErrNotExist) {
		h.t.Errorf("%s exists on the server (err %v)", name, err)
	}
}

// dirNames lists the server directory.
func (h *sftpHarness) dirNames(sub string) []string {
	h.t.Helper()
	es, err := os.ReadDir(filepath.Join(h.dir, sub))
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// audit returns audit record n (from 1); the session audits a transfer
// before it replies.
func (h *sftpHarness) audit(n int) Transfer {
	h.t.Helper()
	a := h.auditList()
	if len(a) < n {
		h.t.Fatalf("no audit record %d: %+v", n, a)
	}
	return a[n-1]
}

// final reads replies until a final one.
func final(j *rawJob) *Reply {
	j.t.Helper()
	for i := 0; i < 5; i++ {
		if r := j.reply(); !r.Preliminary() {
			return r
		}
	}
	j.t.Fatal("no final reply")
	return nil
}

// store sends cmd (STOR, APPE, STOU) over a new passive data connection
// with data and returns the 150 and the final reply.
func (h *sftpHarness) store(ctx context.Context, j *rawJob, cmd string, data []byte) (*Reply, *Reply) {
	h.t.Helper()
	dc := h.pasv(ctx, j)
	j.send(cmd)
	first := j.reply()
	if first.Code != 150 {
		dc.Close()
		return first, first
	}
	if _, err := dc.Write(data); err != nil {
		h.t.Fatal(err)
	}
	dc.Close()
	return first, final(j)
}

// retrieve sends cmd (RETR, LIST, ...) over a new passive data connection
// and returns the data and the final reply.
func (h *sftpHarness) retrieve(ctx context.Context, j *rawJob, cmd string) ([]byte, *Reply) {
	h.t.Helper()
	dc := h.pasv(ctx, j)
	defer dc.Close()
	j.send(cmd)
	first := j.reply()
	if first.Code != 150 {
		return nil, first
	}
	b := readAll(h.t, dc)
	dc.Close()
	return b, final(j)
}

var errRefusedForTest = errors.New("ssh: subsystem request failed")
