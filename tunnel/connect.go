package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"

	"socksd/internal/scrub"
	"socksd/msg"
)

// connect dials, checks the host key and authenticates. It holds no lock.
// It runs under scrub.Do, so what the SSH library allocates while it
// sends the password (the password string, the marshalled userauth
// request, a plaintext buffer the cipher outgrows) is erased once it is
// garbage.
func (p *Pool) connect(r request) (c *tconn, err error) {
	engine, err := p.EngineOf(r.prof)
	if engine == EngineOpenSSH {
		if err != nil {
			return nil, err
		}
		// The master gets its own copy of the password and erases it.
		return p.loginOpenSSH(r)
	}
	scrub.Do(func() { c, err = p.login(r) })
	return c, err
}

// login is connect's body.
func (p *Pool) login(r request) (*tconn, error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.ConnectTimeout)
	defer cancel()
	log := p.opts.Logger.With().Str("server", r.server).Str("user", r.user).Str("profile", r.prof.Name).Logger()

	// Without a usable method there is nothing to offer: do not connect.
	auth, err := newAuthChain(r.prof, r.password, p.opts.AgentSocket, log)
	if err != nil {
		ae := &AuthError{Server: r.server, User: r.user, Err: ErrAuthFailed, Detail: err.Error()}
		log.Debug().Msg(ae.Error())
		return nil, ae
	}
	defer auth.close()
	nc, err := dialServer(ctx, r.prof.via, r.server)
	if err != nil {
		err = fmt.Errorf("tunnel: connect %s: %w: %w", r.server, ErrServerUnreachable, err)
		log.Debug().Err(err).Msg("tunnel: ssh connect failed")
		return nil, err
	}
	raw := &watchConn{Conn: nc}
	auth.transportFailed = raw.failed.Load
	cfg := &ssh.ClientConfig{
		User:              r.user,
		AuthCallback:      auth.callback,
		HostKeyCallback:   p.hk.callback(),
		HostKeyAlgorithms: p.hk.algorithms(r.server),
		BannerCallback: func(msg string) error {
			log.Debug().Str("banner", msg).Msg("tunnel: ssh banner")
			return nil
		},
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(raw, r.server, cfg)
	stopped := stop()
	if err == nil && !stopped {
		sc.Close()
		err = ctx.Err()
	}
	if err != nil {
		raw.Close()
		return nil, p.handshakeError(ctx, r, auth, err, log)
	}
	_ = raw.SetDeadline(time.Time{})
	_, _, pwRejected, _, method := auth.result()
	if pwRejected {
		// Logged in by another method, but the password itself was wrong.
		p.rejects.add(r.reject, time.Now())
		msg.Log(&log, "SOX0212W", r.user, r.server, method).Str("method", method).Send()
	}
	c := p.newTconn(r, method, ssh.NewClient(sc, chans, reqs))
	p.logOpened(c, log)
	return c, nil
}

// newTconn numbers a new connection (engine builtin; the openssh engine
// sets its own fields).
func (p *Pool) newTconn(r request, method string, client *ssh.Client) *tconn {
	p.mu.Lock()
	p.nextID++
	id := fmt.Sprintf("T%04d", p.nextID)
	p.mu.Unlock()
	return &tconn{
		id: id, key: r.key, server: r.server, user: r.user, profile: r.prof.Name, method: method,
		share: r.prof.Share, maxCh: r.prof.MaxChannels, client: client, engine: EngineBuiltin,
		opened: time.Now(), done: make(chan struct{}),
	}
}

// logOpened writes the operator message for a new connection.
func (p *Pool) logOpened(c *tconn, log zerolog.Logger) {
	ev := msg.Log(&log, "SOX0201I", c.id, c.server, c.user).Str("tunnel", c.id).Str("method", c.method).Bool("shared", c.share).Str("engine", c.engine)
	if c.pid != 0 {
		ev = ev.Int("pid", c.pid)
	}
	ev.Send()
}

// watchConn notes whether a read or write on the connection failed.
type watchConn struct {
	net.Conn
	failed atomic.Bool
}

// Read reads and notes a failure.
func (w *watchConn) Read(b []byte) (int, error) {
	n, err := w.Conn.Read(b)
	if err != nil {
		w.failed.Store(true)
	}
	return n, err
}

// Write writes and notes a failure.
func (w *watchConn) Write(b []byte) (int, error) {
	n, err := w.Conn.Write(b)
	if err != nil {
		w.failed.Store(true)
	}
	return n, err
}

// handshakeError types a failed handshake and remembers a rejected password.
func (p *Pool) handshakeError(ctx context.Context, r request, auth *authChain, err error, log zerolog.Logger) error {
	var hk *HostKeyError
	if errors.As(err, &hk) {
		return hk
	}
	auth.disconnectedOnPassword(err)
	started, pwSent, pwRejected, tried, _ := auth.result()
	if pwRejected {
		p.rejects.add(r.reject, time.Now())
	}
	// The server refused every method (as opposed to the connection failing
	// or timing out in the middle of one).
	refused := started && !auth.transportWasFailing() &&
		(errors.Is(err, errNoMethods) || (ctx.Err() == nil && !isNetError(err)))
	if pwRejected || refused {
		cause := err
		if errors.Is(err, errNoMethods) || strings.Contains(err.Error(), "unable to authenticate") {
			cause = nil
		}
		ae := &AuthError{Server: r.server, User: r.user, Tried: tried, PasswordRejected: pwRejected, Err: ErrAuthFailed, Cause: cause}
		log.Debug().Strs("tried", tried).Bool("password_rejected", pwRejected).Msg(ae.Error())
		return ae
	}
	if pwSent && !pwRejected {
		msg.Log(&log, "SOX0213W", r.server, r.user).Send()
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("tunnel: connect %s: %w: handshake timed out: %w", r.server, ErrServerUnreachable, ctx.Err())
	} else {
		err = fmt.Errorf("tunnel: connect %s: %w: %w", r.server, ErrServerUnreachable, err)
	}
	log.Debug().Err(err).Msg("tunnel: ssh handshake failed")
	return err
}

// isNetError reports a transport failure (as opposed to an SSH-level refusal).
func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "EOF") ||
		strings.Contains(err.Error(), "connection reset")
}
