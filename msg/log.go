package msg

import "github.com/rs/zerolog"

// IDField is the log field that carries a message's ID, so that a JSON log
// can be searched by ID without parsing the text.
const IDField = "msg_id"

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
// It returns nil (which zerolog treats as a disabled event) when the level is
// off.
func Log(log *zerolog.Logger, id string, args ...any) *zerolog.Event {
	e := log.WithLevel(Level(id))
	if e == nil {
		return nil
	}
	return e.Str(IDField, id).Str(zerolog.MessageFieldName, Format(id, args...))
}
