package ftp

import (
	"errors"
	"fmt"
	"strings"
)

// maxVerb is the longest command verb accepted. RFC 959 verbs have three or
// four letters; a little room is left for extensions.
const maxVerb = 8

// ErrBadCommand reports a control line that is not an FTP command.
var ErrBadCommand = errors.New("ftp: bad command")

// CommandError describes why ParseCommand rejected a line. It matches
// ErrBadCommand with errors.Is.
type CommandError struct {
	Reason string
}

func (e *CommandError) Error() string { return "ftp: bad command: " + e.Reason }

// Is makes errors.Is(err, ErrBadCommand) true.
func (e *CommandError) Is(target error) bool { return target == ErrBadCommand }

// Command is one parsed FTP command line.
type Command struct {
	Verb string // upper-case verb, e.g. "RETR"; "SITE" for "QUOTE SITE ..."
	Args string // everything after the verb and its separating blanks
	// Quoted is the client-side prefix that was stripped ("QUOTE" or
	// "LITERAL"), empty for a plain command.
	Quoted string
}

// ParseCommand parses a control line (without its line end) as sent by a
// job. The verb is made upper case; the arguments are kept as sent, less the
// blanks that separate them from the verb. z/OS client subcommand prefixes
// "QUOTE" and "LITERAL" are removed and the quoted command parsed instead.
func ParseCommand(line string) (Command, error) {
	var c Command
	rest := strings.TrimLeft(line, " ")
	for i := 0; i < 2; i++ {
		verb, args, _ := strings.Cut(rest, " ")
		if verb == "" {
			return Command{}, &CommandError{Reason: "empty line"}
		}
		if len(verb) > maxVerb {
			return Command{}, &CommandError{Reason: fmt.Sprintf("verb longer than %d characters", maxVerb)}
		}
		for j := 0; j < len(verb); j++ {
			ch := verb[j]
			if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z') {
				return Command{}, &CommandError{Reason: fmt.Sprintf("verb contains %q", ch)}
			}
		}
		c.Verb = strings.ToUpper(verb)
		c.Args = strings.TrimLeft(args, " ")
		if i == 0 && (c.Verb == "QUOTE" || c.Verb == "LITERAL") && c.Args != "" {
			c.Quoted = c.Verb
			rest = c.Args
			continue
		}
		break
	}
	return c, nil
}

// String formats the command as it goes on the wire (without the line end
// and without a QUOTE prefix). A PASS argument is replaced by "****".
func (c Command) String() string {
	args := c.Args
	if c.Verb == "PASS" || c.Verb == "ACCT" {
		args = "****"
	}
	if args == "" {
		return c.Verb
	}
	return c.Verb + " " + args
}

// Wire returns the command line to send to a server: the verb and the
// arguments as they were sent, without any QUOTE prefix.
func (c Command) Wire() string {
	if c.Args == "" {
		return c.Verb
	}
	return c.Verb + " " + c.Args
}

// Normalized returns the command for policy matching: the verb, then the
// arguments upper-cased with runs of blanks collapsed to one. PASS and ACCT
// arguments are left out.
func (c Command) Normalized() string {
	if c.Verb == "PASS" || c.Verb == "ACCT" {
		return c.Verb
	}
	f := strings.Fields(strings.ToUpper(c.Args))
	if len(f) == 0 {
		return c.Verb
	}
	return c.Verb + " " + strings.Join(f, " ")
}

// IsTransfer reports whether the command moves data over a data connection
// and gets an audit record: RETR, STOR, STOU, APPE, LIST, NLST (and MLSD).
func (c Command) IsTransfer() bool {
	switch c.Verb {
	case "RETR", "STOR", "STOU", "APPE", "LIST", "NLST", "MLSD":
		return true
	}
	return false
}

// Path returns the path or data set name a command names, as the job wrote
// it: a quoted z/OS data set name such as 'HLQ.DATA(MEMBER)' keeps its
// quotes (they mean "fully qualified"). It is empty for commands without one.
func (c Command) Path() string {
	switch c.Verb {
	case "RETR", "STOR", "STOU", "APPE", "LIST", "NLST", "MLSD", "MLST",
		"DELE", "RNFR", "RNTO", "CWD", "XCWD", "MKD", "XMKD", "RMD", "XRMD", "SIZE", "MDTM", "STAT":
		args := c.Args
		if c.Verb == "LIST" || c.Verb == "NLST" {
			// Skip ls-style options such as "-la" that some clients send.
			for strings.HasPrefix(args, "-") {
				_, rest, _ := strings.Cut(args, " ")
				args = strings.TrimLeft(rest, " ")
			}
		}
		return args
	}
	return ""
}

