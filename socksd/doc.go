// Package socksd is the daemon core: listeners, the client ACL, the SOCKS
// handshake, rule matching, routing each decision to a dialer (direct, SSH
// tunnel, FTP-aware tunnel, FTP served from SFTP), the session table,
// reload, quiesce and drain.
//
// A Daemon is built from a *config.Config; it turns the configuration into
// runtime objects (a compiled rule set, tunnel profiles, FTP options) held
// in an immutable state. Reload swaps the state atomically: new sessions get
// the new rules while running sessions keep the state they started with.
//
// Each accepted connection is a request (request.go): its connection, its
// state snapshot, the SOCKS request and its session, with methods that
// reply, dial and relay. route.go decides where a request goes; dialer.go
// is the seam through which it reaches a destination, directly or through
// SSH; ftptunnel.go and ftpsftp.go run the FTP sessions of the ftp-tunnel
// and ftp-sftp actions; replies.go maps a failure to its SOCKS reply code. Every connection
// ends in request.end with one typed result, which is counted there for
// D STATS and logged as the session's end.
package socksd
