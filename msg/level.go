package msg

import (
	"fmt"
	"strings"

	"github.com/rs/zerolog"
)

// LevelNames are the log level names, lowest first, as the configuration
// ([log] level) and the LOGLEVEL command take them.
var LevelNames = []string{"debug", "info", "warn", "error"}

// levels maps each accepted spelling, in lower case, to its level.
var levels = map[string]zerolog.Level{
	"debug": zerolog.DebugLevel,
	"info":  zerolog.InfoLevel,
	"warn":  zerolog.WarnLevel, "warning": zerolog.WarnLevel,
	"error": zerolog.ErrorLevel,
}

// LevelError reports a name that is not a log level.
type LevelError struct{ Name string }

// Reason says what is wrong and what is accepted, without a package
// prefix, for callers that name the setting themselves.
func (e *LevelError) Reason() string {
	last := len(LevelNames) - 1
	return fmt.Sprintf("unknown log level %q (want %s or %s)", e.Name, strings.Join(LevelNames[:last], ", "), LevelNames[last])
}

func (e *LevelError) Error() string { return "msg: " + e.Reason() }

// ParseLevel parses a log level name, in any case: debug, info, warn (or
// warning) or error. It is the one parser of log levels: the configuration,
// the daemon's level switch and the LOGLEVEL command use it. The error is a
// *LevelError.
func ParseLevel(name string) (zerolog.Level, error) {
	if lv, ok := levels[strings.ToLower(name)]; ok {
		return lv, nil
	}
	return zerolog.NoLevel, &LevelError{Name: name}
}
