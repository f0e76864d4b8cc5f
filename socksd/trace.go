package socksd

import "socksd/msg"

// tracer returns the relay trace hook of session s: while TRACE is on for
// the session, each block moved is logged with its direction and size,
// never its content.
func (d *Daemon) tracer(s *session) func(up bool, n int) {
	return func(up bool, n int) {
		if !s.trace.Load() {
			return
		}
		dir, total := "down", s.bytes.Down.Load()
		if up {
			dir, total = "up", s.bytes.Up.Load()
		}
		msg.Log(&d.log, "SOX0110I", s.id, dir, n, total).Str("event", "trace").Uint64("session", s.id).Str("dir", dir).Int("bytes", n).
			Int64("total", total).Send()
	}
}
