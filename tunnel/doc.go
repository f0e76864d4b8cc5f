// Package tunnel carries TCP connections through authenticated SSH
// connections (direct-tcpip channels), sharing one SSH connection among the
// sessions of the same identity.
//
// A Pool holds the SSH connections. Pool.Open returns a Lease on a
// connection for a Profile, a destination host and the application's
// Credentials; Lease.Dial opens channels on it. Connections are shared when
// the server, port, user and credential are the same (passwords are compared
// by an HMAC whose key lives only in the Pool's memory), a new one opens
// when a connection carries Profile.MaxChannels channels, and an unused
// connection closes after Options.IdleClose.
//
// Lease.Subsystem starts an SSH subsystem ("sftp") on a session channel of
// the lease's connection. Servers limit the session channels of one
// connection (sshd's MaxSessions): a connection that refused one is passed
// over for leases that need more (Profile.Sessions), and
// Pool.OpenSubsystems opens a session's channels at once, on as many
// connections of its identity as that takes.
//
// Host keys are checked against OpenSSH known_hosts files
// (golang.org/x/crypto/ssh/knownhosts) with the policy "strict" or
// "accept-new". Authentication follows the profile's order over password,
// keyboard-interactive and publickey (identity files and ssh-agent); a
// password is offered at most once per connection attempt, and a password
// that a server rejected is refused at once, without contacting the server,
// for Options.RejectMemory.
//
// Liveness: the TCP connect and SSH handshake share one deadline
// (Options.ConnectTimeout); keepalive@openssh.com requests go out every
// Options.KeepaliveInterval and a connection is dropped after
// Options.KeepaliveMax replies that did not arrive within an interval.
// When the pool drops a connection (keepalive, Pool.Drop, Pool.Close),
// reads on its channels fail with an error wrapping ErrTunnelClosed (and
// context.Canceled for Drop and Close) rather than a false io.EOF.
//
// Engines (engine.go, engine_openssh.go): a connection is made by the
// builtin engine (golang.org/x/crypto/ssh in this process) or by the
// openssh engine, which starts the system's ssh as a ControlMaster per
// connection (package tunnel/openssh) and talks to it in the mux
// protocol's proxy mode, so that Dial, Subsystem and OpenSubsystems work
// the same on it. Profile.Engine (or Options.Engine) chooses, "auto"
// resolved by Pool.EngineOf; both engines' failures map onto the same typed
// errors. Lease.Splice (splice.go) carries a client's socket to a
// destination: relayed by socksd with the builtin engine, handed to the
// master with the openssh engine (its bytes never pass through this
// process; counts from the kernel). Profile.Spread spreads an identity's
// sessions over several connections.
//
// Errors wrap sentinels for errors.Is: host keys (ErrHostKeyUnknown,
// ErrHostKeyChanged, ErrHostKeyRevoked, as *HostKeyError with the
// fingerprints), logins (ErrAuthFailed, ErrPasswordRejectedRecently, as
// *AuthError), the way to the server (ErrServerUnreachable) and channels
// (ErrProhibited, ErrConnectFailed, ErrUnreachable, as *ChannelError),
// session channels and subsystems (ErrSessionRefused, ErrSubsystemRefused,
// as *SessionError).
package tunnel
