package socksd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/rs/zerolog"

	"socksd/internal/relay"
	"socksd/msg"
	"socksd/rules"
	"socksd/socks"
)

// request is one client connection from accept to close: the connection,
// the state snapshot it runs under (a reload does not change it), the SOCKS
// request once read, and its session. Its methods reply, dial and relay,
// so that the steps of a session take no parameters but what they decide
// on. A request is used by one goroutine, the one running handle.
type request struct {
	d    *Daemon
	ctx  context.Context // ends on CANCEL, DROP TUNNEL or the end of a drain
	conn net.Conn
	st   *state
	s    *session
	req  *socks.Request // nil until the handshake is done

	started bool // SOX0101I was logged, so the end is logged too
	// sshMsg is the operator message logged for the SSH failure of this
	// request, if any: an FTP job's 421 names it.
	sshMsg string
}

// handle runs one client connection of a SOCKS listener from accept to
// close.
func (d *Daemon) handle(ctx context.Context, c net.Conn) {
	d.run(ctx, c, originSOCKS, (*request).serve)
}

// run takes one client connection that came in by origin from accept to
// close: serve admits and carries it, end closes and logs it.
func (d *Daemon) run(ctx context.Context, c net.Conn, origin string, serve func(*request) outcome) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &request{
		d:    d,
		ctx:  ctx,
		conn: c,
		st:   d.state.Load(),
		s: &session{
			client:  addrPortOf(c.RemoteAddr()),
			local:   addrPortOf(c.LocalAddr()),
			started: time.Now(),
			cancel:  cancel,
			phase:   "handshake",
			origin:  origin,
		},
	}
	if d.traceAll.Load() {
		r.s.trace.Store(true)
	}
	// Operator CANCEL and the end of a drain close the connection, which
	// ends whatever the session is blocked in.
	stopClose := context.AfterFunc(ctx, func() { c.Close() })
	defer stopClose()
	r.end(serve(r))
}

// serve takes the connection through the ACL, the handshake and the limits,
// starts the session and routes it. Every way out returns the outcome that
// end counts.
func (r *request) serve() outcome {
	d, s := r.d, r.s
	if out, ok := r.checkClient(); !ok {
		return out
	}
	s.id = d.nextID.Add(1) // not yet shared: the session is in no table
	r.conn.SetDeadline(time.Now().Add(r.st.handshake))
	req, err := socks.ReadRequest(r.conn, socks.ServerConfig{Versions: r.st.versions, Methods: r.st.methods})
	if err != nil {
		d.metrics.HandshakeFailed(handshakeReason(err))
		return r.turnAway(resultFailed, func() {
			msg.Log(&d.log, "SOX0108W", s.id, err).Uint64("session", s.id).Str("client", s.client.String()).Err(err).Send()
		})
	}
	r.conn.SetDeadline(time.Time{})
	r.req = req
	// route wipes the SOCKS5 password before any action but tunnel, which
	// wipes it once the SSH login is done; this covers every other way out.
	defer clear(req.Password)
	s.set(func(s *session) {
		s.version = req.Version
		s.user = req.User
		s.dest = req.Dest.String()
		s.command = req.Command.String()
	})
	if out, ok := r.admit(); !ok {
		return out
	}
	return r.route()
}

// checkClient turns the connection away unless allow_clients lets its
// client in.
func (r *request) checkClient() (outcome, bool) {
	d, s := r.d, r.s
	if !rules.PrefixesContain(r.st.allow, s.client.Addr()) {
		return r.turnAway(resultRefused, func() {
			msg.Log(&d.log, "SOX0103W", s.client).Str("client", s.client.String()).Send()
		}), false
	}
	return outcome{}, true
}

// admit starts the session of a request whose destination is known,
// unless the daemon is quiesced or a session limit is reached.
func (r *request) admit() (outcome, bool) {
	d, s := r.d, r.s
	if d.quiesced.Load() {
		r.reply(socks.RepGeneralFailure, socks.Addr{})
		return r.turnAway(resultRefused, func() {
			msg.Log(&d.log, "SOX0109W", s.id).Uint64("session", s.id).Str("client", s.client.String()).Send()
		}), false
	}
	if !d.sessions.add(s, r.st.maxSess, r.st.perClient) {
		r.reply(socks.RepGeneralFailure, socks.Addr{})
		return r.turnAway(resultRefused, func() {
			msg.Log(&d.log, "SOX0104W", r.st.maxSess, s.client).Uint64("session", s.id).Str("client", s.client.String()).
				Int("max_sessions", r.st.maxSess).Int("max_sessions_per_client", r.st.perClient).Send()
		}), false
	}
	r.start()
	return outcome{}, true
}

// turnAway is the outcome of a connection turned away before its session
// started; logMsg logs the message that stands for its end, once end has
// counted it.
func (r *request) turnAway(res result, logMsg func()) outcome {
	return outcome{result: res, log: logMsg}
}

