package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"

	"socksd/msg"
)

// Subsystem opens a session channel on the lease's connection and starts
// the named subsystem on it, such as "sftp". Reads of the stream are the
// subsystem's standard output and writes its standard input; its standard
// error is read and discarded. Close ends the session channel. The channel
// counts among the connection's channels, as a Dial does (max_channels,
// idle close, DISPLAY TUNNELS).
//
// A session channel the server refuses is a *SessionError wrapping
// ErrSessionRefused: sshd refuses one beyond its MaxSessions (default 10)
// per connection. The connection then remembers how many it had open, and
// Pool.Open gives a lease whose Profile.Sessions would not fit under that
// count another connection of the same identity. A server that refuses the
// subsystem itself (sshd without a Subsystem line for it) gives a
// *SessionError wrapping ErrSubsystemRefused. ctx bounds the wait for the
// server's answers.
func (l *Lease) Subsystem(ctx context.Context, name string) (io.ReadWriteCloser, error) {
	release, err := l.claim(true)
	if err != nil {
		return nil, err
	}
	c := l.c
	ch, err := c.openSession(ctx, name)
	if err != nil {
		var se *SessionError
		if errors.As(err, &se) && errors.Is(err, ErrSessionRefused) {
			l.p.mu.Lock()
			// The sessions open besides this one are what the server allows
			// (others being opened at the same moment may lower it further).
			allowed := c.sessions - 1
			if !c.capped || allowed < c.sessionCap {
				c.sessionCap, c.capped = allowed, true
			}
			se.Open = allowed
			l.p.mu.Unlock()
		}
		release()
		return nil, err
	}
	return &stream{Channel: ch, c: c, release: release}, nil
}

// openSession opens a session channel and starts the subsystem on it. The
// requests run on their own, so that ctx can end the wait (x/crypto/ssh
// takes no context there); a channel opened after ctx ended is closed.
func (c *tconn) openSession(ctx context.Context, name string) (ssh.Channel, error) {
	type result struct {
		ch  ssh.Channel
		err error
	}
	res := make(chan result, 1)
	go func() {
		ch, reqs, err := c.client.OpenChannel("session", nil)
		if err != nil {
			var oce *ssh.OpenChannelError
			if errors.As(err, &oce) {
				err = &SessionError{Server: c.server, Tunnel: c.id, Subsystem: name, Reason: oce.Reason, Message: oce.Message, Err: ErrSessionRefused}
			} else {
				err = fmt.Errorf("tunnel: session channel via %s: %w: %w", c.id, ErrTunnelClosed, err)
			}
			res <- result{err: err}
			return
		}
		go ssh.DiscardRequests(reqs) // exit-status and the like
		go io.Copy(io.Discard, ch.Stderr())
		ok, err := ch.SendRequest("subsystem", true, ssh.Marshal(struct{ Name string }{name}))
		switch {
		case err != nil:
			err = fmt.Errorf("tunnel: subsystem %s via %s: %w: %w", name, c.id, ErrTunnelClosed, err)
		case !ok:
			err = &SessionError{Server: c.server, Tunnel: c.id, Subsystem: name, Err: ErrSubsystemRefused}
		}
		if err != nil {
			ch.Close()
			res <- result{err: err}
			return
		}
		res <- result{ch: ch}
	}()
	select {
	case r := <-res:
		return r.ch, r.err
	case <-ctx.Done():
		go func() {
			if r := <-res; r.ch != nil {
				r.ch.Close()
			}
		}()
		return nil, fmt.Errorf("tunnel: subsystem %s via %s: %w", name, c.id, ctx.Err())
	}
}

// stream is a subsystem's session channel. It counts bytes for its
// connection and tells a dropped connection from the subsystem's EOF.
type stream struct {
	ssh.Channel
	c       *tconn
	release func()
	once    sync.Once
}

// Read reads the subsystem's standard output.
func (s *stream) Read(b []byte) (int, error) {
	n, err := s.Channel.Read(b)
	s.c.bytesDown.Add(int64(n))
	if err == io.EOF {
		if gone := s.c.goneErr.Load(); gone != nil {
			err = *gone
		}
	}
	return n, err
}

// Write writes to the subsystem's standard input.
func (s *stream) Write(b []byte) (int, error) {
	n, err := s.Channel.Write(b)
	s.c.bytesUp.Add(int64(n))
	return n, err
}

// Close ends the session channel and counts it off its connection.
func (s *stream) Close() error {
	err := s.Channel.Close()
	s.once.Do(s.release)
	if errors.Is(err, io.EOF) {
		err = nil // the server closed it first
	}
	return err
}

