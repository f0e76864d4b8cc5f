package config

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"socksd/jcl"
	"socksd/rules"
)

//go:embed default.toml
var defaultTOML []byte

// DefaultFile is the File name of the embedded default configuration.
const DefaultFile = "(default)"

// DefaultText returns the embedded default configuration, as
// `socksd config default` prints it.
func DefaultText() []byte { return append([]byte(nil), defaultTOML...) }

// Default returns the embedded default configuration.
func Default() (*Config, error) { return Parse(DefaultFile, defaultTOML) }

// Load reads and validates a configuration file, in ASCII (UTF-8) or, as
// detected, in EBCDIC.
func Load(path string) (*Config, error) { return LoadEncoded(path, "auto") }

// LoadEncoded is Load for a file in a named encoding: "auto" (detect),
// "ascii", "ibm-1047" or "ibm-037". An EBCDIC file may have line ends or be
// fixed 80-byte records, as uploaded in binary from a z/OS data set.
func LoadEncoded(path, enc string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseEncoded(path, data, enc)
}

// ParseEncoded is Parse for data in a named encoding (see LoadEncoded).
func ParseEncoded(name string, data []byte, enc string) (*Config, error) {
	e, err := jcl.NormalizeEncoding(enc)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if e == jcl.EncodingAuto {
		e = jcl.DetectEncoding(data)
	}
	if e == jcl.EncodingASCII {
		return Parse(name, data)
	}
	lines, err := jcl.DecodeLines(data, e)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return Parse(name, []byte(strings.Join(lines, "\n")+"\n"))
}

