package console

import (
	"fmt"
	"strconv"
	"strings"

	"socksd/msg"
)

// MaxCommandLen is the longest command text Parse accepts, in bytes.
const MaxCommandLen = 512

// maxTunnelIDLen bounds the tunnel id in DROP TUNNEL=id.
const maxTunnelIDLen = 128

// Canonical verbs.
const (
	VerbDisplay  = "DISPLAY"
	VerbReload   = "RELOAD"
	VerbLogLevel = "LOGLEVEL"
	VerbTrace    = "TRACE"
	VerbCancel   = "CANCEL"
	VerbDrop     = "DROP"
	VerbQuiesce  = "QUIESCE"
	VerbResume   = "RESUME"
	VerbStop     = "STOP"
	VerbHelp     = "HELP"
)

// Canonical objects of DISPLAY, TRACE and STOP.
const (
	ObjSessions  = "SESSIONS"
	ObjSession   = "SESSION"
	ObjTunnels   = "TUNNELS"
	ObjForwards  = "FORWARDS"
	ObjRules     = "RULES"
	ObjStats     = "STATS"
	ObjConfig    = "CONFIG"
	ObjVersion   = "VERSION"
	ObjListeners = "LISTENERS"
	ObjOn        = "ON"
	ObjOff       = "OFF"
	ObjImmediate = "IMMEDIATE"
)

// Canonical keys of Command.Args.
const (
	ArgSession = "SESSION"
	ArgTunnel  = "TUNNEL"
	ArgLevel   = "LEVEL"
)

// Command is a parsed operator command.
type Command struct {
	// Verb is the canonical verb, one of the Verb constants.
	Verb string
	// Object is the canonical object: what DISPLAY shows (ObjSessions,
	// ObjSession, ...), ObjOn or ObjOff for TRACE, ObjImmediate or "" for
	// STOP, "" otherwise.
	Object string
	// Args holds the keyword operands under their canonical keys:
	// ArgSession (a decimal session id), ArgTunnel (a tunnel id as given)
	// and ArgLevel (DEBUG, INFO, WARN or ERROR). Nil when there are none.
	Args map[string]string
}

