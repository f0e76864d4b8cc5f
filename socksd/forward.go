package socksd

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"socksd/config"
	"socksd/console"
	"socksd/msg"
	"socksd/rules"
	"socksd/socks"
)

// forwards holds the listeners of the fixed local tunnels ([[forwards]]),
// by listen address as the configuration writes it. A RELOAD opens the
// forwards it adds and closes those it removes (sync); their running
// sessions are not the listener's and go on.
type forwards struct {
	mu     sync.Mutex
	byAddr map[string]*fwdListener
	ctx    context.Context // the sessions' context once Serve runs, nil before
	closed bool            // Serve has stopped accepting: nothing opens again
	loops  sync.WaitGroup  // running accept loops
}

// fwdListener is one forward's listener and its counters.
type fwdListener struct {
	listen  string
	label   string // forwards.name, or the listen address
	ln      net.Listener
	to      string // what the listener was opened or last synced for,
	profile string // to tell a changed forward (SOX0745I)
	live    atomic.Int64
	total   atomic.Int64
}

// syncForwards makes the forward listeners those of cfg: it opens the new
// ones (starting their accept loops once Serve runs) and closes those cfg
// lacks. At the start a listen failure is returned, after closing what it
// opened; after a RELOAD it is logged (SOX0742E) and the rest goes on.
func (d *Daemon) syncForwards(cfg *config.Config, atStart bool) error {
	f := &d.fwd
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || !atStart && d.state.Load().cfg != cfg {
		// Stopping; or a later RELOAD has swapped its configuration in
		// and syncs (or synced) the listeners to it.
		return nil
	}
	if f.byAddr == nil {
		f.byAddr = map[string]*fwdListener{}
	}
	want := map[string]bool{}
	var opened []*fwdListener
	for _, fw := range cfg.Forwards {
		want[fw.Listen] = true
		if fl, ok := f.byAddr[fw.Listen]; ok {
			fl.label = fw.Label()
			if fl.to != fw.To || fl.profile != fw.Profile {
				fl.to, fl.profile = fw.To, fw.Profile
				msg.Log(&d.log, "SOX0745I", fw.Label(), fw.To, fw.Profile).Str("forward", fw.Label()).
					Str("listen", fw.Listen).Str("to", fw.To).Str("profile", fw.Profile).Send()
			}
			continue
		}
		ln, err := net.Listen("tcp", fw.Listen)
		if err != nil {
			msg.Log(&d.log, "SOX0742E", fw.Label(), fw.Listen, err).Str("forward", fw.Label()).Str("listen", fw.Listen).Err(err).Send()
			if atStart {
				for _, fl := range opened {
					fl.ln.Close()
					delete(f.byAddr, fl.listen)
				}
				return fmt.Errorf("socksd: forward %s: listen %s: %w", fw.Label(), fw.Listen, err)
			}
			continue
		}
		fl := &fwdListener{listen: fw.Listen, label: fw.Label(), ln: ln, to: fw.To, profile: fw.Profile}
		f.byAddr[fw.Listen] = fl
		opened = append(opened, fl)
		msg.Log(&d.log, "SOX0740I", fw.Label(), ln.Addr(), fw.To, fw.Profile).Str("forward", fw.Label()).
			Str("listen", ln.Addr().String()).Str("to", fw.To).Str("profile", fw.Profile).Send()
	}
	for addr, fl := range f.byAddr {
		if !want[addr] {
			d.closeForward(fl)
			delete(f.byAddr, addr)
		}
	}
	if f.ctx != nil {
		for _, fl := range opened {
			d.acceptForward(fl)
		}
	}
	return nil
}

// serveForwards starts accepting on the forward listeners, with the
// sessions' context ctx.
func (d *Daemon) serveForwards(ctx context.Context) {
	f := &d.fwd
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ctx = ctx
	for _, fl := range f.byAddr {
		d.acceptForward(fl)
	}
}

