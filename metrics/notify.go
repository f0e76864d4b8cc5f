package metrics

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/rs/zerolog"

	"socksd/msg"
)

// Notifier tells systemd what the daemon is doing, over the datagram socket
// that $NOTIFY_SOCKET names (sd_notify(3), a Type=notify unit): READY=1,
// RELOADING=1 with MONOTONIC_USEC, STOPPING=1 and WATCHDOG=1. Without
// NOTIFY_SOCKET, as when socksd is not run by systemd, every method does
// nothing. Its methods may be called from several goroutines at once; a
// nil *Notifier does nothing.
type Notifier struct {
	log    zerolog.Logger
	failed atomic.Bool // a failure has been logged (SOX0820W), once
}

// NewNotifier returns a Notifier that logs its failures to log. It reads
// NOTIFY_SOCKET at each notification and leaves it in the environment, as
// every reload and stop needs it again.
func NewNotifier(log zerolog.Logger) *Notifier { return &Notifier{log: log} }

// Ready says that startup, or a reload, has finished: every listener is
// open and the daemon takes sessions.
func (n *Notifier) Ready() { n.send(daemon.SdNotifyReady) }

// Reloading says that a reload begins; Ready must follow when it ends,
// whether the new configuration was taken or rejected.
func (n *Notifier) Reloading() {
	n.send(daemon.SdNotifyReloading + "\n" + daemon.SdNotifyMonotonicUsec())
}

// Stopping says that a stop begins: the listeners close and the sessions
// drain.
func (n *Notifier) Stopping() { n.send(daemon.SdNotifyStopping) }

// Watchdog sends WATCHDOG=1 at half of the interval systemd asks for
// (WatchdogSec, passed as WATCHDOG_USEC, for this process when
// WATCHDOG_PID names it) until ctx ends. It returns at once when systemd
// asks for no watchdog. The pings come from their own goroutine, so a
// daemon whose goroutines are all stuck still pings: the watchdog catches a
// process that hangs or is stopped, not a deadlock inside it.
func (n *Notifier) Watchdog(ctx context.Context) {
	if n == nil {
		return
	}
	every, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		msg.Log(&n.log, "SOX0820W", "WATCHDOG=1", err).Err(err).Send()
		return
	}
	if every <= 0 {
		return
	}
	every /= 2
	msg.Log(&n.log, "SOX0821I", every).Int64("interval_ms", every.Milliseconds()).Send()
	n.send(daemon.SdNotifyWatchdog)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.send(daemon.SdNotifyWatchdog)
		}
	}
}

// send sends one notification. A failure is logged the first time only:
// the watchdog would otherwise repeat it every few seconds.
func (n *Notifier) send(state string) {
	if n == nil {
		return
	}
	if _, err := daemon.SdNotify(false, state); err != nil && !n.failed.Swap(true) {
		msg.Log(&n.log, "SOX0820W", firstLine(state), err).Err(err).Send()
	}
}

// firstLine is the notification's first assignment, which names it in a
// message.
func firstLine(state string) string {
	line, _, _ := strings.Cut(state, "\n")
	return line
}
