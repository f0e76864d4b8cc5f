// Package socksd is the daemon core: listeners, the client ACL, the SOCKS
// handshake, rule matching, routing each decision to a dialer (direct, SSH
// tunnel, FTP-aware tunnel), the session table, reload, quiesce and drain.
//
// A Daemon is built from a *config.Config; it turns the configuration into
// runtime objects (a compiled rule set, tunnel profiles, FTP options) held
// in an immutable state. Reload swaps the state atomically: new sessions get
// the new rules while running sessions keep the state they started with.
package socksd