// DatasetName splits a z/OS data set reference such as 'HLQ.DATA(MEMBER)'
// into the data set name and member. quoted reports the surrounding single
// quotes (a fully qualified name). A name without a member has member "".
func DatasetName(s string) (name, member string, quoted bool, err error) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		quoted = true
		s = s[1 : len(s)-1]
	}
	if strings.ContainsRune(s, '\'') {
		return "", "", false, fmt.Errorf("ftp: data set name %q: unbalanced quote", s)
	}
	name = s
	if i := strings.IndexByte(s, '('); i >= 0 {
		if !strings.HasSuffix(s, ")") || i == 0 {
			return "", "", false, fmt.Errorf("ftp: data set name %q: bad member", s)
		}
		name, member = s[:i], s[i+1:len(s)-1]
		if member == "" || strings.ContainsAny(member, "()") {
			return "", "", false, fmt.Errorf("ftp: data set name %q: bad member", s)
		}
	}
	if name == "" {
		return "", "", false, fmt.Errorf("ftp: data set name %q: empty", s)
	}
	return name, member, quoted, nil
}

// SiteParam is one parameter of a SITE command, e.g. RECFM=FB or TRAILING.
type SiteParam struct {
	Key   string // upper case
	Value string // as sent; "" for a flag without "="
	Flag  bool   // true when the parameter had no "="
}

// ParseSite splits the arguments of a SITE command ("RECFM=FB LRECL=80
// BLKSIZE=27920 FILETYPE=JES") into parameters. Keys are made upper case;
// values keep their case. A value in single quotes may contain blanks.
func ParseSite(args string) ([]SiteParam, error) {
	var out []SiteParam
	s := strings.TrimSpace(args)
	for n := 0; s != "" && n < 256; n++ {
		end := 0
		inQuote := false
		for end < len(s) && (inQuote || s[end] != ' ') {
			if s[end] == '\'' {
				inQuote = !inQuote
			}
			end++
		}
		if inQuote {
			return nil, fmt.Errorf("ftp: SITE parameter %q: unbalanced quote", s)
		}
		tok := s[:end]
		s = strings.TrimLeft(s[end:], " ")
		k, v, hasEq := strings.Cut(tok, "=")
		if k == "" || strings.ContainsAny(k, "' ") {
			return nil, fmt.Errorf("ftp: SITE parameter %q: bad key", tok)
		}
		out = append(out, SiteParam{Key: strings.ToUpper(k), Value: v, Flag: !hasEq})
	}
	if s != "" {
		return nil, errors.New("ftp: SITE command has too many parameters")
	}
	return out, nil
}

// TransferType is the representation type set with TYPE.
type TransferType struct {
	Code   byte // 'A' ASCII, 'E' EBCDIC, 'I' image, 'L' local byte size
	Format byte // 'N', 'T' or 'C' for A and E; 0 when not given
	Size   int  // byte size for L
}

// String formats the type as a TYPE argument.
func (t TransferType) String() string {
	switch {
	case t.Code == 'L':
		return fmt.Sprintf("L %d", t.Size)
	case t.Format != 0:
		return string([]byte{t.Code, ' ', t.Format})
	}
	return string(t.Code)
}

// ParseType parses the argument of TYPE: "A", "A N", "E", "I", "L 8"
// (RFC 959 §4.1.2), case-insensitively.
func ParseType(args string) (TransferType, error) {
	f := strings.Fields(strings.ToUpper(args))
	if len(f) == 0 || len(f[0]) != 1 || len(f) > 2 {
		return TransferType{}, fmt.Errorf("ftp: TYPE %q: want A, E, I or L n", args)
	}
	t := TransferType{Code: f[0][0]}
	switch t.Code {
	case 'A', 'E':
		if len(f) == 2 {
			if len(f[1]) != 1 || !strings.Contains("NTC", f[1]) {
				return TransferType{}, fmt.Errorf("ftp: TYPE %q: format must be N, T or C", args)
			}
			t.Format = f[1][0]
		}
	case 'I':
		if len(f) != 1 {
			return TransferType{}, fmt.Errorf("ftp: TYPE %q: I takes no format", args)
		}
	case 'L':
		if len(f) != 2 {
			return TransferType{}, fmt.Errorf("ftp: TYPE %q: L needs a byte size", args)
		}
		n := 0
		for _, ch := range f[1] {
			if ch < '0' || ch > '9' || n > 255 {
				return TransferType{}, fmt.Errorf("ftp: TYPE %q: bad byte size", args)
			}
			n = n*10 + int(ch-'0')
		}
		if n == 0 || n > 255 {
			return TransferType{}, fmt.Errorf("ftp: TYPE %q: bad byte size", args)
		}
		t.Size = n
	default:
		return TransferType{}, fmt.Errorf("ftp: TYPE %q: want A, E, I or L n", args)
	}
	return t, nil
}

// ParseStru parses the argument of STRU: F (file), R (record) or P (page).
func ParseStru(args string) (byte, error) {
	a := strings.ToUpper(strings.TrimSpace(args))
	if len(a) == 1 && strings.Contains("FRP", a) {
		return a[0], nil
	}
	return 0, fmt.Errorf("ftp: STRU %q: want F, R or P", args)
}

// ParseMode parses the argument of MODE: S (stream), B (block) or
// C (compressed).
func ParseMode(args string) (byte, error) {
	a := strings.ToUpper(strings.TrimSpace(args))
	if len(a) == 1 && strings.Contains("SBC", a) {
		return a[0], nil
	}
	return 0, fmt.Errorf("ftp: MODE %q: want S, B or C", args)
}
