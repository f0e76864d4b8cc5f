package ftp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"socksd/ebcdic"
	"socksd/internal/relay"
	"socksd/msg"
)

// pendingCmd is a command whose reply the job has not seen yet, in the
// order the replies are due.
type pendingCmd struct {
	cmd      Command
	internal bool      // sent by socksd itself: the reply is kept, not relayed
	local    []string  // a reply socksd gives itself when its turn comes
	xfer     *transfer // set for RETR, STOR, LIST...
	auth     bool      // AUTH: a 234 switches to raw relaying
	passive  bool      // PASV/EPSV from the job
	answered bool
	reply    *Reply
}

type jobEvent struct {
	line []byte
	term ebcdic.Terminator
	err  error
}

type srvEvent struct {
	r   *Reply
	err error
}

// loop holds what the server reader shares with the session. The session
// reads the job itself, one line at a time, each handled before the next
// is read. The server reader reads ahead (up to srvQueue replies, in srv),
// interrupts the session's wait for the job's next line (a read deadline
// in the past: see wakeJob), and waits for an ack only after a 234. So an
// idle session holds one goroutine besides its own.
const srvQueue = 256

type loop struct {
	srv    replyQueue
	srvAck chan bool
	done   chan struct{}
}

// replyQueue holds the replies the server reader read ahead, at most
// srvQueue. It takes memory only for the replies it holds: an idle
// session's queue is empty.
type replyQueue struct {
	mu    sync.Mutex
	q     []srvEvent
	ready chan struct{} // capacity 1: holds a token while q is not empty
	space chan struct{} // capacity 1: a reply was taken out
}

