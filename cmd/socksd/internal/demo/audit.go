package demo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// auditRecord is the part of a socksd transfer audit record the demo
// shows and checks.
type auditRecord struct {
	Session   uint64        `json:"session"`
	User      string        `json:"user"`
	Server    string        `json:"server"`
	SSHServer string        `json:"ssh_server"`
	Command   string        `json:"command"`
	Path      string        `json:"path"`
	Mode      string        `json:"mode"`
	Bytes     int64         `json:"bytes"`
	Duration  time.Duration `json:"duration_ns"`
	Code      int           `json:"code"`
	Rule      string        `json:"rule"`
	Error     string        `json:"error"`
}

// parseAudit reads audit records, one JSON object a line.
func parseAudit(data []byte) ([]auditRecord, error) {
	var out []auditRecord
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r auditRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return out, fmt.Errorf("demo: audit line %d: %w", line, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("demo: audit: %w", err)
	}
	return out, nil
}

// showAudit prints the audit file and checks that each kind of transfer
// was recorded.
func (e *env) showAudit() {
	e.out.Section("Audit records (audit_file, JSON lines)")
	data, err := os.ReadFile(e.audit)
	if err != nil {
		e.out.Check("audit: records written", false, "%v", err)
		return
	}
	e.out.Block("  ", string(data))
	recs, err := parseAudit(data)
	if err != nil {
		e.out.Check("audit: records parse", false, "%v", err)
		return
	}
	total := int64(e.opt.SizeMiB) << 20
	has := func(cmd, mode string, bytes int64) bool {
		for _, r := range recs {
			if r.Command == cmd && r.Mode == mode && r.Code == 226 && r.User == demoUser && r.SSHServer != "" &&
				(bytes < 0 || r.Bytes == bytes) {
				return true
			}
		}
		return false
	}
	e.out.Check("audit: STOR, RETR and LIST recorded in passive and active mode, with user and SSH server",
		has("STOR", "passive", -1) && has("RETR", "passive", -1) && has("LIST", "passive", -1) &&
			has("STOR", "active", -1) && has("RETR", "active", -1) && has("LIST", "active", -1),
		"%d records", len(recs))
	e.out.Check("audit: the long transfer recorded with its byte count", has("STOR", "passive", total) && has("RETR", "passive", total),
		"%d bytes each way", total)
}
