package ftp

import (
	"net"
	"net/netip"
	"strconv"

	"socksd/msg"
)

// onPassiveReply handles the server's 227/229 answer to the job's PASV or
// EPSV and returns the reply the job gets.
//
// The data channel is always dialed to the control host (the host the job
// named) with the reply's port, through the same SSH connection: a 227
// address of 0.0.0.0, a private address the SSH server may not reach, or a
// third host is never dialed (this also rules out a server-side bounce).
//
// Data mode "socks": the reply is relayed unchanged; the job's data
// connection must come back through SOCKS to the 227 address or the control
// host with that port ([Broker.Claim]).
//
// Data mode "rewrite": the reply is rewritten to a listener of socksd on
// LocalAddr (227 with LocalAddr when it is IPv4, 229 with the port); the
// job connects there directly (or through SOCKS to exactly that address).
//
// Data mode "auto": rewritten as for "rewrite", and the broker also accepts
// a SOCKS CONNECT to the control host or the 227 address with the
// listener's port (curl ignores the 227 address and uses the control
// host). Whichever connection comes first is the data connection, so both
// kinds of client work and none reaches the server outside the tunnel.
//
// A 227 reply cannot carry an IPv6 LocalAddr: then the reply is relayed
// unchanged and the session behaves as in "socks" mode.
func (s *session) onPassiveReply(cmd Command, r *Reply) *Reply {
	var port uint16
	var srvAddr netip.AddrPort
	var err error
	if r.Code == 227 {
		srvAddr, err = Parse227(r.Text())
		port = srvAddr.Port()
	} else {
		port, err = Parse229(r.Text())
	}
	if err != nil {
		msg.Log(&s.log, "SOX0310W", s.cfg.ID, sanitize(err.Error(), nil)).Err(err).Send()
		return r
	}
	target := net.JoinHostPort(s.controlHost, strconv.Itoa(int(port)))
	d := s.newData("passive", target)
	hosts := []string{s.controlHost}
	if srvAddr.IsValid() {
		hosts = append(hosts, srvAddr.Addr().String())
	}
	mode := s.opt.Data
	local := s.cfg.LocalAddr.Unmap()
	if mode != DataSocks && r.Code == 227 && !local.Is4() {
		mode = DataSocks
	}
	if mode != DataSocks && !local.IsValid() {
		mode = DataSocks
	}
	if mode == DataSocks {
		s.broker.expect(s.ctl, d, hosts, port)
		s.log.Debug().Str("target", target).Msg("passive data connection expected through SOCKS")
		return r
	}
	ln, err := d.listen(local)
	if err != nil {
		msg.Log(&s.log, "SOX0311W", s.cfg.ID, sanitize(err.Error(), nil)).Err(err).Send()
		s.broker.expect(s.ctl, d, hosts, port)
		return r
	}
	var text string
	if r.Code == 227 {
		text, _ = Format227(ln) // local is IPv4 here
	} else {
		text = Format229(ln.Port())
	}
	if mode == DataAuto {
		s.broker.expect(s.ctl, d, append(hosts, local.String()), ln.Port())
	} else {
		s.broker.expect(s.ctl, d, []string{local.String()}, ln.Port())
	}
	s.log.Debug().Str("target", target).Str("listener", ln.String()).Str("mode", mode).Msg("passive reply rewritten")
	return &Reply{Code: r.Code, Lines: FormatReply(r.Code, text)}
}
