package demo

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"
)

// FTPConfig configures an [FTPServer].
type FTPConfig struct {
	User     string // the only user that may log in
	Password string
	Root     string // directory that holds the server's files
	// Anonymous lets "anonymous" (or "ftp") log in with any password, to
	// read only.
	Anonymous bool
}

// FTPServer is the demo's FTP server (github.com/fclairamb/ftpserverlib)
// on a loopback port, serving the files under one directory. It answers
// SITE UMASK as vsftpd does (ftpserverlib has no UMASK), applies the mask
// to the files it creates, and records the peer of every control and data
// connection so that the demo can tell where each came from.
type FTPServer struct {
	cfg FTPConfig
	srv *ftpserver.FtpServer
	ln  *ftpListener

	mu    sync.Mutex
	peers []string               // remote address of every connection, in order
	open  map[io.Closer]struct{} // live connections and passive listeners
	ctrl  map[string]*siteConn   // live control connections by remote address
	cmds  map[string]int         // commands received, by verb
	serve chan error             // Serve's result
	once  sync.Once
}

// StartFTPServer listens on 127.0.0.1 on a free port and serves until
// Close.
func StartFTPServer(cfg FTPConfig) (*FTPServer, error) {
	if cfg.User == "" || cfg.Password == "" || cfg.Root == "" {
		return nil, errors.New("demo: ftp server: user, password and root are required")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: ftp listen: %w", err)
	}
	f := &FTPServer{
		cfg:   cfg,
		open:  make(map[io.Closer]struct{}),
		ctrl:  make(map[string]*siteConn),
		cmds:  make(map[string]int),
		serve: make(chan error, 1),
	}
	f.ln = &ftpListener{Listener: ln, f: f}
	f.srv = ftpserver.NewFtpServer(&ftpDriver{f: f})
	if err := f.srv.Listen(); err != nil {
		ln.Close()
		return nil, fmt.Errorf("demo: ftp server: %w", err)
	}
	go func() { f.serve <- f.srv.Serve() }()
	return f, nil
}

// Addr returns the control listener's address.
func (f *FTPServer) Addr() netip.AddrPort {
	return f.ln.Addr().(*net.TCPAddr).AddrPort()
}

// Peers returns the remote address of every connection the server
// accepted, control and data, in order.
func (f *FTPServer) Peers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.peers...)
}

// Commands returns how many times the server received each command verb
// (upper case), on all control connections.
func (f *FTPServer) Commands() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.cmds))
	for k, v := range f.cmds {
		out[k] = v
	}
	return out
}

// count records the verb of a control line.
func (f *FTPServer) count(line []byte) {
	verb, _, _ := strings.Cut(strings.TrimSpace(string(line)), " ")
	if len(verb) == 0 || len(verb) > 8 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.cmds) < 256 {
		f.cmds[strings.ToUpper(verb)]++
	}
}

