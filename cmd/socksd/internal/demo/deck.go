package demo

import (
	"errors"
	"fmt"
	"strings"
)

// Deck is a z/OS FTP client INPUT deck: the user and password the client
// reads first (when no NETRC supplies them), then its subcommands.
type Deck struct {
	User     string
	Password string
	Steps    []Step
}

// Step is one subcommand of a deck.
type Step struct {
	Line    int      // 1-based line in the deck
	Verb    string   // canonical subcommand: site, quote, put, get, dir, ls, binary, ascii, cd, quit
	Args    []string // operands; a quoted data set name keeps its quotes
	Replace bool     // the (REPLACE option of get
}

// String shows the step as a z/OS FTP client would echo it.
func (s Step) String() string {
	out := strings.Join(append([]string{s.Verb}, s.Args...), " ")
	if s.Replace {
		out += " (replace"
	}
	return out
}

// DeckError is a deck line the interpreter cannot run.
type DeckError struct {
	Line int    // 1-based
	Text string // the line, or "" when the deck ended early
	Msg  string
}

// Error implements error. It never shows the password line.
func (e *DeckError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("demo: deck line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("demo: deck line %d %q: %s", e.Line, e.Text, e.Msg)
}

// Limits of ParseDeck.
const (
	maxDeckLines = 10000
	maxDeckLine  = 1024
)

// verbs maps each accepted subcommand (and its z/OS abbreviations) to its
// canonical name and the number of operands it takes.
var verbs = map[string]struct {
	name     string
	min, max int
}{
	"site":   {"site", 1, -1},
	"quote":  {"quote", 1, -1},
	"put":    {"put", 1, 2},
	"get":    {"get", 1, 2},
	"dir":    {"dir", 0, 1},
	"ls":     {"ls", 0, 1},
	"binary": {"binary", 0, 0},
	"bin":    {"binary", 0, 0},
	"image":  {"binary", 0, 0},
	"ascii":  {"ascii", 0, 0},
	"cd":     {"cd", 1, 1},
	"quit":   {"quit", 0, 0},
	"bye":    {"quit", 0, 0},
	"end":    {"quit", 0, 0},
	"exit":   {"quit", 0, 0},
}

// ParseDeck reads an INPUT deck as returned by jcl.ExtractInstream: the
// first non-blank line is the user, the next line the password, then one
// subcommand a line. Blank lines between subcommands are skipped. Verbs are
// case-insensitive; operands keep their case, and a quoted operand
// ('SOCKSD.FTP.OUTBOUND') is one operand with its quotes. The (REPLACE
// option of get is recognized; other options are errors.
func ParseDeck(lines []string) (*Deck, error) {
	if len(lines) > maxDeckLines {
		return nil, fmt.Errorf("demo: deck has %d lines, more than %d", len(lines), maxDeckLines)
	}
	d := &Deck{}
	i := 0
	for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
		i++
	}
	if i >= len(lines) {
		return nil, &DeckError{Line: i + 1, Msg: "no user line"}
	}
	d.User = strings.TrimSpace(lines[i])
	if len(d.User) > maxDeckLine || strings.ContainsAny(d.User, " \t\r\n") {
		return nil, &DeckError{Line: i + 1, Text: d.User, Msg: "the user line must be one word"}
	}
	i++
	if i >= len(lines) {
		return nil, &DeckError{Line: i + 1, Msg: "no password line"}
	}
	d.Password = strings.TrimSpace(lines[i])
	if len(d.Password) > maxDeckLine || strings.ContainsAny(d.Password, "\r\n") {
		return nil, &DeckError{Line: i + 1, Msg: "the password line is not a password"}
	}
	i++
	for ; i < len(lines); i++ {
		text := strings.TrimSpace(lines[i])
		if text == "" {
			continue
		}
		st, err := parseStep(text)
		if err != nil {
			return nil, &DeckError{Line: i + 1, Text: clip(text), Msg: err.Error()}
		}
		st.Line = i + 1
		d.Steps = append(d.Steps, st)
	}
	return d, nil
}

