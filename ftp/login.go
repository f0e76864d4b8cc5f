package ftp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"socksd/ebcdic"
	"socksd/internal/scrub"
	"socksd/msg"
)

// LoginError reports that the SSH login with the job's credentials failed,
// or that the tunnel for it could not be built (then Err is a *TunnelError).
// Its text never contains the password.
type LoginError struct {
	User   string
	Reason string // the tunnel's error text, with the password removed
	Err    error  // the opener's error (do not log it: it is not redacted)
}

func (e *LoginError) Error() string {
	return fmt.Sprintf("ftp: SSH login for %s failed: %s", e.User, e.Reason)
}

// Unwrap returns the opener's error, for errors.Is and errors.As.
func (e *LoginError) Unwrap() error { return e.Err }

// TunnelError is what an Opener returns when the SSH connection could not
// be made for a reason other than the job's credentials: the SSH server
// cannot be reached, its host key is refused. The job then gets 421, not
// 530, and the session does not log SOX0307E (the Opener's owner has
// logged the cause). Any other Opener error counts as a rejected login.
type TunnelError struct {
	Err error
	// MsgID is the operator message the Opener's owner logged for Err
	// (e.g. SOX0216E), if any: the job's 421 names it, so that whoever
	// reads the job's output can look it up.
	MsgID string
}

func (e *TunnelError) Error() string { return e.Err.Error() }

// Unwrap returns the cause, for errors.Is and errors.As.
func (e *TunnelError) Unwrap() error { return e.Err }

// refuseLogin answers the job after the Opener failed with err: 530 for
// rejected credentials (SOX0307E), 421 when the tunnel could not be built.
// user is the job's (or "(profile)"); pw is removed from every text.
func (s *session) refuseLogin(user string, pw []byte, err error) error {
	reason := sanitize(err.Error(), pw)
	var te *TunnelError
	if errors.As(err, &te) {
		text := fmt.Sprintf("Cannot reach %s through SSH: %s", s.controlHost, reason)
		if te.MsgID != "" {
			text = te.MsgID + " " + text
		}
		_ = s.job.writeReply(421, text)
	} else {
		msg.Log(&s.log, "SOX0307E", s.cfg.ID, user, reason).Str("user", user).Str("reason", reason).Send()
		_ = s.job.writeReply(530, fmt.Sprintf("SSH login to %s failed: %s", s.controlHost, reason))
	}
	return &LoginError{User: user, Reason: reason, Err: err}
}

// errJobGone reports that the job closed its control connection.
var errJobGone = errors.New("ftp: job closed the control connection")

