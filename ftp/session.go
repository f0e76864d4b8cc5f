package ftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"socksd/ebcdic"
	"socksd/internal/relay"
)

// Tunnel is one lease on an authenticated SSH connection.
type Tunnel interface {
	// Dial opens a direct-tcpip channel to addr, an unresolved "host:port"
	// as the SSH server sees it.
	Dial(ctx context.Context, network, addr string) (net.Conn, error)
	// Server returns the SSH server's host:port, for logs and audit.
	Server() string
	// ID returns the SSH connection's id, for logs.
	ID() string
	// Close releases the lease.
	Close() error
}

// Subsystems is a Tunnel that can also start an SSH subsystem on its
// connection: the ftp-sftp action needs "sftp". The stream is the
// subsystem's stdin and stdout; Close ends the session channel.
type Subsystems interface {
	Tunnel
	Subsystem(ctx context.Context, name string) (io.ReadWriteCloser, error)
}

// FallbackError, returned by an Opener, says that the SSH server could not
// be reached at all (Err) and that the rule falls back to plain FTP: Plain
// dials the job's FTP server directly. The session then logs in there with
// the job's USER and PASS, which travel in clear, and relays as ftp-tunnel
// does.
type FallbackError struct {
	Err   error
	Plain Tunnel
}

func (e *FallbackError) Error() string { return e.Err.Error() }

// Unwrap returns the tunnel error.
func (e *FallbackError) Unwrap() error { return e.Err }

// Opener opens the tunnel for the credentials captured from the job. An
// empty password means none: the profile's public key is used. The
// password stays the session's, which sends it to the FTP server next and
// then wipes it: the Opener must neither keep nor change it.
type Opener func(ctx context.Context, user string, password []byte) (Tunnel, error)

// Options are the FTP settings of the rule that sent a session here.
type Options struct {
	Data         string        // "auto" | "socks" | "rewrite"; "" = auto
	Active       string        // "convert" | "refuse"; "" = convert
	Encoding     string        // "auto" | "ascii" | "ibm-1047" | "ibm-037": the job's control code page; "" = auto
	Deny         []string      // command patterns refused with 550 (see the package documentation)
	AllowAuthTLS bool          // relay AUTH TLS/SSL and stop inspecting
	MaxLine      int           // longest control line; default 4096
	IdleTimeout  time.Duration // idle timeout of data connections; 0 = none
}

// The data modes of Options.Data and active modes of Options.Active.
const (
	DataAuto      = "auto"
	DataSocks     = "socks"
	DataRewrite   = "rewrite"
	ActiveConvert = "convert"
	ActiveRefuse  = "refuse"
)

// normalize fills in defaults and checks the values.
func (o Options) normalize() (Options, error) {
	if o.Data == "" {
		o.Data = DataAuto
	}
	if o.Active == "" {
		o.Active = ActiveConvert
	}
	if o.Encoding == "" {
		o.Encoding = "auto"
	}
	if o.MaxLine <= 0 {
		o.MaxLine = ebcdic.DefaultMaxLine
	}
	o.Data = strings.ToLower(o.Data)
	o.Active = strings.ToLower(o.Active)
	return o, o.Check()
}

// SessionConfig is everything one FTP session needs from the daemon.
type SessionConfig struct {
	ID         uint64
	Client     net.Conn       // the job's control connection; the SOCKS CONNECT has been answered
	ClientAddr netip.AddrPort // the job's address
	LocalAddr  netip.Addr     // the daemon's address on the client's connection
	Server     string         // "host:port" the job asked for, unresolved
	Rule       string
	Options    Options
	Open       Opener
	// SFTP, when set, makes the session ftp-sftp: socksd serves the job's
	// FTP commands itself from the sftp subsystem of the SSH connection
	// that Open returns (a Subsystems), and no FTP server is dialled.
	SFTP   *SFTPOptions
	Broker *Broker // nil: a private broker (data connections cannot come back through SOCKS)
	Audit  func(Transfer)
	Log    zerolog.Logger
	// Counters, when set, counts the bytes of the connections the session
	// owns: the control connection, and the data connections socksd
	// accepts or dials for it itself (rewrite listener, plain PORT). A data
	// connection that comes as its own SOCKS request counts on that
	// request's DataJob.Counters instead, so each byte counts once.
	Counters *relay.Counters
	// DataCounters, when set, counts the bytes of all the session's data
	// connections, whichever socksd session carried them.
	DataCounters *relay.Counters
	// Trace, when set, is told the direction and size of each block the
	// session relays on the connections of Counters; see relay.Options.
	Trace func(up bool, n int)
}

