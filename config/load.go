package config

import (
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"socksd/ebcdic"
	"socksd/ftp"
	"socksd/internal/hostport"
	"socksd/internal/syslog"
	"socksd/jcl"
	"socksd/msg"
	"socksd/rules"
	"socksd/socks"
	"socksd/tunnel"
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
// Detection and framing are ebcdic's (ebcdic.DetectText, ebcdic.TextLines),
// as for JCL members.
func ParseEncoded(name string, data []byte, enc string) (*Config, error) {
	cp, auto, err := ebcdic.ParseCodePageOrAuto(enc)
	if err != nil {
		var ce *ebcdic.CodePageError
		if errors.As(err, &ce) {
			return nil, ErrorList{{File: name, Msg: "the file's encoding: " + ce.Reason()}}
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	if auto {
		cp = ebcdic.DetectText(data)
	}
	if !cp.IsEBCDIC() {
		return Parse(name, data)
	}
	lines := ebcdic.TextLines(data, cp)
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return Parse(name, []byte(strings.Join(lines, "\n")+"\n"))
}

// Parse decodes and validates a configuration. name is used in errors.
// Every problem found is reported, each as an *Error naming FILE:LINE and
// the key; the returned error is then an ErrorList, in line order. Only a
// TOML syntax error stops the reading early: it is then the one error.
//
// Each setting is checked by the parser of the package that owns it:
// rules.Compile, rules.ParsePrefix and rules.CheckVersion, socks.ParseProxyURL (through
// tunnel.Profile.Check) and socks.ParseMethod, tunnel.CheckHostKeyPolicy,
// ftp.Options.Check (whose encoding check is ebcdic.ParseCodePageOrAuto),
// jcl.Site.Validate and jcl.Site.SetListener, msg.ParseLevel,
// hostport.ParseListen. What config checks itself is only what no runtime
// package owns: the contract of the file (unknown keys, types, keys written
// as 0 or [] where the runtime would take a default, a profile that a rule
// names but the file lacks). The rule set, client prefixes and SOCKS5
// methods built on the way are kept, so that nothing compiles them again
// (RuleSet, AllowClients, Socks5Methods).
func Parse(name string, data []byte) (*Config, error) {
	text := string(data)
	c := &Config{File: name, pos: scanPositions(text), JCL: jcl.DefaultSite()}
	var doc map[string]any
	if _, err := toml.Decode(text, &doc); err != nil {
		return nil, ErrorList{c.syntaxError(err, text)}
	}
	d := newDecoder(c)
	d.table(nil, doc, reflect.ValueOf(c).Elem())
	c.applyDefaults(d.isSet)
	errs := append(d.errs, c.validate(d)...)
	listenErr := c.setJCLListener(d)
	if d.isSet("jcl") {
		if listenErr != nil {
			errs = append(errs, listenErr)
		}
		errs = append(errs, c.validateJCL(d)...)
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b *Error) int { return cmp.Compare(lineOrder(a), lineOrder(b)) })
		return nil, errs
	}
	c.jclErr = listenErr
	c.expandHome()
	return c, nil
}

// JCLSite returns the [jcl] table as `socksd jcl render` uses it: the
// site's values over the defaults of the shipped samples, with the SOCKS
// listener (ListenHost, Port) taken from server.listen. Parse has checked
// it when the file has a [jcl] table. Without one the site is the default
// one, and a server.listen without an IPv4 address, which the daemon
// accepts, is an error here: an ErrorList with the one *Error at the key.
func (c *Config) JCLSite() (jcl.Site, error) {
	if c.jclErr != nil {
		return jcl.Site{}, ErrorList{c.jclErr}
	}
	return c.JCL, nil
}

// lineOrder sorts errors by line, those without a line last.
func lineOrder(e *Error) int {
	if e.Line == 0 {
		return math.MaxInt
	}
	return e.Line
}

// syntaxError reports a document that is not TOML. The parser's message is
// kept, but any quoted word in it is hidden: it may be a secret that was
// meant to be in quotes.
func (c *Config) syntaxError(err error, text string) *Error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		line, msg := pe.Position.Line, "not valid TOML: "+hideQuoted(pe.Message)
		switch {
		case strings.Contains(pe.Message, `"\n"`) || strings.Contains(pe.Message, `'\n'`):
			// The parser met the line end at the column. Some parsing
			// states count the line end into the next line already.
			if line > 1 && !lineEndsAt(text, line, pe.Position.Col) && lineEndsAt(text, line-1, pe.Position.Col) {
				line--
			}
			msg = "not valid TOML at the end of the line: " + hideQuoted(pe.Message)
		case pe.Position.Col > 0:
			msg = fmt.Sprintf("not valid TOML at column %d: %s", pe.Position.Col, hideQuoted(pe.Message))
		}
		if strings.Contains(pe.Message, "expected value but found") {
			msg += " (a string must be in quotes)"
		}
		return &Error{File: c.File, Line: line, Msg: msg}
	}
	return &Error{File: c.File, Msg: "not valid TOML"}
}

