package console

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
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

// sanitize replaces control characters and invalid UTF-8 with '?', so
// that text from outside cannot forge lines or terminal sequences in a
// reply.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}
