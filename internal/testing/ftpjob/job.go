// Package ftpjob is an FTP client that behaves like the z/OS FTP client
// behind a SOCKS server: its control connection may be in EBCDIC with any
// of the z/OS line ends, and in active mode (the z/OS default) it asks the
// SOCKS server to BIND and sends PORT with the bound address. The demo and
// the end-to-end tests drive it.
package ftpjob

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"socksd/ebcdic"
	"socksd/ftp"
	"socksd/socks"
)

// Job is one FTP client session through a SOCKS server.
type Job struct {
	Dial    func(ctx context.Context, network, addr string) (net.Conn, error) // reaches socksd
	Proxy   string                                                            // socksd's address
	Version int                                                               // 4 or 5
	HostOK  bool                                                              // SOCKS4a/5: send the host name, not the address
	User    string                                                            // SOCKS user id (SOCKS4 USERID, SOCKS5 user)
	Pass    string                                                            // SOCKS5 password, "" for none
	CP      ebcdic.CodePage
	End     []byte // line end the job sends
	Server  socks.Addr
	// asciiGreeting: the greeting comes in ASCII (the rule's encoding is
	// auto, and socksd has not yet seen the job's first command).
	ASCIIGreeting bool

	ctrl net.Conn
	r    *bufio.Reader
	Log  []string // the dialogue, passwords hidden
}

func (j *Job) socksConn(ctx context.Context) (net.Conn, error) {
	c, err := j.Dial(ctx, "tcp", j.Proxy)
	if err != nil {
		return nil, fmt.Errorf("ftpjob: dial socksd: %w", err)
	}
	return c, nil
}

// Open connects the control connection and reads the greeting.
func (j *Job) Open(ctx context.Context) error {
	c, err := j.socksConn(ctx)
	if err != nil {
		return err
	}
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := socks.ClientHandshake(c, j.Version, j.Server, j.User, j.Pass); err != nil {
		c.Close()
		return fmt.Errorf("ftpjob: SOCKS CONNECT: %w", err)
	}
	j.ctrl, j.r = c, bufio.NewReader(c)
	cp := j.CP
	if j.ASCIIGreeting {
		j.CP = ebcdic.ASCII
	}
	code, text, err := j.Reply()
	j.CP = cp
	if err != nil || code != 220 {
		return fmt.Errorf("ftpjob: greeting %d %q: %v", code, text, err)
	}
	return nil
}

// Close ends the control connection.
func (j *Job) Close() {
	if j.ctrl != nil {
		j.ctrl.Close()
	}
}

// line reads one control line in the job's code page.
func (j *Job) line() (string, error) {
	var b []byte
	for len(b) < 8192 {
		c, err := j.r.ReadByte()
		if err != nil {
			return "", err
		}
		if c == 0x0a || j.CP.IsEBCDIC() && (c == 0x15 || c == 0x25) {
			b = bytes.TrimSuffix(b, []byte{0x0d})
			s := ebcdic.Decode(j.CP, b)
			j.Log = append(j.Log, "< "+s)
			return s, nil
		}
		b = append(b, c)
	}
	return "", fmt.Errorf("ftpjob: reply line too long")
}

// Reply reads a whole (possibly multi-line) reply.
func (j *Job) Reply() (int, string, error) {
	j.ctrl.SetReadDeadline(time.Now().Add(30 * time.Second))
	first, err := j.line()
	if err != nil {
		return 0, "", err
	}
	if len(first) < 3 {
		return 0, first, fmt.Errorf("ftpjob: short reply %q", first)
	}
	code, err := strconv.Atoi(first[:3])
	if err != nil {
		return 0, first, fmt.Errorf("ftpjob: bad reply %q", first)
	}
	text := first
	if len(first) > 3 && first[3] == '-' {
		for i := 0; i < 1000; i++ {
			l, err := j.line()
			if err != nil {
				return 0, text, err
			}
			text += "\n" + l
			if strings.HasPrefix(l, first[:3]+" ") {
				break
			}
		}
	}
	return code, text, nil
}

// Cmd sends one command and returns the reply.
func (j *Job) Cmd(line string) (int, string, error) {
	shown := line
	if strings.HasPrefix(strings.ToUpper(line), "PASS ") {
		shown = "PASS ****"
	}
	j.Log = append(j.Log, "> "+shown)
	if _, err := j.ctrl.Write(append(ebcdic.Encode(j.CP, line), j.End...)); err != nil {
		return 0, "", err
	}
	return j.Reply()
}