// Subsystems are the channels of one subsystem that a session opened while
// its credentials were at hand (Pool.OpenSubsystems), over one or more
// connections of the same identity, and the leases on those connections.
// It is safe for concurrent use.
type Subsystems struct {
	name string

	mu     sync.Mutex
	leases []*Lease
	ready  []io.ReadWriteCloser // opened, not yet handed out
	all    []io.ReadWriteCloser // every stream opened, for Close
	closed bool
}

// maxSessionSpill bounds the connections OpenSubsystems opens per channel
// it needs.
const maxSessionSpill = 2

// OpenSubsystems opens a lease for prof, destHost and cred, as Open does,
// and n channels of the subsystem name on it (Lease.Subsystem). When the
// server refuses a session channel on that connection (sshd's MaxSessions)
// it opens another lease of the same identity for the channels still
// missing, logging SOX0217W: Pool.Open passes over connections known to be
// full and connects anew when none has room. That is why the channels are
// all opened here, while the credentials are at hand; OpenSubsystems keeps
// no reference to cred.Password. A refused subsystem, or a server that
// allows no session channel at all, ends it with that *SessionError; so
// does any error of Open. prof.SessionChannels and prof.Sessions are set
// from n.
func (p *Pool) OpenSubsystems(ctx context.Context, prof Profile, destHost string, cred Credentials, name string, n int) (*Subsystems, error) {
	n = max(n, 1)
	set := &Subsystems{name: name}
	need := n
	for attempt := 0; need > 0; attempt++ {
		if attempt >= maxSessionSpill*n {
			set.Close()
			return nil, fmt.Errorf("tunnel: %d of %d %s channels open after %d connections: %w", n-need, n, name, attempt, ErrSessionRefused)
		}
		prof.SessionChannels, prof.Sessions = need, need
		l, err := p.Open(ctx, prof, destHost, cred)
		if err != nil {
			set.Close()
			return nil, err
		}
		opened := 0
		for need > 0 {
			s, err := l.Subsystem(ctx, name)
			if err == nil {
				set.ready = append(set.ready, s)
				set.all = append(set.all, s)
				opened++
				need--
				continue
			}
			var se *SessionError
			if !errors.As(err, &se) || !errors.Is(err, ErrSessionRefused) || se.Open == 0 {
				l.Close()
				set.Close()
				return nil, err
			}
			msg.Log(&p.opts.Logger, "SOX0217W", l.ID(), l.Server(), se.Open, l.User()).
				Str("tunnel", l.ID()).Str("server", l.Server()).Str("user", l.User()).Int("sessions", se.Open).Send()
			break
		}
		if opened == 0 {
			l.Close() // a connection that filled up since Open picked it
			continue
		}
		set.leases = append(set.leases, l)
	}
	return set, nil
}

// Subsystem hands out a channel of the subsystem: one opened by
// OpenSubsystems first, then a new one on the set's connections, the
// newest first, passing over those that refuse a session channel (no new
// connection is made: the credentials are gone). A name other than the
// set's always opens a new channel.
func (s *Subsystems) Subsystem(ctx context.Context, name string) (io.ReadWriteCloser, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("tunnel: %s channels already closed", s.name)
	}
	if name == s.name && len(s.ready) > 0 {
		st := s.ready[0]
		s.ready = s.ready[1:]
		s.mu.Unlock()
		return st, nil
	}
	leases := slices.Clone(s.leases)
	s.mu.Unlock()
	var err error
	for i := len(leases) - 1; i >= 0; i-- {
		var st io.ReadWriteCloser
		st, err = leases[i].Subsystem(ctx, name)
		if err == nil {
			s.mu.Lock()
			closed := s.closed
			if !closed {
				s.all = append(s.all, st)
			}
			s.mu.Unlock()
			if closed {
				st.Close()
				return nil, fmt.Errorf("tunnel: %s channels already closed", s.name)
			}
			return st, nil
		}
		if !errors.Is(err, ErrSessionRefused) {
			return nil, err
		}
	}
	return nil, err
}

// Dial opens a direct-tcpip channel on the first connection (Lease.Dial).
func (s *Subsystems) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return s.leases[0].Dial(ctx, network, addr)
}

// Server returns the SSH server's "host:port".
func (s *Subsystems) Server() string { return s.leases[0].Server() }

// ID returns the ids of the connections, joined by "+": "T0003+T0007".
func (s *Subsystems) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, len(s.leases))
	for i, l := range s.leases {
		ids[i] = l.ID()
	}
	return strings.Join(ids, "+")
}

// Leases returns how many connections the channels are spread over.
func (s *Subsystems) Leases() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.leases)
}

// Close closes every channel opened, handed out or not, and releases the
// leases. It is safe to call more than once.
func (s *Subsystems) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	all, leases := s.all, s.leases
	s.all, s.ready = nil, nil
	s.mu.Unlock()
	for _, st := range all {
		st.Close()
	}
	for _, l := range leases {
		l.Close()
	}
	return nil
}