// start counts and logs the start of an admitted session.
func (r *request) start() {
	r.started = true
	r.d.stats.total.Add(1)
	r.d.metrics.SessionStarted(r.s.origin)
	msg.Log(&r.d.log, "SOX0101I", r.s.id).Str("event", "session_start").Uint64("session", r.s.id).Str("origin", r.s.origin).
		Str("client", r.s.client.String()).Int("socks", r.req.Version).Str("user", r.req.User).
		Str("command", r.req.Command.String()).Str("dest", r.req.Dest.String()).Send()
}

// end is where every connection ends: it closes the connection, frees the
// session's slot, counts the outcome once, and then logs the session's end:
// SOX0102I, or SOX0111W when it failed. A connection turned away before its
// session started logs instead the message that turned it away (SOX0103W,
// SOX0104W, SOX0108W, SOX0109W). An operator who sees the message finds it
// counted in D STATS.
func (r *request) end(out outcome) {
	r.conn.Close()
	s := r.s
	r.d.sessions.remove(s) // before the end event, so that its slot is free when the event is seen
	up, down := s.bytes.Up.Load(), s.bytes.Down.Load()
	r.d.stats.count(out.result, up, down)
	r.d.countEnd(s, out.result, up, down)
	if !r.started {
		if out.log != nil {
			out.log()
		}
		return
	}
	var ev *zerolog.Event
	if out.result == resultFailed {
		ev = msg.Log(&r.d.log, "SOX0111W", s.id, out.err)
	} else {
		ev = msg.Log(&r.d.log, "SOX0102I", s.id)
	}
	s.mu.Lock()
	ev = ev.Str("event", "session_end").Uint64("session", s.id).Str("origin", s.origin).Str("client", s.client.String()).
		Int("socks", s.version).Str("user", s.user).Str("command", s.command).Str("dest", s.dest).
		Str("rule", s.rule).Str("action", s.action).Str("ssh_server", s.sshServer)
	if s.dataBytes != nil {
		// An FTP control session: its data connections, also counted by
		// the sessions that carried them.
		ev = ev.Int64("data_bytes_up", s.dataBytes.Up.Load()).Int64("data_bytes_down", s.dataBytes.Down.Load())
	}
	s.mu.Unlock()
	// Err leaves the error field out when there is no error.
	ev.Err(out.err).Int64("bytes_up", up).Int64("bytes_down", down).
		Int64("duration_ms", time.Since(s.started).Milliseconds()).Str("result", out.result.String()).Send()
}

// reply writes a SOCKS reply with a write deadline, so that a client that
// does not read cannot hold the session. A request that came in without a
// SOCKS handshake (a forward or a redirected connection: Version 0) gets
// no reply.
func (r *request) reply(code socks.Reply, bound socks.Addr) error {
	if r.req.Version == 0 {
		return nil
	}
	r.conn.SetWriteDeadline(time.Now().Add(r.st.handshake))
	defer r.conn.SetWriteDeadline(time.Time{})
	if err := socks.WriteReply(r.conn, r.req.Version, code, bound); err != nil {
		return fmt.Errorf("socksd: reply: %w", err)
	}
	return nil
}

// fail answers the request with code and returns the failed outcome for
// err, or the cancelled one when the session was cancelled meanwhile.
func (r *request) fail(code socks.Reply, err error) outcome {
	r.reply(code, socks.Addr{})
	return r.failed(err)
}

// failed is the outcome of err after the SOCKS reply has been sent (or
// could not be): failed, or cancelled when the session's context has
// ended (a CANCEL closes the connection, so the step sees a closed
// connection, but the cause is the cancel).
func (r *request) failed(err error) outcome {
	if r.ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return outcome{result: resultCancelled, err: err}
	}
	return outcome{result: resultFailed, err: err}
}

// refuse answers with code a request that the matched action cannot carry.
func (r *request) refuse(code socks.Reply, err error) outcome {
	r.reply(code, socks.Addr{})
	return outcome{result: resultRefused, err: err}
}

// relay sends the success reply with bound (the second reply of a BIND)
// and relays between the client and up until either ends. It closes up.
func (r *request) relay(up net.Conn, bound socks.Addr) outcome {
	if err := r.reply(socks.RepSucceeded, bound); err != nil {
		up.Close()
		return r.failed(err)
	}
	r.s.set(func(s *session) { s.phase = "relay" })
	return r.carried(relay.Relay(r.ctx, r.conn, up, relay.Options{IdleTimeout: r.st.idle, Counters: &r.s.bytes, Trace: r.d.tracer(r.s)}))
}

// carried is the outcome of a session whose bytes were relayed or
// spliced with the result res.
func (r *request) carried(res relay.Result) outcome {
	if res.Err != nil {
		// CANCEL or a drain's end may close the client connection before
		// the relay sees ctx end: failed tells that apart.
		return r.failed(fmt.Errorf("socksd: relay: %w", res.Err))
	}
	return outcome{result: resultOK}
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
