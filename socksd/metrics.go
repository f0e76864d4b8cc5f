package socksd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"socksd/config"
	"socksd/metrics"
	"socksd/msg"
	"socksd/socks"
	"socksd/tunnel"
)

// newMetrics returns the daemon's metrics when [metrics] listen is set,
// else nil (whose methods do nothing). The scrape-time values come from
// the daemon's live sessions, its pool and its current state.
func (d *Daemon) newMetrics(cfg *config.Config) *metrics.Set {
	if cfg.Metrics.Listen == "" {
		return nil
	}
	return metrics.New(metrics.Info{Version: d.opt.Version}, metrics.Source{
		Sessions: func(yield func(origin, action string, up, down int64)) {
			for _, s := range d.sessions.list() {
				s.mu.Lock()
				origin, action := s.origin, s.action
				s.mu.Unlock()
				yield(origin, action, s.bytes.Up.Load(), s.bytes.Down.Load())
			}
		},
		SSH: func(yield func(engine string)) {
			for _, t := range d.pool.Snapshot() {
				yield(t.Engine)
			}
		},
		Engines: func(yield func(profile, engine string)) {
			for name, prof := range d.state.Load().profiles {
				engine, _ := d.pool.EngineOf(prof)
				yield(name, engine)
			}
		},
	})
}

// listenMetrics opens the [metrics] listener, if any.
func (d *Daemon) listenMetrics() error {
	addr := d.state.Load().cfg.Metrics.Listen
	if d.metrics == nil || addr == "" {
		return nil
	}
	srv, err := metrics.Listen(addr, metrics.Handler(d.metrics, d.readiness))
	if err != nil {
		msg.Log(&d.log, "SOX0801E", addr, err).Str("listen", addr).Err(err).Send()
		return err
	}
	d.mu.Lock()
	d.metricsSrv = srv
	d.mu.Unlock()
	return nil
}

// serveMetrics serves the [metrics] listener, if any, until stop is
// called.
func (d *Daemon) serveMetrics() (stop func()) {
	d.mu.Lock()
	srv := d.metricsSrv
	d.mu.Unlock()
	if srv == nil {
		return func() {}
	}
	addr := srv.Addr().String()
	msg.Log(&d.log, "SOX0800I", addr).Str("listen", addr).Send()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(); err != nil {
			msg.Log(&d.log, "SOX0802E", addr, err).Str("listen", addr).Err(err).Send()
		}
	}()
	return func() {
		srv.Close()
		<-done
	}
}

// MetricsAddr returns the address of the [metrics] listener, or nil.
func (d *Daemon) MetricsAddr() net.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.metricsSrv == nil {
		return nil
	}
	return d.metricsSrv.Addr()
}

// errNotReady is why /readyz answers 503.
var (
	errStopping  = errors.New("stopping: sessions are draining")
	errQuiesced  = errors.New("quiesced: new sessions are refused")
	errListening = errors.New("the listeners are not open yet")
	// errNotListening: a listener of the configuration in use could not
	// be opened (a forward after a RELOAD).
	errNotListening = errors.New("a listener is not open")
)

// readiness is /readyz: nil when every listener is open and the daemon
// is neither quiesced nor stopping. Its errors name no configuration.
func (d *Daemon) readiness() error {
	select {
	case <-d.stopping:
		return errStopping
	default:
	}
	if d.quiesced.Load() {
		return errQuiesced
	}
	if !d.serving.Load() {
		return errListening
	}
	for _, f := range d.Forwards() {
		if !f.Listening {
			return fmt.Errorf("%w: forward %s", errNotListening, f.Name)
		}
	}
	return nil
}

// countEnd counts an ended connection in the metrics.
func (d *Daemon) countEnd(s *session, res result, up, down int64) {
	if d.metrics == nil {
		return
	}
	s.mu.Lock()
	origin, action, rule := s.origin, s.action, s.rule
	s.mu.Unlock()
	d.metrics.SessionEnded(origin, action, rule, res.String(), up, down)
}

// handshakeReason names a SOCKS handshake failure for the metrics.
func handshakeReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, socks.ErrVersion):
		return "version"
	case errors.Is(err, socks.ErrMethod):
		return "method"
	case errors.Is(err, socks.ErrAuth):
		return "auth"
	case errors.Is(err, socks.ErrCommand):
		return "command"
	case errors.Is(err, socks.ErrAddressType):
		return "address_type"
	case errors.Is(err, socks.ErrMalformed), errors.Is(err, socks.ErrTooLong):
		return "malformed"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed"
	}
	return "other"
}

// onDial counts an SSH connection the pool opened or failed to open.
func (d *Daemon) onDial(engine, method string, err error) {
	m := d.metrics
	if err == nil {
		m.SSHOpened(engine, method)
		return
	}
	var hk *tunnel.HostKeyError
	var ae *tunnel.AuthError
	switch {
	case errors.As(err, &hk) && errors.Is(err, tunnel.ErrHostKeyUnknown):
		m.SSHFailed(engine, metrics.SSHHostKeyUnknown, "")
	case errors.As(err, &hk):
		m.SSHFailed(engine, metrics.SSHHostKeyChanged, "")
	case errors.As(err, &ae) && errors.Is(err, tunnel.ErrAuthFailed):
		last := ""
		if n := len(ae.Tried); n > 0 {
			last = ae.Tried[n-1]
		}
		m.SSHFailed(engine, metrics.SSHAuth, last)
	case errors.Is(err, tunnel.ErrServerUnreachable):
		m.SSHFailed(engine, metrics.SSHUnreachable, "")
	default:
		m.SSHFailed(engine, metrics.SSHOther, "")
	}
}
