package socksd

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"

	"socksd/config"
	"socksd/console"
	"socksd/msg"
)

// The Daemon is what the operator console commands.
var _ console.Target = (*Daemon)(nil)

// Sessions lists the running sessions.
func (d *Daemon) Sessions() []console.SessionInfo {
	var out []console.SessionInfo
	for _, s := range d.sessions.list() {
		out = append(out, s.info())
	}
	return out
}

func (s *session) info() console.SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return console.SessionInfo{
		ID: s.id, User: s.user, Client: s.client.String(), Dest: s.dest,
		Rule: s.rule, Action: s.action, SSHServer: s.sshServer, State: s.phase,
		BytesDown: s.bytes.Down.Load(), BytesUp: s.bytes.Up.Load(),
		Started: s.started, Trace: s.trace.Load(), Origin: s.origin,
	}
}

// Rules lists the rules in use, with their hit counts.
func (d *Daemon) Rules() []console.RuleInfo {
	st := d.state.Load()
	var out []console.RuleInfo
	for _, r := range st.rules.Rules() {
		summary := r.String()
		if _, rest, ok := strings.Cut(summary, " when "); ok {
			summary = rest
		}
		out = append(out, console.RuleInfo{
			Index: r.Index + 1, Name: r.Name, Action: r.Action.String(),
			Summary: summary, Hits: st.hits[r.Index].Load(),
		})
	}
	return out
}

// Stats returns the daemon's counters.
func (d *Daemon) Stats() console.Stats {
	st := d.state.Load()
	var up, down int64
	for _, s := range d.sessions.list() {
		up += s.bytes.Up.Load()
		down += s.bytes.Down.Load()
	}
	out := console.Stats{
		Started:     d.started,
		Active:      int64(d.sessions.count()),
		Tunnels:     len(d.Tunnels()),
		Goroutines:  runtime.NumGoroutine(),
		OpenFDs:     openFDs(),
		Quiesced:    d.quiesced.Load(),
		MaxSessions: st.maxSess,
	}
	d.stats.fill(&out, up, down)
	return out
}

// openFDs counts the process's open file descriptors, -1 if unknown.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// ConfigSummary describes the configuration in use, without secrets.
func (d *Daemon) ConfigSummary() []string {
	c := d.state.Load().cfg
	lines := []string{
		"FILE       " + c.File,
		"LISTEN     " + strings.Join(c.Server.Listen, " "),
		"CLIENTS    " + strings.Join(c.Server.AllowClients, " "),
		fmt.Sprintf("SOCKS      versions %v, socks5 auth %v", c.Server.SocksVersions, c.Server.Socks5Auth),
		fmt.Sprintf("LIMITS     max_sessions %d, per client %d, handshake %s, idle %s, drain %s",
			c.Server.MaxSessions, c.Server.MaxPerClient, c.Server.HandshakeTimeout, c.Server.IdleTimeout, c.Server.DrainTimeout),
		fmt.Sprintf("SSH        known_hosts %v, policy %s, keepalive %s x%d, connect %s, idle_close %s",
			c.SSH.KnownHosts, c.SSH.HostKeyPolicy, c.SSH.KeepaliveInterval, c.SSH.KeepaliveMax, c.SSH.ConnectTimeout, c.SSH.IdleClose),
		fmt.Sprintf("LOG        level %s, format %s, file %q, audit %q, audit syslog %q", d.logLevel(), c.Log.Format, c.Log.File, c.Log.AuditFile, c.Log.AuditSyslog),
		fmt.Sprintf("CONSOLE    socket %q, stdin %v", c.Console.Socket, c.Console.Stdin),
	}
	if l := redirectSummary(c); l != "" {
		lines = slices.Insert(lines, 2, l)
	}
	if a := d.MetricsAddr(); a != nil {
		lines = append(lines, "METRICS    listen "+a.String()+" (/metrics, /healthz, /readyz)")
	} else {
		lines = append(lines, "METRICS    off")
	}
	for name, p := range c.Profiles {
		host := p.Host
		if host == "" {
			host = "(destination)"
		}
		user := p.User
		if user == "" {
			user = "(application)"
		}
		lines = append(lines, fmt.Sprintf("PROFILE    %s: %s:%d user %s auth %v share %v max_channels %d via %q",
			name, host, p.Port, user, p.Auth, p.Share, p.MaxChannels, p.Via))
	}
	lines = append(lines, fmt.Sprintf("RULES      %d", len(c.Rules)))
	for _, f := range c.Forwards {
		lines = append(lines, "FORWARD    "+f.String())
	}
	return lines
}

