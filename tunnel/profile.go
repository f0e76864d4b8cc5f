package tunnel

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
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
	Host           string   // "" = the destination host the application named
	Port           int      // 0 = 22
	User           string   // "" = the user the application named
	Auth           []string // "password", "keyboard-interactive", "publickey", in try order; empty = all three
	IdentityFiles  []string // private keys: OpenSSH, PEM or PKCS#8
	PassphraseFile string   // passphrase for encrypted identity files
	Agent          bool     // also use the agent at $SSH_AUTH_SOCK (or Options.AgentSocket)
	Via            string   // "" or socks4://h:p, socks4a://h:p, socks5://[user:pass@]h:p
	Share          bool     // share one connection among sessions of the same identity
	MaxChannels    int      // 0 = 64: channels per connection; a new connection opens beyond
	// SessionChannels is how many channels one session (one lease) may
	// hold at once: 2 for an FTP session (control and data, which must
	// ride the same connection), 1 otherwise (0 = 1). A connection takes a
	// new lease only while the reservations of its leases fit MaxChannels.
	SessionChannels int
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
	Logger            zerolog.Logger
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

// Validate reports a profile that cannot work.
func (p Profile) Validate() error {
	p = p.withDefaults()
	if p.Port < 1 || p.Port > 65535 {
		return fmt.Errorf("%w %q: port %d out of range", ErrBadProfile, p.Name, p.Port)
	}
	seen := map[string]bool{}
	for _, m := range p.Auth {
		switch m {
		case AuthPassword, AuthKeyboardInteractive, AuthPublicKey:
		default:
			return fmt.Errorf("%w %q: unknown auth method %q", ErrBadProfile, p.Name, m)
		}
		if seen[m] {
			return fmt.Errorf("%w %q: auth method %q listed twice", ErrBadProfile, p.Name, m)
		}
		seen[m] = true
	}
	if p.Via != "" {
		if _, err := ParseVia(p.Via); err != nil {
			return fmt.Errorf("%w %q: %w", ErrBadProfile, p.Name, err)
		}
	}
	return nil
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

// Via is a parsed upstream proxy address.
type Via struct {
	Version  int    // 4 or 5
	Addr     string // "host:port" of the proxy
	User     string // SOCKS4 USERID or SOCKS5 user, may be empty
	Password string // SOCKS5 password, may be empty
}

// ParseVia parses "socks4://[user@]host:port", "socks4a://..." or
// "socks5://[user[:password]@]host:port" ("socks5h" is accepted as socks5).
func ParseVia(s string) (Via, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url.Error repeats the input, which may hold a password.
		return Via{}, fmt.Errorf("tunnel: via %q: not a proxy URL", redactURL(s))
	}
	var v Via
	switch strings.ToLower(u.Scheme) {
	case "socks4", "socks4a":
		v.Version = 4
	case "socks5", "socks5h":
		v.Version = 5
	default:
		return Via{}, fmt.Errorf("tunnel: via %q: scheme must be socks4 or socks5", redactURL(s))
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return Via{}, fmt.Errorf("tunnel: via %q: want scheme://host:port", redactURL(s))
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return Via{}, fmt.Errorf("tunnel: via %q: want host:port", redactURL(s))
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return Via{}, fmt.Errorf("tunnel: via %q: bad port %q", redactURL(s), port)
	}
	v.Addr = net.JoinHostPort(host, strconv.Itoa(n))
	if u.User != nil {
		v.User = u.User.Username()
		v.Password, _ = u.User.Password()
		if v.Version == 4 && v.Password != "" {
			return Via{}, fmt.Errorf("tunnel: via %q: socks4 has no password", redactURL(s))
		}
		if len(v.User) > 255 || len(v.Password) > 255 {
			return Via{}, fmt.Errorf("tunnel: via %q: user or password longer than 255 bytes", redactURL(s))
		}
	}
	return v, nil
}

// redactURL hides a password in a proxy URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(s, "@"); i >= 0 {
			return "(redacted)@" + s[i+1:]
		}
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
