package demo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// errNotUmask: the line is not a SITE UMASK command.
var errNotUmask = errors.New("demo: not a SITE UMASK command")

// parseSiteUmask reads a "SITE UMASK nnn" control line (any case, CRLF or
// LF, blanks between words). It returns errNotUmask for any other command
// and a descriptive error for a SITE UMASK with a bad mask.
func parseSiteUmask(line []byte) (os.FileMode, error) {
	s := strings.TrimRight(string(line), "\r\n")
	f := strings.Fields(s)
	if len(f) < 2 || !strings.EqualFold(f[0], "SITE") || !strings.EqualFold(f[1], "UMASK") {
		return 0, errNotUmask
	}
	if len(f) != 3 {
		return 0, errors.New("demo: SITE UMASK takes one octal mask")
	}
	if len(f[2]) > 4 {
		return 0, fmt.Errorf("demo: SITE UMASK: bad mask %q", f[2])
	}
	v, err := strconv.ParseUint(f[2], 8, 32)
	if err != nil || v > 0o777 {
		return 0, fmt.Errorf("demo: SITE UMASK: bad mask %q", f[2])
	}
	return os.FileMode(v), nil
}

// siteConn is a control connection of the demo FTP server. It answers
// SITE UMASK itself, as vsftpd does, and passes every other line on to
// ftpserverlib unchanged. FTP is lock-step: the client sends SITE only
// after the previous reply, so the answer cannot interleave with one of
// ftpserverlib's; writes are serialized all the same.
type siteConn struct {
	net.Conn
	f       *FTPServer
	br      *bufio.Reader
	pending []byte
	midLine bool
	wmu     sync.Mutex
	umask   atomic.Uint32
	once    sync.Once
}

func newSiteConn(c net.Conn, f *FTPServer) *siteConn {
	sc := &siteConn{Conn: c, f: f, br: bufio.NewReaderSize(c, 4096)}
	sc.umask.Store(uint32(defaultUmask))
	return sc
}

// mask is the session's current umask.
func (c *siteConn) mask() os.FileMode { return os.FileMode(c.umask.Load()) }

func (c *siteConn) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		line, err := c.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			err = nil
		}
		if len(line) > 0 {
			atStart := !c.midLine
			c.midLine = line[len(line)-1] != '\n'
			if atStart {
				c.f.count(line)
			}
			if atStart && !c.midLine {
				if reply, ok := c.site(line); ok {
					if _, werr := c.Write(reply); werr != nil {
						return 0, werr
					}
					continue
				}
			}
			c.pending = append(c.pending[:0], line...)
		}
		if err != nil {
			if len(c.pending) > 0 {
				break
			}
			return 0, err
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// site answers a SITE UMASK line; ok is false for any other line.
func (c *siteConn) site(line []byte) (reply []byte, ok bool) {
	m, err := parseSiteUmask(bytes.TrimSpace(line))
	switch {
	case errors.Is(err, errNotUmask):
		return nil, false
	case err != nil:
		return []byte("501 " + strings.TrimPrefix(err.Error(), "demo: ") + "\r\n"), true
	}
	was := c.mask()
	c.umask.Store(uint32(m))
	return fmt.Appendf(nil, "200 UMASK set to %03o (was %03o)\r\n", m, was), true
}

func (c *siteConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.Conn.Write(p)
}

func (c *siteConn) Close() error {
	c.once.Do(func() {
		c.f.mu.Lock()
		delete(c.f.ctrl, c.RemoteAddr().String())
		c.f.mu.Unlock()
		c.f.untrack(c)
	})
	return c.Conn.Close()
}