func (d *Daemon) logLevel() string {
	if d.opt.Level == nil {
		return "?"
	}
	return d.opt.Level.Level().String()
}

// Version returns the daemon's version.
func (d *Daemon) Version() string { return d.opt.Version }

// Reload reads the configuration file again and swaps the rules in
// atomically. A bad file is rejected with FILE:LINE and the old rules stay.
// Before it reads the file, it opens the log and audit files again (for
// logrotate), whether the new configuration is then taken or not; around
// it, it tells Options.Notify that it reloads, then that it is ready.
func (d *Daemon) Reload() error {
	if n := d.opt.Notify; n != nil {
		n.Reloading()
		defer func() {
			select {
			case <-d.stopping: // a stop began meanwhile: not ready again
			default:
				n.Ready()
			}
		}()
	}
	d.reopenLogs()
	var cfg *config.Config
	var err error
	if d.opt.ConfigPath == "" {
		cfg, err = config.Default()
	} else {
		enc := d.opt.ConfigEncoding
		if enc == "" {
			enc = "auto"
		}
		cfg, err = config.LoadEncoded(d.opt.ConfigPath, enc)
	}
	if err == nil {
		var st *state
		if st, err = build(cfg); err == nil {
			old := d.state.Load()
			if strings.Join(old.cfg.Server.Listen, ",") != strings.Join(cfg.Server.Listen, ",") {
				msg.Log(&d.log, "SOX0016W", strings.Join(cfg.Server.Listen, ", ")).Strs("listen", cfg.Server.Listen).Send()
			}
			d.warnRedirectChange(old.cfg, cfg)
			d.state.Store(st)
			msg.Log(&d.log, "SOX0003I", cfg.File, st.rules.Len()).Str("event", "reload").Str("file", cfg.File).Int("rules", st.rules.Len()).Send()
			d.syncForwards(cfg, false) // logs its own failures: the new configuration is in use
			d.logEngines(st.profiles)
			d.metrics.Reloaded(true)
			return nil
		}
	}
	msg.Log(&d.log, "SOX0004E", err).Str("event", "reload_rejected").Send()
	d.metrics.Reloaded(false)
	return err
}

// reopenLogs opens the log file and the audit file again by their paths,
// so that a file that logrotate moved away is replaced by a new one. A
// file that cannot be opened again stays in use (SOX0822E).
func (d *Daemon) reopenLogs() {
	for _, f := range []interface {
		Reopen() error
		Path() string
	}{d.opt.LogFile, d.opt.Audit} {
		if f.Path() == "" {
			continue
		}
		if err := f.Reopen(); err != nil {
			msg.Log(&d.log, "SOX0822E", f.Path(), err).Str("file", f.Path()).Err(err).Send()
			continue
		}
		msg.Log(&d.log, "SOX0823I", f.Path()).Str("file", f.Path()).Send()
	}
}

// SetLogLevel changes the log level.
func (d *Daemon) SetLogLevel(level string) error {
	if d.opt.Level == nil {
		return fmt.Errorf("socksd: the log level cannot be changed")
	}
	if err := d.opt.Level.Set(strings.ToLower(level)); err != nil {
		return err
	}
	msg.Log(&d.log, "SOX0011I", strings.ToLower(level)).Send()
	return nil
}

// Trace switches per-session tracing; session 0 means all sessions,
// present and future.
func (d *Daemon) Trace(on bool, id uint64) error {
	if id == 0 {
		d.traceAll.Store(on)
		for _, s := range d.sessions.list() {
			s.trace.Store(on)
		}
		return nil
	}
	s := d.sessions.get(id)
	if s == nil {
		return fmt.Errorf("socksd: no session %d", id)
	}
	s.trace.Store(on)
	return nil
}

// Cancel ends a running session.
func (d *Daemon) Cancel(id uint64) error {
	s := d.sessions.get(id)
	if s == nil {
		return fmt.Errorf("socksd: no session %d", id)
	}
	s.set(func(s *session) { s.phase = "cancelled" })
	s.cancel()
	msg.Log(&d.log, "SOX0107I", id).Uint64("session", id).Send()
	return nil
}

// Quiesce makes the daemon refuse new sessions with a SOCKS failure reply.
func (d *Daemon) Quiesce() error {
	d.quiesced.Store(true)
	n := d.sessions.count()
	msg.Log(&d.log, "SOX0005I", n).Str("event", "quiesce").Int("sessions", n).Send()
	return nil
}

// Resume accepts new sessions again.
func (d *Daemon) Resume() error {
	d.quiesced.Store(false)
	msg.Log(&d.log, "SOX0006I").Str("event", "resume").Send()
	return nil
}