// lineEndsAt reports whether line n (from 1) of text ends just before
// column col (from 1, in characters).
func lineEndsAt(text string, n, col int) bool {
	lines := strings.SplitN(text, "\n", n+1)
	if n > len(lines) {
		return false
	}
	return utf8.RuneCountInString(strings.TrimSuffix(lines[n-1], "\r")) == col-1
}

var quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'[^']*'`)

// hideQuoted replaces each quoted text of more than one character that
// holds a letter or digit by "…".
func hideQuoted(s string) string {
	return quotedRE.ReplaceAllStringFunc(s, func(q string) string {
		inner := q[1 : len(q)-1]
		if len([]rune(inner)) <= 1 || len(inner) == 2 && inner[0] == '\\' || !strings.ContainsFunc(inner, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
			return q
		}
		return `"…"`
	})
}

// urlUserinfoRE finds the user part of anything that looks like a URL.
var urlUserinfoRE = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^\s"'/@]*@`)

func (c *Config) errAt(path []string, format string, args ...any) *Error {
	msg := urlUserinfoRE.ReplaceAllString(fmt.Sprintf(format, args...), "${1}***@")
	return &Error{File: c.File, Line: c.pos.line(path), Key: displayKey(path), Msg: msg}
}

// arrayTables names the arrays of tables of the schema, such as rules:
// their elements are counted, not named.
var arrayTables = func() map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeFor[Config]()
	for name, idx := range tomlFields(t) {
		if f := t.FieldByIndex(idx).Type; f.Kind() == reflect.Slice && isTable(f.Elem()) {
			out[name] = true
		}
	}
	return out
}()

