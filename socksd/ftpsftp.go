package socksd

import (
	"context"
	"errors"

	"socksd/config"
	"socksd/ftp"
	"socksd/msg"
	"socksd/rules"
	"socksd/tunnel"
)

// sftpSubsystem is the SSH subsystem an ftp-sftp session serves the job from.
const sftpSubsystem = "sftp"

// sftpOptions converts each rule's [rules.sftp] table, by rule index.
func sftpOptions(cfg *config.Config) []ftp.SFTPOptions {
	out := make([]ftp.SFTPOptions, len(cfg.Rules))
	for i, r := range cfg.Rules {
		out[i] = r.SFTP.Options()
	}
	return out
}

// ftpSFTP carries out the ftp-sftp action: socksd answers the CONNECT,
// takes the job's login and serves its FTP commands itself from the sftp
// subsystem of the SSH connection it logs in to with them. The Opener opens
// the rule's streams sftp channels at once, while the password is at hand
// (see openSubsystems).
func (r *request) ftpSFTP(rule *rules.Rule) outcome {
	prof := r.st.profiles[rule.Profile]
	opt := r.st.sftp[rule.Index]
	return r.ftpSession(rule, &opt, func(ctx context.Context, cred tunnel.Credentials) (ftp.Tunnel, error) {
		return r.openSubsystems(ctx, prof, cred, max(opt.Streams, 1))
	})
}

// openSubsystems opens (or joins) the SSH connection of prof for the
// request's destination and n sftp channels on it, on further connections
// of the same identity when the server refuses session channels
// (tunnel.Pool.OpenSubsystems). A failure is logged with its operator
// message: SOX0216E for a refused subsystem or session channel, the SSH
// messages of openTunnel otherwise.
func (r *request) openSubsystems(ctx context.Context, prof tunnel.Profile, cred tunnel.Credentials, n int) (ftp.Subsystems, error) {
	t, err := r.d.dial.Subsystems(ctx, prof, r.req.Dest.Host, cred, sftpSubsystem, n)
	if err != nil {
		var se *tunnel.SessionError
		if errors.As(err, &se) || errors.Is(err, tunnel.ErrSubsystemRefused) || errors.Is(err, tunnel.ErrSessionRefused) {
			server := prof.Host
			if server == "" {
				server = r.req.Dest.Host
			}
			if se != nil {
				server = se.Server
			}
			r.sshMsg = "SOX0216E"
			msg.Log(&r.d.log, r.sshMsg, r.s.id, server, sftpSubsystem, cred.User, err).
				Uint64("session", r.s.id).Str("ssh_server", server).Str("user", cred.User).Err(err).Send()
		} else {
			r.sshMsg = r.d.logTunnelError(r.s, prof, r.req.Dest.Host, err)
		}
		return nil, err
	}
	r.s.set(func(s *session) { s.sshServer, s.tunnel = t.Server(), t.ID() })
	return t, nil
}
