// Command socksd is the socksd daemon and its tools: a SOCKS4/4a/5 proxy
// that carries batch FTP transfers through SSH. See `socksd help`.
package main

import (
	"fmt"
	"io"
	"os"

	"socksd/internal/scrub"
	"socksd/tunnel"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// command is one subcommand's entry point.
type command func(args []string, stdout, stderr io.Writer) int

func commands() map[string]command {
	return map[string]command{
		"serve":   runServe,
		"check":   runCheck,
		"config":  runConfig,
		"version": runVersion,
		"cmd":     runCmd,
		"msg":     runMsg,
		"hostkey": runHostkey,
		"jcl":     runJCL,
		"demo":    runDemo,
		"capture": runCapture,
	}
}

const usage = `usage:
  socksd [serve] [-c FILE]          run the daemon (file, else $SOCKSD_CONFIG, else the default)
  socksd check -c FILE              validate; print the compiled rules
  socksd config default             print the embedded default configuration
  socksd cmd [--socket P] 'TEXT'    send an operator command, print the reply
  socksd hostkey scan HOST[:PORT]   print the server's host keys and fingerprints
  socksd hostkey add HOST[:PORT] --known-hosts FILE [--yes]
  socksd jcl render -c FILE --out DIR [--encoding ibm-1047]
  socksd jcl check FILE...          validate JCL members
  socksd capture [--redirect H:P] [--ports LIST] [--user U] -- CMD [ARGS]
                                    run CMD with its TCP connections captured (Linux, root)
  socksd demo                       self-contained demonstration on loopback
  socksd msg ID                     explain a message
  socksd version
`

func main() {
	// ssh runs the binary as its askpass program and as a via's
	// ProxyCommand (the openssh engine).
	if code, ok := tunnel.HelperMain(os.Args, os.Stdin, os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (len(args[0]) > 0 && args[0][0] == '-' && args[0] != "-h" && args[0] != "--help" && args[0] != "-help") {
		return runServe(args, stdout, stderr)
	}
	switch args[0] {
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case tunnel.AskpassSubcommand, tunnel.ProxySubcommand: // hidden: ssh's helpers (openssh engine)
		code, _ := tunnel.HelperMain(append([]string{"socksd"}, args...), os.Stdin, stdout, stderr)
		return code
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "socksd: unknown command %q\n%s", args[0], usage)
		return exitUsage
	}
	return cmd(args[1:], stdout, stderr)
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprint(stderr, "usage: socksd version\n")
		return exitUsage
	}
	fmt.Fprintf(stdout, "socksd %s\n", version)
	if scrub.Enabled {
		fmt.Fprint(stdout, "password erasure: on (runtime/secret)\n")
	} else {
		fmt.Fprint(stdout, "password erasure: off (built without GOEXPERIMENT=runtimesecret, or platform unsupported)\n")
	}
	return exitOK
}
