package console

import (
	"fmt"
	"strings"

	"socksd/msg"
)

// SyntaxError reports a command that Parse cannot accept. It names the
// valid forms of the verb, or of every verb when the verb is unknown.
type SyntaxError struct {
	// Text is the command as given (shortened when very long, and
	// sanitised so that it prints safely).
	Text string
	// Verb is the canonical verb when it was recognised, else "".
	Verb string
	// Reason says what is wrong.
	Reason string
	// Forms are the valid forms, one per element.
	Forms []string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("console: %s in %q; valid forms: %s", e.Reason, e.Text, strings.Join(e.Forms, "; "))
}

func syntaxErr(text, verb, format string, args ...any) *SyntaxError {
	return &SyntaxError{
		Text:   sanitize(text),
		Verb:   verb,
		Reason: fmt.Sprintf(format, args...),
		Forms:  validForms(verb),
	}
}

// sanitize makes text from outside safe for a reply line (msg.Clean): it
// cannot forge lines or terminal sequences.
func sanitize(s string) string { return msg.Clean(s, 0) }
