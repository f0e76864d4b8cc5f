package socksd

import (
	"context"
	"errors"
	"fmt"

	"socksd/config"
	"socksd/ftp"
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
// their control session is the ftp package's business.
func (r *request) ftpData() (out outcome, ok bool) {
	s, req := r.s, r.req
	client := s.client.Addr()
	switch req.Command {
	case socks.CmdConnect:
		dc, ok := r.d.broker.Connect(client, req.Dest.Host, req.Dest.Port)
		if !ok {
			return outcome{}, false
		}
		clear(req.Password) // a data connection logs in nowhere
		s.set(func(s *session) { s.rule, s.action, s.phase = "(ftp data)", "ftp-data", "connect" })
		if err := dc.Open(r.ctx); err != nil {
			return r.fail(failureReply(err), fmt.Errorf("socksd: ftp data: %w", err)), true
		}
		if err := r.reply(socks.RepSucceeded, socks.AddrFromAddrPort(s.local)); err != nil {
			dc.Serve(r.ctx, nil)
			return r.failed(err), true
		}
		s.set(func(s *session) { s.phase = "data" })
		return r.ftpResult(dc.Serve(r.ctx, r.conn)), true
	case socks.CmdBind:
		pb, ok := r.d.broker.Bind(client, req.Dest.Host, req.Dest.Port)
		if !ok {
			return outcome{}, false
		}
		clear(req.Password) // a data connection logs in nowhere
		defer pb.Close()
		s.set(func(s *session) { s.rule, s.action, s.phase = "(ftp data)", "ftp-bind", "bind" })
		addr, err := pb.Listen(s.local.Addr())
		if err != nil {
			return r.fail(socks.RepGeneralFailure, fmt.Errorf("socksd: ftp bind: %w", err)), true
		}
		if err := r.reply(socks.RepSucceeded, socks.AddrFromAddrPort(addr)); err != nil {
			return r.failed(err), true
		}
		wait, cancel := context.WithTimeout(r.ctx, r.st.bindWait)
		peer, err := pb.Accept(wait)
		cancel()
		if err != nil {
			return r.fail(failureReply(err), fmt.Errorf("socksd: ftp bind: %w", err)), true
		}
		if err := r.reply(socks.RepSucceeded, socks.AddrFromAddrPort(peer)); err != nil {
			return r.failed(err), true
		}
		s.set(func(s *session) { s.phase = "data" })
		return r.ftpResult(pb.Serve(r.ctx, r.conn)), true
	}
	return outcome{}, false
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
// job's USER and PASS.
func (r *request) ftpTunnel(rule *rules.Rule) outcome {
	s, req := r.s, r.req
	if req.Command != socks.CmdConnect {
		return r.refuse(socks.RepCommandNotSupported, errors.New("socksd: BIND without a live FTP control session"))
	}
	if err := r.reply(socks.RepSucceeded, socks.AddrFromAddrPort(s.local)); err != nil {
		return r.failed(err)
	}
	prof := r.st.profiles[rule.Profile]
	prof.SessionChannels = 2 // control and data ride the same SSH connection
	s.set(func(s *session) { s.phase = "ftp-login" })
	open := func(ctx context.Context, user string, password []byte) (ftp.Tunnel, error) {
		s.set(func(s *session) { s.user = user })
		l, err := r.openTunnel(ctx, prof, tunnel.Credentials{User: user, Password: password})
		if err != nil {
			return nil, err
		}
		s.set(func(s *session) { s.phase = "ftp" })
		return l, nil
	}
	err := ftp.Serve(r.ctx, ftp.SessionConfig{
		ID:         s.id,
		Client:     r.conn,
		ClientAddr: s.client,
		LocalAddr:  s.local.Addr(),
		Server:     req.Dest.String(),
		Rule:       rule.Name,
		Options:    r.st.ftp[rule.Index],
		Open:       open,
		Broker:     r.d.broker,
		Audit:      r.d.audit,
		Log:        r.d.log,
		Counters:   &s.bytes,
		Trace:      r.d.tracer(s),
	})
	return r.ftpResult(err)
}

// audit writes one FTP transfer's record to the audit file, when there is
// one. The ftp session has already logged the transfer (SOX0303I/SOX0308W).
func (d *Daemon) audit(t ftp.Transfer) {
	if d.opt.Audit != nil {
		d.opt.Audit.Write(t)
	}
}
