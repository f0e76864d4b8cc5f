package demo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jlaffaye/ftp"
	"golang.org/x/net/proxy"

	"socksd/ebcdic"
	"socksd/internal/testing/ftpjob"
	"socksd/socks"
)

// fetched is what a GET brought back.
type fetched struct {
	Sum  [32]byte
	Size int64
}

// ftpClient is what the deck interpreter needs of an FTP client.
type ftpClient interface {
	Login(user, pass string) error
	// Quote sends one command line and returns the server's reply.
	Quote(line string) (int, string, error)
	Put(ctx context.Context, remote string, data []byte) error
	Get(ctx context.Context, remote string) (fetched, error)
	List(ctx context.Context) (string, error)
	Quit() error
	Close() error
}

// deadlineOf is ctx's deadline, or a minute from now when it has none.
func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(time.Minute)
}

// bindConn ties a connection to ctx: it gets ctx's deadline and is closed
// when ctx ends (an interrupted demo ends its transfers at once).
func bindConn(ctx context.Context, c net.Conn) {
	c.SetDeadline(deadlineOf(ctx))
	context.AfterFunc(ctx, func() { c.Close() })
}

// passiveClient is github.com/jlaffaye/ftp dialing through socksd with
// golang.org/x/net/proxy's SOCKS5 dialer: control and (passive) data
// connections are SOCKS5 CONNECTs.
type passiveClient struct {
	c    *ftp.ServerConn
	mu   sync.Mutex
	ctrl net.Conn // the control connection, for commands jlaffaye/ftp lacks
	quit bool
}

// dialPassive connects to the FTP server at ftpAddr through the SOCKS5
// proxy at socksAddr. Every connection gets ctx's deadline.
func dialPassive(ctx context.Context, socksAddr, ftpAddr string) (*passiveClient, error) {
	d, err := proxy.SOCKS5("tcp", socksAddr, nil, &net.Dialer{Timeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("demo: socks5 dialer: %w", err)
	}
	cd, ok := d.(proxy.ContextDialer)
	if !ok {
		return nil, errors.New("demo: socks5 dialer has no DialContext")
	}
	pc := &passiveClient{}
	dial := func(network, addr string) (net.Conn, error) {
		c, err := cd.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		bindConn(ctx, c)
		pc.mu.Lock()
		if pc.ctrl == nil {
			pc.ctrl = c
		}
		pc.mu.Unlock()
		return c, nil
	}
	c, err := ftp.Dial(ftpAddr, ftp.DialWithDialFunc(dial), ftp.DialWithDisabledMLSD(true))
	if err != nil {
		return nil, fmt.Errorf("demo: ftp through socksd: %w", err)
	}
	pc.c = c
	return pc, nil
}

func (p *passiveClient) Login(user, pass string) error { return p.c.Login(user, pass) }

// Quote sends a command jlaffaye/ftp has no method for (SITE) on its
// control connection. FTP is lock-step and jlaffaye/ftp has read every
// reply of its own commands, so the next reply on the connection is the
// answer to this one.
func (p *passiveClient) Quote(line string) (int, string, error) {
	if strings.ContainsAny(line, "\r\n") {
		return 0, "", errors.New("demo: command contains a line end")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := io.WriteString(p.ctrl, line+"\r\n"); err != nil {
		return 0, "", fmt.Errorf("demo: %w", err)
	}
	code, msg, err := textproto.NewReader(bufio.NewReaderSize(oneByteReader{p.ctrl}, 16)).ReadResponse(0)
	if err != nil {
		var pe *textproto.Error
		if errors.As(err, &pe) {
			return pe.Code, pe.Msg, nil
		}
		return 0, "", fmt.Errorf("demo: reply to %s: %w", strings.Fields(line)[0], err)
	}
	return code, msg, nil
}

// oneByteReader reads one byte at a time, so that nothing after the reply
// is taken from the connection that jlaffaye/ftp reads next.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

func (p *passiveClient) Put(ctx context.Context, remote string, data []byte) error {
	return p.c.Stor(remote, bytes.NewReader(data))
}

func (p *passiveClient) Get(ctx context.Context, remote string) (fetched, error) {
	r, err := p.c.Retr(remote)
	if err != nil {
		return fetched{}, err
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	cerr := r.Close()
	if err == nil {
		err = cerr
	}
	var f fetched
	f.Size = n
	copy(f.Sum[:], h.Sum(nil))
	return f, err
}

func (p *passiveClient) List(ctx context.Context) (string, error) {
	entries, err := p.c.List("")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%-4s %12d %s %s\n", entryType(e.Type), e.Size, e.Time.UTC().Format("2006-01-02 15:04"), e.Name)
	}
	return b.String(), nil
}

func entryType(t ftp.EntryType) string {
	switch t {
	case ftp.EntryTypeFolder:
		return "dir"
	case ftp.EntryTypeLink:
		return "link"
	}
	return "file"
}

// Quit sends QUIT and closes the connection.
func (p *passiveClient) Quit() error {
	if p.quit {
		return nil
	}
	p.quit = true
	return p.c.Quit()
}

// Close ends the session if Quit did not.
func (p *passiveClient) Close() error { return p.Quit() }

// activeClient is the z/OS-like job client: every data connection is a
// SOCKS BIND whose address goes to the server in PORT, as the z/OS FTP
// client does behind a SOCKS server.
type activeClient struct{ j *ftpjob.Job }

// dialActive opens the job's control connection through socksd.
func dialActive(ctx context.Context, socksAddr string, ftpAddr socks.Addr) (*activeClient, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	j := &ftpjob.Job{
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				bindConn(ctx, c)
			}
			return c, err
		},
		Proxy: socksAddr, Version: 5, Server: ftpAddr,
		// The z/OS client's control connection: IBM-1047 with NL (X'15')
		// line ends. socksd detects it from the first command (the rule's
		// encoding is auto), so the greeting still comes in ASCII.
		CP: ebcdic.IBM1047, End: []byte{0x15}, ASCIIGreeting: true,
	}
	if err := j.Open(ctx); err != nil {
		return nil, fmt.Errorf("demo: job through socksd: %w", err)
	}
	return &activeClient{j: j}, nil
}

func (a *activeClient) Login(user, pass string) error { return a.j.Login(user, pass) }

// Quote sends a command; the reply text comes without its code, as
// jlaffaye/ftp gives it.
func (a *activeClient) Quote(line string) (int, string, error) {
	code, text, err := a.j.Cmd(line)
	if len(text) > 4 && strings.HasPrefix(text, strconv.Itoa(code)) {
		text = text[4:]
	}
	return code, text, err
}

func (a *activeClient) Put(ctx context.Context, remote string, data []byte) error {
	return a.j.Put(ctx, remote, data, true)
}

func (a *activeClient) Get(ctx context.Context, remote string) (fetched, error) {
	sum, n, err := a.j.Get(ctx, remote, true)
	return fetched{Sum: sum, Size: n}, err
}

func (a *activeClient) List(ctx context.Context) (string, error) { return a.j.List(ctx, true) }

func (a *activeClient) Quit() error {
	_, err := a.j.Expect("QUIT", 2)
	return err
}

func (a *activeClient) Close() error {
	a.j.Close()
	return nil
}
