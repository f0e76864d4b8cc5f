package socksd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"socksd/config"
	"socksd/ftp"
	"socksd/internal/syslog"
	"socksd/msg"
)

// LevelSwitch is a log level that can change while the daemon runs
// (LOGLEVEL=...). The logger NewLogger builds filters its events by it.
type LevelSwitch struct{ level atomic.Int32 }

// NewLevelSwitch starts at level.
func NewLevelSwitch(level zerolog.Level) *LevelSwitch {
	l := &LevelSwitch{}
	l.level.Store(int32(level))
	return l
}

// Set changes the level: debug, info, warn or error.
func (l *LevelSwitch) Set(name string) error {
	lv, err := parseLevel(name)
	if err != nil {
		return err
	}
	l.level.Store(int32(lv))
	return nil
}

// Level returns the current level.
func (l *LevelSwitch) Level() zerolog.Level { return zerolog.Level(l.level.Load()) }

// filter wraps w so that it drops events below the switch's level, except
// daemon lifecycle messages (SOX00xx: start, ready, reload, quiesce, stop,
// log level), which an operator sees at any level. It reads the message
// from the written event, because msg.Log sets it as a field, which a
// zerolog hook does not see.
func (l *LevelSwitch) filter(w io.Writer) zerolog.LevelWriter { return levelFilter{l, w} }

// levelFilter is the writer LevelSwitch.filter returns.
type levelFilter struct {
	sw *LevelSwitch
	w  io.Writer
}

// lifecycleMark starts the message field of a daemon lifecycle message in
// a JSON event. A string value cannot contain it unescaped.
var lifecycleMark = []byte(`"` + zerolog.MessageFieldName + `":"SOX00`)

// Write writes an event of no level.
func (f levelFilter) Write(p []byte) (int, error) { return f.w.Write(p) }

// WriteLevel writes the event unless the switch filters it out.
func (f levelFilter) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	if level != zerolog.NoLevel && level < f.sw.Level() && !bytes.Contains(p, lifecycleMark) {
		return len(p), nil
	}
	return f.w.Write(p)
}

// parseLevel parses a level name with msg.ParseLevel, the one parser of
// log level names.
func parseLevel(name string) (zerolog.Level, error) {
	lv, err := msg.ParseLevel(name)
	if err != nil {
		return lv, fmt.Errorf("socksd: %w", err)
	}
	return lv, nil
}

// NewLogger builds the daemon's logger from the [log] settings. The
// returned LogFile is the log file, which Reopen opens again after a
// rotation and Close closes; without a file (stderr) both do nothing.
func NewLogger(cfg config.Log, stderr io.Writer) (zerolog.Logger, *LevelSwitch, *LogFile, error) {
	lv, err := parseLevel(cfg.Level)
	if err != nil {
		return zerolog.Nop(), nil, nil, err
	}
	var w io.Writer = stderr
	lf := &LogFile{}
	if cfg.File != "" {
		if lf, err = OpenLogFile(cfg.File); err != nil {
			return zerolog.Nop(), nil, nil, fmt.Errorf("socksd: log file: %w", err)
		}
		w = lf
	}
	if cfg.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: true}
	}
	sw := NewLevelSwitch(lv)
	log := zerolog.New(sw.filter(zerolog.SyncWriter(w))).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	return log, sw, lf, nil
}

// LogFile is a file opened for appending that can be opened again by its
// path, so that logrotate can move it away and have a new one made (the
// SIGHUP of its postrotate): each Write goes whole to one file, the old or
// the new, so no line is lost or split. Its methods may be called from
// several goroutines at once. The zero LogFile has no file: Write fails,
// Reopen and Close do nothing.
type LogFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// OpenLogFile opens path for appending, creating it with mode 0640.
func OpenLogFile(path string) (*LogFile, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &LogFile{path: path, f: f}, nil
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
}

// Path is the file's path; "" for the zero LogFile.
func (l *LogFile) Path() string {
	if l == nil {
		return ""
	}
	return l.path
}

// Write appends p to the file.
func (l *LogFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, os.ErrClosed
	}
	return l.f.Write(p)
}

