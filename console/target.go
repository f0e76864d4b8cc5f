package console

import "time"

// Target is what the console operates on; the daemon implements it.
// Its methods may be called from several goroutines at once. Reload logs
// its own rejection (SOX0004E), which the console therefore does not log
// again.
type Target interface {
	// Sessions returns the running sessions.
	Sessions() []SessionInfo
	// Tunnels returns the open SSH connections.
	Tunnels() []TunnelInfo
	// Forwards returns the fixed local tunnels ([[forwards]]) in use.
	Forwards() []ForwardInfo
	// Rules returns the rules in the order they are matched.
	Rules() []RuleInfo
	// Stats returns the daemon's counters.
	Stats() Stats
	// ConfigSummary returns the lines DISPLAY CONFIG shows; never secrets.
	ConfigSummary() []string
	// Version returns the daemon's version.
	Version() string
	// Listeners returns the addresses the daemon listens on: SOCKS,
	// redirect, TPROXY, forward, metrics and FTP rewrite listeners.
	Listeners() []ListenerInfo
	// Reload reads the configuration again. When the new configuration is
	// bad, the error names FILE:LINE and the old rules stay.
	Reload() error
	// SetLogLevel sets the log level: "debug", "info", "warn" or "error".
	SetLogLevel(level string) error
	// Trace switches tracing on or off for one session, or for all
	// sessions (present and future) when session is 0.
	Trace(on bool, session uint64) error
	// Cancel ends a running session.
	Cancel(session uint64) error
	// DropTunnel closes an SSH connection and the sessions it carries.
	DropTunnel(id string) error
	// Quiesce makes the daemon refuse new sessions; running ones go on.
	Quiesce() error
	// Resume ends a quiesce.
	Resume() error
	// Stop returns at once; the daemon then drains for drain_timeout (or,
	// when immediate, ends the sessions now) and exits 0.
	Stop(immediate bool)
}

// SessionInfo describes one running session.
type SessionInfo struct {
	ID        uint64
	User      string // SOCKS or FTP user (on z/OS, the job's user)
	Client    string // client address host:port
	Dest      string // destination host:port as the client named it
	Rule      string // name of the rule that matched
	Action    string // block | direct | tunnel | ftp-tunnel
	SSHServer string // host:port of the SSH server, "" when not tunnelled
	State     string // for example "handshake", "relay", "draining"
	BytesDown int64  // bytes from the destination to the client
	BytesUp   int64  // bytes from the client to the destination
	Started   time.Time
	Trace     bool
	Origin    string // how it came in: "socks", "redirect" or "forward"
}

// TunnelInfo describes one open SSH connection.
type TunnelInfo struct {
	ID            string
	Server        string // host:port
	User          string
	Profile       string
	Engine        string // "builtin" or "openssh"
	PID           int    // the openssh master's process id; 0 for builtin
	Channels      int    // channels open now
	TotalChannels int    // channels opened since the connection was made
	Opened        time.Time
	LastUsed      time.Time
}

// ForwardInfo describes one fixed local tunnel ([[forwards]]).
type ForwardInfo struct {
	Name      string // forwards.name, or the listen address
	Listen    string // host:port on this host
	To        string // host:port, reached from the SSH server
	Profile   string
	Listening bool  // false when its listen address could not be opened
	Sessions  int64 // sessions running now
	Total     int64 // sessions since the daemon started
}

// RuleInfo describes one rule of the rule set in use.
type RuleInfo struct {
	Index   int // 1-based position in the rule set
	Name    string
	Action  string
	Summary string // what the rule matches, in one line
	Hits    int64
}

// Stats are the daemon's counters since it started.
type Stats struct {
	Started     time.Time
	Active      int64 // sessions running now
	Total       int64 // sessions accepted since start
	Refused     int64 // refused by allow_clients, max_sessions or quiesce
	Blocked     int64 // blocked by a rule
	Failed      int64 // failed handshake or upstream
	BytesDown   int64
	BytesUp     int64
	Tunnels     int // SSH connections open now
	Goroutines  int
	OpenFDs     int
	Quiesced    bool
	MaxSessions int
}

// Kinds of ListenerInfo.
const (
	ListenerSOCKS    = "socks"
	ListenerRedirect = "redirect"
	ListenerTProxy   = "tproxy"
	ListenerRewrite  = "rewrite"
	ListenerForward  = "forward"
	ListenerMetrics  = "metrics"
)

// ListenerInfo describes one listening address of the daemon.
type ListenerInfo struct {
	// Kind is ListenerSOCKS, ListenerRedirect, ListenerTProxy,
	// ListenerForward, ListenerMetrics or ListenerRewrite.
	Kind string
	// Addr is host:port. A rewrite listener (FTP passive data, one per
	// transfer) takes an ephemeral port: its Addr is "host:*".
	Addr string
}
