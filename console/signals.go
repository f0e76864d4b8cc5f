package console

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"socksd/msg"
)

// HandleSignals installs handlers for the operator signals and returns at
// once; the handlers stay until ctx ends.
//
//	SIGHUP           RELOAD
//	SIGTERM, SIGINT  STOP (a second one: STOP IMMEDIATE)
//	SIGUSR1          DISPLAY STATS, written to the log
//
// Every reply goes to the log, as there is no one else to read it.
func (c *Console) HandleSignals(ctx context.Context) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	go func() {
		defer signal.Stop(ch)
		stops := 0
		for {
			select {
			case <-ctx.Done():
				return
			case sig := <-ch:
				text := "DISPLAY STATS"
				switch sig {
				case syscall.SIGHUP:
					text = "RELOAD"
				case syscall.SIGTERM, syscall.SIGINT:
					text = "STOP"
					if stops++; stops > 1 {
						text = "STOP IMMEDIATE"
					}
				}
				c.runSignal(sig, text)
			}
		}
	}()
}

// runSignal runs the command a signal stands for and logs its reply, which
// has no other reader: execute logs the header, this the other lines.
func (c *Console) runSignal(sig os.Signal, text string) {
	msg.Log(&c.log, "SOX0408I", sig.String(), text).Str("signal", sig.String()).Send()
	resp := c.execute("signal "+sig.String(), text)
	lines := resp.Lines
	if !resp.OK || resp.logged {
		lines = lines[1:] // the header is in the log already
	}
	for _, l := range lines {
		c.log.Info().Str("signal", sig.String()).Msg(l)
	}
}
