package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"socksd/cmd/socksd/internal/demo"
)

// runDemo runs the self-contained demonstration: exit 0 only when every
// check passed.
func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	size := fs.Int("size", demo.DefaultSizeMiB, "size of the long transfer in MiB")
	quiet := fs.Bool("quiet", false, "print section titles, checks and the summary only")
	timeout := fs.Duration("timeout", 10*time.Minute, "deadline for the whole demo")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		fmt.Fprint(stderr, "usage: socksd demo [--size MIB] [--quiet] [--timeout D]\n")
		return exitUsage
	}
	if *size < 1 || *timeout <= 0 {
		fmt.Fprint(stderr, "socksd: demo: --size must be at least 1 and --timeout positive\n")
		return exitUsage
	}
	// An interrupt or a TERM ends the demo early; it still cleans up.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := demo.Run(ctx, stdout, demo.Options{SizeMiB: *size, Quiet: *quiet, Timeout: *timeout, Version: version})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	if !res.Passed() {
		return exitFail
	}
	return exitOK
}