func newReplyQueue() replyQueue {
	return replyQueue{ready: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

// signal leaves a token in c (capacity 1) unless one is there.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// put appends ev, waiting for room while the queue is full; false when
// done closed first.
func (rq *replyQueue) put(ev srvEvent, done <-chan struct{}) bool {
	for {
		rq.mu.Lock()
		if len(rq.q) < srvQueue {
			rq.q = append(rq.q, ev)
			rq.mu.Unlock()
			signal(rq.ready)
			return true
		}
		rq.mu.Unlock()
		select {
		case <-rq.space:
		case <-done:
			return false
		}
	}
}

// waiting reports whether the queue holds a reply.
func (rq *replyQueue) waiting() bool {
	rq.mu.Lock()
	defer rq.mu.Unlock()
	return len(rq.q) > 0
}

// take removes the oldest reply; false when the queue is empty (a stale
// ready token). Its caller received from ready: take hands the token on
// while replies remain.
func (rq *replyQueue) take() (srvEvent, bool) {
	rq.mu.Lock()
	defer rq.mu.Unlock()
	if len(rq.q) == 0 {
		return srvEvent{}, false
	}
	ev := rq.q[0]
	rq.q[0] = srvEvent{}
	rq.q = rq.q[1:]
	if len(rq.q) == 0 {
		rq.q = nil // drop the array: an idle session holds none
	} else {
		signal(rq.ready)
	}
	signal(rq.space)
	return ev, true
}

// run is the control relay after login.
func (s *session) run() error {
	if s.rawMode {
		return s.raw()
	}
	l := &loop{srv: newReplyQueue(), srvAck: make(chan bool), done: make(chan struct{})}
	s.loop = l
	s.joinBroker()
	var reader sync.WaitGroup
	reader.Add(1)
	go func() { defer reader.Done(); s.readServer(l) }()
	defer func() {
		close(l.done)
		if !s.rawMode {
			s.closeConns()
		}
		reader.Wait()
	}()
	for {
		if err := s.serverReplies(); err != nil {
			return err
		}
		// Clear a wake-up before looking at the queue: a reply queued after
		// the look sets the deadline again and ends the read below.
		_ = s.job.conn.SetReadDeadline(time.Time{})
		if l.srv.waiting() {
			continue
		}
		line, term, err := s.job.lr.ReadLine()
		if s.ctx.Err() != nil {
			return s.ctx.Err()
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue // woken by the server reader; the line goes on
		}
		ev := jobEvent{line: append([]byte(nil), line...), term: term, err: err}
		if err := s.onJob(ev); err != nil {
			return err
		}
		if s.rawMode {
			// The server reader stops on its own, on the false ack after
			// 234.
			reader.Wait()
			_ = s.job.conn.SetReadDeadline(time.Time{})
			s.broker.leave(s.ctl) // no data brokering through TLS
			return s.raw()
		}
	}
}

// serverReplies handles the replies the server reader has queued.
func (s *session) serverReplies() error {
	for range srvQueue + 1 {
		ev, ok := s.loop.srv.take()
		if !ok {
			return nil
		}
		cont, err := s.onServer(ev)
		if err != nil {
			return err
		}
		s.ackServer(ev, cont)
	}
	return nil
}

// wakeJob ends the session's wait for the job's next line, so that it
// handles a server reply.
func (s *session) wakeJob() {
	_ = s.job.conn.SetReadDeadline(time.Unix(1, 0))
}

// readServer reads replies ahead into a buffered channel, so that the
// server can always send while the session is busy writing to it. It stops
// for an ack only after a 234 (AUTH accepted), where raw relaying may
// begin.
func (s *session) readServer(l *loop) {
	for {
		r, err := s.rr.ReadReply()
		if !l.srv.put(srvEvent{r: r, err: err}, l.done) {
			return
		}
		s.wakeJob()
		if err != nil {
			return
		}
		if r.Code != 234 {
			continue
		}
		select {
		case ok := <-l.srvAck:
			if !ok {
				return
			}
		case <-l.done:
			return
		}
	}
}

// ackServer answers the server reader when it waits (after a 234).
func (s *session) ackServer(ev srvEvent, cont bool) {
	if ev.err == nil && ev.r.Code == 234 {
		s.loop.srvAck <- cont
	}
}

// raw relays bytes untouched in both directions (after AUTH TLS).
func (s *session) raw() error {
	msg.Log(&s.log, "SOX0317I", s.cfg.ID).Send()
	if b := s.job.lr.Buffered(); len(b) > 0 {
		if err := s.srv.writeRaw(b); err != nil {
			return err
		}
	}
	if b := s.srv.lr.Buffered(); len(b) > 0 {
		if err := s.job.writeRaw(b); err != nil {
			return err
		}
	}
	// The relay has no write deadlines of its own: clear the control ones.
	_ = s.job.conn.SetWriteDeadline(time.Time{})
	_ = s.srv.conn.SetWriteDeadline(time.Time{})
	res := relay.Relay(s.ctx, s.job.conn, s.srv.conn, relay.Options{Counters: s.cfg.Counters, Trace: s.cfg.Trace})
	if res.Err != nil {
		return fmt.Errorf("ftp: raw control relay: %w", res.Err)
	}
	return nil
}

// await processes server replies until p is answered, bounded by replyWait.
func (s *session) await(p *pendingCmd) error {
	timer := time.NewTimer(replyWait)
	defer timer.Stop()
	for !p.answered {
		select {
		case <-s.loop.srv.ready:
			ev, ok := s.loop.srv.take()
			if !ok {
				continue
			}
			cont, err := s.onServer(ev)
			if err != nil {
				return err
			}
			s.ackServer(ev, cont)
			if !cont {
				return nil
			}
		case <-timer.C:
			return fmt.Errorf("ftp: no reply from the server to %s within %v", p.cmd.Verb, replyWait)
		case <-s.ctx.Done():
			return s.ctx.Err()
		}
	}
	return nil
}

// push queues p and sends any local replies that are now due.
func (s *session) push(p *pendingCmd) error {
	s.pending = append(s.pending, p)
	return s.flushLocal()
}

// localReply queues a reply socksd gives itself, in order with the
// replies still due from the server.
func (s *session) localReply(code int, lines ...string) error {
	return s.push(&pendingCmd{local: FormatReply(code, lines...)})
}

// flushLocal sends local replies at the head of the queue.
func (s *session) flushLocal() error {
	for len(s.pending) > 0 && s.pending[0].local != nil {
		p := s.pending[0]
		s.pending = s.pending[1:]
		if err := s.job.writeLines(p.local...); err != nil {
			return err
		}
	}
	return nil
}

// forward sends the job's line to the server (translated if needed) and
// queues p for its reply.
func (s *session) forward(ev jobEvent, p *pendingCmd) error {
	s.pending = append(s.pending, p)
	if p.cmd.Quoted != "" {
		return s.srv.writeLines(p.cmd.Wire())
	}
	_, err := s.srv.relayLine(s.job.cp, ev.line, ev.term)
	return err
}

// overwriteSecret follows a line of n bytes that held a secret (PASS,
// ACCT) with a NOOP of exactly n bytes (padded with spaces), whose reply
// the session drops. An SSH channel builds each packet in a buffer it
// keeps and reuses for the life of the channel, so the secret would
// otherwise stay there, past the login, until a later line of the same
// length or longer came; a longer one would not do either, as the channel
// then allocates a new buffer and drops the old one as it is. (Sending the
// secret a byte at a time would also keep it out of that buffer, but would
// show anyone watching the connection its exact length.)
func (s *session) overwriteSecret(n int) error {
	s.pending = append(s.pending, &pendingCmd{cmd: Command{Verb: "NOOP"}, internal: true})
	return s.srv.writeRaw(s.srv.noop(n))
}

// onJob handles one line from the job.
func (s *session) onJob(ev jobEvent) error {
	if ev.err != nil {
		if isTooLong(ev.err) {
			return s.jobTooLong()
		}
		if jobGone(ev.err) || s.quitSent || s.ctx.Err() != nil {
			return errJobGone
		}
		return fmt.Errorf("ftp: read from job: %w", ev.err)
	}
	if ev.term != ebcdic.TermNone {
		s.job.term = ev.term
	}
	if verb, _ := splitVerb(s.job.cp, ev.line); verb == "PASS" || verb == "ACCT" {
		// A new login on the open session: relay it without decoding.
		s.pending = append(s.pending, &pendingCmd{cmd: Command{Verb: verb}})
		n, err := s.srv.relayLine(s.job.cp, ev.line, ev.term)
		clear(ev.line)
		s.job.lr.Wipe()
		if err != nil {
			return err
		}
		return s.overwriteSecret(n)
	}
	cmd, err := ParseCommand(ebcdic.Decode(s.job.cp, ev.line))
	if err != nil {
		// Not a command we understand: the server answers it.
		return s.forward(ev, &pendingCmd{})
	}
	if pattern, denied := s.policy.match(cmd); denied {
		msg.Log(&s.log, "SOX0302W", s.cfg.ID, cmd.String()).Str("command", cmd.String()).Str("pattern", pattern).Send()
		return s.localReply(550, cmd.Verb+": refused by policy.")
	}
	switch cmd.Verb {
	case "AUTH":
		if !s.opt.AllowAuthTLS {
			return s.localReplyErr(s.refuseAuthLocal(cmd))
		}
		p := &pendingCmd{cmd: cmd, auth: true}
		if err := s.forward(ev, p); err != nil {
			return err
		}
		return s.await(p)
	case "PORT", "EPRT":
		return s.onActive(cmd)
	case "LPRT", "LPSV":
		return s.localReply(502, cmd.Verb+" is not supported through socksd; use PASV or EPSV.")
	case "PASV", "EPSV":
		s.setData(nil)
		return s.forward(ev, &pendingCmd{cmd: cmd, passive: true})
	case "QUIT":
		s.quitSent = true
	}
	p := &pendingCmd{cmd: cmd}
	if cmd.IsTransfer() {
		p.xfer = s.newTransfer(cmd)
	}
	return s.forward(ev, p)
}

func (s *session) localReplyErr(code int, text string) error { return s.localReply(code, text) }

// refuseAuthLocal logs a refused AUTH and returns the reply for it.
func (s *session) refuseAuthLocal(cmd Command) (int, string) {
	msg.Log(&s.log, "SOX0306W", s.cfg.ID).Str("command", cmd.Normalized()).Send()
	return 534, "AUTH refused by socksd policy: the session is already encrypted by SSH."
}

// onServer handles one reply from the server. cont is false when the
// server reader must stop (raw relaying follows).
func (s *session) onServer(ev srvEvent) (cont bool, err error) {
	if ev.err != nil {
		return false, s.serverGone(ev.err)
	}
	r := ev.r
	var head *pendingCmd
	if len(s.pending) > 0 {
		head = s.pending[0]
	}
	if r.Preliminary() {
		if head != nil && head.internal {
			return true, nil
		}
		return true, s.job.relayReply(s.srv.cp, r)
	}
	if head == nil {
		// Unsolicited, e.g. 421 before the server closes an idle session.
		return true, s.job.relayReply(s.srv.cp, r)
	}
	s.pending = s.pending[1:]
	head.answered, head.reply = true, r
	switch {
	case head.internal:
		return true, s.flushLocal()
	case head.passive && (r.Code == 227 || r.Code == 229):
		r = s.onPassiveReply(head.cmd, r)
	case head.xfer != nil:
		r = s.onTransferReply(head.xfer, r)
	case head.auth && r.Code == 234:
		cont = false
		s.rawMode = true
		if err := s.job.relayReply(s.srv.cp, r); err != nil {
			return false, err
		}
		return false, nil
	}
	if err := s.job.relayReply(s.srv.cp, r); err != nil {
		return false, err
	}
	return true, s.flushLocal()
}

// serverGone handles the end of the server's control connection: a QUIT
// ends the session normally; otherwise the job gets 426 (a transfer was
// running) or 421, never a silent success.
func (s *session) serverGone(err error) error {
	if s.quitSent && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return errQuit
	}
	if s.ctx.Err() != nil {
		return s.ctx.Err()
	}
	if isTooLong(err) {
		msg.Log(&s.log, "SOX0305E", s.cfg.ID).Int("max", s.opt.MaxLine).Send()
		_ = s.job.writeReply(421, "Server reply line too long; closing.")
		return fmt.Errorf("ftp: server line: %w", err)
	}
	inTransfer := false
	for _, p := range s.pending {
		if p.xfer != nil {
			inTransfer = true
		}
	}
	via := s.sshServer
	if via == "" {
		via = "SSH"
	}
	if inTransfer {
		_ = s.job.writeReply(426, "Connection to "+s.cfg.Server+" through "+via+" lost; transfer aborted.")
		// The audit records what the job was told.
		for _, p := range s.pending {
			if p.xfer != nil {
				s.finishTransfer(p.xfer, 426, "connection to the FTP server lost: "+err.Error())
				p.xfer = nil
			}
		}
	} else {
		_ = s.job.writeReply(421, "Connection to "+s.cfg.Server+" through "+via+" lost; closing.")
	}
	msg.Log(&s.log, "SOX0314W", s.cfg.ID, sanitize(err.Error(), nil)).Err(err).Bool("in_transfer", inTransfer).Send()
	return fmt.Errorf("ftp: server control connection: %w", err)
}

// shortText is the first line of a reply's text, for messages.
func shortText(r *Reply) string {
	t, _, _ := strings.Cut(r.Text(), "\n")
	return sanitize(t, nil)
}
