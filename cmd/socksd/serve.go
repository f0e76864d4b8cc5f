package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"socksd/config"
	"socksd/console"
	"socksd/socksd"
)

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "", "configuration file (default $SOCKSD_CONFIG, else the embedded default)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		fmt.Fprint(stderr, "usage: socksd [serve] [-c FILE]\n")
		return exitUsage
	}
	path := configPath(*file)
	cfg, err := loadConfig(path)
	if err != nil {
		printConfigErrors(stderr, err)
		return exitFail
	}
	log, level, logFile, err := socksd.NewLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	defer logFile.Close()
	audit, err := socksd.NewAuditWriter(cfg.Log.AuditFile, log)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	defer audit.Close()
	name := cfg.File
	if path == "" {
		name = config.DefaultFile
	}
	log.Info().Str("event", "start").Str("version", version).Str("config", name).
		Msg(console.Format("SOX0001I", version, name))

	d, err := socksd.New(cfg, socksd.Options{ConfigPath: path, Version: version, Logger: log, Level: level, Audit: audit})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	if err := d.Listen(); err != nil {
		return exitFail
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go handleSignals(ctx, d)
	if err := d.Serve(ctx); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	return exitOK
}

// handleSignals maps SIGHUP to RELOAD and SIGTERM/SIGINT to STOP.
func handleSignals(ctx context.Context, d *socksd.Daemon) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-ch:
			if sig == syscall.SIGHUP {
				d.Reload()
				continue
			}
			d.Stop(false)
		}
	}
}
