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
)

// LevelSwitch is a log level that can change while the daemon runs
// (LOGLEVEL=...). It filters events in the writer, where the event's text
// is already written out, whether it came from Msg or from msg.Log.
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

// lifecycle marks a daemon lifecycle message (SOX00xx: start, ready,
// reload, quiesce, stop) in a JSON event; these always pass, so that an
// operator sees them at any level.
var lifecycle = []byte(`"` + zerolog.MessageFieldName + `":"SOX00`)

// passes reports whether an event at level, serialised as p, is written.
func (l *LevelSwitch) passes(level zerolog.Level, p []byte) bool {
	return level >= l.Level() || level == zerolog.NoLevel || bytes.Contains(p, lifecycle)
}

// filter is the zerolog.LevelWriter that drops the events LevelSwitch
// filters out before they reach out.
type filter struct {
	sw  *LevelSwitch
	out io.Writer
}

func (f filter) Write(p []byte) (int, error) { return f.out.Write(p) }

func (f filter) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	if !f.sw.passes(level, p) {
		return len(p), nil
	}
	return f.out.Write(p)
}

func parseLevel(name string) (zerolog.Level, error) {
	switch name {
	case "debug", "DEBUG":
		return zerolog.DebugLevel, nil
	case "info", "INFO":
		return zerolog.InfoLevel, nil
	case "warn", "WARN":
		return zerolog.WarnLevel, nil
	case "error", "ERROR":
		return zerolog.ErrorLevel, nil
	}
	return zerolog.NoLevel, fmt.Errorf("socksd: unknown log level %q (want debug, info, warn or error)", name)
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
	log := zerolog.New(filter{sw: sw, out: zerolog.SyncWriter(w)}).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	return log, sw, closer, nil
}

// AuditWriter writes transfer audit records as JSON lines to the
// audit_file. Without one it writes nothing: each transfer is already in the
// log once, as SOX0303I or SOX0308W.
type AuditWriter struct {
	mu  sync.Mutex
	w   io.WriteCloser
	log zerolog.Logger
}

// NewAuditWriter opens path for appending; with "" Write does nothing. log
// receives the writer's own failures.
func NewAuditWriter(path string, log zerolog.Logger) (*AuditWriter, error) {
	a := &AuditWriter{log: log}
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
		a.log.Error().Err(err).Msg("socksd: audit record")
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.w.Write(append(b, '\n')); err != nil {
		a.log.Error().Err(err).Msg("socksd: audit file")
	}
}

// Close closes the audit file.
func (a *AuditWriter) Close() error {
	if a.w == nil {
		return nil
	}
	return a.w.Close()
}