// clip shortens a line for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func parseStep(text string) (Step, error) {
	if len(text) > maxDeckLine {
		return Step{}, fmt.Errorf("longer than %d characters", maxDeckLine)
	}
	if strings.ContainsAny(text, "\r\n\x00") {
		return Step{}, errors.New("control characters in the line")
	}
	words, err := splitOperands(text)
	if err != nil {
		return Step{}, err
	}
	v, ok := verbs[strings.ToLower(words[0])]
	if !ok {
		return Step{}, fmt.Errorf("subcommand %q is not supported by the demo", words[0])
	}
	st := Step{Verb: v.name}
	if v.name == "site" || v.name == "quote" {
		// The rest of the line goes to the server as it is.
		st.Args = []string{strings.TrimSpace(text[len(words[0]):])}
		return st, nil
	}
	for _, w := range words[1:] {
		if strings.HasPrefix(w, "(") {
			if v.name == "get" && strings.EqualFold(w, "(replace") {
				st.Replace = true
				continue
			}
			return Step{}, fmt.Errorf("option %q is not supported", w)
		}
		st.Args = append(st.Args, w)
	}
	if len(st.Args) < v.min || (v.max >= 0 && len(st.Args) > v.max) {
		return Step{}, fmt.Errorf("%s takes %d to %d operands, got %d", v.name, v.min, v.max, len(st.Args))
	}
	return st, nil
}

// splitOperands splits a subcommand line at blanks, keeping a quoted
// operand ('A.B C') whole with its quotes.
func splitOperands(text string) ([]string, error) {
	var out []string
	for i := 0; i < len(text); {
		switch {
		case text[i] == ' ' || text[i] == '\t':
			i++
		case text[i] == '\'':
			end := strings.IndexByte(text[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unbalanced quote")
			}
			out = append(out, text[i:i+end+2])
			i += end + 2
		default:
			j := i
			for j < len(text) && text[j] != ' ' && text[j] != '\t' {
				j++
			}
			out = append(out, text[i:j])
			i = j
		}
	}
	if len(out) == 0 {
		return nil, errors.New("empty line")
	}
	return out, nil
}

// DatasetName resolves a local file operand as the z/OS FTP client does:
// a quoted name is fully qualified; an unquoted one gets the user's
// prefix. Names are upper-cased. It returns an error for a name that is not
// a valid data set name.
func DatasetName(operand, prefix string) (string, error) {
	name := operand
	if strings.HasPrefix(name, "'") {
		if len(name) < 2 || !strings.HasSuffix(name, "'") {
			return "", fmt.Errorf("demo: data set name %q: unbalanced quote", operand)
		}
		name = name[1 : len(name)-1]
	} else if prefix != "" {
		name = prefix + "." + name
	}
	name = strings.ToUpper(name)
	if len(name) == 0 || len(name) > 44 {
		return "", fmt.Errorf("demo: data set name %q: 1 to 44 characters", operand)
	}
	for _, q := range strings.Split(name, ".") {
		if !validQualifier(q) {
			return "", fmt.Errorf("demo: data set name %q: bad qualifier %q", operand, q)
		}
	}
	return name, nil
}

// validQualifier: 1 to 8 characters, a letter or national (#@$) first,
// then letters, digits, nationals or hyphens.
func validQualifier(q string) bool {
	if len(q) == 0 || len(q) > 8 {
		return false
	}
	for i := 0; i < len(q); i++ {
		c := q[i]
		alpha := c >= 'A' && c <= 'Z' || c == '#' || c == '@' || c == '$'
		if i == 0 && !alpha {
			return false
		}
		if !alpha && !(c >= '0' && c <= '9') && c != '-' {
			return false
		}
	}
	return true
}

// RemoteName is the server file name of a put or get: the named operand,
// or, when there is none, the last qualifier of the data set name in lower
// case (put 'A.B.OUTBOUND' stores outbound).
func RemoteName(dataset string) string {
	i := strings.LastIndexByte(dataset, '.')
	return strings.ToLower(dataset[i+1:])
}
