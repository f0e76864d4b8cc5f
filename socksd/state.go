package socksd

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"socksd/config"
	"socksd/ftp"
	"socksd/rules"
	"socksd/socks"
	"socksd/tunnel"
)

// state is an immutable runtime snapshot of one configuration.
type state struct {
	cfg       *config.Config
	rules     *rules.Set
	allow     []netip.Prefix
	versions  []int
	methods   []socks.Method
	handshake time.Duration
	idle      time.Duration
	bindWait  time.Duration
	dialWait  time.Duration
	maxSess   int
	perClient int
	drain     time.Duration
	hits      []atomic.Int64 // matches per rule, by index
	profiles  map[string]tunnel.Profile
	ftp       []ftp.Options     // by rule index
	sftp      []ftp.SFTPOptions // by rule index
}

// build turns a configuration into runtime objects. The rule set, client
// prefixes and SOCKS5 methods were built by config.Parse with their
// owners' parsers and are taken as they are; the SSH profiles are prepared
// here, once (tunnel.Profile.Prepare).
func build(cfg *config.Config) (*state, error) {
	set := cfg.RuleSet()
	if set == nil {
		return nil, fmt.Errorf("socksd: configuration %s was not parsed by config.Parse", cfg.File)
	}
	profs, err := profiles(cfg)
	if err != nil {
		return nil, err
	}
	st := &state{
		cfg:       cfg,
		rules:     set,
		allow:     cfg.AllowClients(),
		methods:   cfg.Socks5Methods(),
		versions:  cfg.Server.SocksVersions,
		handshake: cfg.Server.HandshakeTimeout.Duration,
		idle:      cfg.Server.IdleTimeout.Duration,
		bindWait:  cfg.Server.BindTimeout.Duration,
		dialWait:  cfg.SSH.ConnectTimeout.Duration,
		maxSess:   cfg.Server.MaxSessions,
		perClient: cfg.Server.MaxPerClient,
		drain:     cfg.Server.DrainTimeout.Duration,
		hits:      make([]atomic.Int64, set.Len()),
		profiles:  profs,
		ftp:       ftpOptions(cfg),
		sftp:      sftpOptions(cfg),
	}
	return st, nil
}