// jobGone reports read errors that mean the job has left: end of input or
// a reset (clients such as jlaffaye/ftp close right after QUIT, and unread
// replies make the kernel send a reset).
func jobGone(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

// anonymousUser reports the FTP user names that log in without a password.
func anonymousUser(u string) bool {
	return strings.EqualFold(u, "anonymous") || strings.EqualFold(u, "ftp")
}

// splitVerb returns the verb of a control line (upper case) and the bytes
// of its argument, without decoding the argument (it may be a password).
func splitVerb(cp ebcdic.CodePage, line []byte) (string, []byte) {
	blank := byte(' ')
	if cp.IsEBCDIC() {
		blank = 0x40
	}
	start := 0
	for start < len(line) && line[start] == blank {
		start++
	}
	line = line[start:]
	i := bytes.IndexByte(line, blank)
	verbBytes, args := line, []byte(nil)
	if i >= 0 {
		verbBytes, args = line[:i], line[i+1:]
		for len(args) > 0 && args[0] == blank {
			args = args[1:]
		}
	}
	if len(verbBytes) > maxVerb {
		return "", nil
	}
	return strings.ToUpper(ebcdic.Decode(cp, verbBytes)), args
}

// sanitize makes an error text fit for a reply line: printable ASCII only,
// bounded, and with every occurrence of the password replaced.
func sanitize(text string, secret []byte) string {
	if len(secret) > 0 {
		// In bytes: string(secret) would be one more copy of the password.
		text = string(bytes.ReplaceAll([]byte(text), secret, []byte("****")))
	}
	return msg.Clean(text, 200)
}

// login greets the job, collects USER and PASS, opens the tunnel with them
// and logs in to the server through it. It returns nil when the control
// relay can start (also when the server rejected the login: its reply went
// to the job, which may try again or quit).
func (s *session) login() error {
	auto := strings.EqualFold(s.opt.Encoding, "auto")
	if !auto {
		cp, _ := ebcdic.ParseCodePage(s.opt.Encoding) // checked by normalize
		s.job.setCodePage(cp, ebcdic.TermNone)
	}
	if err := s.job.writeReply(220, "socksd FTP proxy ready: log in to reach "+s.cfg.Server+" through SSH."); err != nil {
		return err
	}
	var user string
	for n := 0; n < maxPreLoginCommands; n++ {
		line, term, err := s.job.lr.ReadLine()
		if err != nil {
			if isTooLong(err) {
				return s.jobTooLong()
			}
			if jobGone(err) || s.ctx.Err() != nil {
				return errJobGone
			}
			return fmt.Errorf("ftp: read from job: %w", err)
		}
		if n == 0 && auto {
			cp, _ := ebcdic.Detect(line)
			s.job.setCodePage(cp, term)
			s.log.Debug().Str("codepage", cp.String()).Msg("job code page detected")
		} else if term != ebcdic.TermNone {
			s.job.term = term
		}
		verb, args := splitVerb(s.job.cp, line)
		switch verb {
		case "USER":
			user = strings.TrimSpace(ebcdic.Decode(s.job.cp, args))
			if user == "" {
				err = s.job.writeReply(501, "USER needs a user name.")
				break
			}
			err = s.job.writeReply(331, "Password required for "+user+".")
		case "PASS":
			if user == "" {
				s.job.lr.Wipe()
				err = s.job.writeReply(503, "Login with USER first.")
				break
			}
			// Sized up front: a growing append would leave part of the
			// password behind in the buffer it outgrew.
			pw := ebcdic.Translate(make([]byte, 0, len(args)*utf8.UTFMax), s.job.cp, ebcdic.ASCII, args)
			clear(line)
			s.job.lr.Wipe()
			return s.openAndLogin(user, pw)
		case "QUIT":
			_ = s.job.writeReply(221, "Goodbye.")
			return errQuit
		case "AUTH":
			cmd, _ := ParseCommand(ebcdic.Decode(s.job.cp, line))
			if !s.opt.AllowAuthTLS || s.cfg.SFTP != nil {
				err = s.refuseAuth(cmd)
				break
			}
			return s.openForAuth(cmd)
		case "NOOP":
			err = s.job.writeReply(200, "NOOP ok.")
		case "FEAT":
			err = s.job.writeReply(211, "Features (after login, the server's):", "End")
		default:
			err = s.job.writeReply(530, "Please log in with USER and PASS.")
		}
		if err != nil {
			return err
		}
	}
	_ = s.job.writeReply(421, "Too many commands without login; closing.")
	return errors.New("ftp: too many commands before login")
}

// jobTooLong answers an oversized job line with 500 and ends the session.
func (s *session) jobTooLong() error {
	msg.Log(&s.log, "SOX0305E", s.cfg.ID).Int("max", s.opt.MaxLine).Send()
	_ = s.job.writeReply(500, fmt.Sprintf("Command line too long (more than %d bytes); closing.", s.opt.MaxLine))
	return fmt.Errorf("ftp: job line: %w", ebcdic.ErrLineTooLong)
}

// refuseAuth answers AUTH when TLS is not allowed.
func (s *session) refuseAuth(cmd Command) error {
	code, text := s.refuseAuthLocal(cmd)
	return s.job.writeReply(code, text)
}

// openAndLogin opens the tunnel with the job's credentials, connects to the
// server through it and logs in there. pw is wiped before it returns.
func (s *session) openAndLogin(user string, pw []byte) error {
	defer clear(pw)
	var sshPassword []byte
	if !anonymousUser(user) {
		sshPassword = pw
	}
	tun, err := s.cfg.Open(s.ctx, user, sshPassword)
	var fe *FallbackError
	switch {
	case errors.As(err, &fe) && fe.Plain != nil:
		// fallback_to_plain: the SSH server cannot be reached, and the
		// rule sends the job to its FTP server directly, as ftp-tunnel.
		reason := sanitize(fe.Err.Error(), pw)
		msg.Log(&s.log, "SOX0318W", s.cfg.ID, reason, s.cfg.Server).Str("user", user).Str("reason", reason).Send()
		tun = fe.Plain
	case err != nil:
		return s.refuseLogin(user, pw, err)
	case s.cfg.SFTP != nil:
		clear(pw)
		return s.sftpLogin(tun, user)
	}
	return s.loginThrough(tun, user, pw)
}

// loginThrough connects to the FTP server through tun and logs in there
// with the job's USER and PASS, relaying the server's final reply.
func (s *session) loginThrough(tun Tunnel, user string, pw []byte) error {
	if err := s.connectServer(tun, user); err != nil {
		return err
	}
	srv := s.srv
	if err := srv.writeLines("USER " + user); err != nil {
		return err
	}
	r, err := s.readReplyDirect()
	if err != nil {
		return err
	}
	if r.Code == 331 {
		if err := s.sendPassword(pw); err != nil {
			return err
		}
		if r, err = s.readReplyDirect(); err != nil {
			return err
		}
	}
	clear(pw)
	if err := s.job.relayReply(srv.cp, r); err != nil {
		return err
	}
	s.user = user
	switch {
	case r.Code == 230:
		msg.Log(&s.log, "SOX0301I", s.cfg.ID, user, s.cfg.Server, s.sshServer).
			Str("user", user).Str("ssh_server", s.sshServer).Str("ssh_conn", tun.ID()).Send()
	case r.Code == 332:
		s.log.Info().Str("user", user).Msg("FTP server asks for an account (ACCT)")
	default:
		msg.Log(&s.log, "SOX0315W", s.cfg.ID, user, r.Code).Str("user", user).Int("code", r.Code).Send()
	}
	return nil
}

// sendPassword sends "PASS pw" to the server in one line, followed by
// NOOPs that overwrite it in the SSH channel's packet buffer (see
// overwriteSecret), and wipes its own copy. The line's buffer is sized up
// front, so translating into it leaves no partial copy behind. The writes
// run under scrub.Do, so a copy the SSH library makes (a packet queued
// during a key exchange) is erased once it is garbage.
func (s *session) sendPassword(pw []byte) (err error) {
	srv := s.srv
	scrub.Do(func() {
		b := make([]byte, 0, len("PASS ")+len(pw)*utf8.UTFMax+len(srv.term.Bytes()))
		b = append(b, ebcdic.Encode(srv.cp, "PASS ")...)
		b = ebcdic.Translate(b, ebcdic.ASCII, srv.cp, pw)
		b = append(b, srv.term.Bytes()...)
		defer clear(b)
		if err = srv.writeRaw(b); err == nil {
			err = s.overwriteSecret(len(b))
		}
	})
	return err
}

// openForAuth handles AUTH before login when AUTH TLS is allowed: the
// tunnel is opened with the profile's public key (no user from the job),
// the AUTH command is relayed and, when the server accepts it, the session
// relays raw bytes from then on.
func (s *session) openForAuth(cmd Command) error {
	tun, err := s.cfg.Open(s.ctx, "", nil)
	if err != nil {
		return s.refuseLogin("(profile)", nil, err)
	}
	if err := s.connectServer(tun, ""); err != nil {
		return err
	}
	if err := s.srv.writeLines(cmd.Wire()); err != nil {
		return err
	}
	r, err := s.readReplyDirect()
	if err != nil {
		return err
	}
	if err := s.job.relayReply(s.srv.cp, r); err != nil {
		return err
	}
	if r.Code == 234 {
		s.rawMode = true
	}
	return nil
}

// connectServer dials the FTP server through the tunnel and reads its
// greeting, which sets the server's code page.
func (s *session) connectServer(tun Tunnel, user string) error {
	s.tun = tun
	s.sshServer = tun.Server()
	conn, err := s.dial(s.cfg.Server)
	if err != nil {
		reason := sanitize(err.Error(), nil)
		msg.Log(&s.log, "SOX0316E", s.cfg.ID, s.cfg.Server, s.sshServer, reason).Str("user", user).Str("ssh_server", s.sshServer).Str("reason", reason).Send()
		_ = s.job.writeReply(421, fmt.Sprintf("Cannot reach %s through SSH server %s: %s", s.cfg.Server, s.sshServer, reason))
		return err
	}
	srv := newSide("server", conn, s.opt.MaxLine, s.cfg.Counters, false)
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	if s.ctx.Err() != nil {
		conn.Close()
		return s.ctx.Err()
	}
	s.rr = &ReplyReader{LR: srv.lr, Detect: true}
	// A server that accepts the channel but never greets must not hold
	// the session (and its job) forever.
	conn.SetReadDeadline(time.Now().Add(replyWait))
	defer conn.SetReadDeadline(time.Time{})
	for n := 0; n < 5; n++ {
		r, err := s.rr.ReadReply()
		if err != nil {
			return s.serverGone(err)
		}
		srv.setCodePage(s.rr.CP, s.rr.Term)
		switch {
		case r.Code == 120:
			continue // "service ready in nnn minutes": the 220 follows
		case r.Code == 220:
			s.log.Debug().Str("codepage", srv.cp.String()).Msg("server greeting received")
			return nil
		default:
			_ = s.job.relayReply(srv.cp, r)
			return fmt.Errorf("ftp: server greeted with %d", r.Code)
		}
	}
	return errors.New("ftp: server sent no 220 greeting")
}

// readReplyDirect reads one reply from the server during login, skipping
// preliminary replies.
func (s *session) readReplyDirect() (*Reply, error) {
	s.srv.conn.SetReadDeadline(time.Now().Add(replyWait))
	defer s.srv.conn.SetReadDeadline(time.Time{})
	for n := 0; n < 10; n++ {
		r, err := s.rr.ReadReply()
		if err != nil {
			return nil, s.serverGone(err)
		}
		if !r.Preliminary() {
			return r, nil
		}
	}
	return nil, errors.New("ftp: server sent only preliminary replies")
}
