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
	ev := c.log.Info()
	if !resp.OK {
		ev = c.log.Warn()
	}
	ev.Str("source", source).Bool("ok", resp.OK).Msg(resp.Lines[0])
	return resp
}

// syntaxResponse turns a Parse error into a SOX0402E reply.
func syntaxResponse(err error) Response {
	var se *SyntaxError
	if !errors.As(err, &se) {
		return Response{Lines: []string{msg.Format("SOX0402E", err.Error())}}
	}
	lines := []string{msg.Format("SOX0402E", se.Text+": "+se.Reason), " valid forms:"}
	for _, f := range se.Forms {
		lines = append(lines, "  "+f)
	}
	return Response{Lines: lines}
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
			return failed(msg.Format("SOX0004E", err.Error()))
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
		c.t.Stop(cmd.Object == ObjImmediate)
		return ok(msg.Format("SOX0404I", cmd.String()))
	}
	return failed(msg.Format("SOX0402E", "unknown verb "+cmd.Verb))
}

func ok(lines ...string) Response { return Response{OK: true, Lines: lines} }

func failed(lines ...string) Response { return Response{Lines: lines} }

func fail(err error) Response { return failed(msg.Format("SOX0403E", err.Error())) }
