package ftp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"socksd/msg"
)

// onActive handles PORT and EPRT from the job.
//
// With active = "refuse" the answer is 502. Otherwise the address must be
// either the address of a waiting SOCKS BIND of this session (the z/OS
// client's) or the job's own address with a port of 1024 or more; any
// other host is refused with 504 (RFC 2577 bounce protection). The command
// is converted: socksd sends PASV (EPSV for EPRT, the other one as a
// fallback) to the server, opens the data channel to the control host with
// that port through the tunnel, pairs it with the job (binding the BIND's
// data connection, or connecting to the PORT address itself), and only
// then answers the job "200 PORT command successful". The job's
// RETR/STOR/LIST that follows therefore finds the data channel already
// open, and the server's 150 comes after it.
func (s *session) onActive(cmd Command) error {
	ap, bind, handled, err := s.activeAddress(cmd)
	if handled {
		return err
	}
	s.setData(bind) // the data connection of the BIND, or none yet
	port, peer, err := s.askPassive(cmd.Verb == "EPRT")
	if err != nil {
		if bind != nil {
			bind.fail(err)
		}
		var re *Reply
		if errors.As(err, &re) {
			return s.localReply(425, "Cannot convert "+cmd.Verb+" to passive mode: the server answered "+strconv.Itoa(re.Code)+".")
		}
		return err
	}
	target := net.JoinHostPort(s.controlHost, strconv.Itoa(int(port)))
	d := bind
	if d == nil {
		d = s.newData("active", "")
	}
	return s.connectActive(cmd, ap, bind, d, target, peer)
}

