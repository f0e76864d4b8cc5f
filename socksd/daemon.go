package socksd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"socksd/config"
	"socksd/ftp"
	"socksd/internal/scrub"
	"socksd/metrics"
	"socksd/msg"
	"socksd/tunnel"
)

// Options are the daemon's settings that do not come from the
// configuration file.
type Options struct {
	// ConfigPath is the file Reload reads; "" means the embedded default,
	// which Reload then keeps.
	ConfigPath string
	// ConfigEncoding is the file's encoding for Reload; "" detects it.
	ConfigEncoding string
	// Version is reported by DISPLAY VERSION and the start-up message.
	Version string
	// Logger receives the daemon's log; the caller builds it from the
	// [log] settings (see NewLogger).
	Logger zerolog.Logger
	// Level, when set, is the level switch that LOGLEVEL changes.
	Level *LevelSwitch
	// Audit receives transfer audit records; nil writes them to the log.
	// Reload opens its file again.
	Audit *AuditWriter
	// LogFile, when set, is the log file (NewLogger's), which Reload opens
	// again so that it can be rotated.
	LogFile *LogFile
	// Notify, when set, is told when the daemon is ready, reloads and
	// stops (systemd's notify protocol: metrics.Notifier).
	Notify Notifier
}

// Notifier is told of the daemon's lifecycle: Ready once the listeners are
// open and after each reload, Reloading before a reload, Stopping when a
// stop begins. metrics.Notifier tells systemd.
type Notifier interface {
	Ready()
	Reloading()
	Stopping()
}

// Daemon is a running socksd.
type Daemon struct {
	opt     Options
	log     zerolog.Logger
	state   atomic.Pointer[state]
	started time.Time

	sessions *table
	handlers sync.WaitGroup // running handle calls; Serve waits for them
	pool     *tunnel.Pool
	dial     dialer // direct and tunnel dialing; tests replace it
	// peerIsSelf is the redirect loop check; nil means
	// capture.PeerIsSelf. Tests, whose clients are in their own process,
	// replace it.
	peerIsSelf func(*net.TCPConn) (bool, error)
	broker     *ftp.Broker
	nextID     atomic.Uint64

	quiesced  atomic.Bool
	traceAll  atomic.Bool
	stopOnce  sync.Once
	stopping  chan struct{} // closed when a stop begins
	immediate atomic.Bool
	done      chan struct{} // closed when Run has returned

	mu         sync.Mutex
	listeners  []net.Listener
	fwd        forwards           // the [[forwards]] listeners
	redirects  []redirectListener // redirect_listen and tproxy_listen
	immediateC chan struct{}      // closed by STOP IMMEDIATE

	stats counters // counted by request.start and request.end only

	metrics    *metrics.Set    // nil without [metrics] listen
	metricsSrv *metrics.Server // under mu
	serving    atomic.Bool     // the listeners are open and accepting (/readyz)
}

// New builds a daemon from a validated configuration.
func New(cfg *config.Config, opt Options) (*Daemon, error) {
	st, err := build(cfg)
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		opt:      opt,
		log:      opt.Logger,
		started:  time.Now(),
		sessions: newTable(),
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
		broker:   ftp.NewBroker(),
	}
	d.metrics = d.newMetrics(cfg)
	if d.pool, err = newPool(cfg, d); err != nil {
		return nil, err
	}
	d.dial = poolDialer{d.pool}
	d.checkSecretPerms(cfg, opt.ConfigPath)
	if !scrub.Enabled {
		msg.Log(&d.log, "SOX0013W").Send()
	}
	d.state.Store(st)
	d.logEngines(st.profiles)
	return d, nil
}

// Listen opens the SOCKS listeners of the configuration, its forwards, and the
// [metrics] listener when there is one. It is separate from Serve so that
// a caller knows the addresses before serving.
func (d *Daemon) Listen() error {
	st := d.state.Load()
	var lns []net.Listener
	for _, addr := range st.cfg.Server.Listen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			msg.Log(&d.log, "SOX0010E", addr, err).Err(err).Send()
			return fmt.Errorf("socksd: listen %s: %w", addr, err)
		}
		lns = append(lns, ln)
	}
	rls, err := d.listenRedirects(st)
	if err != nil {
		for _, l := range lns {
			l.Close()
		}
		return err
	}
	closeAll := func() {
		for _, l := range lns {
			l.Close()
		}
		for _, rl := range rls {
			rl.Close()
		}
	}
	if err := d.syncForwards(st.cfg, true); err != nil {
		closeAll()
		return err
	}
	if err := d.listenMetrics(); err != nil {
		closeAll()
		d.closeForwards()
		return fmt.Errorf("socksd: %w", err)
	}
	d.mu.Lock()
	d.listeners = lns
	d.redirects = rls
	d.mu.Unlock()
	return nil
}

// Addrs returns the addresses the daemon listens on.
func (d *Daemon) Addrs() []net.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]net.Addr, len(d.listeners))
	for i, l := range d.listeners {
		out[i] = l.Addr()
	}
	return out
}

