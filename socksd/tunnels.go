package socksd

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"socksd/config"
	"socksd/console"
	"socksd/msg"
	"socksd/tunnel"
)

// newPool builds the SSH connection pool from the [ssh] settings. The pool
// lives as long as the daemon; a reload does not change its settings.
func newPool(cfg *config.Config, d *Daemon) (*tunnel.Pool, error) {
	var onDial func(engine, method string, err error)
	if d.metrics != nil {
		onDial = d.onDial
	}
	p, err := tunnel.NewPool(tunnel.Options{
		KnownHosts:        cfg.SSH.KnownHosts,
		HostKeyPolicy:     cfg.SSH.HostKeyPolicy,
		KeepaliveInterval: cfg.SSH.KeepaliveInterval.Duration,
		KeepaliveMax:      cfg.SSH.KeepaliveMax,
		ConnectTimeout:    cfg.SSH.ConnectTimeout.Duration,
		IdleClose:         cfg.SSH.IdleClose.Duration,
		RejectMemory:      cfg.SSH.RejectMemory.Duration,
		Engine:            cfg.SSH.Engine,
		OpenSSH:           cfg.SSH.OpenSSH,
		RuntimeDir:        cfg.SSH.RuntimeDir,
		Logger:            d.log,
		OnDial:            onDial,
	})
	if err != nil {
		return nil, fmt.Errorf("socksd: %w", err)
	}
	return p, nil
}

// profiles converts the configuration's SSH profiles, each prepared once
// (checked, defaults applied, its via dialer built) so that no tunnel open
// checks or parses it again.
func profiles(cfg *config.Config) (map[string]tunnel.Profile, error) {
	out := make(map[string]tunnel.Profile, len(cfg.Profiles))
	for name, p := range cfg.Profiles {
		tp, err := tunnel.Profile{
			Name: name, Host: p.Host, Port: p.Port, User: p.User, Auth: p.Auth,
			IdentityFiles: p.IdentityFiles, PassphraseFile: p.PassphraseFile, Agent: p.Agent,
			Via: p.Via, Share: p.Share, MaxChannels: p.MaxChannels, Engine: p.Engine, Spread: p.Spread,
		}.Prepare()
		if err != nil {
			return nil, fmt.Errorf("socksd: %w", err)
		}
		out[name] = tp
	}
	return out, nil
}

// logEngines says which SSH engine each profile got (at start and after a
// reload): SOX0230I, or SOX0231E for a profile whose openssh engine cannot
// run. auto and the ssh program are resolved once per daemon.
func (d *Daemon) logEngines(profs map[string]tunnel.Profile) {
	names := make([]string, 0, len(profs))
	for name := range profs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		engine, err := d.pool.EngineOf(profs[name])
		if err != nil {
			msg.Log(&d.log, "SOX0231E", name, err).Str("profile", name).Str("engine", engine).Send()
			continue
		}
		detail := "socksd's own SSH client"
		if engine == tunnel.EngineOpenSSH {
			v, _ := d.pool.OpenSSH()
			detail = v.Path + ": " + v.Text
		}
		msg.Log(&d.log, "SOX0230I", name, engine, detail).Str("profile", name).Str("engine", engine).Send()
	}
}

// logTunnelError writes the operator message for an SSH failure and
// returns its ID.
func (d *Daemon) logTunnelError(s *session, prof tunnel.Profile, destHost string, err error) string {
	server := prof.Host
	if server == "" {
		server = destHost
	}
	var hk *tunnel.HostKeyError
	var ae *tunnel.AuthError
	var id string
	switch {
	case errors.As(err, &hk) && errors.Is(err, tunnel.ErrHostKeyUnknown):
		id = "SOX0204A"
		msg.Log(&d.log, id, hk.Host, hk.KeyType+" "+hk.Fingerprint).Uint64("session", s.id).Str("ssh_server", hk.Host).Str("fingerprint", hk.Fingerprint).Send()
	case errors.As(err, &hk):
		id = "SOX0203E"
		msg.Log(&d.log, id, hk.Host, fmt.Sprint(hk.Known), hk.KeyType+" "+hk.Fingerprint).
			Uint64("session", s.id).Str("ssh_server", hk.Host).Str("fingerprint", hk.Fingerprint).Strs("known", hk.Known).Send()
	case errors.As(err, &ae) && errors.Is(err, tunnel.ErrPasswordRejectedRecently):
		id = "SOX0206W"
		msg.Log(&d.log, id, ae.User, ae.Server).Uint64("session", s.id).Str("ssh_server", ae.Server).Str("user", ae.User).Send()
	case errors.As(err, &ae):
		id = "SOX0205E"
		msg.Log(&d.log, id, ae.User, ae.Server).
			Uint64("session", s.id).Str("ssh_server", ae.Server).Str("user", ae.User).Strs("tried", ae.Tried).Send()
	default:
		id = "SOX0211W"
		msg.Log(&d.log, id, server, err).Uint64("session", s.id).Str("ssh_server", server).Send()
	}
	return id
}

// Tunnels lists the open SSH connections.
func (d *Daemon) Tunnels() []console.TunnelInfo {
	var out []console.TunnelInfo
	for _, t := range d.pool.Snapshot() {
		out = append(out, console.TunnelInfo{
			ID: t.ID, Server: t.Server, User: t.User, Profile: t.Profile, Engine: t.Engine, PID: t.PID,
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
		// An ftp-sftp session may ride several connections: "T0003+T0007".
		carried := slices.ContainsFunc(strings.Split(s.tunnel, "+"), func(t string) bool { return t != "" && strings.EqualFold(t, id) })
		s.mu.Unlock()
		if carried {
			s.cancel()
		}
	}
	return nil
}
