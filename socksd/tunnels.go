package socksd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"socksd/config"
	"socksd/console"
	"socksd/msg"
	"socksd/socks"
	"socksd/tunnel"
)

// newPool builds the SSH connection pool from the [ssh] settings. The pool
// lives as long as the daemon; a reload does not change its settings.
func newPool(cfg *config.Config, d *Daemon) (*tunnel.Pool, error) {
	p, err := tunnel.NewPool(tunnel.Options{
		KnownHosts:        cfg.SSH.KnownHosts,
		HostKeyPolicy:     cfg.SSH.HostKeyPolicy,
		KeepaliveInterval: cfg.SSH.KeepaliveInterval.Duration,
		KeepaliveMax:      cfg.SSH.KeepaliveMax,
		ConnectTimeout:    cfg.SSH.ConnectTimeout.Duration,
		IdleClose:         cfg.SSH.IdleClose.Duration,
		RejectMemory:      cfg.SSH.RejectMemory.Duration,
		Logger:            d.log,
	})
	if err != nil {
		return nil, fmt.Errorf("socksd: %w", err)
	}
	return p, nil
}

// profiles converts the configuration's SSH profiles.
func profiles(cfg *config.Config) map[string]tunnel.Profile {
	out := make(map[string]tunnel.Profile, len(cfg.Profiles))
	for name, p := range cfg.Profiles {
		out[name] = tunnel.Profile{
			Name: name, Host: p.Host, Port: p.Port, User: p.User, Auth: p.Auth,
			IdentityFiles: p.IdentityFiles, PassphraseFile: p.PassphraseFile, Agent: p.Agent,
			Via: p.Via, Share: p.Share, MaxChannels: p.MaxChannels,
		}
	}
	return out
}

// openTunnel opens (or joins) the SSH connection for a session and logs a
// failure with its operator message.
func (d *Daemon) openTunnel(ctx context.Context, s *session, prof tunnel.Profile, destHost string, cred tunnel.Credentials) (*tunnel.Lease, error) {
	lease, err := d.pool.Open(ctx, prof, destHost, cred)
	if err != nil {
		d.logTunnelError(s, prof, destHost, err)
		return nil, err
	}
	s.set(func(s *session) { s.sshServer, s.tunnel = lease.Server(), lease.ID() })
	return lease, nil
}

// logTunnelError writes the operator message for an SSH failure.
func (d *Daemon) logTunnelError(s *session, prof tunnel.Profile, destHost string, err error) {
	server := prof.Host
	if server == "" {
		server = destHost
	}
	var hk *tunnel.HostKeyError
	var ae *tunnel.AuthError
	switch {
	case errors.As(err, &hk) && errors.Is(err, tunnel.ErrHostKeyUnknown):
		msg.Log(&d.log, "SOX0204A", hk.Host, hk.KeyType+" "+hk.Fingerprint).Uint64("session", s.id).Str("ssh_server", hk.Host).Str("fingerprint", hk.Fingerprint).Send()
	case errors.As(err, &hk):
		msg.Log(&d.log, "SOX0203E", hk.Host, fmt.Sprint(hk.Known), hk.KeyType+" "+hk.Fingerprint).
			Uint64("session", s.id).Str("ssh_server", hk.Host).Str("fingerprint", hk.Fingerprint).Strs("known", hk.Known).Send()
	case errors.As(err, &ae) && errors.Is(err, tunnel.ErrPasswordRejectedRecently):
		msg.Log(&d.log, "SOX0206W", ae.User, ae.Server).Uint64("session", s.id).Str("ssh_server", ae.Server).Str("user", ae.User).Send()
	case errors.As(err, &ae):
		msg.Log(&d.log, "SOX0205E", ae.User, ae.Server).
			Uint64("session", s.id).Str("ssh_server", ae.Server).Str("user", ae.User).Strs("tried", ae.Tried).Send()
	default:
		msg.Log(&d.log, "SOX0211W", server, err).Uint64("session", s.id).Str("ssh_server", server).Send()
	}
}