// Reopen opens the path again and writes there from now on, then closes
// the file it wrote to before. If the path cannot be opened, the old file
// stays in use and the error is returned.
func (l *LogFile) Reopen() error {
	if l == nil || l.path == "" {
		return nil
	}
	f, err := openAppend(l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// Close closes the file.
func (l *LogFile) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// AuditWriter writes transfer audit records as JSON lines to the
// audit_file and, with OpenSyslog, as RFC 5424 messages to syslog. Without
// either it writes nothing: each transfer is already in the log once, as
// SOX0303I or SOX0308W.
type AuditWriter struct {
	file   *LogFile // nil without an audit_file
	syslog *syslog.Writer
	log    zerolog.Logger

	// The records for syslog wait in queue for the goroutine that sends
	// them, so that a slow receiver does not hold up the transfers.
	mu     sync.Mutex
	queue  chan syslog.Record // nil after Close
	sender chan struct{}      // closed when the sending goroutine ends
}

// syslogQueue is how many audit records may wait for a slow syslog
// receiver; the ones past that are dropped (SOX0824E).
const syslogQueue = 1024

// syslogDrain bounds how long Close waits for the records still queued.
const syslogDrain = 15 * time.Second

// NewAuditWriter opens path for appending; with "" it writes no file. log
// receives the writer's own failures.
func NewAuditWriter(path string, log zerolog.Logger) (*AuditWriter, error) {
	a := &AuditWriter{log: log}
	if path != "" {
		f, err := OpenLogFile(path)
		if err != nil {
			return nil, fmt.Errorf("socksd: audit file: %w", err)
		}
		a.file = f
	}
	return a, nil
}

// OpenSyslog makes a send each record to syslog as well, as the [log]
// keys audit_syslog, syslog_facility, syslog_app_name and syslog_sd_id
// say; with audit_syslog "" it does nothing. It does not connect yet: a
// receiver that cannot be reached shows at the first record (SOX0824E).
func (a *AuditWriter) OpenSyslog(cfg config.Log) error {
	if cfg.AuditSyslog == "" {
		return nil
	}
	addr, err := syslog.ParseAddress(cfg.AuditSyslog)
	if err != nil {
		return fmt.Errorf("socksd: audit syslog: %w", err)
	}
	fac, err := syslog.ParseFacility(cfg.SyslogFacility)
	if err != nil {
		return fmt.Errorf("socksd: audit syslog: %w", err)
	}
	a.syslog = syslog.New(syslog.Options{Address: addr, Facility: fac, AppName: cfg.SyslogAppName, SDID: cfg.SyslogSDID})
	a.queue, a.sender = make(chan syslog.Record, syslogQueue), make(chan struct{})
	go func(q <-chan syslog.Record) {
		defer close(a.sender)
		for r := range q {
			if err := a.syslog.Send(r); err != nil {
				msg.Log(&a.log, "SOX0824E", err).Err(err).Send()
			}
		}
	}(a.queue)
	return nil
}

// queueSyslog hands r to the sending goroutine, or drops it when the queue
// is full or the writer closed.
func (a *AuditWriter) queueSyslog(r syslog.Record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.queue == nil {
		return
	}
	select {
	case a.queue <- r:
	default:
		err := fmt.Errorf("socksd: %d records wait for the syslog receiver: dropped", syslogQueue)
		msg.Log(&a.log, "SOX0824E", err).Err(err).Send()
	}
}

// Write records one audit event: one JSON line in the audit file, and one
// syslog message whose structured-data element holds the same fields as
// the JSON record (taken from it, so the two never differ) and whose MSG is
// the JSON record itself.
func (a *AuditWriter) Write(rec any) {
	if a.file == nil && a.syslog == nil {
		return
	}
	b, err := json.Marshal(rec)
	if err != nil {
		msg.Log(&a.log, "SOX0017E", a.file.Path(), err).Str("audit_file", a.file.Path()).Err(err).Send()
		return
	}
	if a.file != nil {
		if _, err := a.file.Write(append(b, '\n')); err != nil {
			msg.Log(&a.log, "SOX0017E", a.file.Path(), err).Str("audit_file", a.file.Path()).Err(err).Send()
		}
	}
	if a.syslog != nil {
		r := auditSyslogRecord(rec, b)
		r.Time = time.Now()
		a.queueSyslog(r)
	}
}

// auditSyslogRecord turns an audit record and its JSON encoding into a
// syslog record: MSGID "transfer" for an FTP transfer ("audit" for
// another record), severity warning when the record has an error, else
// informational; a parameter per JSON field, strings as they are, numbers
// and booleans as JSON writes them, lists and objects as JSON text, null
// left out.
func auditSyslogRecord(rec any, b []byte) syslog.Record {
	r := syslog.Record{Severity: syslog.Info, MsgID: "audit", Msg: string(b), Params: map[string]string{}}
	if _, ok := rec.(ftp.Transfer); ok {
		r.MsgID = "transfer"
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(b, &fields) != nil {
		return r // not an object: the MSG carries it
	}
	for k, v := range fields {
		var s string
		switch {
		case string(v) == "null":
			continue
		case len(v) > 0 && v[0] == '"':
			if json.Unmarshal(v, &s) != nil {
				s = string(v)
			}
		default:
			s = string(v)
		}
		r.Params[k] = s
		if k == "error" && s != "" {
			r.Severity = syslog.Warning
		}
	}
	return r
}

// Reopen opens the audit file again by its path (after a rotation); the
// old one stays in use if that fails.
func (a *AuditWriter) Reopen() error {
	if a == nil || a.file == nil {
		return nil
	}
	return a.file.Reopen()
}

// Path is the audit file's path, "" without one.
func (a *AuditWriter) Path() string {
	if a == nil {
		return ""
	}
	return a.file.Path()
}

// Close closes the audit file and, after sending the records still
// queued (for syslogDrain at most), the syslog connection. A record
// written after Close fails on the file (SOX0017E) and is not sent to
// syslog.
func (a *AuditWriter) Close() error {
	a.mu.Lock()
	q := a.queue
	a.queue = nil
	a.mu.Unlock()
	if q != nil {
		close(q)
		t := time.NewTimer(syslogDrain)
		select {
		case <-a.sender:
		case <-t.C:
		}
		t.Stop()
		a.syslog.Close()
	}
	if a.file == nil {
		return nil
	}
	return a.file.Close()
}