// acceptForward starts fl's accept loop; f.mu is held.
func (d *Daemon) acceptForward(fl *fwdListener) {
	ctx := d.fwd.ctx
	d.fwd.loops.Add(1)
	go func() {
		defer d.fwd.loops.Done()
		d.acceptLoop(ctx, fl.ln, func(ctx context.Context, c net.Conn) { d.handleForward(ctx, c, fl) })
	}()
}

// closeForwards closes every forward listener, for good, and waits for
// their accept loops; running sessions go on (Serve drains them).
func (d *Daemon) closeForwards() {
	f := &d.fwd
	f.mu.Lock()
	f.closed = true
	for addr, fl := range f.byAddr {
		d.closeForward(fl)
		delete(f.byAddr, addr)
	}
	f.mu.Unlock()
	f.loops.Wait()
}

// closeForward closes one forward's listener and says so.
func (d *Daemon) closeForward(fl *fwdListener) {
	fl.ln.Close()
	n := fl.live.Load()
	msg.Log(&d.log, "SOX0741I", fl.label, fl.listen, n).Str("forward", fl.label).Str("listen", fl.listen).Int64("sessions", n).Send()
}

// forwardOf returns the forward of cfg that listens on listen, or nil.
func forwardOf(cfg *config.Config, listen string) *config.Forward {
	if cfg == nil {
		return nil
	}
	for _, fw := range cfg.Forwards {
		if fw.Listen == listen {
			return fw
		}
	}
	return nil
}

// handleForward runs one connection accepted by a forward's listener.
func (d *Daemon) handleForward(ctx context.Context, c net.Conn, fl *fwdListener) {
	d.run(ctx, c, originForward, func(r *request) outcome { return r.serveForward(fl) })
}

// serveForward takes a forward's connection through allow_clients and the
// limits, and carries it through the forward's profile to its destination
// as the tunnel action carries a SOCKS CONNECT: the forward is its own
// decision, with rule "forward:NAME" and action tunnel; the rules are not
// consulted. The forward's settings are those of the request's snapshot.
func (r *request) serveForward(fl *fwdListener) outcome {
	d, s := r.d, r.s
	fw := forwardOf(r.st.cfg, fl.listen)
	if fw == nil {
		// Removed by a RELOAD between the accept and this snapshot.
		return r.turnAway(resultRefused, func() {
			msg.Log(&d.log, "SOX0744W", fl.listen, s.client).Str("listen", fl.listen).Str("client", s.client.String()).Send()
		})
	}
	if out, ok := r.checkClient(); !ok {
		return out
	}
	s.id = d.nextID.Add(1)                                             // not yet shared: the session is in no table
	r.req = &socks.Request{Command: socks.CmdConnect, Dest: fw.Dest()} // Version 0: no SOCKS replies
	rule := "forward:" + fw.Label()
	s.set(func(s *session) {
		s.dest = fw.Dest().String()
		s.command = socks.CmdConnect.String()
		s.rule, s.action = rule, rules.Tunnel.String()
	})
	if out, ok := r.admit(); !ok {
		return out
	}
	fl.total.Add(1)
	fl.live.Add(1)
	defer fl.live.Add(-1)
	return r.tunnel(&rules.Rule{Name: rule, Action: rules.Tunnel, Profile: fw.Profile})
}

// Forwards lists the forwards of the configuration in use, with their
// sessions.
func (d *Daemon) Forwards() []console.ForwardInfo {
	cfg := d.state.Load().cfg
	f := &d.fwd
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]console.ForwardInfo, 0, len(cfg.Forwards))
	for _, fw := range cfg.Forwards {
		fi := console.ForwardInfo{Name: fw.Label(), Listen: fw.Listen, To: fw.To, Profile: fw.Profile}
		if fl, ok := f.byAddr[fw.Listen]; ok {
			fi.Listening = true
			fi.Sessions, fi.Total = fl.live.Load(), fl.total.Load()
		}
		out = append(out, fi)
	}
	return out
}
