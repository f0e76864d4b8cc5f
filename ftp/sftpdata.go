package ftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// In an ftp-sftp session a data connection is the same dataConn as in
// ftp-tunnel (broker, rewrite listener, SOCKS BIND, PORT), but its far
// end is not an SSH channel to an FTP server: the session's dataDeps.dial
// returns one end of a local socket pair, and the transfer command reads
// or writes the other end. The relay between the job and the pair is the
// one ftp-tunnel uses, with its counters, idle timeout and half-closes.

// pairHub hands out the socket pairs of an ftp-sftp session's data
// connections. Each prepared data connection has a key (its target); dial
// makes the pair for a key and keeps the transfer's end until the
// transfer takes it.
type pairHub struct {
	mu    sync.Mutex
	n     uint64
	slots map[string]chan net.Conn
}

func newPairHub() *pairHub { return &pairHub{slots: map[string]chan net.Conn{}} }

// add registers a new data connection and returns its key.
func (h *pairHub) add() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n++
	key := "sftp-data-" + strconv.FormatUint(h.n, 10)
	h.slots[key] = make(chan net.Conn, 1)
	return key
}

// dial is the session's dataDeps.dial: it returns the relay's end of a
// new socket pair for key and keeps the other end for the transfer.
func (h *pairHub) dial(_ context.Context, key string) (net.Conn, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch, ok := h.slots[key]
	if !ok {
		return nil, errors.New("ftp: data connection no longer wanted")
	}
	a, b, err := socketPair()
	if err != nil {
		return nil, err
	}
	select {
	case ch <- b:
		return a, nil
	default:
		a.Close()
		b.Close()
		return nil, errors.New("ftp: data connection already open")
	}
}

// slot returns the channel on which key's transfer end arrives, or nil.
func (h *pairHub) slot(key string) chan net.Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.slots[key]
}

// release forgets key and closes a transfer end nobody took.
func (h *pairHub) release(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch, ok := h.slots[key]
	if !ok {
		return
	}
	delete(h.slots, key)
	select {
	case c := <-ch:
		c.Close()
	default:
	}
}

// socketPair returns two connected ends of a local stream socket; both
// can half-close (CloseWrite).
func socketPair() (net.Conn, net.Conn, error) {
	// Under ForkLock, so that no child started meanwhile inherits the
	// descriptors before they are close-on-exec (SOCK_CLOEXEC is not
	// everywhere).
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("ftp: socket pair: %w", err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "ftp-sftp-data")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			if i == 0 {
				syscall.Close(fds[1])
			} else {
				conns[0].Close()
			}
			return nil, nil, fmt.Errorf("ftp: socket pair: %w", err)
		}
		conns[i] = c
	}
	return conns[0], conns[1], nil
}

// key returns the data connection's target: in ftp-sftp, its pair key.
func (d *dataConn) key() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.target
}

// waitJobConn waits until the job's data connection for d is paired and
// returns the transfer's end, bounded by listenTimeout and the session.
func (s *session) waitJobConn(d *dataConn, key string) (net.Conn, error) {
	ch := s.sftp.pairs.slot(key)
	if ch == nil {
		return nil, errDataClosed
	}
	timer := time.NewTimer(listenTimeout)
	defer timer.Stop()
	select {
	case c := <-ch:
		return c, nil
	case <-d.done:
		select {
		case c := <-ch:
			return c, nil
		default:
		}
		_, err := d.snapshot()
		if err == nil || err == errDataUnused {
			err = errDataClosed
		}
		return nil, err
	case <-timer.C:
		d.fail(errors.New("ftp: the job did not open the data connection"))
		return nil, fmt.Errorf("ftp: no data connection from the job within %v", listenTimeout)
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	}
}

// waitData waits, up to grace, until the relay of d has ended, and
// returns why it failed: nil only when it ended cleanly.
func waitData(ctx context.Context, d *dataConn, grace time.Duration) error {
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-d.done:
	case <-timer.C:
	case <-ctx.Done():
	}
	st, err := d.snapshot()
	if st != dataDone {
		return errors.New("ftp: data connection did not finish")
	}
	return err
}

// closeWrite half-closes c, so that the relay passes the end of the data
// on to the job.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// jobReader reads an upload from the transfer's end of the pair. Its end
// of input is an io.EOF only when the job's data connection ended without
// error; when it broke, Read returns the relay's error instead, so that
// storeFile never takes a cut upload for a whole one. failed records that
// the data connection (not the server) failed.
type jobReader struct {
	ctx    context.Context
	c      net.Conn
	d      *dataConn
	grace  time.Duration
	failed error
	eof    bool
}

func (r *jobReader) Read(p []byte) (int, error) {
	if r.failed != nil {
		return 0, r.failed
	}
	if r.eof {
		return 0, io.EOF
	}
	n, err := r.c.Read(p)
	if err == nil {
		return n, nil
	}
	// The job's data has ended: let the relay's other direction end too,
	// then see how the relay ended.
	closeWrite(r.c)
	derr := waitData(r.ctx, r.d, r.grace)
	switch {
	case derr != nil:
		r.failed = fmt.Errorf("ftp: data connection: %w", derr)
	case !errors.Is(err, io.EOF):
		r.failed = fmt.Errorf("ftp: data connection: %w", err)
	default:
		r.eof = true
		return n, io.EOF
	}
	return n, r.failed
}

// jobWriter writes a download to the transfer's end of the pair and
// records a failed write, which means the job's data connection failed.
type jobWriter struct {
	c      net.Conn
	failed error
}

func (w *jobWriter) Write(p []byte) (int, error) {
	if w.failed != nil {
		return 0, w.failed
	}
	n, err := w.c.Write(p)
	if err != nil {
		w.failed = fmt.Errorf("ftp: data connection: %w", err)
		return n, w.failed
	}
	return n, nil
}

// releaseAll forgets every key (the session ends).
func (h *pairHub) releaseAll() {
	h.mu.Lock()
	keys := make([]string, 0, len(h.slots))
	for k := range h.slots {
		keys = append(keys, k)
	}
	h.mu.Unlock()
	for _, k := range keys {
		h.release(k)
	}
}