// displayKey writes a path as the user wrote it, counting the tables of an
// array from 1: rules[3].action.
func displayKey(path []string) string {
	var b strings.Builder
	for i, p := range path {
		if n, err := strconv.Atoi(p); err == nil && i > 0 && arrayTables[path[i-1]] {
			fmt.Fprintf(&b, "[%d]", n+1)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

func (c *Config) applyDefaults(set func(path ...string) bool) {
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
	if c.Log.SyslogFacility == "" {
		c.Log.SyslogFacility = "local0"
	}
	if c.Log.SyslogAppName == "" {
		c.Log.SyslogAppName = "socksd"
	}
	if c.Log.SyslogSDID == "" {
		c.Log.SyslogSDID = "socksd@32473"
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
	if !set("ssh", "engine") {
		h.Engine = tunnel.DefaultEngine
	}
	if !set("ssh", "openssh") {
		h.OpenSSH = "ssh"
	}
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
		if !set("profiles", name, "spread") {
			p.Spread = 1
		}
	}
	for i, r := range c.Rules {
		if r.FTP.Data == "" {
			r.FTP.Data = "auto"
		}
		if r.FTP.Active == "" {
			r.FTP.Active = "convert"
		}
		if r.FTP.Encoding == "" {
			r.FTP.Encoding = "auto"
		}
		if r.SFTP.LineEnd == "" {
			r.SFTP.LineEnd = ftp.LineEndLF
		}
		if r.SFTP.Datasets == "" {
			r.SFTP.Datasets = ftp.StripQuotes
		}
		if !set("rules", strconv.Itoa(i), "sftp", "streams") {
			r.SFTP.Streams = 1
		}
	}
}

func durDefault(d *Duration, isSet bool, v time.Duration) {
	if !isSet {
		d.Duration = v
	}
}

// validate checks every value with its owner's parser, keeps what they
// build, and returns all problems found. A key that could not be decoded
// is not checked again.
func (c *Config) validate(d *decoder) ErrorList {
	var errs ErrorList
	bad := func(path []string, format string, args ...any) {
		if !d.hasFailed(path) {
			errs = append(errs, c.errAt(path, format, args...))
		}
	}
	s := c.Server
	key := func(k ...string) []string { return k }
	if len(s.Listen) == 0 {
		bad(key("server", "listen"), "at least one listen address is needed")
	}
	for _, l := range s.Listen {
		if _, _, err := hostport.ParseListen(l); err != nil {
			var he *hostport.Error
			errors.As(err, &he)
			bad(key("server", "listen"), "%s", he.Reason)
			c.listenFailed = true
		}
	}
	for _, k := range []string{"redirect_listen", "tproxy_listen"} {
		addrs := s.RedirectListen
		if k == "tproxy_listen" {
			addrs = s.TProxyListen
		}
		for _, l := range addrs {
			if _, _, err := hostport.ParseListen(l); err != nil {
				var he *hostport.Error
				errors.As(err, &he)
				bad(key("server", k), "%s", he.Reason)
			}
		}
	}
	for _, a := range s.AllowClients {
		p, err := rules.ParsePrefix(a)
		if err != nil {
			bad(key("server", "allow_clients"), "%v", err)
			continue
		}
		c.allow = append(c.allow, p)
	}
	if len(s.SocksVersions) == 0 {
		bad(key("server", "socks_versions"), "at least one SOCKS version is needed")
	}
	for _, v := range s.SocksVersions {
		if err := rules.CheckVersion(v); err != nil {
			bad(key("server", "socks_versions"), "%v", err)
		}
	}
	for _, m := range s.Socks5Auth {
		sm, err := socks.ParseMethod(m)
		if err != nil {
			bad(key("server", "socks5_auth"), "%s", strings.TrimPrefix(err.Error(), "socks: "))
			continue
		}
		c.methods = append(c.methods, sm)
	}
	if s.MaxSessions < 1 {
		bad(key("server", "max_sessions"), "must be at least 1")
	}
	if s.MaxPerClient < 0 {
		bad(key("server", "max_sessions_per_client"), "must not be negative")
	}
	if s.HandshakeTimeout.Duration == 0 {
		bad(key("server", "handshake_timeout"), "must be more than 0")
	}
	if _, err := msg.ParseLevel(c.Log.Level); err != nil {
		var le *msg.LevelError
		errors.As(err, &le)
		bad(key("log", "level"), "%s", le.Reason())
	}
	switch c.Log.Format {
	case "console", "json":
	default:
		bad(key("log", "format"), "unknown format %q (want console or json)", c.Log.Format)
	}
	if c.Metrics.Listen != "" {
		if _, _, err := hostport.ParseListen(c.Metrics.Listen); err != nil {
			var he *hostport.Error
			errors.As(err, &he)
			bad(key("metrics", "listen"), "%s", he.Reason)
		}
	}
	if c.Log.AuditSyslog != "" {
		if _, err := syslog.ParseAddress(c.Log.AuditSyslog); err != nil {
			bad(key("log", "audit_syslog"), "%s", strings.TrimPrefix(err.Error(), "syslog: "))
		}
	}
	if _, err := syslog.ParseFacility(c.Log.SyslogFacility); err != nil {
		bad(key("log", "syslog_facility"), "%s", strings.TrimPrefix(err.Error(), "syslog: "))
	}
	if err := syslog.CheckAppName(c.Log.SyslogAppName); err != nil {
		bad(key("log", "syslog_app_name"), "%s", strings.TrimPrefix(err.Error(), "syslog: "))
	}
	if err := syslog.CheckSDID(c.Log.SyslogSDID); err != nil {
		bad(key("log", "syslog_sd_id"), "%s", strings.TrimPrefix(err.Error(), "syslog: "))
	}
	if err := tunnel.CheckHostKeyPolicy(c.SSH.HostKeyPolicy); err != nil {
		bad(key("ssh", "host_key_policy"), "%s", strings.TrimPrefix(err.Error(), "tunnel: "))
	}
	if c.SSH.KeepaliveMax < 1 {
		bad(key("ssh", "keepalive_max"), "must be at least 1")
	}
	if e, err := tunnel.ParseEngine(c.SSH.Engine); err != nil || e == "" {
		bad(key("ssh", "engine"), "unknown engine %q (want builtin, openssh or auto)", c.SSH.Engine)
	}
	if c.SSH.OpenSSH == "" {
		bad(key("ssh", "openssh"), "must name the ssh program (a name looked up in PATH, or a path)")
	}
	if c.SSH.RuntimeDir != "" && !filepath.IsAbs(c.SSH.RuntimeDir) {
		bad(key("ssh", "runtime_dir"), "%q is not an absolute path", c.SSH.RuntimeDir)
	}
	names := make([]string, 0, len(c.Profiles))
	for name := range c.Profiles {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		c.validateProfile(name, c.Profiles[name], bad)
	}
	specs := make([]rules.Spec, len(c.Rules))
	for i, r := range c.Rules {
		specs[i] = r.Spec()
		c.validateRule(i, r, sftpWritten(d, i), bad)
	}
	set, err := rules.Compile(specs)
	var rerrs rules.ErrorList
	switch {
	case errors.As(err, &rerrs):
		for _, re := range rerrs {
			bad(key("rules", strconv.Itoa(re.Rule), re.Field), "%v", re.Err)
		}
	case err != nil:
		bad(key("rules"), "%s", strings.TrimPrefix(err.Error(), "rules: "))
	}
	c.ruleSet = set
	c.validateForwards(bad)
	return errs
}

// validateProfile checks a profile with tunnel.Profile.Check. A value
// written as 0 or [] is an error here, where tunnel would take its default:
// the defaults apply only to keys not written.
func (c *Config) validateProfile(name string, p *Profile, bad func([]string, string, ...any)) {
	at := func(key string) []string { return []string{"profiles", name, key} }
	if p.Port == 0 {
		bad(at("port"), "0 is not a port (1-65535)")
	}
	if len(p.Auth) == 0 {
		bad(at("auth"), "at least one method is needed")
	}
	if p.MaxChannels < 1 {
		bad(at("max_channels"), "must be at least 1")
	}
	if p.Spread < 1 {
		bad(at("spread"), "must be at least 1")
	}
	tp := tunnel.Profile{Name: name, Port: p.Port, Auth: p.Auth, Via: p.Via, Engine: p.Engine}
	for _, err := range flatten(tp.Check()) {
		var pe *tunnel.ProfileError
		if errors.As(err, &pe) {
			bad(at(pe.Field), "%s", pe.Reason)
		} else if err != nil {
			bad([]string{"profiles", name}, "%s", strings.TrimPrefix(err.Error(), "tunnel: "))
		}
	}
}

// validateRule checks what rules.Compile does not: that the profile a rule
// names exists, its [rules.ftp] table (with ftp.Options.Check), and its
// [rules.sftp] table (with ftp.SFTPOptions.Check), which only an ftp-sftp
// rule may set (hasSFTP: the file wrote a key of it).
func (c *Config) validateRule(i int, r *Rule, hasSFTP bool, bad func([]string, string, ...any)) {
	at := func(keys ...string) []string { return append([]string{"rules", strconv.Itoa(i)}, keys...) }
	if r.Profile != "" {
		if _, ok := c.Profiles[r.Profile]; !ok {
			bad(at("profile"), "profile %q does not exist (there is no [profiles.%s] table)", r.Profile, r.Profile)
		}
	}
	f := r.FTP
	opt := ftp.Options{Data: f.Data, Active: f.Active, Encoding: f.Encoding, Deny: f.Deny, AllowAuthTLS: f.AllowAuthTLS}
	for _, err := range flatten(opt.Check()) {
		var oe *ftp.OptionError
		if errors.As(err, &oe) {
			bad(at("ftp", oe.Field), "%s", oe.Reason)
		} else if err != nil {
			bad(at("ftp"), "%s", strings.TrimPrefix(err.Error(), "ftp: "))
		}
	}
	if !hasSFTP {
		return
	}
	if a, err := rules.ParseAction(r.Action); err == nil && a != rules.FTPSFTP {
		bad(at("sftp"), "only an ftp-sftp rule takes [rules.sftp] settings, not %s", a)
		return
	}
	if r.SFTP.Streams == 0 {
		bad(at("sftp", "streams"), "must be at least 1")
	}
	for _, err := range flatten(r.SFTP.Options().Check()) {
		var oe *ftp.OptionError
		if errors.As(err, &oe) {
			bad(at("sftp", oe.Field), "%s", oe.Reason)
		} else if err != nil {
			bad(at("sftp"), "%s", strings.TrimPrefix(err.Error(), "ftp: "))
		}
	}
}

// sftpWritten reports whether the file wrote a key of rule i's [rules.sftp]
// table. An empty table heading is no setting.
func sftpWritten(d *decoder, i int) bool {
	for k := range tomlFields(reflect.TypeFor[SFTP]()) {
		if d.isSet("rules", strconv.Itoa(i), "sftp", k) {
			return true
		}
	}
	return false
}

// Options converts the table to the ftp package's settings.
func (s SFTP) Options() ftp.SFTPOptions {
	return ftp.SFTPOptions{Root: s.Root, LineEnd: s.LineEnd, Datasets: s.Datasets, Streams: s.Streams}
}

// setJCLListener sets the listener of the [jcl] site from server.listen.
// A list that failed its own check is not reported again.
func (c *Config) setJCLListener(d *decoder) *Error {
	err := c.JCL.SetListener(c.Server.Listen)
	if err == nil || d.hasFailed([]string{"server", "listen"}) || c.listenFailed {
		return nil
	}
	return c.errAt([]string{"server", "listen"}, "%s", strings.TrimPrefix(err.Error(), "jcl: "))
}

// validateJCL checks the [jcl] table (with jcl.Site.Validate).
func (c *Config) validateJCL(d *decoder) ErrorList {
	var errs ErrorList
	if err := c.JCL.Validate(); err != nil {
		for _, e := range flatten(err) {
			var se *jcl.SiteError
			switch {
			case errors.As(e, &se) && d.hasFailed([]string{"jcl", se.Field}):
			case errors.As(e, &se):
				errs = append(errs, c.errAt([]string{"jcl", se.Field}, "%s", se.Msg))
			default:
				errs = append(errs, c.errAt([]string{"jcl"}, "%s", strings.TrimPrefix(e.Error(), "jcl: ")))
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
	exp(&c.SSH.RuntimeDir)
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
