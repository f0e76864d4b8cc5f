package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"socksd/config"
	"socksd/jcl"
)

const jclUsage = `usage:
  socksd jcl check [--encoding auto|ascii|ibm-1047|ibm-037] FILE...
  socksd jcl render -c FILE --out DIR [--encoding ascii|ibm-1047|ibm-037]
`

// runJCL implements `socksd jcl check` and `socksd jcl render`.
func runJCL(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, jclUsage)
		return exitUsage
	}
	switch args[0] {
	case "check":
		return jclCheck(args[1:], stdout, stderr)
	case "render":
		return jclRender(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, jclUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "socksd jcl: unknown subcommand %q\n%s", args[0], jclUsage)
	return exitUsage
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments, and returns the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return pos, nil
}

func jclCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("socksd jcl check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, jclUsage) }
	enc := fs.String("encoding", "auto", "encoding of the members: auto, ascii, ibm-1047 or ibm-037")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(files) == 0 {
		fmt.Fprint(stderr, "socksd jcl check: no files\n"+jclUsage)
		return exitUsage
	}
	if _, err := jcl.NormalizeEncoding(*enc); err != nil {
		fmt.Fprintf(stderr, "socksd jcl check: %v\n", err)
		return exitUsage
	}
	code := exitOK
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "socksd jcl check: %v\n", err)
			code = exitFail
			continue
		}
		problems, err := jcl.CheckEncoding(f, data, *enc)
		if err != nil {
			fmt.Fprintf(stderr, "socksd jcl check: %v\n", err)
			return exitUsage
		}
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		if len(problems) > 0 {
			code = exitFail
			continue
		}
		if isJCL, _ := jcl.IsJCL(data, *enc); isJCL {
			fmt.Fprintf(stdout, "%s: ok\n", f)
		} else {
			fmt.Fprintf(stdout, "%s: ok (not JCL: only record lengths checked)\n", f)
		}
	}
	return code
}

func jclRender(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("socksd jcl render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, jclUsage) }
	cfgPath := fs.String("c", "", "socksd configuration file with the [jcl] table")
	out := fs.String("out", "", "directory to write the members to")
	enc := fs.String("encoding", "ascii", "output encoding: ascii, ibm-1047 or ibm-037")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(rest) > 0 || *cfgPath == "" || *out == "" {
		fmt.Fprint(stderr, "socksd jcl render: -c FILE and --out DIR are required\n"+jclUsage)
		return exitUsage
	}
	if norm, err := jcl.NormalizeEncoding(*enc); err != nil || norm == jcl.EncodingAuto {
		fmt.Fprintf(stderr, "socksd jcl render: --encoding must be ascii, ibm-1047 or ibm-037, not %q\n", *enc)
		return exitUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		printConfigErrors(stderr, err)
		return exitFail
	}
	site, err := cfg.JCLSite()
	if err != nil {
		printConfigErrors(stderr, err)
		return exitFail
	}
	members, err := jcl.Render(site, *enc)
	if err != nil {
		fmt.Fprintf(stderr, "socksd jcl render: %v\n", err)
		return exitFail
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintf(stderr, "socksd jcl render: %v\n", err)
		return exitFail
	}
	names := make([]string, 0, len(members))
	for n := range members {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(*out, n)
		if err := os.WriteFile(p, members[n], 0o644); err != nil {
			fmt.Fprintf(stderr, "socksd jcl render: %v\n", err)
			return exitFail
		}
		fmt.Fprintf(stdout, "%s (%d bytes)\n", p, len(members[n]))
	}
	return exitOK
}
