package tunnel

import (
	"io"
	"path/filepath"

	"socksd/tunnel/openssh"
)

// AskpassSubcommand is the hidden subcommand of socksd that runs the
// askpass helper of the openssh engine (ssh itself runs it through a link
// named openssh.AskpassName).
const AskpassSubcommand = "__askpass"

// HelperMain runs the helper that ssh started the socksd binary as, when
// args (os.Args) name one: the askpass program (argv[0] named
// openssh.AskpassName, or `__askpass`) or the ProxyCommand of a via
// (`__proxy`). ok is false when args name neither. The daemon's binary
// and every test binary that runs a daemon with the openssh engine in
// process call it first, because the engine gives ssh its own executable.
func HelperMain(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int, ok bool) {
	if len(args) == 0 {
		return 0, false
	}
	if filepath.Base(args[0]) == openssh.AskpassName {
		return openssh.AskpassMain(args[1:], stdout), true
	}
	if len(args) < 2 {
		return 0, false
	}
	switch args[1] {
	case AskpassSubcommand:
		return openssh.AskpassMain(args[2:], stdout), true
	case ProxySubcommand:
		return ProxyMain(args[2:], stdin, stdout, stderr), true
	}
	return 0, false
}