// tunnelReply maps an SSH failure to a SOCKS reply code.
func tunnelReply(err error) socks.Reply {
	switch {
	case errors.Is(err, tunnel.ErrProhibited):
		return socks.RepNotAllowed
	case errors.Is(err, tunnel.ErrConnectFailed):
		return socks.RepConnectionRefused
	case errors.Is(err, tunnel.ErrUnreachable), errors.Is(err, tunnel.ErrServerUnreachable):
		return socks.RepHostUnreachable
	case errors.Is(err, tunnel.ErrHostKeyUnknown), errors.Is(err, tunnel.ErrHostKeyChanged),
		errors.Is(err, tunnel.ErrHostKeyRevoked), errors.Is(err, tunnel.ErrAuthFailed),
		errors.Is(err, tunnel.ErrPasswordRejectedRecently):
		return socks.RepNotAllowed
	}
	return socks.ReplyCode(err)
}

// canFallBack reports whether a tunnel failure allows fallback_to_plain:
// only when the SSH server could not be reached. A host-key or login
// failure always fails closed.
func canFallBack(err error) bool {
	return errors.Is(err, tunnel.ErrServerUnreachable)
}

// tunnelConnect carries out the tunnel action for CONNECT.
func (d *Daemon) tunnelConnect(ctx context.Context, st *state, s *session, c net.Conn, req *socks.Request, ruleName string, prof tunnel.Profile, fallback bool) outcome {
	cred := tunnel.Credentials{User: req.User, Password: req.Password}
	lease, err := d.openTunnel(ctx, s, prof, req.Dest.Host, cred)
	clear(req.Password) // Open is done with it and kept no reference
	if err != nil {
		if fallback && canFallBack(err) {
			msg.Log(&d.log, "SOX0208W", req.Dest, err).Uint64("session", s.id).Str("rule", ruleName).Str("dest", req.Dest.String()).Err(err).Send()
			s.set(func(s *session) { s.action = "direct (fallback)" })
			return d.direct(ctx, st, s, c, req)
		}
		d.stats.failed.Add(1)
		d.reply(c, st, req.Version, tunnelReply(err), socks.Addr{})
		return outcome{"failed", fmt.Errorf("socksd: tunnel: %w", err)}
	}
	defer lease.Close()
	up, err := lease.Dial(ctx, "tcp", req.Dest.String())
	if err != nil {
		d.stats.failed.Add(1)
		d.reply(c, st, req.Version, tunnelReply(err), socks.Addr{})
		return outcome{"failed", fmt.Errorf("socksd: tunnel: %w", err)}
	}
	bound := socks.AddrFromAddrPort(s.local)
	if err := d.reply(c, st, req.Version, socks.RepSucceeded, bound); err != nil {
		up.Close()
		return outcome{"failed", err}
	}
	return d.relay(ctx, st, s, c, up)
}

// Tunnels lists the open SSH connections.
func (d *Daemon) Tunnels() []console.TunnelInfo {
	var out []console.TunnelInfo
	for _, t := range d.pool.Snapshot() {
		out = append(out, console.TunnelInfo{
			ID: t.ID, Server: t.Server, User: t.User, Profile: t.Profile,
			Channels: t.Channels, TotalChannels: t.TotalChannels, Opened: t.Opened, LastUsed: t.LastUsed,
		})
	}
	return out
}

// DropTunnel closes an SSH connection and the sessions it carries.
func (d *Daemon) DropTunnel(id string) error {
	if err := d.pool.Drop(id); err != nil {
		return fmt.Errorf("socksd: %w", err)
	}
	msg.Log(&d.log, "SOX0209I", id).Str("tunnel", id).Send()
	// The closed connection only ends each channel with an EOF, which the
	// relay passes on as a half-close: a client that does not close its
	// side would hold its session (and its slot) for ever. End the
	// sessions themselves.
	for _, s := range d.sessions.list() {
		s.mu.Lock()
		carried := s.tunnel != "" && strings.EqualFold(s.tunnel, id)
		s.mu.Unlock()
		if carried {
			s.cancel()
		}
	}
	return nil
}