// Sum returns the SHA-256 and size of a file in the server's directory.
func (f *FTPServer) Sum(name string) ([32]byte, int64, error) {
	var sum [32]byte
	file, err := os.Open(filepath.Join(f.cfg.Root, filepath.Base(name)))
	if err != nil {
		return sum, 0, fmt.Errorf("demo: ftp server file: %w", err)
	}
	defer file.Close()
	h := sha256.New()
	n, err := io.Copy(h, file)
	if err != nil {
		return sum, n, fmt.Errorf("demo: ftp server file: %w", err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, n, nil
}

// Close stops the server and closes every connection and passive
// listener it has open.
func (f *FTPServer) Close() error {
	var err error
	f.once.Do(func() {
		err = f.srv.Stop()
		<-f.serve
		f.mu.Lock()
		open := make([]io.Closer, 0, len(f.open))
		for c := range f.open {
			open = append(open, c)
		}
		f.mu.Unlock()
		// Closed outside the lock: each Close leaves the table itself.
		for _, c := range open {
			c.Close()
		}
	})
	return err
}

// track records a new connection or listener; it closes it at once when
// the server is already closed.
func (f *FTPServer) track(c io.Closer, peer string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.open[c] = struct{}{}
	if peer != "" {
		f.peers = append(f.peers, peer)
	}
}

func (f *FTPServer) untrack(c io.Closer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.open, c)
}

// ftpDriver is the ftpserverlib main driver.
type ftpDriver struct{ f *FTPServer }

func (d *ftpDriver) GetSettings() (*ftpserver.Settings, error) {
	return &ftpserver.Settings{
		Listener:            d.f.ln,
		PublicHost:          "127.0.0.1",
		IdleTimeout:         300,
		ConnectionTimeout:   30,
		DefaultTransferType: ftpserver.TransferTypeBinary,
		// Like vsftpd's port_enable=NO: a PORT that reached the server
		// would fail, so active mode works only when socksd converts it.
		DisableActiveMode: true,
		Banner:            "socksd demo FTP server",
	}, nil
}

func (d *ftpDriver) ClientConnected(cc ftpserver.ClientContext) (string, error) {
	return "socksd demo FTP server ready", nil
}

func (d *ftpDriver) ClientDisconnected(cc ftpserver.ClientContext) {}

func (d *ftpDriver) AuthUser(cc ftpserver.ClientContext, user, pass string) (ftpserver.ClientDriver, error) {
	if d.f.cfg.Anonymous && (strings.EqualFold(user, "anonymous") || strings.EqualFold(user, "ftp")) {
		return afero.NewReadOnlyFs(afero.NewBasePathFs(afero.NewOsFs(), d.f.cfg.Root)), nil
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(d.f.cfg.User)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(d.f.cfg.Password)) == 1
	if !userOK || !passOK {
		return nil, errors.New("demo: login refused")
	}
	d.f.mu.Lock()
	sc := d.f.ctrl[cc.RemoteAddr().String()]
	d.f.mu.Unlock()
	mask := func() os.FileMode { return defaultUmask }
	if sc != nil {
		mask = sc.mask
	}
	return umaskFs{Fs: afero.NewBasePathFs(afero.NewOsFs(), d.f.cfg.Root), umask: mask}, nil
}

func (d *ftpDriver) GetTLSConfig() (*tls.Config, error) {
	return nil, errors.New("demo: the demo FTP server has no TLS")
}

// WrapPassiveListener records the passive data connections, and accepts
// them from loopback peers only (ftpserverlib listens on every address).
func (d *ftpDriver) WrapPassiveListener(ln net.Listener) (net.Listener, error) {
	pl := &passiveListener{Listener: ln, f: d.f}
	d.f.track(pl, "")
	return pl, nil
}

// ftpListener wraps the control listener: it records each connection and
// wraps it in a siteConn.
type ftpListener struct {
	net.Listener
	f *FTPServer
}

func (l *ftpListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := newSiteConn(c, l.f)
	l.f.mu.Lock()
	l.f.ctrl[c.RemoteAddr().String()] = sc
	l.f.mu.Unlock()
	l.f.track(sc, c.RemoteAddr().String())
	return sc, nil
}

// passiveListener accepts loopback data connections and records them.
type passiveListener struct {
	net.Listener
	f *FTPServer
}

func (l *passiveListener) Accept() (net.Conn, error) {
	for range 16 {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap := c.RemoteAddr().(*net.TCPAddr).AddrPort()
		if !ap.Addr().Unmap().IsLoopback() {
			c.Close()
			continue
		}
		tc := &trackedConn{Conn: c, f: l.f}
		l.f.track(tc, c.RemoteAddr().String())
		return tc, nil
	}
	return nil, errors.New("demo: passive listener: too many connections from outside loopback")
}

func (l *passiveListener) Close() error {
	l.f.untrack(l)
	return l.Listener.Close()
}

// trackedConn leaves the server's table when closed.
type trackedConn struct {
	net.Conn
	f    *FTPServer
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.f.untrack(c) })
	return c.Conn.Close()
}

// defaultUmask is the mask before SITE UMASK, as vsftpd's local_umask.
const defaultUmask os.FileMode = 0o077

// umaskFs applies the session's umask to the files it creates, which get
// mode 0666 less the mask.
type umaskFs struct {
	afero.Fs
	umask func() os.FileMode
}

func (u umaskFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if flag&os.O_CREATE == 0 {
		return u.Fs.OpenFile(name, flag, perm)
	}
	mode := perm & 0o666 &^ u.umask()
	_, statErr := u.Fs.Stat(name)
	file, err := u.Fs.OpenFile(name, flag, mode)
	if err == nil && os.IsNotExist(statErr) {
		// The process umask applied too; set exactly the session's mode.
		u.Fs.Chmod(name, mode)
	}
	return file, err
}

func (u umaskFs) Create(name string) (afero.File, error) {
	return u.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}
