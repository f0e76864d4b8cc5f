package msg

import "github.com/rs/zerolog"

// Level returns the log level that a message ID's severity letter names:
// I at info, W at warn, E and A (action needed) at error.
func Level(id string) zerolog.Level {
	switch id[len(id)-1] {
	case 'W':
		return zerolog.WarnLevel
	case 'E', 'A':
		return zerolog.ErrorLevel
	default:
		return zerolog.InfoLevel
	}
}

// Log starts the log event of message id, formatted with args, at the level
// of its severity letter. The caller adds fields and ends it with Send:
//
//	msg.Log(log, "SOX0103W", client).Str("client", client.String()).Send()
//
// The text, ID first, becomes the event's message. It returns nil (which zerolog treats as a disabled event) when the level is
// off.
func Log(log *zerolog.Logger, id string, args ...any) *zerolog.Event {
	e := log.WithLevel(Level(id))
	if e == nil {
		return nil
	}
	return e.Str(zerolog.MessageFieldName, Format(id, args...))
}
