package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"socksd/config"
	"socksd/console"
	"socksd/metrics"
	"socksd/msg"
	"socksd/socksd"
)

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "", "configuration file (default $SOCKSD_CONFIG, else the embedded default)")
	enc := fs.String("encoding", "auto", "the file's encoding: auto, ascii, ibm-1047, ibm-037")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		fmt.Fprint(stderr, "usage: socksd [serve] [-c FILE]\n")
		return exitUsage
	}
	path := configPath(*file)
	cfg, err := loadConfig(path, *enc)
	if err != nil {
		printConfigMessages(stderr, err)
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
	if err := audit.OpenSyslog(cfg.Log); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	name := cfg.File
	if path == "" {
		name = config.DefaultFile
	}
	msg.Log(&log, "SOX0001I", version, name).Str("event", "start").Str("version", version).Str("config", name).Send()

	notify := metrics.NewNotifier(log)
	d, err := socksd.New(cfg, socksd.Options{ConfigPath: path, ConfigEncoding: *enc, Version: version, Logger: log, Level: level, Audit: audit, LogFile: logFile, Notify: notify})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	if err := d.Listen(); err != nil {
		return exitFail
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	con := console.New(d, log)
	con.HandleSignals(ctx)
	go notify.Watchdog(ctx)
	go func() {
		// A STOP from any transport ends the console transports too.
		<-d.Done()
		cancel()
	}()
	var transports sync.WaitGroup
	defer transports.Wait()
	if cfg.Console.Socket != "" {
		ln, err := console.ListenSocket(cfg.Console.Socket)
		if err != nil {
			// The daemon still serves; the operator has signals and stdin.
			msg.Log(&log, "SOX0420E", cfg.Console.Socket, socketCause(err)).Err(err).Send()
		} else {
			transports.Add(1)
			go func() { defer transports.Done(); con.ServeSocket(ctx, ln) }()
		}
	}
	if cfg.Console.Stdin {
		// Not waited for: a read from stdin cannot be interrupted.
		go con.ServeReader(ctx, os.Stdin, stdout)
	}
	startOperatorConsole(ctx, con, &transports)
	if err := d.Serve(ctx); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	return exitOK
}

// printConfigMessages writes each problem of a configuration that serve
// cannot start with as message SOX0501E, "SOX0501E configuration error:
// FILE:LINE: KEY: what is wrong". (socksd check prints the bare lines.)
func printConfigMessages(w io.Writer, err error) {
	var list config.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(w, msg.Format("SOX0501E", e.Detail()))
		}
		return
	}
	fmt.Fprintln(w, msg.Format("SOX0501E", strings.TrimPrefix(err.Error(), "config: ")))
}
