package ftp

import (
	"time"

	"github.com/rs/zerolog"

	"socksd/msg"
)

// Transfer is one audit record: one RETR, STOR, STOU, APPE, LIST, NLST or
// MLSD and its data connection. It never holds a password.
type Transfer struct {
	Session   uint64 `json:"session"`
	Client    string `json:"client"`
	User      string `json:"user"`
	Server    string `json:"server"`
	SSHServer string `json:"ssh_server"`
	Command   string `json:"command"`
	Path      string `json:"path,omitempty"`
	Mode      string `json:"mode"`     // "passive", "active", or "" without a data connection
	Protocol  string `json:"protocol"` // what served the job: "ftp" (ftp-tunnel) or "sftp" (ftp-sftp)
	// Site holds the SITE parameters the job gave before the transfer
	// (ftp-sftp: the z/OS client's RECFM=FB, LRECL=80 and the like), as
	// sent.
	Site     []string      `json:"site,omitempty"`
	Bytes    int64         `json:"bytes"`
	Duration time.Duration `json:"duration_ns"`
	Code     int           `json:"code"` // the final reply the job got; 0 if the session ended first
	Start    time.Time     `json:"start"`
	Rule     string        `json:"rule"`
	Error    string        `json:"error,omitempty"`
}

// transfer is a transfer command waiting for its final reply.
type transfer struct {
	cmd   Command
	start time.Time
	data  *dataConn
	site  []string // ftp-sftp: the SITE parameters given before it
}

// newTransfer starts a transfer that uses the current data setup.
func (s *session) newTransfer(cmd Command) *transfer {
	t := &transfer{cmd: cmd, start: time.Now(), data: s.data}
	s.data = nil // the transfer owns it now
	return t
}

// onTransferReply checks the final reply of a transfer against its data
// connection and audits it. A 2xx from the server is turned into 426 when
// the data connection through socksd failed, or had not finished dataGrace
// after the reply, so that a job never takes a short file for a complete
// one.
func (s *session) onTransferReply(t *transfer, r *Reply) *Reply {
	d := t.data
	note := ""
	if d != nil && r.Code/100 == 2 {
		if st, _ := d.snapshot(); st != dataWaiting {
			timer := time.NewTimer(s.grace)
			select {
			case <-d.done:
			case <-timer.C:
				note = "data connection still open after the final reply"
			case <-s.ctx.Done():
			}
			timer.Stop()
		} else {
			note = "no data connection passed through socksd"
			msg.Log(&s.log, "SOX0313W", s.cfg.ID, t.cmd.Verb).Str("command", t.cmd.Verb).Send()
		}
		switch st, err := d.snapshot(); {
		case st == dataDone && err != nil && err != errDataUnused:
			note = sanitize(err.Error(), nil)
			r = &Reply{Code: 426, Lines: FormatReply(426, "Data connection failed through socksd; transfer aborted (server said: "+shortText(r)+").")}
		case st != dataDone && st != dataWaiting:
			// The relay has not ended: bytes may still be on their way,
			// and closing it below would cut them. Never a 2xx for that.
			r = &Reply{Code: 426, Lines: FormatReply(426, "Data connection through socksd did not finish; transfer aborted (server said: "+shortText(r)+").")}
		}
	}
	if d != nil {
		d.close()
	}
	s.finishTransfer(t, r.Code, note)
	return r
}

// finishTransfer logs the transfer once (SOX0303I, or SOX0308W when it
// failed) and hands its audit record to the session's Audit function.
func (s *session) finishTransfer(t *transfer, code int, note string) {
	rec := Transfer{
		Session:   s.cfg.ID,
		Client:    s.cfg.ClientAddr.String(),
		User:      s.user,
		Server:    s.cfg.Server,
		SSHServer: s.sshServer,
		Command:   t.cmd.Verb,
		Path:      t.cmd.Path(),
		Start:     t.start,
		Duration:  time.Since(t.start),
		Code:      code,
		Rule:      s.cfg.Rule,
		Error:     note,
	}
	rec.Protocol = "ftp"
	if s.sftpSide() != nil {
		rec.Protocol = "sftp"
		rec.Site = t.site
	}
	if d := t.data; d != nil {
		rec.Mode = d.mode
		rec.Bytes = d.bytes()
	}
	if code == 0 && rec.Error == "" {
		rec.Error = "session ended before the final reply"
	}
	var ev *zerolog.Event
	if code == 0 || code >= 400 {
		ev = msg.Log(&s.log, "SOX0308W", s.cfg.ID, rec.Command, code)
	} else {
		ev = msg.Log(&s.log, "SOX0303I", s.cfg.ID, rec.Command, code)
	}
	ev = ev.Str("event", "transfer").Str("user", rec.User).Str("ssh_server", rec.SSHServer).Str("command", rec.Command).
		Str("path", rec.Path).Str("mode", rec.Mode).Str("protocol", rec.Protocol).Int64("bytes", rec.Bytes).
		Int64("duration_ms", rec.Duration.Milliseconds()).Int("code", code)
	if rec.Error != "" {
		ev = ev.Str("error", rec.Error)
	}
	ev.Send()
	if s.cfg.Audit != nil {
		s.cfg.Audit(rec)
	}
}
