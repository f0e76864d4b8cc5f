package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"socksd/tunnel"
)

const hostkeyUsage = `usage:
  socksd hostkey scan HOST[:PORT] [--timeout 10s]
  socksd hostkey add HOST[:PORT] --known-hosts FILE [--yes] [--timeout 10s]
`

// runHostkey implements `socksd hostkey scan|add`.
func runHostkey(args []string, stdout, stderr io.Writer) int {
	return hostkey(args, os.Stdin, stdout, stderr)
}

// hostkey is runHostkey with the confirmation input as a parameter.
func hostkey(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, hostkeyUsage)
		return exitUsage
	}
	sub := args[0]
	fs := flag.NewFlagSet("socksd hostkey "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, hostkeyUsage) }
	timeout := fs.Duration("timeout", 10*time.Second, "bound on the whole scan")
	var file *string
	var yes *bool
	switch sub {
	case "scan":
	case "add":
		file = fs.String("known-hosts", "", "known_hosts file to append to")
		yes = fs.Bool("yes", false, "add without asking")
	case "-h", "--help", "help":
		fmt.Fprint(stdout, hostkeyUsage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "socksd hostkey: unknown subcommand %q\n%s", sub, hostkeyUsage)
		return exitUsage
	}
	// Flags may come before or after the host.
	var pos []string
	rest := args[1:]
	for i := 0; i < len(args); i++ {
		if err := fs.Parse(rest); err != nil {
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "socksd hostkey %s: want exactly one HOST[:PORT]\n%s", sub, hostkeyUsage)
		return exitUsage
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "socksd hostkey %s: --timeout must be positive\n", sub)
		return exitUsage
	}
	hostport, err := hostkeyTarget(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "socksd hostkey %s: %v\n", sub, err)
		return exitUsage
	}
	if sub == "add" && *file == "" {
		fmt.Fprintf(stderr, "socksd hostkey add: --known-hosts FILE is required\n%s", hostkeyUsage)
		return exitUsage
	}

	keys, err := tunnel.ScanHostKeys(context.Background(), hostport, *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "socksd hostkey %s: %v\n", sub, err)
		return exitFail
	}
	name := knownhosts.Normalize(hostport)
	printKeys(stdout, name, keys)
	if sub == "scan" {
		return exitOK
	}
	// Keys recorded earlier that the server no longer offers mean a changed
	// (or impersonated) server: never add silently next to them.
	old, err := tunnel.KnownKeys([]string{*file}, hostport)
	if err != nil {
		fmt.Fprintf(stderr, "socksd hostkey add: %v\n", err)
		return exitFail
	}
	if len(old) > 0 && !anySame(old, keys) {
		fmt.Fprintf(stderr, "socksd hostkey add: %s already holds other keys for %s:\n", *file, name)
		printKeys(stderr, name, old)
		fmt.Fprintf(stderr, "the server's keys changed (or it is not the same server); check with its administrator, then remove the old lines (ssh-keygen -R '%s' -f %s)\n", name, *file)
		return exitFail
	}
	if !*yes {
		fmt.Fprintf(stdout, "Add %d key(s) for %s to %s? [y/N] ", len(keys), name, *file)
		answer, _ := bufio.NewReader(stdin).ReadString('\n')
		switch strings.ToLower(strings.TrimSpace(answer)) {
		case "y", "yes":
		default:
			fmt.Fprintln(stdout)
			fmt.Fprintf(stderr, "socksd hostkey add: not confirmed; nothing written (use --yes in batch jobs)\n")
			return exitFail
		}
	}
	if err := tunnel.AddKnownHosts(*file, hostport, keys); err != nil {
		fmt.Fprintf(stderr, "socksd hostkey add: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "%s: %d key(s) for %s recorded\n", *file, len(keys), name)
	return exitOK
}

// hostkeyTarget turns HOST or HOST:PORT (IPv6 in brackets, or bare) into
// host:port, port 22 by default.
func hostkeyTarget(s string) (string, error) {
	if s == "" || strings.ContainsAny(s, " \t/@") {
		return "", fmt.Errorf("bad host %q", s)
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if host == "" || port == "" {
			return "", fmt.Errorf("bad host %q", s)
		}
		if _, err := net.LookupPort("tcp", port); err != nil {
			return "", fmt.Errorf("bad port in %q", s)
		}
		return s, nil
	}
	// A bare IPv6 address or a host without a port.
	return net.JoinHostPort(strings.Trim(s, "[]"), "22"), nil
}

// printKeys writes one "HOST KEYTYPE SHA256:..." line per key.
func printKeys(w io.Writer, name string, keys []ssh.PublicKey) {
	for _, k := range keys {
		fmt.Fprintf(w, "%s %s %s\n", name, k.Type(), tunnel.Fingerprint(k))
	}
}

// anySame reports whether a key appears in both lists.
func anySame(a, b []ssh.PublicKey) bool {
	for _, x := range a {
		for _, y := range b {
			if string(x.Marshal()) == string(y.Marshal()) {
				return true
			}
		}
	}
	return false
}