// Parse decodes and validates a configuration. name is used in errors.
// Every problem found is reported, each as an *Error naming FILE:LINE and
// the key; the returned error is then an ErrorList.
func Parse(name string, data []byte) (*Config, error) {
	text := string(data)
	c := &Config{File: name, pos: scanPositions(text), JCL: jcl.DefaultSite()}
	md, err := toml.Decode(text, c)
	if err != nil {
		return nil, c.decodeError(err)
	}
	var errs ErrorList
	for _, k := range md.Undecoded() {
		errs = append(errs, c.errAt(keyPath(k), "unknown key"))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	c.applyDefaults(&md)
	errs = c.validate()
	if md.IsDefined("jcl") {
		errs = append(errs, c.validateJCL()...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	c.expandHome()
	return c, nil
}

// keyPath turns a decoded TOML key into a positions path; array-of-tables
// elements become "*", since the decoder does not say which element.
func keyPath(k toml.Key) []string {
	var out []string
	for i, part := range k {
		out = append(out, part)
		if i == 0 && part == "rules" && len(k) > 1 {
			out = append(out, "*")
		}
	}
	return out
}

func (c *Config) decodeError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		key := pe.LastKey
		msg := pe.Message
		if pe.Position.Line > 0 {
			return ErrorList{{File: c.File, Line: pe.Position.Line, Key: key, Msg: msg}}
		}
		return ErrorList{c.errAt(strings.Split(key, "."), "%s", msg)}
	}
	// Type mismatches come as plain errors that name the last key.
	if m := lastKeyRE.FindStringSubmatch(err.Error()); m != nil {
		path := keyPath(toml.Key(strings.Split(m[1], ".")))
		return ErrorList{c.errAt(path, "%s", m[2])}
	}
	return ErrorList{{File: c.File, Msg: err.Error()}}
}

var lastKeyRE = regexp.MustCompile(`^toml: (?:line \d+ )?\(last key "([^"]*)"\): (.*)$`)

func (c *Config) errAt(path []string, format string, args ...any) *Error {
	return &Error{File: c.File, Line: c.pos.line(path), Key: displayKey(path), Msg: fmt.Sprintf(format, args...)}
}

// displayKey writes a path as the user wrote it: rules[3].action.
func displayKey(path []string) string {
	var b strings.Builder
	for i, p := range path {
		if _, err := strconv.Atoi(p); err == nil {
			n, _ := strconv.Atoi(p)
			fmt.Fprintf(&b, "[%d]", n+1)
			continue
		}
		if p == "*" {
			b.WriteString("[]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

func (c *Config) applyDefaults(md *toml.MetaData) {
	set := func(keys ...string) bool { return md.IsDefined(keys...) }
	s := &c.Server
	if !set("server", "listen") {
		s.Listen = []string{"127.0.0.1:1080"}
	}
	if !set("server", "allow_clients") {
		s.AllowClients = []string{"127.0.0.0/8", "::1/128"}
	}
	if !set("server", "socks_versions") {
		s.SocksVersions = []int{4, 5}
	}
	if !set("server", "socks5_auth") {
		s.Socks5Auth = []string{"userpass", "none"}
	}
	durDefault(&s.HandshakeTimeout, set("server", "handshake_timeout"), 10*time.Second)
	durDefault(&s.IdleTimeout, set("server", "idle_timeout"), 30*time.Minute)
	durDefault(&s.DrainTimeout, set("server", "drain_timeout"), 5*time.Minute)
	durDefault(&s.BindTimeout, set("server", "bind_timeout"), 2*time.Minute)
	if !set("server", "max_sessions") {
		s.MaxSessions = 2048
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "console"
	}
	if !set("console", "socket") {
		c.Console.Socket = "/run/socksd/console.sock"
	}
	h := &c.SSH
	if !set("ssh", "known_hosts") {
		h.KnownHosts = []string{"~/.ssh/known_hosts"}
	}
	if h.HostKeyPolicy == "" {
		h.HostKeyPolicy = "strict"
	}
	durDefault(&h.KeepaliveInterval, set("ssh", "keepalive_interval"), 15*time.Second)
	if !set("ssh", "keepalive_max") {
		h.KeepaliveMax = 3
	}
	durDefault(&h.ConnectTimeout, set("ssh", "connect_timeout"), 15*time.Second)
	durDefault(&h.IdleClose, set("ssh", "idle_close"), 5*time.Minute)
	durDefault(&h.RejectMemory, set("ssh", "reject_memory"), 15*time.Minute)
	for name, p := range c.Profiles {
		if !set("profiles", name, "port") {
			p.Port = 22
		}
		if !set("profiles", name, "auth") {
			p.Auth = []string{"password", "keyboard-interactive", "publickey"}
		}
		if !set("profiles", name, "share") {
			p.Share = true
		}
		if !set("profiles", name, "max_channels") {
			p.MaxChannels = 64
		}
	}
	for _, r := range c.Rules {
		if r.FTP.Data == "" {
			r.FTP.Data = "auto"
		}
		if r.FTP.Active == "" {
			r.FTP.Active = "convert"
		}
		if r.FTP.Encoding == "" {
			r.FTP.Encoding = "auto"
		}
	}
}

func durDefault(d *Duration, isSet bool, v time.Duration) {
	if !isSet {
		d.Duration = v
	}
}

// validate checks every value and returns all problems found.
func (c *Config) validate() ErrorList {
	var errs ErrorList
	bad := func(path []string, format string, args ...any) {
		errs = append(errs, c.errAt(path, format, args...))
	}
	s := c.Server
	if len(s.Listen) == 0 {
		bad([]string{"server", "listen"}, "at least one listen address is needed")
	}
	for _, l := range s.Listen {
		if err := checkHostPort(l); err != nil {
			bad([]string{"server", "listen"}, "%v", err)
		}
	}
	if _, err := rules.ParsePrefixes(s.AllowClients); err != nil {
		bad([]string{"server", "allow_clients"}, "%v", strings.TrimPrefix(err.Error(), "rules: "))
	}
	if len(s.SocksVersions) == 0 {
		bad([]string{"server", "socks_versions"}, "at least one SOCKS version is needed")
	}
	for _, v := range s.SocksVersions {
		if v != 4 && v != 5 {
			bad([]string{"server", "socks_versions"}, "unknown SOCKS version %d (want 4 or 5)", v)
		}
	}
	for _, m := range s.Socks5Auth {
		if m != "none" && m != "userpass" {
			bad([]string{"server", "socks5_auth"}, "unknown method %q (want none or userpass)", m)
		}
	}
	if s.MaxSessions < 1 {
		bad([]string{"server", "max_sessions"}, "must be at least 1")
	}
	if s.MaxPerClient < 0 {
		bad([]string{"server", "max_sessions_per_client"}, "must not be negative")
	}
	if s.HandshakeTimeout.Duration == 0 {
		bad([]string{"server", "handshake_timeout"}, "must be more than 0")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad([]string{"log", "level"}, "unknown level %q (want debug, info, warn or error)", c.Log.Level)
	}
	switch c.Log.Format {
	case "console", "json":
	default:
		bad([]string{"log", "format"}, "unknown format %q (want console or json)", c.Log.Format)
	}
	switch c.SSH.HostKeyPolicy {
	case "strict", "accept-new":
	default:
		bad([]string{"ssh", "host_key_policy"}, "unknown policy %q (want strict or accept-new)", c.SSH.HostKeyPolicy)
	}
	if c.SSH.KeepaliveMax < 1 {
		bad([]string{"ssh", "keepalive_max"}, "must be at least 1")
	}
	for name, p := range c.Profiles {
		errs = append(errs, c.validateProfile(name, p)...)
	}
	for i, r := range c.Rules {
		errs = append(errs, c.validateRule(i, r)...)
	}
	specs := make([]rules.Spec, len(c.Rules))
	for i, r := range c.Rules {
		specs[i] = r.Spec()
	}
	if _, err := rules.Compile(specs); err != nil {
		var re *rules.Error
		if errors.As(err, &re) && re.Field == "name" && strings.Contains(re.Error(), "duplicate") {
			bad([]string{"rules", strconv.Itoa(re.Rule), "name"}, "duplicate rule name %q", re.Name)
		}
	}
	return errs
}

func (c *Config) validateProfile(name string, p *Profile) ErrorList {
	var errs ErrorList
	at := func(key string) []string { return []string{"profiles", name, key} }
	if p.Port < 1 || p.Port > 65535 {
		errs = append(errs, c.errAt(at("port"), "bad port %d", p.Port))
	}
	if len(p.Auth) == 0 {
		errs = append(errs, c.errAt(at("auth"), "at least one method is needed"))
	}
	for _, a := range p.Auth {
		switch a {
		case "password", "keyboard-interactive", "publickey":
		default:
			errs = append(errs, c.errAt(at("auth"), "unknown method %q (want password, keyboard-interactive or publickey)", a))
		}
	}
	if p.Via != "" {
		if err := checkVia(p.Via); err != nil {
			errs = append(errs, c.errAt(at("via"), "%v", err))
		}
	}
	if p.MaxChannels < 1 {
		errs = append(errs, c.errAt(at("max_channels"), "must be at least 1"))
	}
	return errs
}

func (c *Config) validateRule(i int, r *Rule) ErrorList {
	var errs ErrorList
	at := func(keys ...string) []string { return append([]string{"rules", strconv.Itoa(i)}, keys...) }
	if _, err := rules.Compile([]rules.Spec{r.Spec()}); err != nil {
		var re *rules.Error
		if errors.As(err, &re) {
			errs = append(errs, c.errAt(at(re.Field), "%v", re.Err))
		} else {
			errs = append(errs, c.errAt(at(), "%v", err))
		}
	}
	if r.Profile != "" {
		if _, ok := c.Profiles[r.Profile]; !ok {
			errs = append(errs, c.errAt(at("profile"), "profile %q does not exist", r.Profile))
		}
	}
	f := r.FTP
	if !oneOf(f.Data, "auto", "socks", "rewrite") {
		errs = append(errs, c.errAt(at("ftp", "data"), "unknown mode %q (want auto, socks or rewrite)", f.Data))
	}
	if !oneOf(f.Active, "convert", "refuse") {
		errs = append(errs, c.errAt(at("ftp", "active"), "unknown mode %q (want convert or refuse)", f.Active))
	}
	if !oneOf(strings.ToLower(f.Encoding), "auto", "ascii", "ibm-1047", "ibm-037") {
		errs = append(errs, c.errAt(at("ftp", "encoding"), "unknown encoding %q (want auto, ascii, ibm-1047 or ibm-037)", f.Encoding))
	}
	for _, d := range f.Deny {
		if strings.TrimSpace(d) == "" {
			errs = append(errs, c.errAt(at("ftp", "deny"), "empty pattern"))
		}
	}
	return errs
}

// validateJCL checks the [jcl] table against the listener it renders.
func (c *Config) validateJCL() ErrorList {
	var errs ErrorList
	if err := c.JCL.SetListener(c.Server.Listen); err != nil {
		errs = append(errs, c.errAt([]string{"server", "listen"}, "%v", err))
	}
	if err := c.JCL.Validate(); err != nil {
		for _, e := range flatten(err) {
			var se *jcl.SiteError
			if errors.As(e, &se) {
				errs = append(errs, c.errAt([]string{"jcl", se.Field}, "%s", se.Msg))
			} else {
				errs = append(errs, c.errAt([]string{"jcl"}, "%v", e))
			}
		}
	}
	return errs
}

// flatten unpacks errors.Join.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Spec converts the rule to the rules package's input.
func (r *Rule) Spec() rules.Spec {
	return rules.Spec{
		Name: r.Name, To: r.To, Ports: r.Ports, From: r.From, Users: r.Users,
		Commands: r.Commands, Versions: r.Versions, Action: r.Action,
		Profile: r.Profile, FallbackToPlain: r.FallbackToPlain,
	}
}

func oneOf(s string, set ...string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("bad address %q: %v", s, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("bad port in %q", s)
	}
	return nil
}

func checkVia(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("bad proxy URL %q", s)
	}
	switch u.Scheme {
	case "socks4", "socks4a", "socks5", "socks5h":
	default:
		return fmt.Errorf("bad proxy URL %q (want socks4://host:port or socks5://host:port)", s)
	}
	if err := checkHostPort(u.Host); err != nil {
		return err
	}
	return nil
}

// expandHome replaces a leading "~/" in path settings with the running
// user's home directory.
func (c *Config) expandHome() {
	home, err := os.UserHomeDir()
	if err != nil {
		return
	}
	exp := func(p *string) {
		if strings.HasPrefix(*p, "~/") {
			*p = filepath.Join(home, (*p)[2:])
		}
	}
	for i := range c.SSH.KnownHosts {
		exp(&c.SSH.KnownHosts[i])
	}
	for _, p := range c.Profiles {
		for i := range p.IdentityFiles {
			exp(&p.IdentityFiles[i])
		}
		exp(&p.PassphraseFile)
	}
	exp(&c.Log.File)
	exp(&c.Log.AuditFile)
	exp(&c.Console.Socket)
}
