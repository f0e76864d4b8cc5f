package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"socksd/config"
	"socksd/ebcdic"
	"socksd/rules"
)

// configPath picks the configuration file: the flag, else $SOCKSD_CONFIG,
// else "" for the embedded default.
func configPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv("SOCKSD_CONFIG")
}

// loadConfig loads path, or the embedded default when path is "". enc
// names the file's encoding ("auto" detects ASCII or EBCDIC).
func loadConfig(path, enc string) (*config.Config, error) {
	if path == "" {
		return config.Default()
	}
	return config.LoadEncoded(path, enc)
}

// printConfigErrors writes one FILE:LINE line per problem.
func printConfigErrors(w io.Writer, err error) {
	var list config.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(w, e.Error())
		}
		return
	}
	fmt.Fprintln(w, err)
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "", "configuration file")
	enc := fs.String("encoding", "auto", "the file's encoding: auto, ascii, ibm-1047, ibm-037")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		fmt.Fprint(stderr, "usage: socksd check -c FILE [--encoding E]\n")
		return exitUsage
	}
	if _, _, err := ebcdic.ParseCodePageOrAuto(*enc); err != nil {
		fmt.Fprintf(stderr, "socksd check: --encoding: %v\nusage: socksd check -c FILE [--encoding E]\n", err)
		return exitUsage
	}
	path := configPath(*file)
	cfg, err := loadConfig(path, *enc)
	if err != nil {
		printConfigErrors(stderr, err)
		return exitFail
	}
	set := cfg.RuleSet()
	fmt.Fprintf(stdout, "%s: OK\n", cfg.File)
	fmt.Fprintf(stdout, "listen %v, clients %v, SOCKS versions %v\n", cfg.Server.Listen, cfg.Server.AllowClients, cfg.Server.SocksVersions)
	fmt.Fprintf(stdout, "rules (first match wins; no match = block):\n")
	for _, r := range set.Rules() {
		fmt.Fprintf(stdout, "  %s\n", r)
		if r.Action.IsFTP() {
			f := cfg.Rules[r.Index].FTP
			fmt.Fprintf(stdout, "      ftp: data=%s active=%s encoding=%s deny=%q allow_auth_tls=%v\n",
				f.Data, f.Active, f.Encoding, f.Deny, f.AllowAuthTLS)
		}
		if r.Action == rules.FTPSFTP {
			sf := cfg.Rules[r.Index].SFTP
			fmt.Fprintf(stdout, "      sftp: root=%q line_end=%s datasets=%q streams=%d\n",
				sf.Root, sf.LineEnd, sf.Datasets, sf.Streams)
		}
	}
	if len(cfg.Forwards) > 0 {
		fmt.Fprintf(stdout, "forwards (allow_clients applies, the rules do not):\n")
		for _, f := range cfg.Forwards {
			fmt.Fprintf(stdout, "  %s\n", f)
		}
	}
	return exitOK
}

func runConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] != "default" {
		fmt.Fprint(stderr, "usage: socksd config default\n")
		return exitUsage
	}
	stdout.Write(config.DefaultText())
	return exitOK
}
