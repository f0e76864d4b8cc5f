package socksd

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"socksd/config"
	"socksd/ftp"
	"socksd/internal/relay"
	"socksd/msg"
	"socksd/rules"
	"socksd/socks"
	"socksd/tunnel"
)

// ftpOptions converts each rule's [rules.ftp] table, by rule index.
func ftpOptions(cfg *config.Config) []ftp.Options {
	out := make([]ftp.Options, len(cfg.Rules))
	for i, r := range cfg.Rules {
		out[i] = ftp.Options{
			Data: r.FTP.Data, Active: r.FTP.Active, Encoding: r.FTP.Encoding,
			Deny: r.FTP.Deny, AllowAuthTLS: r.FTP.AllowAuthTLS,
			IdleTimeout: cfg.Server.IdleTimeout.Duration,
		}
	}
	return out
}

// ftpData serves a SOCKS request that belongs to a live FTP session: a
// passive data CONNECT, or a BIND for active mode. ok is false when the
// request is not such a data connection. How data connections pair with
// their control session is the ftp package's business: the broker claims
// the request or not, and the link it returns serves it.
func (r *request) ftpData() (out outcome, ok bool) {
	s, req := r.s, r.req
	if req.Command != socks.CmdConnect && req.Command != socks.CmdBind {
		return outcome{}, false
	}
	bind := req.Command == socks.CmdBind
	link, ok := r.d.broker.Claim(ftp.DataRequest{
		Bind: bind, Client: s.client.Addr(), Local: s.local, Host: req.Dest.Host, Port: req.Dest.Port,
	})
	if !ok {
		return outcome{}, false
	}
	clear(req.Password) // a data connection logs in nowhere
	action, phase := "ftp-data", "connect"
	if bind {
		action, phase = "ftp-bind", "bind"
	}
	s.set(func(s *session) {
		s.rule, s.action, s.phase, s.sshServer = "(ftp data)", action, phase, link.SSHServer()
	})
	err := link.Serve(r.ctx, ftp.DataJob{
		Conn:     r.conn,
		Counters: &s.bytes,
		Trace:    r.d.tracer(s),
		BindWait: r.st.bindWait,
		Reply: func(addr netip.AddrPort, err error) error {
			if err != nil {
				// Serve returns err too: the session ends failed with it.
				r.reply(failureReply(err), socks.Addr{})
				return nil
			}
			return r.reply(socks.RepSucceeded, socks.AddrFromAddrPort(addr))
		},
		Relaying: func() { s.set(func(s *session) { s.phase = "data" }) },
	})
	return r.ftpResult(err), true
}

// ftpResult is the outcome of an FTP session or data connection that
// returned err.
func (r *request) ftpResult(err error) outcome {
	if err == nil {
		return outcome{result: resultOK}
	}
	return r.failed(err)
}

// ftpTunnel carries out the ftp-tunnel action: socksd answers the CONNECT
// itself and runs the FTP session, which opens the SSH connection with the
// job's USER and PASS and relays to the FTP server through it.
func (r *request) ftpTunnel(rule *rules.Rule) outcome {
	prof := r.st.profiles[rule.Profile]
	prof.SessionChannels = 2 // control and data ride the same SSH connection
	return r.ftpSession(rule, nil, func(ctx context.Context, cred tunnel.Credentials) (ftp.Tunnel, error) {
		l, err := r.openTunnel(ctx, prof, cred)
		if err != nil {
			return nil, err
		}
		return ftpTunnel{l}, nil
	})
}

