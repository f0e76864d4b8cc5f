package socksd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"socksd/internal/relay"
	"socksd/msg"
	"socksd/rules"
	"socksd/socks"
	"socksd/tunnel"
)

// route decides what to do with an admitted request and does it: a data
// connection of a live FTP session joins it; anything else goes by the
// first matching rule to block, direct, tunnel, ftp-tunnel or ftp-sftp.
func (r *request) route() outcome {
	req := r.req
	if req.Command == socks.CmdUDPAssociate {
		clear(req.Password)
		return r.refuse(socks.RepCommandNotSupported, errors.New("socksd: UDP ASSOCIATE is not supported"))
	}
	// A data connection of a live FTP session joins it, whatever the rules.
	if out, ok := r.ftpData(); ok {
		return out
	}
	rule, ok := r.st.rules.Match(rules.Request{
		Client:  r.s.client.Addr(),
		Version: req.Version,
		Command: req.Command.String(),
		User:    req.User,
		Host:    req.Dest.Host,
		Port:    req.Dest.Port,
	})
	if !ok {
		r.s.set(func(s *session) { s.rule, s.action = "(none)", "block" })
		return r.block("(none)")
	}
	r.st.hits[rule.Index].Add(1)
	r.d.metrics.RuleHit(rule.Name, rule.Action.String())
	r.s.set(func(s *session) { s.rule, s.action = rule.Name, rule.Action.String() })
	if rule.Action != rules.Tunnel {
		clear(req.Password) // only the tunnel action logs in with it
	}
	switch rule.Action {
	case rules.Direct:
		return r.direct()
	case rules.Tunnel:
		return r.tunnel(rule)
	case rules.FTPTunnel:
		return r.ftpTunnel(rule)
	case rules.FTPSFTP:
		return r.ftpSFTP(rule)
	}
	return r.block(rule.Name)
}

// block refuses the request by rule: the only reply "not allowed" (SOCKS5
// 0x02, SOCKS4 91) is sent for. A redirected connection is just closed.
func (r *request) block(rule string) outcome {
	if r.s.origin == originRedirect {
		// Nothing to reply: the connection is closed, and the log says why.
		msg.Log(&r.d.log, "SOX0703I", r.s.id, rule, r.req.Dest).Uint64("session", r.s.id).Str("rule", rule).Str("dest", r.req.Dest.String()).Send()
		return outcome{result: resultBlocked}
	}
	r.reply(socks.RepNotAllowed, socks.Addr{})
	msg.Log(&r.d.log, "SOX0105I", r.s.id, rule).Uint64("session", r.s.id).Str("rule", rule).Str("dest", r.req.Dest.String()).Send()
	return outcome{result: resultBlocked}
}

// direct carries out the direct action: CONNECT dials the destination,
// BIND listens for it.
func (r *request) direct() outcome {
	if r.req.Command == socks.CmdBind {
		return r.bind()
	}
	up, err := r.d.dial.Direct(r.ctx, r.req.Dest.String(), r.st.dialWait)
	if err != nil {
		return r.fail(failureReply(err), fmt.Errorf("socksd: connect %s: %w", r.req.Dest, err))
	}
	return r.relay(up, socks.AddrFromNet(up.LocalAddr()))
}