// activeAddress parses the address of PORT or EPRT and checks it: with
// active = "refuse", or for an address that is neither a waiting SOCKS
// BIND of this session (returned as bind) nor the job's own host with a
// port of 1024 or more (RFC 2577), the job has been answered and handled
// is true.
func (s *session) activeAddress(cmd Command) (ap netip.AddrPort, bind *dataConn, handled bool, err error) {
	if s.opt.Active == ActiveRefuse {
		msg.Log(&s.log, "SOX0312W", s.cfg.ID, cmd.Verb).Str("command", cmd.String()).Send()
		return ap, nil, true, s.localReply(502, cmd.Verb+" refused by socksd policy: use passive mode (PASV).")
	}
	if cmd.Verb == "PORT" {
		ap, err = ParsePORT(cmd.Args)
	} else {
		ap, err = ParseEPRT(cmd.Args)
	}
	if err != nil {
		return ap, nil, true, s.localReply(501, "Syntax error in "+cmd.Verb+" parameters.")
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	bind = s.broker.takeBind(s.ctl, ap)
	if bind == nil && (ap.Addr() != s.clientIP || ap.Port() < 1024) {
		msg.Log(&s.log, "SOX0304W", s.cfg.ID, ap).Str("address", ap.String()).Str("command", cmd.Verb).Send()
		return ap, nil, true, s.localReply(504, cmd.Verb+" to "+ap.String()+" refused: only the client's own address is allowed (RFC 2577).")
	}
	return ap, bind, false, nil
}

// connectActive opens the data channel to target for d (the BIND's data
// connection, or a new one for the PORT address ap), pairs them (peer is
// the server's data address a BIND's second reply names) and, without a
// BIND, connects to ap itself and starts the relay. Then the job gets 200.
func (s *session) connectActive(cmd Command, ap netip.AddrPort, bind, d *dataConn, target string, peer netip.AddrPort) error {
	if s.deps.splice != nil {
		return s.spliceActive(cmd, ap, bind, d, target, peer)
	}
	up, err := d.dial(s.ctx, target)
	if err != nil {
		d.fail(err)
		return s.localReply(425, "Cannot open the data channel through SSH: "+sanitize(err.Error(), nil))
	}
	if !d.bind(target, up, peer) {
		up.Close()
		return s.localReply(425, "Cannot open data connection: the SOCKS BIND for "+ap.String()+" has ended.")
	}
	if bind == nil {
		ctx, cancel := context.WithTimeout(s.ctx, dialTimeout)
		var dialer net.Dialer
		jc, err := dialer.DialContext(ctx, "tcp", ap.String())
		cancel()
		if err != nil {
			d.fail(err)
			return s.localReply(425, "Cannot open data connection to "+ap.String()+".")
		}
		s.deps.spawn(func() { _ = d.serve(s.ctx, jc, s.deps.owned, s.deps.trace) })
	}
	s.log.Debug().Str("command", cmd.Verb).Str("job_address", ap.String()).Str("target", target).Bool("bind", bind != nil).
		Msg("active data connection paired")
	return s.localReply(200, cmd.Verb+" command successful.")
}

// spliceActive is connectActive through the session's Splicer: it pairs
// d with target, and the job's connection (the BIND's, which its
// DataLink hands over, sending the second reply just before the bytes
// flow; or socksd's own connection to the PORT address ap) is carried to
// it. The job gets 200 only once the splice carries the bytes.
func (s *session) spliceActive(cmd Command, ap netip.AddrPort, bind, d *dataConn, target string, peer netip.AddrPort) error {
	var jc net.Conn
	if bind == nil {
		ctx, cancel := context.WithTimeout(s.ctx, dialTimeout)
		var dialer net.Dialer
		c, err := dialer.DialContext(ctx, "tcp", ap.String())
		cancel()
		if err != nil {
			d.fail(err)
			return s.localReply(425, "Cannot open data connection to "+ap.String()+".")
		}
		jc = c
	}
	if !d.bind(target, nil, peer) {
		if jc != nil {
			jc.Close()
		}
		return s.localReply(425, "Cannot open data connection: the SOCKS BIND for "+ap.String()+" has ended.")
	}
	if jc != nil {
		s.deps.spawn(func() {
			if handed, _ := d.splice(s.ctx, jc, s.deps.owned, s.deps.trace, nil); !handed {
				jc.Close()
			}
		})
	}
	if err := d.awaitCarried(); err != nil {
		d.fail(err)
		return s.localReply(425, "Cannot open the data channel through SSH: "+sanitize(err.Error(), nil))
	}
	s.log.Debug().Str("command", cmd.Verb).Str("job_address", ap.String()).Str("target", target).Bool("bind", bind != nil).
		Msg("active data connection spliced")
	return s.localReply(200, cmd.Verb+" command successful.")
}

// askPassive sends PASV or EPSV (the other one if the first is refused) to
// the server and returns the data port and the server's data address (for
// a BIND reply). A refusal by the server is returned as a *Reply error.
func (s *session) askPassive(preferEPSV bool) (uint16, netip.AddrPort, error) {
	order := []string{"PASV", "EPSV"}
	if preferEPSV {
		order[0], order[1] = order[1], order[0]
	}
	var last *Reply
	for _, verb := range order {
		p := &pendingCmd{cmd: Command{Verb: verb}, internal: true}
		s.pending = append(s.pending, p)
		if err := s.srv.writeLines(verb); err != nil {
			return 0, netip.AddrPort{}, err
		}
		if err := s.await(p); err != nil {
			return 0, netip.AddrPort{}, err
		}
		r := p.reply
		if r == nil {
			return 0, netip.AddrPort{}, errors.New("ftp: no reply to " + verb)
		}
		last = r
		switch r.Code {
		case 227:
			ap, err := Parse227(r.Text())
			if err != nil {
				continue
			}
			peer := ap
			if ap.Addr().IsUnspecified() && s.controlIP.IsValid() {
				peer = netip.AddrPortFrom(s.controlIP, ap.Port())
			}
			return ap.Port(), peer, nil
		case 229:
			port, err := Parse229(r.Text())
			if err != nil {
				continue
			}
			ip := s.controlIP
			if !ip.IsValid() {
				ip = netip.IPv4Unspecified()
			}
			return port, netip.AddrPortFrom(ip, port), nil
		}
	}
	if last == nil {
		return 0, netip.AddrPort{}, fmt.Errorf("ftp: server refused passive mode")
	}
	return 0, netip.AddrPort{}, last
}