// Serve accepts sessions until Stop is called or ctx ends, then drains:
// it waits for running sessions for drain_timeout (not at all after
// STOP IMMEDIATE), ends the rest, and returns nil. Listen must have been
// called.
func (d *Daemon) Serve(ctx context.Context) error {
	defer close(d.done)
	d.mu.Lock()
	lns, rls := d.listeners, d.redirects
	d.mu.Unlock()
	if len(lns) == 0 {
		return errors.New("socksd: Serve before Listen")
	}
	var names []string
	for _, l := range lns {
		names = append(names, l.Addr().String())
	}
	for _, rl := range rls {
		msg.Log(&d.log, "SOX0700I", rl.kind, rl.Addr()).Str("listen", rl.Addr().String()).Str("kind", rl.kind).Send()
	}
	msg.Log(&d.log, "SOX0002I", strings.Join(names, ", ")).Str("event", "ready").Strs("listen", names).Send()
	stopMetrics := d.serveMetrics()
	defer stopMetrics()
	if d.opt.Notify != nil {
		d.opt.Notify.Ready()
	}

	sessCtx, cancelSessions := context.WithCancel(context.Background())
	defer cancelSessions()
	var accepting sync.WaitGroup
	for _, ln := range lns {
		accepting.Add(1)
		go func() {
			defer accepting.Done()
			d.acceptLoop(sessCtx, ln, d.handle)
		}()
	}
	for _, rl := range rls {
		accepting.Add(1)
		go func() {
			defer accepting.Done()
			d.acceptLoop(sessCtx, rl, rl.handle(d))
		}()
	}
	d.serveForwards(sessCtx)
	d.serving.Store(true)
	select {
	case <-ctx.Done():
		d.Stop(false)
	case <-d.stopping:
	}
	d.serving.Store(false)
	for _, ln := range lns {
		ln.Close()
	}
	for _, rl := range rls {
		rl.Close()
	}
	d.closeForwards()
	accepting.Wait()
	d.drain(cancelSessions)
	// A session leaves the table just before its end is logged, and a
	// connection still in its handshake is in no table: wait for every
	// handler, so that no session_end is lost when the process exits.
	cancelSessions()
	d.waitHandlers(handlerGrace)
	d.pool.Close()
	msg.Log(&d.log, "SOX0008I").Str("event", "ended").Send()
	return nil
}

// handlerGrace bounds how long Serve waits, after the drain, for session
// handlers to log their end.
const handlerGrace = 10 * time.Second

// waitHandlers waits up to grace for every handle call to return.
func (d *Daemon) waitHandlers(grace time.Duration) {
	done := make(chan struct{})
	go func() { d.handlers.Wait(); close(done) }()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		msg.Log(&d.log, "SOX0014W", grace).Int64("waited_ms", grace.Milliseconds()).Send()
	}
}

// drain waits for running sessions, then cancels what is left.
func (d *Daemon) drain(cancel context.CancelFunc) {
	st := d.state.Load()
	n := d.sessions.count()
	if d.immediate.Load() || n == 0 {
		cancel()
		d.sessions.wait(context.Background())
		return
	}
	ctx, stop := context.WithTimeout(context.Background(), st.drain)
	defer stop()
	// A STOP IMMEDIATE during the drain ends it at once.
	go func() {
		select {
		case <-d.immediateCh():
			stop()
		case <-ctx.Done():
		}
	}()
	if err := d.sessions.wait(ctx); err != nil {
		// Ended by the timeout, or by a STOP IMMEDIATE (which Stop has
		// announced itself).
		if left := d.sessions.count(); !d.immediate.Load() {
			msg.Log(&d.log, "SOX0009W", left).Int("sessions", left).Send()
		}
		cancel()
		d.sessions.wait(context.Background())
	}
}

// immediateCh is closed when STOP IMMEDIATE arrives during a drain.
func (d *Daemon) immediateCh() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.immediateC == nil {
		d.immediateC = make(chan struct{})
		if d.immediate.Load() {
			close(d.immediateC)
		}
	}
	return d.immediateC
}

// acceptLoop accepts connections on ln until it is closed, each handled by
// handle in a goroutine of its own.
func (d *Daemon) acceptLoop(ctx context.Context, ln net.Listener, handle func(context.Context, net.Conn)) {
	backoff := 5 * time.Millisecond
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors or a similar passing trouble: wait a
			// little, so as not to spin, and go on.
			msg.Log(&d.log, "SOX0015W", ln.Addr(), err).Str("listen", ln.Addr().String()).Err(err).Send()
			select {
			case <-time.After(backoff):
			case <-d.stopping:
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		d.handlers.Add(1)
		go func() {
			defer d.handlers.Done()
			handle(ctx, c)
		}()
	}
}

// Stop begins a stop: the listeners close and running sessions drain.
// With immediate, sessions end at once. A STOP IMMEDIATE after a STOP ends
// the drain under way. Each stop is announced (SOX0007I) before it acts,
// so that the announcement is written before the process can end.
func (d *Daemon) Stop(immediate bool) {
	began := false
	d.stopOnce.Do(func() {
		began = true
		n := d.sessions.count()
		wait := d.state.Load().drain
		if immediate {
			wait = 0
		}
		if d.opt.Notify != nil {
			d.opt.Notify.Stopping()
		}
		msg.Log(&d.log, "SOX0007I", n, wait).Str("event", "stop").Int("sessions", n).Send()
		if immediate {
			d.setImmediate(false) // before the drain can begin: close(d.stopping) lets it
		}
		close(d.stopping)
	})
	if immediate && !began {
		d.setImmediate(true)
	}
}

// setImmediate marks the stop immediate and ends a drain under way, once.
// With announce, the first call first logs SOX0007I, while the sessions it
// ends are still counted, and only then acts: drain reads the mark without
// the lock, and once it sees the mark the process may end at any moment.
func (d *Daemon) setImmediate(announce bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.immediate.Load() { // only setImmediate sets it, under d.mu
		return
	}
	if announce {
		n := d.sessions.count()
		msg.Log(&d.log, "SOX0007I", n, time.Duration(0)).Str("event", "stop").Int("sessions", n).Send()
	}
	d.immediate.Store(true)
	if d.immediateC != nil {
		close(d.immediateC)
	}
}

// Done is closed when Serve has returned.
func (d *Daemon) Done() <-chan struct{} { return d.done }
