package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"socksd/msg"
)

const (
	socketIOTimeout   = 30 * time.Second // per connection, command and reply
	probeTimeout      = 2 * time.Second  // asking a stale socket whether anyone answers
	maxSocketConns    = 16               // commands served at the same time
	lingerTimeout     = 2 * time.Second  // waiting for a client to go after the reply
	maxSocketPath     = 108              // sun_path size on Linux, with its NUL
	maxAcceptFailures = 100              // transient Accept errors in a row before giving up
)

// SocketError is a failure to create, serve or reach the control socket
// at Path. Err says what went wrong, without the path, for a message
// that names the path itself (SOX0420E).
type SocketError struct {
	Path string
	Err  error
}

// Error returns "console: control socket PATH: cause".
func (e *SocketError) Error() string {
	return fmt.Sprintf("console: control socket %s: %v", e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *SocketError) Unwrap() error { return e.Err }

// SocketInUseError reports that another process answers on the control
// socket, so a second daemon must not take it over.
type SocketInUseError struct{ Path string }

func (e *SocketInUseError) Error() string {
	return fmt.Sprintf("console: control socket %s: another daemon answers on it", e.Path)
}

// ListenSocket creates the Unix control socket at path with mode 0600.
// A socket left behind by an ended daemon is removed; when another process
// still answers on it, ListenSocket fails with a *SocketInUseError. A file
// at path that is not a socket is never removed. A missing directory of
// the socket is created (mode 0750) only when its parent exists; deeper
// trees are not. Other failures are a *SocketError. Closing the listener
// removes the socket.
func ListenSocket(path string) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("console: control socket path is empty")
	}
	if err := socketDir(filepath.Dir(path)); err != nil {
		return nil, &SocketError{Path: path, Err: err}
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	// Bind under a temporary name, restrict it, then rename it into place,
	// so that the socket is never reachable with a wider mode. When the
	// temporary name would be too long for a socket address, bind in
	// place; the umask and the SO_PEERCRED check cover the short window.
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.%d.tmp", filepath.Base(path), os.Getpid()))
	if len(tmp) >= maxSocketPath {
		tmp = path
	}
	if tmp != path {
		if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, &SocketError{Path: path, Err: err}
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, &SocketError{Path: path, Err: err}
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, error) {
		ln.Close()
		os.Remove(tmp)
		return nil, &SocketError{Path: path, Err: err}
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(err)
	}
	if tmp != path {
		if err := os.Rename(tmp, path); err != nil {
			return fail(err)
		}
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	return &socketListener{UnixListener: ln, path: path, fi: fi}, nil
}

// socketDir makes sure that dir, the socket's directory, exists. It creates
// dir (mode 0750) when its parent exists, and nothing else: a path under
// directories that do not exist is most likely a mistake, and a daemon
// running as root must not build a tree for it.
func socketDir(dir string) error {
	err := os.Mkdir(dir, 0o750)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("directory %s does not exist and neither does its parent %s; only a missing last level is created", dir, filepath.Dir(dir))
	case err != nil && !errors.Is(err, fs.ErrExist):
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in the message already
		}
		return fmt.Errorf("cannot create directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// removeStale removes a socket at path that nobody answers on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &SocketError{Path: path, Err: err}
	}
	if fi.Mode().Type() != os.ModeSocket {
		return &SocketError{Path: path, Err: errors.New("exists and is not a socket")}
	}
	conn, err := net.DialTimeout("unix", path, probeTimeout)
	if err == nil {
		conn.Close()
		return &SocketInUseError{Path: path}
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return &SocketError{Path: path, Err: fmt.Errorf("cannot tell whether it is in use: %w", err)}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return &SocketError{Path: path, Err: fmt.Errorf("removing stale socket: %w", err)}
	}
	return nil
}

// socketListener removes its socket file on Close, unless the file has
// since been replaced by another.
type socketListener struct {
	*net.UnixListener
	path string
	fi   os.FileInfo
	once sync.Once
	err  error
}

// Addr returns the socket's final path.
func (l *socketListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

// Close closes the listener and removes the socket file.
func (l *socketListener) Close() error {
	l.once.Do(func() {
		l.err = l.UnixListener.Close()
		if fi, err := os.Lstat(l.path); err == nil && os.SameFile(fi, l.fi) {
			os.Remove(l.path)
		}
	})
	return l.err
}

// ServeSocket serves operator commands on ln until ctx ends, then closes
// ln, waits for the commands in progress and returns nil. Each connection
// carries one command. Only root and the daemon's own uid (see WithUID)
// may command; the peer is identified by SO_PEERCRED.
func (c *Console) ServeSocket(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	msg.Log(&c.log, "SOX0418I", ln.Addr().String()).Send()
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, maxSocketConns)
	failures := 0
	for {
		conn, err := ln.Accept()
		if err != nil && ctx.Err() == nil && transient(err) && failures < maxAcceptFailures {
			// Out of file descriptors and the like: wait a little and
			// try again rather than lose the console.
			failures++
			msg.Log(&c.log, "SOX0420E", ln.Addr().String(), err.Error()).Err(err).Send()
			t := time.NewTimer(time.Duration(failures) * 10 * time.Millisecond)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		if err != nil {
			ln.Close() // idempotent for ListenSocket's listener; removes the socket
			if ctx.Err() != nil {
				return nil
			}
			msg.Log(&c.log, "SOX0420E", ln.Addr().String(), err.Error()).Err(err).Send()
			return &SocketError{Path: ln.Addr().String(), Err: err}
		}
		failures = 0
		select {
		case sem <- struct{}{}:
		default:
			conn.SetDeadline(time.Now().Add(time.Second))
			writeReply(conn, failure("SOX0403E", "too many commands at once; try again"))
			conn.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.serveConn(conn)
		}()
	}
}

// transient reports whether an Accept error may go away by itself.
func transient(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) ||
		errors.Is(err, syscall.ECONNABORTED)
}

// serveConn reads one command from conn, checks the peer and answers.
func (c *Console) serveConn(conn net.Conn) {
	defer linger(conn)
	conn.SetDeadline(time.Now().Add(socketIOTimeout))
	br := bufio.NewReaderSize(conn, 1024)
	line, err := readLine(br, maxRequestLine)
	var tooLong *lineTooLongError
	if err != nil && !errors.As(err, &tooLong) {
		return // the client went away or sent nothing in time
	}
	source := "control socket"
	uid, perr := peerUID(conn)
	switch {
	case perr == nil:
		source = fmt.Sprintf("control socket uid %d", uid)
		if uid != 0 && uid != c.uid {
			resp := failure("SOX0409W", uid, c.uid)
			c.logReply(source, resp)
			writeReply(conn, resp)
			return
		}
	case !errors.Is(perr, errors.ErrUnsupported):
		msg.Log(&c.log, "SOX0420E", conn.LocalAddr().String(), perr.Error()).Err(perr).Send()
		writeReply(conn, failure("SOX0403E", "cannot identify the sender"))
		return
	}
	if tooLong != nil {
		resp := syntaxResponse(syntaxErr("(line too long)", "", "command longer than %d bytes", MaxCommandLen))
		c.logReply(source, resp)
		writeReply(conn, resp)
		return
	}
	writeReply(conn, c.execute(source, line))
}

// linger closes conn after the reply: it ends the sending side, then
// reads and drops what the client still sends (bounded in bytes and time),
// so that the client reads the whole reply instead of a connection reset.
func linger(conn net.Conn) {
	defer conn.Close()
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.Copy(io.Discard, io.LimitReader(conn, maxDiscard))
}
