package console

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"socksd/msg"

	"github.com/rs/zerolog"
)

// Response is the reply to one command.
type Response struct {
	// OK is false when the command was malformed or failed.
	OK bool
	// Lines is the reply; Lines[0] is the header message with its ID.
	Lines []string

	// id and args are the header message of a failure built by this
	// package, for the log; empty in a reply read from the wire.
	id   string
	args []any
	// logged is true when the header is already in the log (STOP logs it
	// before it acts, as the process may end right after).
	logged bool
}

// Console runs operator commands against a Target. It is safe for
// concurrent use by several transports.
type Console struct {
	t   Target
	log zerolog.Logger
	now func() time.Time
	uid int // the uid besides root that may use the control socket
}

// Option adjusts a Console made by New.
type Option func(*Console)

// WithClock sets the clock used for ages in DISPLAY replies (for tests).
func WithClock(now func() time.Time) Option {
	return func(c *Console) { c.now = now }
}

// WithUID sets the user id that, besides root, may send commands on the
// control socket. The default is the daemon's effective uid.
func WithUID(uid int) Option {
	return func(c *Console) { c.uid = uid }
}

// New returns a Console that operates on t and logs to log.
func New(t Target, log zerolog.Logger, opts ...Option) *Console {
	c := &Console{t: t, log: log, now: time.Now, uid: os.Geteuid()}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Execute parses and runs one command and returns its reply. It never
// panics on bad input: a malformed command gets a SOX0402E reply naming
// the valid forms.
func (c *Console) Execute(text string) Response {
	return c.execute("api", text)
}

// execute runs text for the transport named by source and logs it.
func (c *Console) execute(source, text string) Response {
	msg.Log(&c.log, "SOX0401I", source, sanitize(shorten(strings.TrimSpace(text)))).Str("source", source).Send()
	cmd, err := Parse(text)
	var resp Response
	if err != nil {
		resp = syntaxResponse(err)
	} else {
		resp = c.Run(cmd)
	}
	for i, l := range resp.Lines {
		resp.Lines[i] = sanitize(l)
	}
	c.logReply(source, resp)
	return resp
}

// logReply logs the header message of a refused command at the level of
// its ID. A successful reply is not logged: the sender reads it, the
// command itself is in the log (SOX0401I), and what it did is logged by the
// target (SOX0005I, SOX0011I, ...) — logging the reply too would write
// those lines twice. Signals have no sender; runSignal logs their replies.
// A refusal that the target logged itself (reported) is not logged again.
func (c *Console) logReply(source string, resp Response) {
	if resp.OK || resp.id == "" {
		return
	}
	args := make([]any, len(resp.args))
	for i, a := range resp.args {
		if s, ok := a.(string); ok {
			a = sanitize(s)
		}
		args[i] = a
	}
	msg.Log(&c.log, resp.id, args...).Str("source", source).Bool("ok", false).Send()
}

// syntaxResponse turns a Parse error into a SOX0402E reply.
func syntaxResponse(err error) Response {
	var se *SyntaxError
	if !errors.As(err, &se) {
		return failure("SOX0402E", err.Error())
	}
	resp := failure("SOX0402E", se.Text+": "+se.Reason)
	resp.Lines = append(resp.Lines, " valid forms:")
	for _, f := range se.Forms {
		resp.Lines = append(resp.Lines, "  "+f)
	}
	return resp
}

// Run carries out a parsed command.
func (c *Console) Run(cmd Command) Response {
	switch cmd.Verb {
	case VerbDisplay:
		return c.display(cmd)
	case VerbHelp:
		lines := []string{msg.Format("SOX0417I")}
		for _, f := range helpLines() {
			lines = append(lines, " "+f)
		}
		lines = append(lines, " Operands are separated by blanks or commas; case does not matter.",
			" On z/OS: F SOCKSD,APPL=command; P SOCKSD stops.")
		return ok(lines...)
	case VerbReload:
		if err := c.t.Reload(); err != nil {
			return reported("SOX0004E", err.Error())
		}
		return ok(msg.Format("SOX0404I", cmd.String()), fmt.Sprintf(" %d rules in use", len(c.t.Rules())))
	case VerbLogLevel:
		level := cmd.Args[ArgLevel]
		if err := c.t.SetLogLevel(strings.ToLower(level)); err != nil {
			return fail(err)
		}
		return ok(msg.Format("SOX0011I", level))
	case VerbTrace:
		on := cmd.Object == ObjOn
		id := cmd.Session()
		if err := c.t.Trace(on, id); err != nil {
			return fail(err)
		}
		what := "all sessions"
		if id != 0 {
			what = fmt.Sprintf("session %d", id)
		}
		return ok(msg.Format("SOX0405I", cmd.Object, what))
	case VerbCancel:
		id := cmd.Session()
		if err := c.t.Cancel(id); err != nil {
			return fail(err)
		}
		return ok(msg.Format("SOX0406I", id))
	case VerbDrop:
		id := cmd.Args[ArgTunnel]
		if err := c.t.DropTunnel(id); err != nil {
			return fail(err)
		}
		return ok(msg.Format("SOX0407I", id))
	case VerbQuiesce:
		if err := c.t.Quiesce(); err != nil {
			return fail(err)
		}
		return ok(msg.Format("SOX0005I", c.t.Stats().Active))
	case VerbResume:
		if err := c.t.Resume(); err != nil {
			return fail(err)
		}
		return ok(msg.Format("SOX0006I"))
	case VerbStop:
		// Announce first, then act: STOP IMMEDIATE may end the process
		// before the reply could be logged.
		msg.Log(&c.log, "SOX0404I", cmd.String()).Send()
		c.t.Stop(cmd.Object == ObjImmediate)
		resp := ok(msg.Format("SOX0404I", cmd.String()))
		resp.logged = true
		return resp
	}
	return failure("SOX0402E", "unknown verb "+cmd.Verb)
}

// ok is a successful reply: a header message with its ID, then details.
func ok(lines ...string) Response { return Response{OK: true, Lines: lines} }

// failure is the reply to a refused command: message id with args, which
// is also what the log records.
func failure(id string, args ...any) Response {
	return Response{Lines: []string{msg.Format(id, args...)}, id: id, args: args}
}

// reported is a failure reply whose message the target has logged itself
// (Reload's SOX0004E), so that the console does not log it again.
func reported(id string, args ...any) Response {
	return Response{Lines: []string{msg.Format(id, args...)}}
}

// fail is the SOX0403E reply for a command the target could not carry out.
func fail(err error) Response { return failure("SOX0403E", err.Error()) }
