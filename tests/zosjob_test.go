package tests

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

// zosJob behaves like the z/OS FTP client behind a SOCKS server: its
// control connection may be in EBCDIC with any of the z/OS line ends, and
// in active mode (its default) it asks the SOCKS server to BIND and sends
// PORT with the bound address.
type zosJob struct {
	dial    func(ctx context.Context, network, addr string) (net.Conn, error) // reaches socksd
	proxy   string                                                            // socksd's address
	version int                                                               // 4 or 5
	hostOK  bool                                                              // SOCKS4a/5: send the host name, not the address
	user    string                                                            // SOCKS user id (SOCKS4 USERID, SOCKS5 user)
	pass    string                                                            // SOCKS5 password, "" for none
	cp      ebcdic.CodePage
	end     []byte // line end the job sends
	server  socks.Addr
	// asciiGreeting: the greeting comes in ASCII (the rule's encoding is
	// auto, and socksd has not yet seen the job's first command).
	asciiGreeting bool

	ctrl net.Conn
	r    *bufio.Reader
	log  []string // the dialogue, for failure messages
}

func (j *zosJob) socksConn(ctx context.Context) (net.Conn, error) {
	c, err := j.dial(ctx, "tcp", j.proxy)
	if err != nil {
		return nil, fmt.Errorf("job: dial socksd: %w", err)
	}
	return c, nil
}

// open connects the control connection and reads the greeting.
func (j *zosJob) open(ctx context.Context) error {
	c, err := j.socksConn(ctx)
	if err != nil {
		return err
	}
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := socks.ClientHandshake(c, j.version, j.server, j.user, j.pass); err != nil {
		c.Close()
		return fmt.Errorf("job: SOCKS CONNECT: %w", err)
	}
	j.ctrl, j.r = c, bufio.NewReader(c)
	cp := j.cp
	if j.asciiGreeting {
		j.cp = ebcdic.ASCII
	}
	code, text, err := j.reply()
	j.cp = cp
	if err != nil || code != 220 {
		return fmt.Errorf("job: greeting %d %q: %v", code, text, err)
	}
	return nil
}

func (j *zosJob) close() {
	if j.ctrl != nil {
		j.ctrl.Close()
	}
}

// line reads one control line in the job's code page.
func (j *zosJob) line() (string, error) {
	var b []byte
	for len(b) < 8192 {
		c, err := j.r.ReadByte()
		if err != nil {
			return "", err
		}
		if c == 0x0a || j.cp.IsEBCDIC() && (c == 0x15 || c == 0x25) {
			b = bytes.TrimSuffix(b, []byte{0x0d})
			s := ebcdic.Decode(j.cp, b)
			j.log = append(j.log, "< "+s)
			return s, nil
		}
		b = append(b, c)
	}
	return "", fmt.Errorf("job: reply line too long")
}

// reply reads a whole (possibly multi-line) reply.
func (j *zosJob) reply() (int, string, error) {
	j.ctrl.SetReadDeadline(time.Now().Add(30 * time.Second))
	first, err := j.line()
	if err != nil {
		return 0, "", err
	}
	if len(first) < 3 {
		return 0, first, fmt.Errorf("job: short reply %q", first)
	}
	code, err := strconv.Atoi(first[:3])
	if err != nil {
		return 0, first, fmt.Errorf("job: bad reply %q", first)
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

// cmd sends one command and returns the reply.
func (j *zosJob) cmd(line string) (int, string, error) {
	shown := line
	if strings.HasPrefix(strings.ToUpper(line), "PASS ") {
		shown = "PASS ****"
	}
	j.log = append(j.log, "> "+shown)
	if _, err := j.ctrl.Write(append(ebcdic.Encode(j.cp, line), j.end...)); err != nil {
		return 0, "", err
	}
	return j.reply()
}

// expect sends a command and checks the reply's first digit.
func (j *zosJob) expect(line string, class int) (string, error) {
	code, text, err := j.cmd(line)
	if err != nil {
		return text, err
	}
	if code/100 != class {
		return text, fmt.Errorf("job: %q answered %q", strings.Fields(line + " x")[0], text)
	}
	return text, nil
}

func (j *zosJob) login(user, pass string) error {
	code, text, err := j.cmd("USER " + user)
	if err != nil {
		return err
	}
	if code == 331 {
		code, text, err = j.cmd("PASS " + pass)
		if err != nil {
			return err
		}
	}
	if code != 230 {
		return fmt.Errorf("job: login: %q", text)
	}
	return nil
}

// dataConn opens the data connection for the next transfer command. In
// active mode it BINDs and sends PORT; in passive mode it sends PASV and
// CONNECTs through SOCKS to the 227 address. It returns a function that
// yields the connected data stream after the transfer command was sent.
func (j *zosJob) dataConn(ctx context.Context, active bool) (func() (net.Conn, error), error) {
	c, err := j.socksConn(ctx)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	if active {
		dest := j.server
		first, err := socks.ClientBind(c, j.version, dest, j.user, j.pass)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("job: SOCKS BIND: %w", err)
		}
		ap, err := netip.ParseAddrPort(first.String())
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("job: BIND address %v: %w", first, err)
		}
		port, err := ftp.FormatPORT(ap)
		if err != nil {
			c.Close()
			return nil, err
		}
		if _, err := j.expect("PORT "+port, 2); err != nil {
			c.Close()
			return nil, err
		}
		return func() (net.Conn, error) {
			if _, err := socks.ReadBindSecond(c, j.version); err != nil {
				c.Close()
				return nil, fmt.Errorf("job: second BIND reply: %w", err)
			}
			return c, nil
		}, nil
	}
	text, err := j.expect("PASV", 2)
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
	if _, err := socks.ClientHandshake(c, j.version, dest, j.user, j.pass); err != nil {
		c.Close()
		return nil, fmt.Errorf("job: data CONNECT: %w", err)
	}
	return func() (net.Conn, error) { return c, nil }, nil
}

// put stores data under name and returns the final reply code.
func (j *zosJob) put(ctx context.Context, name string, data []byte, active bool) error {
	get, err := j.dataConn(ctx, active)
	if err != nil {
		return err
	}
	if _, err := j.expect("STOR "+name, 1); err != nil {
		return err
	}
	dc, err := get()
	if err != nil {
		return err
	}
	if _, err := dc.Write(data); err != nil {
		dc.Close()
		return fmt.Errorf("job: data write: %w", err)
	}
	dc.Close()
	code, text, err := j.reply()
	if err != nil || code != 226 {
		return fmt.Errorf("job: STOR final reply %q: %v", text, err)
	}
	return nil
}

// get retrieves name and returns its SHA-256 and length.
func (j *zosJob) get(ctx context.Context, name string, active bool) ([32]byte, int64, error) {
	var sum [32]byte
	getc, err := j.dataConn(ctx, active)
	if err != nil {
		return sum, 0, err
	}
	if _, err := j.expect("RETR "+name, 1); err != nil {
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
		return sum, n, fmt.Errorf("job: data read: %w", err)
	}
	code, text, err := j.reply()
	if err != nil || code != 226 {
		return sum, n, fmt.Errorf("job: RETR final reply %q: %v", text, err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, n, nil
}

// list runs LIST and returns the listing.
func (j *zosJob) list(ctx context.Context, active bool) (string, error) {
	getc, err := j.dataConn(ctx, active)
	if err != nil {
		return "", err
	}
	if _, err := j.expect("LIST", 1); err != nil {
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
	code, text, err := j.reply()
	if err != nil || code != 226 {
		return "", fmt.Errorf("job: LIST final reply %q: %v", text, err)
	}
	return string(b), nil
}
