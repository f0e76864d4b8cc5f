package socksd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"socksd/internal/relay"
	"socksd/msg"
	"socksd/rules"
	"socksd/socks"
)

// outcome is how a session ended.
type outcome struct {
	result string // ok, blocked, refused, failed
	err    error
}

// handle runs one client connection from accept to close.
func (d *Daemon) handle(ctx context.Context, c net.Conn) {
	defer c.Close()
	st := d.state.Load()
	client := addrPortOf(c.RemoteAddr())
	if !rules.PrefixesContain(st.allow, client.Addr()) {
		d.stats.refused.Add(1)
		msg.Log(&d.log, "SOX0103W", client).Str("client", client.String()).Send()
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &session{
		id:      d.nextID.Add(1),
		client:  client,
		local:   addrPortOf(c.LocalAddr()),
		started: time.Now(),
		cancel:  cancel,
		phase:   "handshake",
	}
	if d.traceAll.Load() {
		s.trace.Store(true)
	}
	// Operator CANCEL and the end of a drain close the connection, which
	// ends whatever the session is blocked in.
	stopClose := context.AfterFunc(ctx, func() { c.Close() })
	defer stopClose()

	c.SetDeadline(time.Now().Add(st.handshake))
	req, err := socks.ReadRequest(c, socks.ServerConfig{Versions: st.versions, Methods: st.methods})
	if err != nil {
		d.stats.failed.Add(1)
		msg.Log(&d.log, "SOX0108W", s.id, err).Uint64("session", s.id).Str("client", client.String()).Err(err).Send()
		return
	}
	c.SetDeadline(time.Time{})
	// dispatch wipes the SOCKS5 password before any action but tunnel,
	// which wipes it once the SSH login is done; this covers the ways out
	// before dispatch.
	defer clear(req.Password)
	s.set(func(s *session) {
		s.version = req.Version
		s.user = req.User
		s.dest = req.Dest.String()
		s.command = req.Command.String()
	})

	if d.quiesced.Load() {
		d.stats.refused.Add(1)
		d.reply(c, st, req.Version, socks.RepGeneralFailure, socks.Addr{})
		msg.Log(&d.log, "SOX0109W", s.id).Uint64("session", s.id).Str("client", client.String()).Send()
		return
	}
	if !d.sessions.add(s, st.maxSess, st.perClient) {
		d.stats.refused.Add(1)
		d.reply(c, st, req.Version, socks.RepGeneralFailure, socks.Addr{})
		msg.Log(&d.log, "SOX0104W", st.maxSess, client).Uint64("session", s.id).Str("client", client.String()).Int("max_sessions", st.maxSess).
			Int("max_sessions_per_client", st.perClient).Send()
		return
	}
	defer d.sessions.remove(s)
	d.stats.total.Add(1)
	msg.Log(&d.log, "SOX0101I", s.id).Str("event", "session_start").Uint64("session", s.id).Str("client", client.String()).
		Int("socks", req.Version).Str("user", req.User).Str("command", req.Command.String()).
		Str("dest", req.Dest.String()).Send()

	out := d.dispatch(ctx, st, s, c, req)
	c.Close()
	d.sessions.remove(s) // before the end event, so that its slot is free when the event is seen

	up, down := s.bytes.Up.Load(), s.bytes.Down.Load()
	d.stats.bytesOut.Add(up)
	d.stats.bytesIn.Add(down)
	s.mu.Lock()
	ev := d.log.Info()
	if out.result == "failed" {
		ev = d.log.Warn()
	}
	ev = ev.Str("event", "session_end").Uint64("session", s.id).Str("client", client.String()).
		Int("socks", s.version).Str("user", s.user).Str("command", s.command).Str("dest", s.dest).
		Str("rule", s.rule).Str("action", s.action).Str("ssh_server", s.sshServer)
	if s.dataBytes != nil {
		ev = ev.Int64("data_bytes_up", s.dataBytes.Up.Load()).Int64("data_bytes_down", s.dataBytes.Down.Load())
	}
	s.mu.Unlock()
	if out.err != nil {
		ev = ev.Str("error", out.err.Error())
	}
	ev.Int64("bytes_up", up).Int64("bytes_down", down).
		Dur("duration", time.Since(s.started)).Str("result", out.result).
		Msg(msg.Format("SOX0102I", s.id))
}

// reply writes a SOCKS reply with a write deadline, so that a client that
// does not read cannot hold the session.
func (d *Daemon) reply(c net.Conn, st *state, version int, code socks.Reply, bound socks.Addr) error {
	c.SetWriteDeadline(time.Now().Add(st.handshake))
	defer c.SetWriteDeadline(time.Time{})
	if err := socks.WriteReply(c, version, code, bound); err != nil {
		return fmt.Errorf("socksd: reply: %w", err)
	}
	return nil
}

// dispatch routes a request to its action.
func (d *Daemon) dispatch(ctx context.Context, st *state, s *session, c net.Conn, req *socks.Request) outcome {
	if req.Command == socks.CmdUDPAssociate {
		clear(req.Password)
		d.reply(c, st, req.Version, socks.RepCommandNotSupported, socks.Addr{})
		return outcome{"refused", errors.New("socksd: UDP ASSOCIATE is not supported")}
	}
	// A data connection of a live FTP session joins it, whatever the rules.
	if out, ok := d.ftpData(ctx, st, s, c, req); ok {
		return out
	}
	rreq := rules.Request{
		Client:  s.client.Addr(),
		Version: req.Version,
		Command: req.Command.String(),
		User:    req.User,
		Host:    req.Dest.Host,
		Port:    req.Dest.Port,
	}
	rule, ok := st.rules.Match(rreq)
	if !ok {
		s.set(func(s *session) { s.rule, s.action = "(none)", "block" })
		return d.block(st, s, c, req, "(none)")
	}
	st.hits[rule.Index].Add(1)
	s.set(func(s *session) { s.rule, s.action = rule.Name, rule.Action.String() })
	if rule.Action != rules.Tunnel {
		clear(req.Password) // only the tunnel action logs in with it
	}
	switch rule.Action {
	case rules.Direct:
		return d.direct(ctx, st, s, c, req)
	case rules.Tunnel:
		if req.Command != socks.CmdConnect {
			d.reply(c, st, req.Version, socks.RepCommandNotSupported, socks.Addr{})
			return outcome{"refused", errors.New("socksd: the tunnel action carries CONNECT only")}
		}
		return d.tunnelConnect(ctx, st, s, c, req, rule.Name, st.profiles[rule.Profile], rule.FallbackToPlain)
	case rules.FTPTunnel:
		return d.ftpTunnel(ctx, st, s, c, req, rule.Index, rule.Name, st.profiles[rule.Profile])
	default:
		return d.block(st, s, c, req, rule.Name)
	}
}

func (d *Daemon) block(st *state, s *session, c net.Conn, req *socks.Request, rule string) outcome {
	d.stats.blocked.Add(1)
	d.reply(c, st, req.Version, socks.RepNotAllowed, socks.Addr{})
	msg.Log(&d.log, "SOX0105I", s.id, rule).Uint64("session", s.id).Str("rule", rule).Str("dest", req.Dest.String()).Send()
	return outcome{result: "blocked"}
}

// direct carries out the direct action: CONNECT dials the destination,
// BIND listens for it.
func (d *Daemon) direct(ctx context.Context, st *state, s *session, c net.Conn, req *socks.Request) outcome {
	if req.Command == socks.CmdBind {
		return d.bind(ctx, st, s, c, req)
	}
	dialer := net.Dialer{Timeout: st.dialWait}
	up, err := dialer.DialContext(ctx, "tcp", req.Dest.String())
	if err != nil {
		d.stats.failed.Add(1)
		d.reply(c, st, req.Version, socks.ReplyCode(err), socks.Addr{})
		return outcome{"failed", fmt.Errorf("socksd: connect %s: %w", req.Dest, err)}
	}
	if err := d.reply(c, st, req.Version, socks.RepSucceeded, socks.AddrFromNet(up.LocalAddr())); err != nil {
		up.Close()
		return outcome{"failed", err}
	}
	return d.relay(ctx, st, s, c, up)
}

// relay runs the two-way copy and turns its result into an outcome.
func (d *Daemon) relay(ctx context.Context, st *state, s *session, c, up net.Conn) outcome {
	s.set(func(s *session) { s.phase = "relay" })
	res := relay.Relay(ctx, c, up, relay.Options{IdleTimeout: st.idle, Counters: &s.bytes, Trace: d.tracer(s)})
	if res.Err != nil {
		if errors.Is(res.Err, context.Canceled) {
			return outcome{"cancelled", res.Err}
		}
		if err := ctx.Err(); err != nil {
			// CANCEL or a drain's end closed the client connection (see
			// handle) before the relay saw ctx end: the relay's error is
			// then a read on a closed connection, but the cause is ctx.
			return outcome{"cancelled", fmt.Errorf("socksd: relay: %w", err)}
		}
		return outcome{"failed", res.Err}
	}
	return outcome{result: "ok"}
}

// bind carries out a direct SOCKS BIND: listen on the address the client
// reached us on, send the first reply, accept one peer, send the second.
func (d *Daemon) bind(ctx context.Context, st *state, s *session, c net.Conn, req *socks.Request) outcome {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: s.local.Addr().AsSlice()})
	if err != nil {
		d.stats.failed.Add(1)
		d.reply(c, st, req.Version, socks.RepGeneralFailure, socks.Addr{})
		return outcome{"failed", fmt.Errorf("socksd: bind: %w", err)}
	}
	defer ln.Close()
	if err := d.reply(c, st, req.Version, socks.RepSucceeded, socks.AddrFromNet(ln.Addr())); err != nil {
		return outcome{"failed", err}
	}
	s.set(func(s *session) { s.phase = "bind-wait" })
	ln.SetDeadline(time.Now().Add(st.bindWait))
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	want, wantIP := req.Dest.IP()
	for {
		peer, err := ln.Accept()
		if err != nil {
			d.stats.failed.Add(1)
			d.reply(c, st, req.Version, socks.RepTTLExpired, socks.Addr{})
			return outcome{"failed", fmt.Errorf("socksd: bind: no peer: %w", err)}
		}
		pa := addrPortOf(peer.RemoteAddr())
		// The BIND request names the peer expected (RFC 1928); anyone
		// else is turned away and the wait goes on.
		if wantIP && !want.IsUnspecified() && pa.Addr().Unmap() != want.Unmap() {
			d.log.Warn().Uint64("session", s.id).Str("peer", pa.String()).Str("want", want.String()).
				Msg("socksd: BIND peer is not the expected host; closed")
			peer.Close()
			continue
		}
		ln.Close()
		if err := d.reply(c, st, req.Version, socks.RepSucceeded, socks.AddrFromAddrPort(pa)); err != nil {
			peer.Close()
			return outcome{"failed", err}
		}
		return d.relay(ctx, st, s, c, peer)
	}
}

// addrPortOf converts a TCP address.
func addrPortOf(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
