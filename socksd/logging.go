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
// returned closer closes the log file, if any.
func NewLogger(cfg config.Log, stderr io.Writer) (zerolog.Logger, *LevelSwitch, io.Closer, error) {
	lv, err := parseLevel(cfg.Level)
	if err != nil {
		return zerolog.Nop(), nil, nil, err
	}
	var w io.Writer = stderr
	var closer io.Closer = io.NopCloser(nil)
	if cfg.File != "" {
		f, err := os.OpenFile(cfg.File, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return zerolog.Nop(), nil, nil, fmt.Errorf("socksd: log file: %w", err)
		}
		w, closer = f, f
	}
	if cfg.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: true}
	}
	sw := NewLevelSwitch(lv)
	log := zerolog.New(sw.filter(zerolog.SyncWriter(w))).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	return log, sw, closer, nil
}

// AuditWriter writes transfer audit records as JSON lines to the
// audit_file. Without one it writes nothing: each transfer is already in the
// log once, as SOX0303I or SOX0308W.
type AuditWriter struct {
	mu   sync.Mutex
	w    io.WriteCloser
	path string
	log  zerolog.Logger
}

// NewAuditWriter opens path for appending; with "" Write does nothing. log
// receives the writer's own failures.
func NewAuditWriter(path string, log zerolog.Logger) (*AuditWriter, error) {
	a := &AuditWriter{log: log, path: path}
	if path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return nil, fmt.Errorf("socksd: audit file: %w", err)
		}
		a.w = f
	}
	return a, nil
}

// Write records one audit event.
func (a *AuditWriter) Write(rec any) {
	if a.w == nil {
		return
	}
	b, err := json.Marshal(rec)
	if err != nil {
		msg.Log(&a.log, "SOX0017E", a.path, err).Str("audit_file", a.path).Err(err).Send()
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.w.Write(append(b, '\n')); err != nil {
		msg.Log(&a.log, "SOX0017E", a.path, err).Str("audit_file", a.path).Err(err).Send()
	}
}

// Close closes the audit file.
func (a *AuditWriter) Close() error {
	if a.w == nil {
		return nil
	}
	return a.w.Close()
}
