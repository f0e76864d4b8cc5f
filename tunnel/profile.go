package tunnel

import (
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"socksd/socks"
)

// Authentication method names, as in the profile's auth list.
const (
	AuthPassword            = "password"
	AuthKeyboardInteractive = "keyboard-interactive"
	AuthPublicKey           = "publickey"
)

// Host-key policies.
const (
	PolicyStrict    = "strict"
	PolicyAcceptNew = "accept-new"
)

// CheckHostKeyPolicy reports a host-key policy that is neither strict nor
// accept-new; "" stands for strict. It is the one check of the setting:
// NewPool and the configuration loader both use it.
func CheckHostKeyPolicy(policy string) error {
	switch policy {
	case "", PolicyStrict, PolicyAcceptNew:
		return nil
	}
	return fmt.Errorf("tunnel: unknown host key policy %q (want strict or accept-new)", policy)
}

// Defaults applied to zero values.
const (
	DefaultPort              = 22
	DefaultMaxChannels       = 64
	DefaultKeepaliveInterval = 15 * time.Second
	DefaultKeepaliveMax      = 3
	DefaultConnectTimeout    = 15 * time.Second
	DefaultIdleClose         = 5 * time.Minute
	DefaultRejectMemory      = 15 * time.Minute
)

// Profile describes how to reach and log in to an SSH server.
type Profile struct {
	Name           string
	Host           string         // "" = the destination host the application named
	Port           int            // 0 = 22
	User           string         // "" = the user the application named
	Auth           []string       // "password", "keyboard-interactive", "publickey", in try order; empty = all three
	IdentityFiles  []string       // private keys: OpenSSH, PEM or PKCS#8
	PassphraseFile string         // passphrase for encrypted identity files
	Agent          bool           // also use the agent at $SSH_AUTH_SOCK (or Options.AgentSocket)
	Via            socks.ProxyURL // "" or socks4://[user@]h[:p], socks5://[user:pass@]h[:p]; printing hides the password
	Share          bool           // share one connection among sessions of the same identity
	MaxChannels    int            // 0 = 64: channels per connection; a new connection opens beyond
	// SessionChannels is how many channels one session (one lease) may
	// hold at once: 2 for an FTP session (control and data, which must
	// ride the same connection), 1 otherwise (0 = 1). A connection takes a
	// new lease only while the reservations of its leases fit MaxChannels.
	SessionChannels int
	// Sessions is how many session channels (Lease.Subsystem) the lease
	// will open. A connection whose server has refused a session channel
	// (sshd's MaxSessions) takes such a lease only while that many more fit
	// under the count at which it refused; 0 = the lease opens none, and
	// any connection will do.
	Sessions int
	// Engine is the SSH engine for this profile: EngineBuiltin,
	// EngineOpenSSH or EngineAuto; "" = Options.Engine.
	Engine string
	// Spread is how many connections (openssh: masters) of one identity
	// the pool opens before it shares them: a new lease goes to an idle
	// connection, or opens another one while fewer than Spread exist (one
	// at a time; meanwhile leases share the least loaded), so that
	// parallel loads use several sshd processes and cores. 0 or 1 = share
	// one (a new one opens only when MaxChannels is reached).
	Spread int

	// Built by Prepare: the dialer of Via (nil without one), and that the
	// profile was checked and has its defaults.
	via      *socks.Dialer
	prepared bool
}

// Options are the pool-wide settings.
type Options struct {
	KnownHosts        []string      // known_hosts files; the first is where accept-new writes
	HostKeyPolicy     string        // "strict" (default) or "accept-new"
	KeepaliveInterval time.Duration // 0 = 15s; negative disables keepalive
	KeepaliveMax      int           // 0 = 3
	ConnectTimeout    time.Duration // TCP connect + SSH handshake; 0 = 15s
	IdleClose         time.Duration // 0 = 5m
	RejectMemory      time.Duration // 0 = 15m
	AgentSocket       string        // "" = $SSH_AUTH_SOCK
	// Engine is the default engine of profiles that name none: "" =
	// EngineBuiltin (the configuration's default is DefaultEngine).
	Engine string
	// OpenSSH is the ssh program of the openssh engine: a name looked up
	// in PATH or a path; "" = "ssh".
	OpenSSH string
	// RuntimeDir is where the pool makes its private directory (mode 0700)
	// for the masters' control sockets, removed by Close; "" =
	// $XDG_RUNTIME_DIR, else /run/socksd, when writable, else the system's
	// temporary directory. Keep it short: socket paths are limited to 108
	// bytes.
	RuntimeDir string
	// Program is the absolute path of the socksd binary, which ssh runs as
	// its askpass helper and as the ProxyCommand of a via proxy; "" = this
	// process's executable.
	Program string
	Logger  zerolog.Logger
	// OnDial, when set, is told of every SSH connection the pool tried to
	// open, once the try is over: the engine, and the login method that
	// succeeded or the error (a *HostKeyError, an *AuthError, ...). It
	// runs on the dialing goroutine and must not block (metrics).
	OnDial func(engine, method string, err error)
}