// Expect sends a command and checks the reply's first digit.
func (j *Job) Expect(line string, class int) (string, error) {
	code, text, err := j.Cmd(line)
	if err != nil {
		return text, err
	}
	if code/100 != class {
		return text, fmt.Errorf("ftpjob: %q answered %q", strings.Fields(line + " x")[0], text)
	}
	return text, nil
}

// Login sends USER and PASS.
func (j *Job) Login(user, pass string) error {
	code, text, err := j.Cmd("USER " + user)
	if err != nil {
		return err
	}
	if code == 331 {
		code, text, err = j.Cmd("PASS " + pass)
		if err != nil {
			return err
		}
	}
	if code != 230 {
		return fmt.Errorf("ftpjob: login: %q", text)
	}
	return nil
}

// dataConn opens the data connection for the next transfer command. In
// active mode it BINDs and sends PORT; in passive mode it sends PASV and
// CONNECTs through SOCKS to the 227 address. It returns a function that
// yields the connected data stream after the transfer command was sent.
func (j *Job) dataConn(ctx context.Context, active bool) (func() (net.Conn, error), error) {
	c, err := j.socksConn(ctx)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	if active {
		dest := j.Server
		first, err := socks.ClientBind(c, j.Version, dest, j.User, j.Pass)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("ftpjob: SOCKS BIND: %w", err)
		}
		ap, err := netip.ParseAddrPort(first.String())
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("ftpjob: BIND address %v: %w", first, err)
		}
		port, err := ftp.FormatPORT(ap)
		if err != nil {
			c.Close()
			return nil, err
		}
		if _, err := j.Expect("PORT "+port, 2); err != nil {
			c.Close()
			return nil, err
		}
		return func() (net.Conn, error) {
			if _, err := socks.ReadBindSecond(c, j.Version); err != nil {
				c.Close()
				return nil, fmt.Errorf("ftpjob: second BIND reply: %w", err)
			}
			return c, nil
		}, nil
	}
	text, err := j.Expect("PASV", 2)
	if err != nil {
		c.Close()
		return nil, err
	}
	ap, err := ftp.Parse227(text)
	if err != nil {
		c.Close()
		return nil, err
	}
	dest := socks.Addr{Host: ap.Addr().String(), Port: ap.Port()}
	if _, err := socks.ClientHandshake(c, j.Version, dest, j.User, j.Pass); err != nil {
		c.Close()
		return nil, fmt.Errorf("ftpjob: data CONNECT: %w", err)
	}
	return func() (net.Conn, error) { return c, nil }, nil
}

// Put stores data under name and returns the final reply code.
func (j *Job) Put(ctx context.Context, name string, data []byte, active bool) error {
	get, err := j.dataConn(ctx, active)
	if err != nil {
		return err
	}
	if _, err := j.Expect("STOR "+name, 1); err != nil {
		return err
	}
	dc, err := get()
	if err != nil {
		return err
	}
	if _, err := dc.Write(data); err != nil {
		dc.Close()
		return fmt.Errorf("ftpjob: data write: %w", err)
	}
	dc.Close()
	code, text, err := j.Reply()
	if err != nil || code != 226 {
		return fmt.Errorf("ftpjob: STOR final reply %q: %v", text, err)
	}
	return nil
}

// Get retrieves name and returns its SHA-256 and length.
func (j *Job) Get(ctx context.Context, name string, active bool) ([32]byte, int64, error) {
	var sum [32]byte
	getc, err := j.dataConn(ctx, active)
	if err != nil {
		return sum, 0, err
	}
	if _, err := j.Expect("RETR "+name, 1); err != nil {
		return sum, 0, err
	}
	dc, err := getc()
	if err != nil {
		return sum, 0, err
	}
	h := sha256.New()
	n, err := io.Copy(h, dc)
	dc.Close()
	if err != nil {
		return sum, n, fmt.Errorf("ftpjob: data read: %w", err)
	}
	code, text, err := j.Reply()
	if err != nil || code != 226 {
		return sum, n, fmt.Errorf("ftpjob: RETR final reply %q: %v", text, err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, n, nil
}

// List runs LIST and returns the listing.
func (j *Job) List(ctx context.Context, active bool) (string, error) {
	getc, err := j.dataConn(ctx, active)
	if err != nil {
		return "", err
	}
	if _, err := j.Expect("LIST", 1); err != nil {
		return "", err
	}
	dc, err := getc()
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(dc)
	dc.Close()
	if err != nil {
		return "", err
	}
	code, text, err := j.Reply()
	if err != nil || code != 226 {
		return "", fmt.Errorf("ftpjob: LIST final reply %q: %v", text, err)
	}
	return string(b), nil
}
