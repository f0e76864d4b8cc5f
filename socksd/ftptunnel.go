package socksd

import (
	"context"
	"errors"
	"net"
	"net/netip"

	"socksd/config"
	"socksd/ftp"
	"socksd/internal/relay"
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
// request is not such a data connection. The data connection counts its
// bytes on s, its own session.
func (d *Daemon) ftpData(ctx context.Context, st *state, s *session, c net.Conn, req *socks.Request) (outcome, bool) {
	if req.Command != socks.CmdConnect && req.Command != socks.CmdBind {
		return outcome{}, false
	}
	bind := req.Command == socks.CmdBind
	link, ok := d.broker.Claim(ftp.DataRequest{
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
	s.set(func(s *session) { s.rule, s.action, s.phase = "(ftp data)", action, phase })
	err := link.Serve(ctx, ftp.DataJob{
		Conn:     c,
		Counters: &s.bytes,
		Trace:    d.tracer(s),
		BindWait: st.bindWait,
		Reply: func(addr netip.AddrPort, err error) error {
			if err != nil {
				d.stats.failed.Add(1)
				d.reply(c, st, req.Version, tunnelReply(err), socks.Addr{})
				return nil
			}
			return d.reply(c, st, req.Version, socks.RepSucceeded, socks.AddrFromAddrPort(addr))
		},
		Relaying: func() { s.set(func(s *session) { s.phase = "data" }) },
	})
	return ftpResult(err), true
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
	data := new(relay.Counters)
	s.set(func(s *session) { s.dataBytes = data })
	err := ftp.Serve(ctx, ftp.SessionConfig{
		ID:           s.id,
		Client:       c,
		ClientAddr:   s.client,
		LocalAddr:    s.local.Addr(),
		Server:       req.Dest.String(),
		Rule:         ruleName,
		Options:      st.ftp[ruleIndex],
		Open:         open,
		Broker:       d.broker,
		Audit:        d.audit,
		Log:          d.log,
		Counters:     &s.bytes,
		DataCounters: data,
		Trace:        d.tracer(s),
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
