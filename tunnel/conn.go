package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"socksd/socks"
	"socksd/tunnel/openssh"
)

// identity is what must be equal for two sessions to share a connection.
type identity struct {
	profile string
	server  string
	user    string
	via     socks.ProxyURL
	cred    digest // keyed hash of the password; zero when none is used
}

// tconn is one authenticated SSH connection. Its counters are guarded by
// the pool's mutex.
type tconn struct {
	id      string
	key     identity
	server  string
	user    string
	profile string
	method  string
	share   bool
	maxCh   int
	client  *ssh.Client // builtin: the connection; openssh: proxy mode on the master's control socket
	opened  time.Time
	engine  string          // EngineBuiltin or EngineOpenSSH
	master  *openssh.Master // the openssh engine's ssh process, else nil
	pid     int             // master's PID

	// guarded by Pool.mu
	leases   int
	reserved int // channels reserved by the leases (Profile.SessionChannels each)
	channels int
	total    int
	lastUsed time.Time
	sessions int // session channels open (Lease.Subsystem)
	// sessionCap is how many session channels the server allows, learned
	// when it refused one; valid when capped.
	sessionCap int
	capped     bool
	dead       bool
	idleTimer  *time.Timer
	idleGen    int

	bytesDown atomic.Int64 // from the destination to the application
	bytesUp   atomic.Int64 // from the application to the destination

	keepaliveReplies atomic.Int64

	// goneErr is set before the pool closes the connection, so that channel
	// reads can tell a dropped connection from the destination's EOF.
	goneErr atomic.Pointer[error]

	done      chan struct{}
	closeOnce sync.Once
}

// close closes the SSH connection once.
func (c *tconn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.client.Close()
		if c.master != nil {
			c.master.Stop() // SIGTERM, then SIGKILL; reaped
		}
	})
}

// full reports whether the connection has no room for a lease that
// reserves n channels.
func (c *tconn) full(n int) bool {
	return c.reserved+n > c.maxCh || c.channels >= c.maxCh
}

// roomForSessions reports whether n more session channels may fit: the
// server has refused none yet, or they fit under the count it refused at.
func (c *tconn) roomForSessions(n int) bool {
	return n <= 0 || !c.capped || c.sessions+n <= c.sessionCap
}

// keepalive sends keepalive@openssh.com every interval and closes the
// connection after max requests whose reply did not arrive within an
// interval. It returns when the connection closes.
func (c *tconn) keepalive(interval time.Duration, max int, onDead func(reason string, missed int)) {
	if interval <= 0 {
		return
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var outstanding atomic.Bool
	missed := 0
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
		if outstanding.Load() {
			missed++
			if missed >= max {
				onDead(fmt.Sprintf("%d keepalive replies missed", missed), missed)
				return
			}
			continue
		}
		missed = 0
		outstanding.Store(true)
		go func() {
			_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
			if err != nil {
				onDead("keepalive: "+err.Error(), 0)
				return
			}
			c.keepaliveReplies.Add(1)
			outstanding.Store(false)
		}()
	}
}

// openChannel opens a direct-tcpip channel and types its failure.
func (c *tconn) openChannel(ctx context.Context, addr string) (net.Conn, error) {
	nc, err := c.client.DialContext(ctx, "tcp", addr)
	if err == nil {
		return nc, nil
	}
	var oce *ssh.OpenChannelError
	switch {
	case errors.As(err, &oce):
		return nil, &ChannelError{Addr: addr, Reason: oce.Reason, Message: oce.Message}
	case ctx.Err() != nil:
		return nil, fmt.Errorf("tunnel: channel to %s via %s: %w", addr, c.id, ctx.Err())
	default:
		// Anything but a refusal is the connection failing.
		return nil, fmt.Errorf("tunnel: channel to %s via %s: %w: %w", addr, c.id, ErrTunnelClosed, err)
	}
}