// Credentials are what the application sent: a user and maybe a password.
// Pool.Open reads Password only until it returns and keeps no reference to
// it, so the caller can wipe it (clear) as soon as Open is done.
type Credentials struct {
	User     string
	Password []byte // empty = none
}

// String shows the user and whether a password is present, never the password.
func (c Credentials) String() string {
	pw := "none"
	if len(c.Password) > 0 {
		pw = "<hidden>"
	}
	return fmt.Sprintf("user=%q password=%s", c.User, pw)
}

// GoString is String, so %#v does not show the password either.
func (c Credentials) GoString() string { return "tunnel.Credentials{" + c.String() + "}" }

// MarshalText is String, so encoders never see the password.
func (c Credentials) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// MarshalZerologObject logs the user and whether a password is present.
func (c Credentials) MarshalZerologObject(e *zerolog.Event) {
	e.Str("user", c.User).Bool("password", len(c.Password) > 0)
}

// withDefaults returns p with zero values replaced by defaults.
func (p Profile) withDefaults() Profile {
	if p.Port == 0 {
		p.Port = DefaultPort
	}
	if p.MaxChannels <= 0 {
		p.MaxChannels = DefaultMaxChannels
	}
	if len(p.Auth) == 0 {
		p.Auth = []string{AuthPassword, AuthKeyboardInteractive, AuthPublicKey}
	}
	return p
}

// ProfileError is one invalid setting of a profile. Field is its key in
// the profile's table ("port", "auth", "via"); Reason says what is wrong
// in the configuration's terms and never contains a password.
type ProfileError struct {
	Field  string
	Reason string
}

func (e *ProfileError) Error() string { return fmt.Sprintf("tunnel: %s: %s", e.Field, e.Reason) }

// Check reports every invalid setting of p, each a *ProfileError joined
// with errors.Join, or nil. Zero values stand for their defaults and are
// valid. It is the one check of a profile: Prepare (and so Pool.Open) and
// the configuration loader both use it.
func (p Profile) Check() error {
	_, err := p.check()
	return err
}

// check is Check, and returns the dialer of Via that it built on the way
// (nil without Via or when Via is not usable).
func (p Profile) check() (*socks.Dialer, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ProfileError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if p.Port < 0 || p.Port > 65535 {
		bad("port", "%d is not a port (1-65535)", p.Port)
	}
	seen := map[string]bool{}
	for _, m := range p.Auth {
		switch m {
		case AuthPassword, AuthKeyboardInteractive, AuthPublicKey:
		default:
			bad("auth", "unknown method %q (want password, keyboard-interactive or publickey)", m)
			continue
		}
		if seen[m] {
			bad("auth", "method %q is listed twice", m)
		}
		seen[m] = true
	}
	if _, err := ParseEngine(p.Engine); err != nil {
		bad("engine", "unknown engine %q (want builtin, openssh or auto)", p.Engine)
	}
	if p.Spread < 0 {
		bad("spread", "%d is negative (want 1 or more)", p.Spread)
	}
	var via *socks.Dialer
	if p.Via != "" {
		d, err := p.Via.Dialer()
		var ue *socks.URLError
		switch {
		case errors.As(err, &ue):
			bad("via", "not a usable proxy URL: %s", ue.Reason)
		case err != nil:
			bad("via", "not a usable proxy URL")
		default:
			via = d
		}
	}
	return via, errors.Join(errs...)
}

// Validate reports a profile that cannot work: ErrBadProfile with the
// problems Check finds.
func (p Profile) Validate() error {
	_, err := p.Prepare()
	return err
}

// Prepare checks p (with Check), applies its defaults and builds the
// dialer of its Via, once. Pool.Open takes a prepared profile as it is,
// without checking it or parsing Via again; the daemon prepares each
// profile when it builds its configuration. A profile whose fields are
// changed after Prepare (other than SessionChannels and Sessions) must be prepared
// again. The error is ErrBadProfile with the problems Check finds.
func (p Profile) Prepare() (Profile, error) {
	via, err := p.check()
	if err != nil {
		return Profile{}, fmt.Errorf("%w %q: %w", ErrBadProfile, p.Name, err)
	}
	p = p.withDefaults()
	p.via, p.prepared = via, true
	return p, nil
}

// usesPassword reports whether the profile may send the application's password.
func (p Profile) usesPassword() bool {
	for _, m := range p.Auth {
		if m == AuthPassword || m == AuthKeyboardInteractive {
			return true
		}
	}
	return false
}
