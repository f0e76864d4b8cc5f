package reliability

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"socksd/ftp"
	"socksd/socks"
)

// job is a small FTP client through socksd's SOCKS5 listener that exposes
// every step, so that a test can break a transfer at a chosen point: the
// control connection, PASV with a data CONNECT through SOCKS, and raw
// access to the data connection.
type job struct {
	proxy  string
	server socks.Addr
	local  string // local IP to dial socksd from; "" = any
	ctrl   net.Conn
	r      *bufio.Reader
}

// dialSOCKS connects to socksd and asks it to CONNECT to dest.
func dialSOCKS(proxy, local string, dest socks.Addr, user, pass string) (net.Conn, error) {
	d := net.Dialer{Timeout: 30 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", proxy)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := socks.ClientHandshake(c, 5, dest, user, pass); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// openJob connects the control connection and reads the greeting.
func openJob(proxy string, server string) (*job, error) {
	addr, err := socks.ParseAddr(server)
	if err != nil {
		return nil, err
	}
	j := &job{proxy: proxy, server: addr}
	return j, j.open()
}

func (j *job) open() error {
	c, err := dialSOCKS(j.proxy, j.local, j.server, "", "")
	if err != nil {
		return fmt.Errorf("control CONNECT: %w", err)
	}
	j.ctrl, j.r = c, bufio.NewReader(c)
	code, text, err := j.reply()
	if err != nil || code != 220 {
		c.Close()
		return fmt.Errorf("greeting %d %q: %v", code, text, err)
	}
	return nil
}

// reply reads one whole reply.
func (j *job) reply() (int, string, error) {
	j.ctrl.SetReadDeadline(time.Now().Add(ioTimeout))
	first, err := j.r.ReadString('\n')
	if err != nil {
		return 0, first, err
	}
	first = strings.TrimRight(first, "\r\n")
	if len(first) < 3 {
		return 0, first, fmt.Errorf("short reply %q", first)
	}
	code, err := strconv.Atoi(first[:3])
	if err != nil {
		return 0, first, fmt.Errorf("bad reply %q", first)
	}
	text := first
	if len(first) > 3 && first[3] == '-' {
		for i := 0; i < 1000; i++ {
			l, err := j.r.ReadString('\n')
			if err != nil {
				return 0, text, err
			}
			l = strings.TrimRight(l, "\r\n")
			text += "\n" + l
			if strings.HasPrefix(l, first[:3]+" ") {
				break
			}
		}
	}
	return code, text, nil
}

// cmd sends a command and reads the reply.
func (j *job) cmd(line string) (int, string, error) {
	j.ctrl.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(j.ctrl, line+"\r\n"); err != nil {
		return 0, "", err
	}
	return j.reply()
}

// login sends USER and PASS and wants 230.
func (j *job) login(user, pass string) error {
	code, text, err := j.cmd("USER " + user)
	if err == nil && code == 331 {
		code, text, err = j.cmd("PASS " + pass)
	}
	if err != nil {
		return err
	}
	if code != 230 {
		return &replyError{code, text}
	}
	return nil
}

// replyError is an FTP reply that was not the one wanted.
type replyError struct {
	code int
	text string
}

func (e *replyError) Error() string { return fmt.Sprintf("FTP reply %d %q", e.code, e.text) }

// pasv sends PASV and CONNECTs the data connection through socksd.
func (j *job) pasv() (net.Conn, error) {
	code, text, err := j.cmd("PASV")
	if err != nil {
		return nil, err
	}
	if code != 227 {
		return nil, &replyError{code, text}
	}
	ap, err := ftp.Parse227(text)
	if err != nil {
		return nil, err
	}
	return dialSOCKS(j.proxy, j.local, socks.AddrFromAddrPort(ap), "", "")
}

// start sends a transfer command on a fresh passive data connection and
// wants a 1xx reply.
func (j *job) start(command string) (net.Conn, error) {
	dc, err := j.pasv()
	if err != nil {
		return nil, err
	}
	code, text, err := j.cmd(command)
	if err == nil && code/100 != 1 {
		err = &replyError{code, text}
	}
	if err != nil {
		dc.Close()
		return nil, err
	}
	return dc, nil
}

// put stores data as name and wants 226.
func (j *job) put(name string, data []byte) error {
	dc, err := j.start("STOR " + name)
	if err != nil {
		return err
	}
	dc.SetDeadline(time.Now().Add(ioTimeout))
	_, err = dc.Write(data)
	dc.Close()
	if err != nil {
		return fmt.Errorf("data write: %w", err)
	}
	code, text, err := j.reply()
	if err != nil {
		return err
	}
	if code != 226 {
		return &replyError{code, text}
	}
	return nil
}

// get retrieves name and returns its length and SHA-256; the final reply
// must be 226.
func (j *job) get(name string) (int64, [32]byte, error) {
	var sum [32]byte
	dc, err := j.start("RETR " + name)
	if err != nil {
		return 0, sum, err
	}
	h := sha256.New()
	dc.SetDeadline(time.Now().Add(ioTimeout))
	n, err := io.Copy(h, dc)
	dc.Close()
	if err != nil {
		return n, sum, fmt.Errorf("data read: %w", err)
	}
	code, text, err := j.reply()
	if err != nil {
		return n, sum, err
	}
	if code != 226 {
		return n, sum, &replyError{code, text}
	}
	copy(sum[:], h.Sum(nil))
	return n, sum, nil
}

func (j *job) close() {
	if j.ctrl != nil {
		j.ctrl.Close()
	}
}

// quit sends QUIT (best effort) and closes.
func (j *job) quit() {
	j.ctrl.SetDeadline(time.Now().Add(10 * time.Second))
	j.cmd("QUIT")
	j.close()
}

// partial is a transfer that a test holds in the middle: it has read (or
// written) some bytes and waits until the test lets it go on.
type partial struct {
	dc    net.Conn
	h     hash.Hash
	n     int64
	total int64
}

// startRetr begins RETR name and reads the first n bytes.
func (j *job) startRetr(name string, first, total int64) (*partial, error) {
	dc, err := j.start("RETR " + name)
	if err != nil {
		return nil, err
	}
	p := &partial{dc: dc, h: sha256.New(), total: total}
	dc.SetDeadline(time.Now().Add(ioTimeout))
	p.n, err = io.CopyN(p.h, dc, first)
	if err != nil {
		dc.Close()
		return p, fmt.Errorf("first %d bytes: %w", first, err)
	}
	return p, nil
}

// finishRetr reads the rest of the data and the final reply. It returns
// the bytes read in all, the data error and the final reply (code 0 and
// an error when the control connection failed).
type retrResult struct {
	n       int64
	sum     [32]byte
	dataErr error
	code    int
	text    string
	ctrlErr error
}

func (r retrResult) String() string {
	return fmt.Sprintf("%d bytes, data error %v, final reply %d %q, control error %v", r.n, r.dataErr, r.code, r.text, r.ctrlErr)
}

func (j *job) finishRetr(p *partial) retrResult {
	p.dc.SetDeadline(time.Now().Add(ioTimeout))
	m, err := io.Copy(p.h, p.dc)
	p.dc.Close()
	res := retrResult{n: p.n + m, dataErr: err}
	copy(res.sum[:], p.h.Sum(nil))
	res.code, res.text, res.ctrlErr = j.reply()
	return res
}

// silentShort reports the failure this suite exists to catch: a cut
// transfer that the job believes complete.
func silentShort(code int, n, total int64) bool {
	return code == 226 && n != total
}

// gotError reports whether the job learnt that a transfer failed: an
// FTP error reply or a broken control connection.
func gotError(code int, ctrlErr error) bool {
	return ctrlErr != nil || code >= 400
}
