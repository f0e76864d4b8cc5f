package tunnel

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"socksd/internal/scrub"
	"socksd/msg"
	"socksd/tunnel/openssh"
)

// maxOpenRounds bounds how often Open waits for another dial and retries.
const maxOpenRounds = 1000

// Pool holds the SSH connections and hands out leases on them.
type Pool struct {
	opts    Options
	hk      *hostKeys
	hmacKey []byte
	rejects *rejectMemory
	ctx     context.Context // canceled by Close; bounds every dial
	cancel  context.CancelFunc

	mu      sync.Mutex
	closed  bool
	nextID  int
	conns   map[identity][]*tconn // shared connections by identity
	byID    map[string]*tconn     // every live connection
	pending map[identity]*pendingDial
	// pwBusy holds a channel per (server, user, password) whose login is
	// under way: a second attempt with the same password waits for the
	// outcome instead of offering the password in parallel.
	pwBusy map[digest]chan struct{}
	wg     sync.WaitGroup

	eng engineState // the openssh engine: ssh found, runtime directory
}

// pendingDial is a shared connection being set up; others with the same
// identity wait for it instead of dialing too.
type pendingDial struct {
	done chan struct{}
	err  error
}

// NewPool checks the options, fills in defaults and returns an empty pool.
func NewPool(opts Options) (*Pool, error) {
	if err := CheckHostKeyPolicy(opts.HostKeyPolicy); err != nil {
		return nil, err
	}
	if _, err := ParseEngine(opts.Engine); err != nil {
		return nil, err
	}
	if opts.HostKeyPolicy == "" {
		opts.HostKeyPolicy = PolicyStrict
	}
	if opts.KeepaliveInterval == 0 {
		opts.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if opts.KeepaliveMax <= 0 {
		opts.KeepaliveMax = DefaultKeepaliveMax
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.IdleClose <= 0 {
		opts.IdleClose = DefaultIdleClose
	}
	if opts.RejectMemory <= 0 {
		opts.RejectMemory = DefaultRejectMemory
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("tunnel: hmac key: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{
		opts:    opts,
		hk:      &hostKeys{files: slices.Clone(opts.KnownHosts), policy: opts.HostKeyPolicy, log: opts.Logger},
		hmacKey: key,
		rejects: newRejectMemory(opts.RejectMemory),
		ctx:     ctx,
		cancel:  cancel,
		conns:   map[identity][]*tconn{},
		byID:    map[string]*tconn{},
		pending: map[identity]*pendingDial{},
		pwBusy:  map[digest]chan struct{}{},
	}, nil
}

// request is one resolved Open call.
type request struct {
	prof     Profile
	server   string
	user     string
	password []byte // in Open the caller's Credentials.Password (read, not kept); in connect the dial's own copy
	key      identity
	reject   digest
}

// resolve applies the profile to the destination and credentials.
func (p *Pool) resolve(prof Profile, destHost string, cred Credentials) (request, error) {
	if !prof.prepared {
		var err error
		if prof, err = prof.Prepare(); err != nil {
			return request{}, err
		}
	}
	host := prof.Host
	if host == "" {
		host = destHost
	}
	if host == "" {
		return request{}, fmt.Errorf("%w %q: no ssh host (profile host and destination are empty)", ErrBadProfile, prof.Name)
	}
	user := prof.User
	if user == "" {
		user = cred.User
	}
	if user == "" {
		return request{}, fmt.Errorf("%w %q: no ssh user (profile user and application user are empty)", ErrBadProfile, prof.Name)
	}
	r := request{prof: prof, server: net.JoinHostPort(host, strconv.Itoa(prof.Port)), user: user}
	if prof.usesPassword() {
		r.password = cred.Password
	}
	r.key = identity{profile: prof.Name, server: r.server, user: user, via: prof.Via}
	if len(r.password) > 0 {
		r.key.cred = keyedHash(p.hmacKey, []byte("cred"), r.password)
		r.reject = keyedHash(p.hmacKey, []byte("reject"), []byte(r.server), []byte(user), r.password)
	}
	return r, nil
}

// Open returns a lease on an authenticated SSH connection for the profile,
// the destination host (used when Profile.Host is empty) and the
// application's credentials. With Profile.Share it reuses a connection of
// the same identity that has room; otherwise it connects. ctx bounds the
// wait; the connect itself is bounded by Options.ConnectTimeout.
func (p *Pool) Open(ctx context.Context, prof Profile, destHost string, cred Credentials) (*Lease, error) {
	r, err := p.resolve(prof, destHost, cred)
	if err != nil {
		return nil, err
	}
	n := max(prof.SessionChannels, 1)
	for round := 0; round < maxOpenRounds; round++ {
		if len(r.password) > 0 && p.rejects.rejected(r.reject, time.Now()) {
			err := &AuthError{Server: r.server, User: r.user, Err: ErrPasswordRejectedRecently}
			// The caller logs the operator message (SOX0206W).
			p.opts.Logger.Debug().Str("server", r.server).Str("user", r.user).Str("profile", r.prof.Name).Msg(err.Error())
			return nil, err
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrPoolClosed
		}
		if r.prof.Share {
			// Spreading: another connection is wanted while the ones
			// open are all in use; meanwhile (one dial at a time per
			// identity) a session takes the least loaded one.
			c, live := p.pickLocked(r.key, n, prof.Sessions)
			if c != nil && (c.leases+c.channels == 0 || live >= r.prof.Spread || p.pending[r.key] != nil) {
				p.takeLocked(c, n)
				p.mu.Unlock()
				return &Lease{p: p, c: c, n: n}, nil
			}
			if pd := p.pending[r.key]; pd != nil {
				p.mu.Unlock()
				select {
				case <-pd.done:
				case <-ctx.Done():
					return nil, fmt.Errorf("tunnel: waiting for connection to %s: %w", r.server, ctx.Err())
				}
				if pd.err != nil {
					return nil, pd.err
				}
				continue
			}
		}
		var busy chan struct{}
		if len(r.password) > 0 {
			if other := p.pwBusy[r.reject]; other != nil {
				p.mu.Unlock()
				select {
				case <-other:
				case <-ctx.Done():
					return nil, fmt.Errorf("tunnel: waiting for another login to %s: %w", r.server, ctx.Err())
				}
				continue
			}
			busy = make(chan struct{})
			p.pwBusy[r.reject] = busy
		}
		pd := &pendingDial{done: make(chan struct{})}
		if r.prof.Share {
			p.pending[r.key] = pd
		}
		p.wg.Add(1)
		p.mu.Unlock()

		// The dial runs on its own (bounded by connect_timeout and Close),
		// so a caller that gives up does not abort a connection others wait
		// for; the lease reserved for it is then released.
		//
		// The dial gets its own copy of the password, since it may outlive
		// Open; it wipes the copy when the login is over and has the
		// runtime erase what the SSH library made of it (scrub.Release).
		res := make(chan *tconn, 1)
		dr := r
		dr.password = bytes.Clone(r.password)
		go func() {
			defer p.wg.Done()
			c, err := p.connect(dr)
			if len(dr.password) > 0 {
				clear(dr.password)
				defer scrub.Release()
			}
			res <- p.register(dr, c, err, pd, busy, n)
		}()
		select {
		case c := <-res:
			if c == nil {
				return nil, pd.err
			}
			return &Lease{p: p, c: c, n: n}, nil
		case <-ctx.Done():
			go func() {
				if c := <-res; c != nil {
					(&Lease{p: p, c: c, n: n}).Close()
				}
			}()
			return nil, fmt.Errorf("tunnel: connecting to %s: %w", r.server, ctx.Err())
		}
	}
	return nil, fmt.Errorf("tunnel: no connection to %s after %d rounds", r.server, maxOpenRounds)
}

// register puts a new connection into the pool with one lease reserved
// for the caller, ends the pending dial and returns the connection (nil on
// failure, with the error in pd.err).
func (p *Pool) register(r request, c *tconn, err error, pd *pendingDial, busy chan struct{}, n int) *tconn {
	p.mu.Lock()
	if p.pending[r.key] == pd {
		delete(p.pending, r.key)
	}
	if busy != nil {
		delete(p.pwBusy, r.reject)
		close(busy)
	}
	if err == nil && p.closed {
		err = ErrPoolClosed
		c.close()
	}
	pd.err = err
	if err == nil {
		c.leases = 1
		c.reserved = n
		c.lastUsed = time.Now()
		p.byID[c.id] = c
		if c.share {
			p.conns[r.key] = append(p.conns[r.key], c)
		}
		go p.watch(c)
	}
	p.mu.Unlock()
	close(pd.done)
	if p.opts.OnDial != nil {
		if err == nil {
			p.opts.OnDial(c.engine, c.method, nil)
		} else {
			engine, _ := p.EngineOf(r.prof)
			p.opts.OnDial(engine, "", err)
		}
	}
	if err != nil {
		return nil
	}
	return c
}

// pickLocked returns the least loaded live connection of the identity
// that has room for a lease reserving n channels, for sessions session
// channels too (nil if none), and how many live connections the identity
// has.
func (p *Pool) pickLocked(key identity, n, sessions int) (best *tconn, live int) {
	for _, c := range p.conns[key] {
		if c.dead {
			continue
		}
		live++
		if c.full(n) || !c.roomForSessions(sessions) {
			continue
		}
		if best == nil || c.leases+c.channels < best.leases+best.channels {
			best = c
		}
	}
	return best, live
}

// takeLocked takes a lease reserving n channels on c.
func (p *Pool) takeLocked(c *tconn, n int) {
	c.leases++
	c.reserved += n
	c.lastUsed = time.Now()
	p.stopIdleLocked(c)
}

// watch removes the connection from the pool when it ends, and runs its
// keepalive.
func (p *Pool) watch(c *tconn) {
	if c.master != nil {
		p.watchMaster(c)
		return
	}
	go c.keepalive(p.opts.KeepaliveInterval, p.opts.KeepaliveMax, func(reason string, missed int) {
		if missed > 0 {
			// The operator message for a server that stopped answering.
			msg.Log(&p.opts.Logger, "SOX0207W", c.id, c.server, missed).
				Str("tunnel", c.id).Str("server", c.server).Int("missed", missed).Send()
		}
		p.drop(c, reason)
	})
	err := c.client.Wait()
	reason := "closed"
	if err != nil {
		reason = err.Error()
	}
	p.drop(c, reason)
}

// watchMaster removes an openssh connection from the pool when its master
// exits or its proxy-mode client ends. The master runs its own keepalive
// (ServerAliveInterval).
func (p *Pool) watchMaster(c *tconn) {
	clientDone := make(chan error, 1)
	go func() { clientDone <- c.client.Wait() }()
	reason := "closed"
	select {
	case <-c.master.Done():
	case err := <-clientDone:
		if err != nil {
			reason = err.Error()
		}
		// The proxy-mode connection ends when the master does, usually
		// a little before the master is reaped: wait for it (bounded), so
		// that the master's own reason is the one logged.
		t := time.NewTimer(masterExitWait)
		select {
		case <-c.master.Done():
		case <-t.C:
		case <-c.done:
		}
		t.Stop()
	case <-c.done:
	}
	err := c.master.Err()
	if err != nil {
		reason = err.Error()
	}
	var me *openssh.MasterError
	if errors.As(err, &me) && strings.Contains(me.Stderr, "Timeout, server") {
		// ssh's ServerAlive gave up ("Timeout, server H not responding."):
		// the same operator message as the builtin keepalive's.
		missed := p.opts.KeepaliveMax
		reason = fmt.Sprintf("%d keepalive replies missed", missed)
		msg.Log(&p.opts.Logger, "SOX0207W", c.id, c.server, missed).
			Str("tunnel", c.id).Str("server", c.server).Int("missed", missed).Int("pid", c.pid).Send()
	}
	p.drop(c, reason)
}

// masterExitWait bounds how long watchMaster waits for a master to be
// reaped after its proxy-mode connection ended.
const masterExitWait = 5 * time.Second

// drop takes the connection out of the pool and closes it. Reads on its
// channels then fail with an error wrapping ErrTunnelClosed.
func (p *Pool) drop(c *tconn, reason string) {
	p.dropWith(c, reason, fmt.Errorf("tunnel: %s closed (%s): %w", c.id, reason, ErrTunnelClosed))
}

// dropWith is drop with the error that reads on the channels return.
func (p *Pool) dropWith(c *tconn, reason string, cause error) {
	p.mu.Lock()
	already := p.removeLocked(c, cause)
	p.mu.Unlock()
	p.finish(c, already, reason)
}

// removeLocked marks the connection dead and takes it out of the maps; it
// reports whether that had already happened. cause is what reads on its
// channels return from now on.
func (p *Pool) removeLocked(c *tconn, cause error) (already bool) {
	already = c.dead
	c.dead = true
	if !already {
		c.goneErr.Store(&cause)
	}
	p.stopIdleLocked(c)
	delete(p.byID, c.id)
	if list := p.conns[c.key]; list != nil {
		list = slices.DeleteFunc(list, func(x *tconn) bool { return x == c })
		if len(list) == 0 {
			delete(p.conns, c.key)
		} else {
			p.conns[c.key] = list
		}
	}
	return already
}

// finish closes a removed connection and logs it once.
func (p *Pool) finish(c *tconn, already bool, reason string) {
	c.close()
	if already {
		return
	}
	p.mu.Lock()
	channels, total := c.channels, c.total
	p.mu.Unlock()
	msg.Log(&p.opts.Logger, "SOX0202I", c.id, c.server, reason).
		Str("tunnel", c.id).Str("server", c.server).Str("user", c.user).
		Int("channels_open", channels).Int("channels_total", total).
		Int64("bytes_down", c.bytesDown.Load()).Int64("bytes_up", c.bytesUp.Load()).
		Str("reason", reason).Send()
}

// releaseLocked notes that a lease or channel ended and starts the idle
// timer (or closes an unshared connection) when nothing uses it.
func (p *Pool) releaseLocked(c *tconn) (closeNow bool) {
	c.lastUsed = time.Now()
	if c.dead || c.leases > 0 || c.channels > 0 {
		return false
	}
	if !c.share {
		return true
	}
	p.stopIdleLocked(c)
	c.idleGen++
	gen := c.idleGen
	c.idleTimer = time.AfterFunc(p.opts.IdleClose, func() {
		// Check and remove under one lock, so that no Open can pick the
		// connection in between.
		p.mu.Lock()
		idle := !c.dead && c.idleGen == gen && c.leases == 0 && c.channels == 0
		already := true
		if idle {
			already = p.removeLocked(c, fmt.Errorf("tunnel: %s closed (idle): %w", c.id, ErrTunnelClosed))
		}
		p.mu.Unlock()
		if idle {
			p.finish(c, already, "idle")
		}
	})
	return false
}

func (p *Pool) stopIdleLocked(c *tconn) {
	if c.idleTimer != nil {
		c.idleTimer.Stop()
		c.idleTimer = nil
	}
	c.idleGen++
}

// Dial opens a lease and a channel to addr in one step (for the tunnel
// action); closing the returned conn releases the lease.
func (p *Pool) Dial(ctx context.Context, prof Profile, destHost string, cred Credentials, addr string) (net.Conn, error) {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var l *Lease
		l, err = p.Open(ctx, prof, destHost, cred)
		if err != nil {
			return nil, err
		}
		var nc net.Conn
		nc, err = l.dial(ctx, "tcp", addr, true)
		if err == nil {
			return nc, nil
		}
		l.Close()
		// A shared connection can die between Open and the channel (server
		// restarted, not yet noticed): drop it and connect once more.
		if !errors.Is(err, ErrTunnelClosed) || ctx.Err() != nil {
			return nil, err
		}
		p.drop(l.c, "channel open failed: "+err.Error())
	}
	return nil, err
}

// TunnelInfo describes one SSH connection for DISPLAY TUNNELS.
type TunnelInfo struct {
	ID            string
	Server        string
	User          string
	Profile       string
	Method        string // the auth method that succeeded (builtin only; "" for openssh)
	Engine        string // EngineBuiltin or EngineOpenSSH
	PID           int    // the openssh master's process id; 0 for builtin
	Shared        bool
	Leases        int
	Channels      int // open now, session channels included
	Sessions      int // session channels (subsystems) open now
	TotalChannels int // opened since connect
	Opened        time.Time
	LastUsed      time.Time
	BytesDown     int64 // destination to application
	BytesUp       int64 // application to destination
}

// Snapshot lists the live connections ordered by id.
func (p *Pool) Snapshot() []TunnelInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]TunnelInfo, 0, len(p.byID))
	for _, c := range p.byID {
		out = append(out, TunnelInfo{
			ID: c.id, Server: c.server, User: c.user, Profile: c.profile, Method: c.method, Shared: c.share,
			Engine: c.engine, PID: c.pid,
			Leases: c.leases, Channels: c.channels, Sessions: c.sessions, TotalChannels: c.total,
			Opened: c.opened, LastUsed: c.lastUsed, BytesDown: c.bytesDown.Load(), BytesUp: c.bytesUp.Load(),
		})
	}
	slices.SortFunc(out, func(a, b TunnelInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Drop closes the connection with this id (operator DROP TUNNEL); its
// channels end.
func (p *Pool) Drop(id string) error {
	p.mu.Lock()
	c := p.byID[strings.ToUpper(id)]
	p.mu.Unlock()
	if c == nil {
		return fmt.Errorf("%w: %q", ErrNoSuchTunnel, id)
	}
	// The operator canceled the sessions it carries: their reads say so.
	p.dropWith(c, "dropped by operator", fmt.Errorf("tunnel: %s dropped by operator: %w: %w", c.id, ErrTunnelClosed, context.Canceled))
	return nil
}

// Close closes every connection, aborts dials in progress and makes later
// Opens fail with ErrPoolClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	conns := make([]*tconn, 0, len(p.byID))
	for _, c := range p.byID {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	p.cancel()
	for _, c := range conns {
		p.dropWith(c, "pool closed", fmt.Errorf("tunnel: %s closed: %w: %w: %w", c.id, ErrPoolClosed, ErrTunnelClosed, context.Canceled))
	}
	p.wg.Wait()
	p.removeRuntimeDir()
	return nil
}
