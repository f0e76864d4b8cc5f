package msg

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"socksd/internal/testing/gosource"
)

// logFile and logFunc are the one place allowed to start a zerolog event
// at warn or error level: msg.Log, which picks the level from the ID.
const (
	logFile = "msg/log.go"
	logFunc = "Log"
)

// loggerName matches the name of a value that holds a zerolog.Logger (log,
// d.log, logger, p.opts.Logger, ...).
var loggerName = regexp.MustCompile(`(?i)(^log|logger)$`)

// TestWarnAndErrorOnlyThroughLog walks every non-test Go file of the module
// and fails on each zerolog event started at warn or error level anywhere
// but in msg.Log: every such line must carry a message ID whose severity
// letter names its level, and msg.Log is what guarantees both.
//
// A chain start is X.Warn(), X.Fatal(), X.Panic(), X.WithLevel(l), and
// X.Error() or X.Err(e) on a logger. X.Error() whose result is the
// receiver of another method call is a zerolog event too: err.Error()
// returns a string, which has no methods.
func TestWarnAndErrorOnlyThroughLog(t *testing.T) {
	root := gosource.Root(t)
	for _, f := range gosource.Files(t, root, false) {
		for _, pos := range levelCalls(t, root, f) {
			t.Errorf("%s: %s starts a log event at warn or error level; use msg.Log with a message ID", pos.where, pos.call)
		}
	}
}

// levelCall is one offending call.
type levelCall struct {
	where string // file:line
	call  string // the method, e.g. ".Warn"
}

// levelCalls parses file f (relative to root) and returns its calls that
// start a zerolog event at warn or error level outside msg.Log.
func levelCalls(t *testing.T, root, f string) []levelCall {
	t.Helper()
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, filepath.Join(root, filepath.FromSlash(f)), nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return findLevelCalls(fset, f, file)
}

// findLevelCalls is levelCalls on a parsed file.
func findLevelCalls(fset *token.FileSet, name string, file *ast.File) []levelCall {
	var out []levelCall
	// receivers holds the calls whose result is the receiver of a method
	// call: in a.B().C(), a.B().
	receivers := map[*ast.CallExpr]bool{}
	ast.Inspect(file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if name == logFile && n.Recv == nil && n.Name.Name == logFunc {
				return false
			}
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if inner, ok := sel.X.(*ast.CallExpr); ok {
				receivers[inner] = true
			}
			if startsLevel(sel, len(n.Args), receivers[n]) {
				out = append(out, levelCall{
					where: name + ":" + strconv.Itoa(fset.Position(n.Pos()).Line),
					call:  "." + sel.Sel.Name,
				})
			}
		}
		return true
	})
	return out
}

// startsLevel reports whether the call sel(args) starts a zerolog event at
// warn or error level. isReceiver tells whether its result is the receiver
// of a method call. ast.Inspect visits a.B().C() before a.B(), so the
// outer call has marked the inner one by the time it is checked.
func startsLevel(sel *ast.SelectorExpr, args int, isReceiver bool) bool {
	switch sel.Sel.Name {
	case "Warn", "Fatal", "Panic":
		return args == 0
	case "WithLevel":
		return args == 1
	case "Error":
		return args == 0 && (isReceiver || loggerName.MatchString(lastName(sel.X)))
	case "Err":
		// Logger.Err(err) logs at error level when err is not nil;
		// Event.Err and Context.Err add a field. An event is a call's
		// result (log.Info().Err(e)) or a variable named otherwise.
		_, onCall := sel.X.(*ast.CallExpr)
		return args == 1 && !onCall && loggerName.MatchString(lastName(sel.X))
	}
	return false
}

// lastName returns the last identifier of x: "log" for d.log, "" for a call.
func lastName(x ast.Expr) string {
	switch x := x.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return x.Sel.Name
	case *ast.StarExpr:
		return lastName(x.X)
	case *ast.ParenExpr:
		return lastName(x.X)
	}
	return ""
}

// TestFindLevelCalls checks the detector on the forms it must tell apart.
func TestFindLevelCalls(t *testing.T) {
	const src = `package p

func f() {
	log.Warn().Msg("a")                  // 4: flagged
	d.log.Error().Str("k", "v").Send()   // 5: flagged
	ev := s.log.Error()                  // 6: flagged (a logger)
	ev = x.Error().Str("k", "v")         // 7: flagged (a receiver)
	_ = err.Error()                      // 8: a string
	_ = fmt.Sprint(err.Error())          // 9: a string
	d.log.WithLevel(lvl).Send()          // 10: flagged
	logger.Err(err).Send()               // 11: flagged
	log.Info().Err(err).Send()           // 12: a field
	ev.Err(err).Send()                   // 13: a field
	log.Fatal("x")                       // 14: the standard library
	p.opts.Logger.Warn().Send()          // 15: flagged
	_ = strings.Contains(e.Error(), "x") // 16: a string
	log.With().Err(err).Logger()         // 17: a field
	zerolog.Ctx(ctx).Panic().Send()      // 18: flagged
}
`
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range findLevelCalls(fset, "p.go", file) {
		got = append(got, c.where)
	}
	want := "p.go:4 p.go:5 p.go:6 p.go:7 p.go:10 p.go:11 p.go:15 p.go:18"
	if strings.Join(got, " ") != want {
		t.Errorf("flagged %s\nwant    %s", strings.Join(got, " "), want)
	}

	// msg.Log itself may start an event at any level.
	file, err = parser.ParseFile(fset, logFile, "package msg\nfunc Log() { log.WithLevel(l) }\nfunc Other() { log.WithLevel(l) }\n", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := findLevelCalls(fset, logFile, file); len(got) != 1 || got[0].where != logFile+":3" {
		t.Errorf("in msg/log.go flagged %v, want only the call outside Log", got)
	}
}
