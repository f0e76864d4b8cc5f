package ftp

import (
	"context"
	"fmt"
	"net"
	"time"

	"socksd/internal/relay"
)

// Splicer is a Tunnel that carries a job's data connection itself: it
// opens a channel to addr and moves the bytes between that channel and
// conn without the session relaying them (the openssh engine hands conn to
// its ssh master, and the bytes never pass through socksd). When the
// session's tunnel is a Splicer, every data connection of an ftp-tunnel
// session goes through it; ftp-sftp sessions, whose data socksd reads
// itself, and the control connection never do.
type Splicer interface {
	// Splice carries conn to addr ("host:port", resolved by the SSH
	// server) until both directions end, ctx ends or the Spliced is
	// closed. It returns once the bytes flow. On an error before
	// opt.Ready was called, conn is still the caller's; after Ready,
	// Splice owns conn and closes it.
	Splice(ctx context.Context, addr string, conn net.Conn, opt SpliceOptions) (Spliced, error)
}

// SpliceOptions tells a Splicer how to carry a data connection.
type SpliceOptions struct {
	// IdleTimeout ends the connection when no byte has moved either way
	// for this long; 0 means none.
	IdleTimeout time.Duration
	// Counters are each updated as bytes move (up: from the job). A
	// Splicer may update them in steps while the bytes flow, but they are
	// exact once Wait has returned.
	Counters []*relay.Counters
	// Trace, when set, is told each block moved, where the Splicer sees
	// the blocks (see relay.Options); it may never be called.
	Trace func(up bool, n int)
	// Ready is called once, just before the bytes start to flow: the
	// caller sends its own success reply on conn in it. An error from
	// Ready stops the Splice.
	Ready func() error
}

// Spliced is a data connection being carried by a Splicer.
type Spliced interface {
	// Wait blocks until the connection has ended and returns its
	// outcome: Err is nil only when both directions ended cleanly.
	Wait() relay.Result
	// Close ends this connection only.
	Close()
}

// spliceFunc is what a data connection needs of a Splicer.
type spliceFunc func(ctx context.Context, addr string, conn net.Conn, opt SpliceOptions) (Spliced, error)

// splicerOf returns the splice function of tun, or nil when tun cannot
// splice.
func splicerOf(tun Tunnel) spliceFunc {
	if sp, ok := tun.(Splicer); ok {
		return sp.Splice
	}
	return nil
}

// splice carries the job's connection client of a bound data connection
// through the session's Splicer (deps.splice) until it ends, ctx or the
// session ends, or d is closed, and returns its outcome. ready, when set,
// sends the job's success reply just before the bytes flow; d opens then.
// The bytes count for the transfer, the data totals of the session and on
// own. handed reports whether the Splicer took client: when it is false,
// client is still the caller's, which may send a failure reply on it.
// The channel must be open within dialTimeout.
func (d *dataConn) splice(ctx context.Context, client net.Conn, own *relay.Counters, trace func(up bool, n int), ready func() error) (handed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(d.deps.ctx, cancel)
	defer stop()
	d.mu.Lock()
	bound, target := d.state == dataBound, d.target
	if bound {
		d.cancel = cancel // d.close and the end of d stop the splice
	}
	d.mu.Unlock()
	if !bound {
		_, err := d.snapshot()
		if err == nil {
			err = errDataClosed
		}
		return false, err
	}
	opt := SpliceOptions{
		IdleTimeout: d.deps.idle,
		Counters:    countersOf(&d.ctr, own, d.deps.data),
		Trace:       trace,
		Ready: func() error {
			handed = true
			if !d.step(dataBound, dataOpen, nil, nil) {
				return errDataClosed
			}
			if ready != nil {
				if err := ready(); err != nil {
					d.step(dataOpen, dataDone, errDataAbandoned, nil)
					return err
				}
			}
			return nil
		},
	}
	// The channel must open in time; once the bytes flow only ctx, the
	// idle timeout and d.close end them.
	opening := time.AfterFunc(dialTimeout, cancel)
	sp, err := d.deps.splice(ctx, target, client, opt)
	opening.Stop()
	if err != nil {
		if !handed {
			err = fmt.Errorf("ftp: data channel to %s through %s: %w", target, d.deps.via, err)
		}
		d.fail(err)
		d.step(dataOpen, dataDone, err, nil)
		d.deps.log.Debug().Err(err).Str("mode", d.mode).Bool("handed", handed).Msg("FTP data splice failed")
		return handed, err
	}
	close(d.carried)
	stopClose := context.AfterFunc(ctx, sp.Close)
	res := sp.Wait()
	stopClose()
	d.step(dataOpen, dataDone, res.Err, nil)
	if res.Err != nil {
		// The transfer's SOX0308W (and the data session's end) report it.
		d.deps.log.Debug().Err(res.Err).Str("mode", d.mode).Int64("bytes", res.Up+res.Down).Msg("FTP data splice failed")
		return true, fmt.Errorf("ftp: data splice: %w", res.Err)
	}
	return true, nil
}

// awaitCarried waits until the splice of d carries bytes, or d has ended,
// or the session ends; the splice bounds itself by dialTimeout. It returns
// nil once the bytes flow, else why not.
func (d *dataConn) awaitCarried() error {
	timer := time.NewTimer(2 * dialTimeout)
	defer timer.Stop()
	select {
	case <-d.carried:
		return nil
	case <-d.done:
	case <-d.deps.ctx.Done():
		return errDataSessionEnd
	case <-timer.C:
		d.fail(fmt.Errorf("ftp: data channel: not open after %s", 2*dialTimeout))
	}
	select {
	case <-d.carried: // carried, and already ended
		return nil
	default:
	}
	if _, err := d.snapshot(); err != nil {
		return err
	}
	return errDataClosed
}
