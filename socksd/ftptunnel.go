package socksd

import (
	"context"
	"errors"
	"fmt"
	"net"

	"socksd/config"
	"socksd/ftp"
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
// request is not such a data connection.
func (d *Daemon) ftpData(ctx context.Context, st *state, s *session, c net.Conn, req *socks.Request) (outcome, bool) {
	client := s.client.Addr()
	switch req.Command {
	case socks.CmdConnect:
		dc, ok := d.broker.Connect(client, req.Dest.Host, req.Dest.Port)
		if !ok {
			return outcome{}, false
		}
		clear(req.Password) // a data connection logs in nowhere
		s.set(func(s *session) { s.rule, s.action, s.phase = "(ftp data)", "ftp-data", "connect" })
		if err := dc.Open(ctx); err != nil {
			d.stats.failed.Add(1)
			d.reply(c, st, req.Version, tunnelReply(err), socks.Addr{})
			return outcome{"failed", fmt.Errorf("socksd: ftp data: %w", err)}, true
		}
		if err := d.reply(c, st, req.Version, socks.RepSucceeded, socks.AddrFromAddrPort(s.local)); err != nil {
			dc.Serve(ctx, nil)
			return outcome{"failed", err}, true
		}
		s.set(func(s *session) { s.phase = "data" })
		return ftpResult(dc.Serve(ctx, c)), true
	case socks.CmdBind:
		pb, ok := d.broker.Bind(client, req.Dest.Host, req.Dest.Port)
		if !ok {
			return outcome{}, false
		}
		clear(req.Password) // a data connection logs in nowhere
		defer pb.Close()
		s.set(func(s *session) { s.rule, s.action, s.phase = "(ftp data)", "ftp-bind", "bind" })
		addr, err := pb.Listen(s.local.Addr())
		if err != nil {
			d.stats.failed.Add(1)
			d.reply(c, st, req.Version, socks.RepGeneralFailure, socks.Addr{})
			return outcome{"failed", fmt.Errorf("socksd: ftp bind: %w", err)}, true
		}
		if err := d.reply(c, st, req.Version, socks.RepSucceeded, socks.AddrFromAddrPort(addr)); err != nil {
			return outcome{"failed", err}, true
		}
		wait, cancel := context.WithTimeout(ctx, st.bindWait)
		peer, err := pb.Accept(wait)
		cancel()
		if err != nil {
			d.stats.failed.Add(1)
			d.reply(c, st, req.Version, tunnelReply(err), socks.Addr{})
			return outcome{"failed", fmt.Errorf("socksd: ftp bind: %w", err)}, true
		}
		if err := d.reply(c, st, req.Version, socks.RepSucceeded, socks.AddrFromAddrPort(peer)); err != nil {
			return outcome{"failed", err}, true
		}
		s.set(func(s *session) { s.phase = "data" })
		return ftpResult(pb.Serve(ctx, c)), true
	}
	return outcome{}, false
}

func ftpResult(err error) outcome {
	switch {
	case err == nil:
		return outcome{result: "ok"}
	case errors.Is(err, context.Canceled):
		return outcome{"cancelled", err}
	}
	return outcome{"failed", err}
}

// ftpTunnel carries out the ftp-tunnel action: socksd answers the CONNECT
// itself and runs the FTP session, which opens the SSH connection with the
// job's USER and PASS.
func (d *Daemon) ftpTunnel(ctx context.Context, st *state, s *session, c net.Conn, req *socks.Request, ruleIndex int, ruleName string, prof tunnel.Profile) outcome {
	if req.Command != socks.CmdConnect {
		d.reply(c, st, req.Version, socks.RepNotAllowed, socks.Addr{})
		return outcome{"refused", errors.New("socksd: BIND without a live FTP control session")}
	}
	if err := d.reply(c, st, req.Version, socks.RepSucceeded, socks.AddrFromAddrPort(s.local)); err != nil {
		return outcome{"failed", err}
	}
	prof.SessionChannels = 2 // control and data ride the same SSH connection
	s.set(func(s *session) { s.phase = "ftp-login" })
	open := func(ctx context.Context, user string, password []byte) (ftp.Tunnel, error) {
		s.set(func(s *session) { s.user = user })
		lease, err := d.openTunnel(ctx, s, prof, req.Dest.Host, tunnel.Credentials{User: user, Password: password})
		if err != nil {
			return nil, err
		}
		s.set(func(s *session) { s.phase = "ftp" })
		return lease, nil
	}
	err := ftp.Serve(ctx, ftp.SessionConfig{
		ID:         s.id,
		Client:     c,
		ClientAddr: s.client,
		LocalAddr:  s.local.Addr(),
		Server:     req.Dest.String(),
		Rule:       ruleName,
		Options:    st.ftp[ruleIndex],
		Open:       open,
		Broker:     d.broker,
		Audit:      d.audit,
		Log:        d.log,
		Counters:   &s.bytes,
		Trace:      d.tracer(s),
	})
	return ftpResult(err)
}

// audit writes one FTP transfer's record to the audit file, when there is
// one. The ftp session has already logged the transfer (SOX0303I/SOX0308W).
func (d *Daemon) audit(t ftp.Transfer) {
	if d.opt.Audit != nil {
		d.opt.Audit.Write(t)
	}
}