// bind carries out a direct SOCKS BIND: listen on the address the client
// reached us on, send the first reply, accept one peer, send the second.
func (r *request) bind() outcome {
	s := r.s
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: s.local.Addr().AsSlice()})
	if err != nil {
		return r.fail(socks.RepGeneralFailure, fmt.Errorf("socksd: bind: %w", err))
	}
	defer ln.Close()
	if err := r.reply(socks.RepSucceeded, socks.AddrFromNet(ln.Addr())); err != nil {
		return r.failed(err)
	}
	s.set(func(s *session) { s.phase = "bind-wait" })
	ln.SetDeadline(time.Now().Add(r.st.bindWait))
	stop := context.AfterFunc(r.ctx, func() { ln.Close() })
	defer stop()
	want, wantIP := r.req.Dest.IP()
	for {
		peer, err := ln.Accept()
		if err != nil {
			return r.fail(socks.RepTTLExpired, fmt.Errorf("socksd: bind: no peer: %w", err))
		}
		pa := addrPortOf(peer.RemoteAddr())
		// The BIND request names the peer expected (RFC 1928); anyone
		// else is turned away and the wait goes on.
		if wantIP && !want.IsUnspecified() && pa.Addr().Unmap() != want.Unmap() {
			msg.Log(&r.d.log, "SOX0112W", s.id, pa, want).Uint64("session", s.id).Str("peer", pa.String()).Str("want", want.String()).Send()
			peer.Close()
			continue
		}
		ln.Close()
		return r.relay(peer, socks.AddrFromAddrPort(pa))
	}
}

// tunnel carries out the tunnel action: CONNECT through a direct-tcpip
// channel of the profile's SSH connection, logged in with the SOCKS user
// and password.
func (r *request) tunnel(rule *rules.Rule) outcome {
	req := r.req
	if req.Command != socks.CmdConnect {
		return r.refuse(socks.RepCommandNotSupported, errors.New("socksd: the tunnel action carries CONNECT only"))
	}
	lease, err := r.openTunnel(r.ctx, r.st.profiles[rule.Profile], tunnel.Credentials{User: req.User, Password: req.Password})
	clear(req.Password) // the login is done and kept no reference
	if err != nil {
		if rule.FallbackToPlain && canFallBack(err) {
			msg.Log(&r.d.log, "SOX0208W", req.Dest, err).Uint64("session", r.s.id).Str("rule", rule.Name).Str("dest", req.Dest.String()).Err(err).Send()
			r.s.set(func(s *session) { s.action = "direct (fallback)" })
			return r.direct()
		}
		return r.fail(failureReply(err), fmt.Errorf("socksd: tunnel: %w", err))
	}
	defer lease.Close()
	return r.splice(lease)
}

// splice carries the tunnel action's CONNECT through lease: the success
// reply goes out once the engine is ready for the bytes (builtin: the
// channel is open); a failure before that gets the failure reply, one
// after it ends the session failed without a second reply.
func (r *request) splice(l lease) outcome {
	var ready bool
	var replyErr error
	sp, err := l.Splice(r.ctx, r.req.Dest.String(), r.conn, tunnel.SpliceOptions{
		IdleTimeout: r.st.idle,
		Counters:    []*relay.Counters{&r.s.bytes},
		Trace:       r.d.tracer(r.s),
		Ready: func() error {
			ready = true
			if replyErr = r.reply(socks.RepSucceeded, socks.AddrFromAddrPort(r.s.local)); replyErr != nil {
				return replyErr
			}
			r.s.set(func(s *session) { s.phase = "relay" })
			return nil
		},
	})
	switch {
	case err == nil:
		return r.carried(sp.Wait())
	case !ready:
		return r.fail(failureReply(err), fmt.Errorf("socksd: tunnel: %w", err))
	case replyErr != nil:
		return r.failed(replyErr)
	}
	return r.failed(fmt.Errorf("socksd: tunnel: %w", err))
}

// openTunnel opens (or joins) the SSH connection of prof for the request's
// destination, and logs a failure with its operator message.
func (r *request) openTunnel(ctx context.Context, prof tunnel.Profile, cred tunnel.Credentials) (lease, error) {
	l, err := r.d.dial.Tunnel(ctx, prof, r.req.Dest.Host, cred)
	if err != nil {
		r.sshMsg = r.d.logTunnelError(r.s, prof, r.req.Dest.Host, err)
		return nil, err
	}
	r.s.set(func(s *session) { s.sshServer, s.tunnel = l.Server(), l.ID() })
	return l, nil
}

// canFallBack reports whether a tunnel failure allows fallback_to_plain:
// only when the SSH server could not be reached. A host-key or login
// failure always fails closed.
func canFallBack(err error) bool {
	return errors.Is(err, tunnel.ErrServerUnreachable)
}