// Limits of one session.
const (
	maxPreLoginCommands = 50
	replyWait           = 60 * time.Second // longest wait for a reply socksd asked for itself
	dialTimeout         = 30 * time.Second
	dataGrace           = 30 * time.Second // wait for a data relay to end after the server's 2xx
	listenTimeout       = 2 * time.Minute  // how long a rewrite listener waits for the job
	writeTimeout        = 5 * time.Minute  // longest a control write may block
)

// errQuit ends a session normally.
var errQuit = errors.New("ftp: session ended by QUIT")

// session is the state of one control connection.
type session struct {
	cfg    SessionConfig
	opt    Options
	grace  time.Duration // dataGrace; shorter in tests
	log    zerolog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	broker *Broker
	policy policy

	job *side
	srv *side
	tun Tunnel

	clientIP    netip.Addr
	controlHost string // the host part of cfg.Server
	controlIP   netip.Addr
	user        string
	sshServer   string

	// Touched only by the goroutine running Serve.
	pending  []*pendingCmd
	data     *dataConn // the data connection prepared by the last PASV/EPSV/PORT/EPRT
	quitSent bool
	rawMode  bool
	rr       *ReplyReader // the server's replies
	loop     *loop
	ctl      *control  // the session as the broker knows it, while the control relay runs
	deps     *dataDeps // what the session's data connections get from it

	// sftp is set once an ftp-sftp session has logged in (not when it
	// fell back to plain FTP): socksd then serves the commands itself.
	sftp *sftpState

	mu sync.Mutex // guards srv and sftp against closeConns

	wg sync.WaitGroup // data connection goroutines
}

// Serve runs one FTP control session: it greets the job, captures its login,
// opens the tunnel, logs in to the server through it and relays the control
// connection until either side ends, ctx ends (then its data connections
// end too) or a fatal error occurs. It closes cfg.Client before returning. A
// session that ends with QUIT or the job's disconnect returns nil.
func Serve(ctx context.Context, cfg SessionConfig) error {
	if cfg.Client == nil {
		return errors.New("ftp: no client connection")
	}
	defer cfg.Client.Close()
	if cfg.Open == nil {
		return errors.New("ftp: no tunnel opener")
	}
	opt, err := cfg.Options.normalize()
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(cfg.Server)
	if err != nil || host == "" {
		return fmt.Errorf("ftp: server address %q: want host:port", cfg.Server)
	}
	pol, err := compilePolicy(opt.Deny)
	if err != nil {
		return err
	}
	s := &session{
		cfg:         cfg,
		opt:         opt,
		broker:      cfg.Broker,
		policy:      pol,
		controlHost: host,
		clientIP:    cfg.ClientAddr.Addr().Unmap(),
		grace:       dataGrace,
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		s.controlIP = ip.Unmap()
	}
	if s.broker == nil {
		s.broker = NewBroker()
	}
	s.log = cfg.Log.With().Uint64("session", cfg.ID).Str("client", cfg.ClientAddr.String()).
		Str("server", cfg.Server).Str("rule", cfg.Rule).Logger()
	s.ctx, s.cancel = context.WithCancel(ctx)
	defer s.cancel()
	stop := context.AfterFunc(s.ctx, s.closeConns)
	defer stop()
	defer s.shutdown()

	s.job = newSide("job", cfg.Client, opt.MaxLine, cfg.Counters, true)
	// The login runs on a goroutine of its own: the stack it grows (SSH
	// handshake, key exchange, logging) goes when it ends, and the session's
	// goroutine stays small while the session idles.
	loginDone := make(chan error, 1)
	go func() { loginDone <- s.login() }()
	if err := <-loginDone; err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("ftp: session ended: %w", ctx.Err())
		}
		if errors.Is(err, errQuit) || errors.Is(err, errJobGone) {
			return nil
		}
		return err
	}
	if s.sftpSide() != nil {
		err = s.serveSFTP()
	} else {
		err = s.run()
	}
	if ctx.Err() != nil {
		return fmt.Errorf("ftp: session ended: %w", ctx.Err())
	}
	if errors.Is(err, errQuit) || errors.Is(err, errJobGone) {
		return nil
	}
	return err
}