// Session returns the session id named by SESSION=n, or 0 when the command
// names none (for TRACE that means all sessions).
func (c Command) Session() uint64 {
	n, err := strconv.ParseUint(c.Args[ArgSession], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// String returns the command in its canonical, unabbreviated form; Parse
// of that text gives the same Command.
func (c Command) String() string {
	var b strings.Builder
	b.WriteString(c.Verb)
	switch c.Verb {
	case VerbLogLevel:
		b.WriteString("=" + c.Args[ArgLevel])
		return b.String()
	case VerbDisplay:
		if c.Object == ObjSession {
			b.WriteString(" SESSION=" + c.Args[ArgSession])
			return b.String()
		}
	}
	if c.Object != "" {
		b.WriteString(" " + c.Object)
	}
	if s, ok := c.Args[ArgSession]; ok && c.Verb != VerbDisplay {
		b.WriteString(" SESSION=" + s)
	}
	if t, ok := c.Args[ArgTunnel]; ok {
		b.WriteString(" TUNNEL=" + t)
	}
	return b.String()
}

// verbs maps every accepted spelling of a verb to its canonical form.
// C is CANCEL (there is no other C verb); P is STOP, as on z/OS.
var verbs = map[string]string{
	"DISPLAY": VerbDisplay, "DISP": VerbDisplay, "DIS": VerbDisplay, "D": VerbDisplay,
	"RELOAD": VerbReload, "REL": VerbReload,
	"LOGLEVEL": VerbLogLevel, "LOGL": VerbLogLevel, "LL": VerbLogLevel,
	"TRACE": VerbTrace, "TR": VerbTrace,
	"CANCEL": VerbCancel, "CAN": VerbCancel, "C": VerbCancel,
	"DROP": VerbDrop, "DR": VerbDrop,
	"QUIESCE": VerbQuiesce, "QUI": VerbQuiesce, "Q": VerbQuiesce,
	"RESUME": VerbResume, "RES": VerbResume,
	"STOP": VerbStop, "P": VerbStop,
	"HELP": VerbHelp, "H": VerbHelp, "?": VerbHelp,
}

// displayObjects maps the spellings of DISPLAY's plain objects.
var displayObjects = map[string]string{
	"SESSIONS": ObjSessions, "SESS": ObjSessions, "S": ObjSessions,
	"TUNNELS": ObjTunnels, "TUN": ObjTunnels, "T": ObjTunnels,
	"FORWARDS": ObjForwards, "FWD": ObjForwards, "FW": ObjForwards,
	"RULES": ObjRules, "R": ObjRules,
	"STATS": ObjStats, "STAT": ObjStats, "ST": ObjStats,
	"CONFIG": ObjConfig, "CONF": ObjConfig, "CFG": ObjConfig,
	"VERSION": ObjVersion, "VER": ObjVersion, "V": ObjVersion,
	"LISTENERS": ObjListeners, "LIST": ObjListeners, "L": ObjListeners,
}

// keys maps the spellings of keyword operands (KEY=value).
var keys = map[string]string{
	"SESSION": ArgSession, "SESS": ArgSession, "S": ArgSession,
	"TUNNEL": ArgTunnel, "TUN": ArgTunnel, "T": ArgTunnel,
}

// forms lists the valid forms of each verb, for HELP and syntax errors.
var forms = []struct {
	verb, form, text string
}{
	{VerbDisplay, "DISPLAY|D SESSIONS|S", "running sessions"},
	{VerbDisplay, "DISPLAY|D SESSION=n", "one session in detail"},
	{VerbDisplay, "DISPLAY|D TUNNELS|T", "open SSH connections"},
	{VerbDisplay, "DISPLAY|D FORWARDS|FWD", "fixed local tunnels"},
	{VerbDisplay, "DISPLAY|D RULES|R", "rules and hit counts"},
	{VerbDisplay, "DISPLAY|D STATS|ST", "counters"},
	{VerbDisplay, "DISPLAY|D CONFIG|CFG", "configuration summary"},
	{VerbDisplay, "DISPLAY|D VERSION|V", "version"},
	{VerbDisplay, "DISPLAY|D LISTENERS|L", "listening addresses (SOCKS, redirect, rewrite, forward)"},
	{VerbReload, "RELOAD|REL", "read the configuration again"},
	{VerbLogLevel, "LOGLEVEL|LL=DEBUG|INFO|WARN|ERROR", "set the log level"},
	{VerbTrace, "TRACE|TR ON|OFF [SESSION=n]", "trace one session, or all"},
	{VerbCancel, "CANCEL|C SESSION=n", "end a session"},
	{VerbDrop, "DROP TUNNEL=id", "close an SSH connection"},
	{VerbQuiesce, "QUIESCE|Q", "refuse new sessions"},
	{VerbResume, "RESUME|RES", "accept new sessions again"},
	{VerbStop, "STOP|P [IMMEDIATE]", "drain and end, or end now"},
	{VerbHelp, "HELP|H", "this list"},
}

// validForms returns the forms of verb, or of every verb when verb is "".
func validForms(verb string) []string {
	var out []string
	for _, f := range forms {
		if verb == "" || f.verb == verb {
			out = append(out, f.form)
		}
	}
	return out
}

// helpLines returns every form with its explanation, aligned.
func helpLines() []string {
	w := 0
	for _, f := range forms {
		w = max(w, len(f.form))
	}
	out := make([]string, len(forms))
	for i, f := range forms {
		out[i] = fmt.Sprintf("%-*s  %s", w, f.form, f.text)
	}
	return out
}

// Parse parses one operator command. Case does not matter; operands are
// separated by blanks or commas; a leading "APPL=" (the z/OS MODIFY form)
// is ignored. A malformed command gives a *SyntaxError.
func Parse(text string) (Command, error) {
	if len(text) > MaxCommandLen {
		return Command{}, syntaxErr(shorten(text), "", "command longer than %d bytes", MaxCommandLen)
	}
	for i := 0; i < len(text); i++ {
		if c := text[i]; (c < 0x20 && c != '\t') || c > 0x7e {
			return Command{}, syntaxErr(shorten(text), "", "command contains a character that is not printable ASCII")
		}
	}
	toks := tokenize(text)
	if len(toks) > 0 && strings.EqualFold(toks[0].key, "APPL") && toks[0].hasValue {
		// "APPL=D SESSIONS": the value is the verb.
		toks[0] = splitToken(toks[0].value)
	}
	if len(toks) == 0 || (toks[0].key == "" && !toks[0].hasValue) {
		return Command{}, syntaxErr(text, "", "empty command")
	}
	verbTok, ops := toks[0], toks[1:]
	verb, ok := verbs[strings.ToUpper(verbTok.key)]
	if !ok {
		return Command{}, syntaxErr(text, "", "unknown command")
	}
	cmd := Command{Verb: verb}
	if verbTok.hasValue && verb != VerbLogLevel {
		return Command{}, syntaxErr(text, verb, "%s takes no value", verb)
	}
	p := &parser{text: text, cmd: &cmd}
	var err error
	switch verb {
	case VerbDisplay:
		err = p.display(ops)
	case VerbLogLevel:
		err = p.logLevel(verbTok, ops)
	case VerbTrace:
		err = p.trace(ops)
	case VerbCancel:
		err = p.needKey(ops, ArgSession)
	case VerbDrop:
		err = p.needKey(ops, ArgTunnel)
	case VerbStop:
		err = p.stop(ops)
	default: // RELOAD, QUIESCE, RESUME, HELP take no operands.
		if len(ops) > 0 {
			err = p.fail("%s takes no operands", verb)
		}
	}
	if err != nil {
		return Command{}, err
	}
	return cmd, nil
}

// parser holds the state of one Parse call.
type parser struct {
	text string
	cmd  *Command
}

func (p *parser) fail(format string, args ...any) error {
	return syntaxErr(p.text, p.cmd.Verb, format, args...)
}

func (p *parser) display(ops []token) error {
	if len(ops) != 1 {
		return p.fail("DISPLAY takes exactly one operand")
	}
	op := ops[0]
	if op.hasValue {
		if keys[strings.ToUpper(op.key)] != ArgSession {
			return p.fail("unknown DISPLAY operand %s=", op.key)
		}
		p.cmd.Object = ObjSession
		return p.setArg(ArgSession, op.value)
	}
	obj, ok := displayObjects[strings.ToUpper(op.key)]
	if !ok {
		return p.fail("unknown DISPLAY operand %q", op.key)
	}
	p.cmd.Object = obj
	return nil
}

func (p *parser) logLevel(verbTok token, ops []token) error {
	value := verbTok.value
	switch {
	case verbTok.hasValue && len(ops) == 0:
	case !verbTok.hasValue && len(ops) == 1 && !ops[0].hasValue:
		value = ops[0].key // LOGLEVEL DEBUG
	default:
		return p.fail("LOGLEVEL takes one level")
	}
	level, err := msg.ParseLevel(value)
	if err != nil {
		return p.fail("unknown log level %q", value)
	}
	p.cmd.Args = map[string]string{ArgLevel: strings.ToUpper(level.String())}
	return nil
}

func (p *parser) trace(ops []token) error {
	for _, op := range ops {
		if op.hasValue {
			if keys[strings.ToUpper(op.key)] != ArgSession {
				return p.fail("unknown TRACE operand %s=", op.key)
			}
			if err := p.setArg(ArgSession, op.value); err != nil {
				return err
			}
			continue
		}
		switch w := strings.ToUpper(op.key); w {
		case ObjOn, ObjOff:
			if p.cmd.Object != "" {
				return p.fail("ON or OFF given twice")
			}
			p.cmd.Object = w
		default:
			return p.fail("unknown TRACE operand %q", op.key)
		}
	}
	if p.cmd.Object == "" {
		return p.fail("TRACE needs ON or OFF")
	}
	return nil
}

func (p *parser) stop(ops []token) error {
	if len(ops) == 0 {
		return nil
	}
	if len(ops) > 1 || ops[0].hasValue {
		return p.fail("STOP takes at most IMMEDIATE")
	}
	switch strings.ToUpper(ops[0].key) {
	case "IMMEDIATE", "IMMED", "IMM", "NOW":
		p.cmd.Object = ObjImmediate
		return nil
	}
	return p.fail("unknown STOP operand %q", ops[0].key)
}

// needKey accepts exactly one KEY=value operand whose key is want.
func (p *parser) needKey(ops []token, want string) error {
	if len(ops) != 1 || !ops[0].hasValue || keys[strings.ToUpper(ops[0].key)] != want {
		return p.fail("%s needs %s=", p.cmd.Verb, want)
	}
	return p.setArg(want, ops[0].value)
}

// setArg validates and stores a keyword value.
func (p *parser) setArg(key, value string) error {
	if _, dup := p.cmd.Args[key]; dup {
		return p.fail("%s= given twice", key)
	}
	switch key {
	case ArgSession:
		n, err := strconv.ParseUint(value, 10, 64)
		if err != nil || n == 0 {
			return p.fail("SESSION= needs a session number, not %q", value)
		}
		value = strconv.FormatUint(n, 10)
	case ArgTunnel:
		if value == "" || len(value) > maxTunnelIDLen {
			return p.fail("TUNNEL= needs a tunnel id of 1 to %d characters", maxTunnelIDLen)
		}
		for _, r := range value {
			if r <= ' ' || r > '~' || r == '=' {
				return p.fail("TUNNEL= id %q has a character that is not allowed", value)
			}
		}
	}
	if p.cmd.Args == nil {
		p.cmd.Args = make(map[string]string)
	}
	p.cmd.Args[key] = value
	return nil
}

// token is one operand: a word, or KEY=value.
type token struct {
	key      string
	value    string
	hasValue bool
}

// tokenize splits text at blanks and commas; blanks around "=" are
// dropped, so "SESSION = 5" is one token.
func tokenize(text string) []token {
	fields := strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	var joined []string
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		for (strings.HasSuffix(f, "=") || (i+1 < len(fields) && strings.HasPrefix(fields[i+1], "="))) && i+1 < len(fields) {
			i++
			f += fields[i]
		}
		joined = append(joined, f)
	}
	toks := make([]token, 0, len(joined))
	for _, f := range joined {
		toks = append(toks, splitToken(f))
	}
	return toks
}

func splitToken(f string) token {
	if k, v, ok := strings.Cut(f, "="); ok {
		return token{key: k, value: v, hasValue: true}
	}
	return token{key: f}
}

// shorten cuts long text for an error message.
func shorten(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