// ftpSession runs the FTP session of an ftp-tunnel rule (sftp nil) or an
// ftp-sftp rule: socksd answers the CONNECT itself, and the session's
// Opener opens the tunnel with open for the job's login. The Opener types
// open's failure for the session: a rejected login as it is (530), an SSH
// server that cannot be reached as a *ftp.FallbackError when the rule has
// fallback_to_plain, anything else as a *ftp.TunnelError (421).
func (r *request) ftpSession(rule *rules.Rule, sftp *ftp.SFTPOptions, open func(context.Context, tunnel.Credentials) (ftp.Tunnel, error)) outcome {
	s, req := r.s, r.req
	if req.Command != socks.CmdConnect {
		return r.refuse(socks.RepCommandNotSupported, errors.New("socksd: BIND without a live FTP control session"))
	}
	if err := r.reply(socks.RepSucceeded, socks.AddrFromAddrPort(s.local)); err != nil {
		return r.failed(err)
	}
	data := new(relay.Counters) // the data connections of this session, whichever sessions carry them
	s.set(func(s *session) { s.dataBytes, s.phase = data, "ftp-login" })
	opener := func(ctx context.Context, user string, password []byte) (ftp.Tunnel, error) {
		s.set(func(s *session) { s.user = user })
		t, err := open(ctx, tunnel.Credentials{User: user, Password: password})
		if err != nil {
			return nil, r.ftpOpenError(rule, err)
		}
		s.set(func(s *session) { s.phase = "ftp" })
		return t, nil
	}
	opt, local := r.st.ftp[rule.Index], s.local.Addr()
	if r.s.origin == originRedirect {
		opt, local = r.redirectedFTP(opt)
	}
	err := ftp.Serve(r.ctx, ftp.SessionConfig{
		ID:           s.id,
		Client:       r.conn,
		ClientAddr:   s.client,
		LocalAddr:    local,
		Server:       req.Dest.String(),
		Rule:         rule.Name,
		Options:      opt,
		Open:         opener,
		SFTP:         sftp,
		Broker:       r.d.broker,
		Audit:        r.d.audit,
		Log:          r.d.log,
		Counters:     &s.bytes,
		DataCounters: data,
		Trace:        r.d.tracer(s),
	})
	return r.ftpResult(err)
}

// plainFallback names the action of an FTP session that fell back to
// plain FTP, in D SESSIONS and the session's end event.
const plainFallback = "ftp-tunnel (plain fallback)"

// ftpOpenError types the failure of an FTP session's tunnel for the ftp
// session. A rejected password stays as it is: the job gets 530. An SSH
// server that cannot be reached, under fallback_to_plain, gives a
// *ftp.FallbackError whose Plain tunnel dials from this host; its Err is
// a *ftp.TunnelError, so that a session that does not fall back still
// answers 421. Anything else is a *ftp.TunnelError: 421.
func (r *request) ftpOpenError(rule *rules.Rule, err error) error {
	if errors.Is(err, tunnel.ErrAuthFailed) || errors.Is(err, tunnel.ErrPasswordRejectedRecently) {
		return err
	}
	te := &ftp.TunnelError{Err: err, MsgID: r.sshMsg} // not the job's credentials: 421, not 530
	if !rule.FallbackToPlain || !canFallBack(err) {
		return te
	}
	msg.Log(&r.d.log, "SOX0208W", r.req.Dest, err).Uint64("session", r.s.id).Str("rule", rule.Name).Str("dest", r.req.Dest.String()).Err(err).Send()
	r.s.set(func(s *session) { s.action, s.phase = plainFallback, "ftp" })
	return &ftp.FallbackError{Err: te, Plain: plainTunnel{d: r.d.dial, timeout: r.st.dialWait}}
}

// plainTunnel is the ftp.Tunnel of fallback_to_plain: it connects from
// this host, unencrypted, through the daemon's dialer.
type plainTunnel struct {
	d       dialer
	timeout time.Duration
}

// Dial connects to addr directly.
func (t plainTunnel) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return t.d.Direct(ctx, addr, t.timeout)
}

// Server says that no SSH server carries the session.
func (plainTunnel) Server() string { return "direct" }

// ID says that no SSH connection carries the session.
func (plainTunnel) ID() string { return "-" }

// Close releases nothing.
func (plainTunnel) Close() error { return nil }

// audit writes one FTP transfer's record to the audit file, when there is
// one. The ftp session has already logged the transfer (SOX0303I/SOX0308W).
func (d *Daemon) audit(t ftp.Transfer) {
	d.metrics.FTPTransfer(t.Command, t.Code, t.Protocol, t.Bytes, t.Duration.Seconds())
	if d.opt.Audit != nil {
		d.opt.Audit.Write(t)
	}
}
