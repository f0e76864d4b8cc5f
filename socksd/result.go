package socksd

import (
	"sync/atomic"

	"socksd/console"
)

// result is how a connection ended. Every connection ends with exactly
// one, in request.end, which counts it and logs the session's end.
type result int

// The results, as the session_end event's result field names them.
const (
	resultOK        result = iota // the session ran and ended normally
	resultBlocked                 // a rule, or no rule at all, blocked the request
	resultRefused                 // refused: allow_clients, a limit, quiesce, a command the action cannot carry
	resultFailed                  // the handshake, the destination, the tunnel, the FTP login or the relay failed
	resultCancelled               // ended by CANCEL, DROP TUNNEL or a stop
)

var resultNames = [...]string{"ok", "blocked", "refused", "failed", "cancelled"}

// String returns the name logged in the result field.
func (r result) String() string {
	if r >= 0 && int(r) < len(resultNames) {
		return resultNames[r]
	}
	return "unknown"
}

// outcome is a connection's result and, unless it is ok, why.
type outcome struct {
	result result
	err    error
	log    func() // for a connection turned away before its session started: its message
}

// counters are the daemon's totals since it started, as D STATS shows
// them. Only request.start and request.end change them.
type counters struct {
	total                    atomic.Int64 // sessions started (SOX0101I)
	refused, blocked, failed atomic.Int64 // connections ended so
	bytesUp, bytesDown       atomic.Int64 // bytes of ended sessions
	cancelled, ok            atomic.Int64 // connections ended so; not shown by D STATS
}

// count adds one ended connection with its bytes.
func (c *counters) count(r result, up, down int64) {
	switch r {
	case resultOK:
		c.ok.Add(1)
	case resultBlocked:
		c.blocked.Add(1)
	case resultRefused:
		c.refused.Add(1)
	case resultFailed:
		c.failed.Add(1)
	case resultCancelled:
		c.cancelled.Add(1)
	}
	c.bytesUp.Add(up)
	c.bytesDown.Add(down)
}

// fill copies the counters into a D STATS answer; liveUp and liveDown are
// the bytes of the sessions still running.
func (c *counters) fill(s *console.Stats, liveUp, liveDown int64) {
	s.Total = c.total.Load()
	s.Refused = c.refused.Load()
	s.Blocked = c.blocked.Load()
	s.Failed = c.failed.Load()
	s.BytesDown = c.bytesDown.Load() + liveDown // destination to client
	s.BytesUp = c.bytesUp.Load() + liveUp
}
