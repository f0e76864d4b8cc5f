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
	ftp       []ftp.Options // by rule index
}

// build turns a validated configuration into runtime objects.
func build(cfg *config.Config) (*state, error) {
	specs := make([]rules.Spec, len(cfg.Rules))
	for i, r := range cfg.Rules {
		specs[i] = r.Spec()
	}
	set, err := rules.Compile(specs)
	if err != nil {
		return nil, fmt.Errorf("socksd: %w", err)
	}
	allow, err := rules.ParsePrefixes(cfg.Server.AllowClients)
	if err != nil {
		return nil, fmt.Errorf("socksd: allow_clients: %w", err)
	}
	st := &state{
		cfg:       cfg,
		rules:     set,
		allow:     allow,
		versions:  cfg.Server.SocksVersions,
		handshake: cfg.Server.HandshakeTimeout.Duration,
		idle:      cfg.Server.IdleTimeout.Duration,
		bindWait:  cfg.Server.BindTimeout.Duration,
		dialWait:  cfg.SSH.ConnectTimeout.Duration,
		maxSess:   cfg.Server.MaxSessions,
		perClient: cfg.Server.MaxPerClient,
		drain:     cfg.Server.DrainTimeout.Duration,
		hits:      make([]atomic.Int64, set.Len()),
		profiles:  profiles(cfg),
		ftp:       ftpOptions(cfg),
	}
	for _, m := range cfg.Server.Socks5Auth {
		sm, err := socks.ParseMethod(m)
		if err != nil {
			return nil, fmt.Errorf("socksd: socks5_auth: %w", err)
		}
		st.methods = append(st.methods, sm)
	}
	return st, nil
}
