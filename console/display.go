package console

import (
	"fmt"
	"sort"
	"strconv"

	"socksd/msg"
)

// display answers DISPLAY commands.
func (c *Console) display(cmd Command) Response {
	switch cmd.Object {
	case ObjSessions:
		return ok(c.sessions()...)
	case ObjSession:
		return c.session(cmd.Session())
	case ObjTunnels:
		return ok(c.tunnels()...)
	case ObjForwards:
		return ok(c.forwards()...)
	case ObjRules:
		return ok(c.rules()...)
	case ObjStats:
		return ok(c.stats()...)
	case ObjConfig:
		lines := []string{msg.Format("SOX0415I")}
		for _, l := range c.t.ConfigSummary() {
			lines = append(lines, " "+l)
		}
		return ok(lines...)
	case ObjVersion:
		return ok(msg.Format("SOX0416I", c.t.Version()))
	case ObjListeners:
		return ok(c.listeners()...)
	}
	return failure("SOX0402E", "unknown DISPLAY object "+cmd.Object)
}

func (c *Console) sessions() []string {
	ss := c.t.Sessions()
	sort.Slice(ss, func(i, j int) bool { return ss[i].ID < ss[j].ID })
	now := c.now()
	rows := make([][]string, 0, len(ss))
	traced := false
	for _, s := range ss {
		id := strconv.FormatUint(s.ID, 10)
		if s.Trace {
			id += "*"
			traced = true
		}
		rows = append(rows, []string{id, s.Origin, s.User, s.Client, s.Dest, s.Rule, s.Action,
			s.SSHServer, bytesText(s.BytesUp), bytesText(s.BytesDown), ageText(now.Sub(s.Started)), s.State})
	}
	cols := []column{{"ID", true}, {"IN", false}, {"JOB/USER", false}, {"CLIENT", false}, {"DESTINATION", false},
		{"RULE", false}, {"ACTION", false}, {"SSH-SERVER", false}, {"UP", true}, {"DOWN", true},
		{"AGE", true}, {"STATE", false}}
	lines := append([]string{msg.Format("SOX0410I", len(ss))}, table(cols, rows)...)
	if traced {
		lines = append(lines, " * = traced")
	}
	return lines
}

func (c *Console) session(id uint64) Response {
	for _, s := range c.t.Sessions() {
		if s.ID != id {
			continue
		}
		rows := [][]string{
			{"came in by", s.Origin},
			{"user", s.User},
			{"client", s.Client},
			{"destination", s.Dest},
			{"rule", s.Rule},
			{"action", s.Action},
			{"ssh server", s.SSHServer},
			{"state", s.State},
			{"bytes up", strconv.FormatInt(s.BytesUp, 10)},
			{"bytes down", strconv.FormatInt(s.BytesDown, 10)},
			{"started", timeText(s.Started)},
			{"age", ageText(c.now().Sub(s.Started))},
			{"trace", onOff(s.Trace)},
		}
		return ok(append([]string{msg.Format("SOX0411I", id)}, keyValues(rows)...)...)
	}
	return failure("SOX0403E", fmt.Sprintf("session %d not found", id))
}

func (c *Console) tunnels() []string {
	ts := c.t.Tunnels()
	sort.Slice(ts, func(i, j int) bool { return ts[i].ID < ts[j].ID })
	now := c.now()
	rows := make([][]string, 0, len(ts))
	for _, t := range ts {
		idle := "-"
		if !t.LastUsed.IsZero() {
			idle = ageText(now.Sub(t.LastUsed))
		}
		pid := "-"
		if t.PID != 0 {
			pid = strconv.Itoa(t.PID)
		}
		rows = append(rows, []string{t.ID, t.Server, t.User, t.Profile, t.Engine, pid,
			strconv.Itoa(t.Channels), strconv.Itoa(t.TotalChannels), ageText(now.Sub(t.Opened)), idle})
	}
	cols := []column{{"ID", false}, {"SERVER", false}, {"USER", false}, {"PROFILE", false},
		{"ENGINE", false}, {"PID", true}, {"CHANNELS", true}, {"TOTAL", true}, {"AGE", true}, {"IDLE", true}}
	return append([]string{msg.Format("SOX0412I", len(ts))}, table(cols, rows)...)
}

func (c *Console) forwards() []string {
	fs := c.t.Forwards()
	rows := make([][]string, 0, len(fs))
	for _, f := range fs {
		state := "LISTEN"
		if !f.Listening {
			state = "FAILED"
		}
		rows = append(rows, []string{f.Name, f.Listen, f.To, f.Profile, state,
			strconv.FormatInt(f.Sessions, 10), strconv.FormatInt(f.Total, 10)})
	}
	cols := []column{{"NAME", false}, {"LISTEN", false}, {"TO", false}, {"PROFILE", false},
		{"STATE", false}, {"SESSIONS", true}, {"TOTAL", true}}
	return append([]string{msg.Format("SOX0743I", len(fs))}, table(cols, rows)...)
}

func (c *Console) rules() []string {
	rs := c.t.Rules()
	rows := make([][]string, 0, len(rs))
	for _, r := range rs {
		rows = append(rows, []string{strconv.Itoa(r.Index), r.Name, r.Action,
			strconv.FormatInt(r.Hits, 10), r.Summary})
	}
	cols := []column{{"#", true}, {"NAME", false}, {"ACTION", false}, {"HITS", true}, {"MATCHES", false}}
	return append([]string{msg.Format("SOX0413I", len(rs))}, table(cols, rows)...)
}

func (c *Console) stats() []string {
	st := c.t.Stats()
	maxS := "unlimited"
	if st.MaxSessions > 0 {
		maxS = strconv.Itoa(st.MaxSessions)
	}
	rows := [][]string{
		{"started", timeText(st.Started)},
		{"uptime", ageText(c.now().Sub(st.Started))},
		{"state", map[bool]string{true: "QUIESCED", false: "ACTIVE"}[st.Quiesced]},
		{"sessions active", fmt.Sprintf("%d of %s", st.Active, maxS)},
		{"sessions total", strconv.FormatInt(st.Total, 10)},
		{"refused", strconv.FormatInt(st.Refused, 10)},
		{"blocked", strconv.FormatInt(st.Blocked, 10)},
		{"failed", strconv.FormatInt(st.Failed, 10)},
		{"bytes up", fmt.Sprintf("%d (%s)", st.BytesUp, bytesText(st.BytesUp))},
		{"bytes down", fmt.Sprintf("%d (%s)", st.BytesDown, bytesText(st.BytesDown))},
		{"ssh connections", strconv.Itoa(st.Tunnels)},
		{"goroutines", strconv.Itoa(st.Goroutines)},
		{"open files", strconv.Itoa(st.OpenFDs)},
	}
	return append([]string{msg.Format("SOX0414I")}, keyValues(rows)...)
}

// keyValues renders "key: value" lines with the values aligned.
func keyValues(rows [][]string) []string {
	w := 0
	for _, r := range rows {
		w = max(w, len(r[0]))
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		v := r[1]
		if v == "" {
			v = "-"
		}
		out[i] = fmt.Sprintf(" %-*s  %s", w+1, r[0]+":", sanitize(v))
	}
	return out
}

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}

func (c *Console) listeners() []string {
	ls := c.t.Listeners()
	rows := make([][]string, 0, len(ls))
	for _, l := range ls {
		rows = append(rows, []string{l.Kind, l.Addr})
	}
	cols := []column{{"KIND", false}, {"ADDRESS", false}}
	return append([]string{msg.Format("SOX0720I", len(ls))}, table(cols, rows)...)
}
