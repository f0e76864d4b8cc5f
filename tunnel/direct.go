package tunnel

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// dialDirect opens a direct-tcpip channel to addr ("host:port") on c, as
// ssh.Client.DialContext does, but without its two goroutines per
// channel (one discarding channel requests, one copying stderr away with
// an 8 KiB buffer): the connection's requests goroutine (c.discard)
// refuses the channel's requests, and its extended data, which a
// direct-tcpip channel never carries, is not read. An idle channel so
// holds no goroutine of its own.
func (c *tconn) dialDirect(ctx context.Context, addr string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	host, portString, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portString, 10, 16)
	if err != nil {
		return nil, err
	}
	payload := ssh.Marshal(&struct {
		RAddr string
		RPort uint32
		LAddr string
		LPort uint32
	}{host, uint32(port), net.IPv4zero.String(), 0})
	type opened struct {
		ch  ssh.Channel
		in  <-chan *ssh.Request
		err error
	}
	res := make(chan opened)
	go func() {
		ch, in, err := c.client.OpenChannel("direct-tcpip", payload)
		select {
		case res <- opened{ch, in, err}:
		case <-ctx.Done():
			if err == nil {
				c.discard.add(in)
				ch.Close()
			}
		}
	}()
	select {
	case o := <-res:
		if o.err != nil {
			return nil, o.err
		}
		c.discard.add(o.in)
		return &chanConn{Channel: o.ch}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// zeroAddr is the local and remote address of a channel, as x/crypto
// gives them.
var zeroAddr = &net.TCPAddr{IP: net.IPv4zero}

// chanConn is an SSH channel as a net.Conn. Deadlines are the channel
// wrapper's (see channel); these fail as x/crypto's do.
type chanConn struct{ ssh.Channel }

func (*chanConn) LocalAddr() net.Addr  { return zeroAddr }
func (*chanConn) RemoteAddr() net.Addr { return zeroAddr }

func (*chanConn) SetDeadline(time.Time) error {
	return fmt.Errorf("tunnel: channel deadlines are kept by the wrapper")
}
func (c *chanConn) SetReadDeadline(t time.Time) error  { return c.SetDeadline(t) }
func (c *chanConn) SetWriteDeadline(t time.Time) error { return c.SetDeadline(t) }

// requestSink refuses the channel requests of a connection's direct-tcpip
// channels (as ssh.DiscardRequests does) in one goroutine per connection,
// which selects over the channels' request queues; a queue leaves the set
// when its channel closes. The goroutine starts with the first channel
// and ends with the connection (done).
type requestSink struct {
	done  <-chan struct{}
	once  sync.Once
	mu    sync.Mutex
	added []<-chan *ssh.Request
	wake  chan struct{} // capacity 1: added is not empty
}

func newRequestSink(done <-chan struct{}) *requestSink {
	return &requestSink{done: done, wake: make(chan struct{}, 1)}
}

// add hands the request queue of a new channel to the sink.
func (s *requestSink) add(in <-chan *ssh.Request) {
	s.once.Do(func() { go s.run() })
	s.mu.Lock()
	s.added = append(s.added, in)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *requestSink) run() {
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(s.done)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(s.wake)},
	}
	for {
		i, v, ok := reflect.Select(cases)
		switch {
		case i == 0:
			return
		case i == 1:
			s.mu.Lock()
			for _, in := range s.added {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(in)})
			}
			s.added = nil
			s.mu.Unlock()
		case !ok:
			// The channel closed: drop its queue.
			cases[i] = cases[len(cases)-1]
			cases = cases[:len(cases)-1]
		default:
			if req := v.Interface().(*ssh.Request); req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
}