// closeConns closes both control connections (and, in ftp-sftp, the SFTP
// channels); used when ctx ends, to unblock every read and SFTP request.
func (s *session) closeConns() {
	s.cfg.Client.Close()
	if srv := s.serverSide(); srv != nil {
		srv.conn.Close()
	}
	if st := s.sftpSide(); st != nil {
		st.closeStreams()
	}
}

func (s *session) serverSide() *side {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}

// shutdown ends the session's data connections and releases the tunnel.
func (s *session) shutdown() {
	s.cancel()
	if s.data != nil {
		s.data.close()
	}
	for _, p := range s.pending {
		if p.xfer != nil && p.xfer.data != nil {
			p.xfer.data.close()
		}
	}
	if s.ctl != nil {
		s.broker.leave(s.ctl)
	}
	s.wg.Wait()
	srv := s.serverSide()
	if srv != nil {
		srv.conn.Close()
	}
	for _, p := range s.pending {
		if p.xfer != nil {
			s.finishTransfer(p.xfer, 0, "session ended before the final reply")
		}
	}
	s.pending = nil
	if st := s.sftpSide(); st != nil {
		st.closeStreams()
	}
	if s.tun != nil {
		s.tun.Close()
	}
}

// dial opens a connection to addr through the tunnel, bounded by dialTimeout.
func (s *session) dial(addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(s.ctx, dialTimeout)
	defer cancel()
	c, err := s.tun.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ftp: dial %s through %s: %w", addr, s.sshServer, err)
	}
	return c, nil
}

// joinBroker builds what the session's data connections get from it and
// makes the session reachable for data requests through the broker. It
// runs once, when the control relay starts after login.
func (s *session) joinBroker() {
	tun, via, wg := s.tun, s.sshServer, &s.wg
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		c, err := tun.Dial(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("ftp: data channel to %s through %s: %w", addr, via, err)
		}
		return c, nil
	}
	splice := splicerOf(tun)
	if st := s.sftpSide(); st != nil {
		// ftp-sftp: the data connection's far end is a socket pair whose
		// other end the transfer reads or writes.
		dial, splice = st.pairs.dial, nil
	}
	s.deps = &dataDeps{
		id:     s.cfg.ID,
		log:    s.log,
		ctx:    s.ctx,
		client: s.clientIP,
		idle:   s.opt.IdleTimeout,
		via:    via,
		dial:   dial,
		splice: splice,
		owned:  s.cfg.Counters,
		trace:  s.cfg.Trace,
		data:   s.cfg.DataCounters,
		spawn: func(f func()) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f()
			}()
		},
		withdraw: s.broker.withdraw,
	}
	s.ctl = &control{
		client: s.clientIP,
		host:   s.controlHost,
		local:  s.cfg.LocalAddr.Unmap(),
		active: s.opt.Active != ActiveRefuse,
		deps:   s.deps,
	}
	s.broker.join(s.ctl)
}

// newData prepares a data connection to target through the tunnel and
// makes it the session's current one.
func (s *session) newData(mode, target string) *dataConn {
	d := newDataConn(s.deps, mode, target)
	s.setData(d)
	return d
}

// setData makes d the session's current data connection, closing the
// previous one (a transfer that took one already owns it: see
// newTransfer).
func (s *session) setData(d *dataConn) {
	if s.data != nil {
		s.data.close()
		if st := s.sftpSide(); st != nil {
			st.pairs.release(s.data.key())
		}
	}
	s.data = d
}
