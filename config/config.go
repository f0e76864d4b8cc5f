package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"socksd/jcl"
	"socksd/rules"
	"socksd/socks"
)

// Config is a whole socksd configuration file.
type Config struct {
	Server   Server              `toml:"server"`
	Log      Log                 `toml:"log"`
	Metrics  Metrics             `toml:"metrics"`
	Console  Console             `toml:"console"`
	SSH      SSH                 `toml:"ssh"`
	Profiles map[string]*Profile `toml:"profiles"`
	Rules    []*Rule             `toml:"rules"`
	Forwards []*Forward          `toml:"forwards"`
	// JCL holds the [jcl] table over the shipped samples' values; JCLSite
	// gives it, with its listener, to `socksd jcl render`.
	JCL jcl.Site `toml:"jcl"`

	// File is where the configuration came from ("(default)" for the
	// embedded one).
	File string `toml:"-"`
	pos  positions

	// Built by Parse with the owners' parsers, once.
	ruleSet *rules.Set
	allow   []netip.Prefix
	methods []socks.Method
	// jclErr is server.listen's problem for rendering JCL, when the file
	// has no [jcl] table (see JCLSite); listenFailed tells that a listen
	// address failed its own check.
	jclErr       *Error
	listenFailed bool
}

// RuleSet returns the compiled rules, built once when the file was parsed.
func (c *Config) RuleSet() *rules.Set { return c.ruleSet }

// AllowClients returns server.allow_clients as parsed prefixes.
func (c *Config) AllowClients() []netip.Prefix { return slices.Clone(c.allow) }

// Socks5Methods returns server.socks5_auth as SOCKS5 methods, in order.
func (c *Config) Socks5Methods() []socks.Method { return slices.Clone(c.methods) }

// Server configures the SOCKS listeners and session limits.
type Server struct {
	Listen           []string `toml:"listen"`
	AllowClients     []string `toml:"allow_clients"`
	SocksVersions    []int    `toml:"socks_versions"`
	Socks5Auth       []string `toml:"socks5_auth"`
	HandshakeTimeout Duration `toml:"handshake_timeout"`
	IdleTimeout      Duration `toml:"idle_timeout"`
	MaxSessions      int      `toml:"max_sessions"`
	MaxPerClient     int      `toml:"max_sessions_per_client"` // 0 = no per-client limit
	DrainTimeout     Duration `toml:"drain_timeout"`
	BindTimeout      Duration `toml:"bind_timeout"` // how long a BIND waits for its peer
	// RedirectListen and TProxyListen take connections the kernel
	// redirected (REDIRECT, TPROXY) instead of SOCKS requests.
	RedirectListen []string `toml:"redirect_listen"`
	TProxyListen   []string `toml:"tproxy_listen"`
}

// Log configures logging and the transfer audit.
type Log struct {
	Level     string `toml:"level"`
	Format    string `toml:"format"`
	File      string `toml:"file"`
	AuditFile string `toml:"audit_file"`
	// AuditSyslog sends audit records to syslog too: "local", "unix:PATH",
	// "udp://HOST[:PORT]" or "tcp://HOST[:PORT]"; "" does not.
	AuditSyslog    string `toml:"audit_syslog"`
	SyslogFacility string `toml:"syslog_facility"`
	SyslogAppName  string `toml:"syslog_app_name"`
	SyslogSDID     string `toml:"syslog_sd_id"`
}

// Metrics configures the HTTP listener of /metrics, /healthz and /readyz.
type Metrics struct {
	Listen string `toml:"listen"` // "host:port"; "" = no listener
}

// Console configures the operator command transports.
type Console struct {
	Socket string `toml:"socket"`
	Stdin  bool   `toml:"stdin"`
}

// SSH holds settings shared by every SSH connection.
type SSH struct {
	KnownHosts        []string `toml:"known_hosts"`
	HostKeyPolicy     string   `toml:"host_key_policy"`
	KeepaliveInterval Duration `toml:"keepalive_interval"`
	KeepaliveMax      int      `toml:"keepalive_max"`
	ConnectTimeout    Duration `toml:"connect_timeout"`
	IdleClose         Duration `toml:"idle_close"`
	RejectMemory      Duration `toml:"reject_memory"` // how long a rejected password is refused at once
	Engine            string   `toml:"engine"`        // builtin, openssh or auto (tunnel.ParseEngine)
	OpenSSH           string   `toml:"openssh"`       // the ssh program of the openssh engine
	RuntimeDir        string   `toml:"runtime_dir"`   // where the openssh engine's control sockets live; "" = automatic
}

// Profile says how to reach and log in to an SSH server.
type Profile struct {
	Host           string         `toml:"host"`
	Port           int            `toml:"port"`
	User           string         `toml:"user"`
	Auth           []string       `toml:"auth"`
	IdentityFiles  []string       `toml:"identity_files"`
	PassphraseFile string         `toml:"passphrase_file"`
	Agent          bool           `toml:"agent"`
	Via            socks.ProxyURL `toml:"via"` // printing it hides the password
	Share          bool           `toml:"share"`
	MaxChannels    int            `toml:"max_channels"`
	Engine         string         `toml:"engine"` // "" = ssh.engine
	Spread         int            `toml:"spread"`
}

// Rule is one filter rule.
type Rule struct {
	Name            string   `toml:"name"`
	To              []string `toml:"to"`
	Ports           []string `toml:"ports"`
	From            []string `toml:"from"`
	Users           []string `toml:"users"`
	Commands        []string `toml:"commands"`
	Versions        []int    `toml:"versions"`
	Action          string   `toml:"action"`
	Profile         string   `toml:"profile"`
	FallbackToPlain bool     `toml:"fallback_to_plain"`
	FTP             FTP      `toml:"ftp"`
	SFTP            SFTP     `toml:"sftp"`
}

// FTP holds a rule's FTP-aware settings (actions ftp-tunnel and ftp-sftp).
type FTP struct {
	Data         string   `toml:"data"`
	Active       string   `toml:"active"`
	Encoding     string   `toml:"encoding"`
	Deny         []string `toml:"deny"`
	AllowAuthTLS bool     `toml:"allow_auth_tls"`
}

// SFTP holds the settings of an ftp-sftp rule: how socksd serves the job's
// FTP from the partner's SFTP server. Only an ftp-sftp rule may have the
// table.
type SFTP struct {
	Root     string `toml:"root"`
	LineEnd  string `toml:"line_end"`
	Datasets string `toml:"datasets"`
	Streams  int    `toml:"streams"`
}

// Duration is a time.Duration written as a Go duration string ("15s").
type Duration struct{ time.Duration }

// UnmarshalText parses a duration such as "10s" or "5m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%q is not a duration (want a number and a unit, such as 10s, 5m or 1h)", b)
	}
	if v < 0 {
		return fmt.Errorf("%q is negative (want 0 or more, such as 10s, 5m or 1h)", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Line returns the line of the file where the key path was written, or 0.
// Path elements are keys and, for arrays of tables, decimal indexes:
// Line("rules", "2", "action").
func (c *Config) Line(path ...string) int { return c.pos.line(path) }
