package tunnel

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// maxDeadlineRounds bounds how often one Read re-arms after the deadline
// was changed while it waited.
const maxDeadlineRounds = 1 << 20

// readChunk is the most a background read (used while a read deadline is
// set) takes from the channel at once.
const readChunk = 32 << 10

// channel is a direct-tcpip channel as a net.Conn. It counts bytes for its
// connection and supports read deadlines (x/crypto/ssh channels have none):
// while a deadline is set, the read runs in a goroutine and Read waits for
// it or for the deadline; data read after a timeout is kept for the next
// Read, so nothing is lost. Without a deadline, Read reads the channel
// directly and the channel holds nothing for deadlines: the relay keeps its
// idle timeout without them, and a channel whose deadline was cleared (the
// FTP control channel after login) drops its background buffer.
type channel struct {
	net.Conn
	c       *tconn
	release func()
	once    sync.Once

	rmu      sync.Mutex      // one Read at a time
	results  chan readResult // background reads deliver here (capacity 1, made once)
	pending  bool            // a background read runs or its result waits in results
	timer    *time.Timer     // the read deadline's timer, reused
	bgbuf    []byte          // the background read's buffer, reused while deadlines are set
	leftover []byte
	leftErr  error

	dmu        sync.Mutex
	rDeadline  time.Time
	wDeadline  time.Time
	rDeadlineC chan struct{} // closed when the read deadline changes; made on demand
}

type readResult struct {
	buf []byte
	err error
}

func newChannel(nc net.Conn, c *tconn, release func()) *channel {
	return &channel{Conn: nc, c: c, release: release}
}

// Read reads from the channel, honoring the read deadline.
func (ch *channel) Read(b []byte) (int, error) {
	ch.rmu.Lock()
	defer ch.rmu.Unlock()
	n, err := ch.read(b)
	ch.c.bytesDown.Add(int64(n))
	if err == io.EOF {
		// x/crypto ends every channel with EOF when the connection goes;
		// that is not the destination finishing its stream.
		if gone := ch.c.goneErr.Load(); gone != nil {
			err = *gone
		}
	}
	return n, err
}

func (ch *channel) read(b []byte) (int, error) {
	if len(ch.leftover) > 0 {
		n := copy(b, ch.leftover)
		ch.leftover = ch.leftover[n:]
		if len(ch.leftover) == 0 && ch.leftErr != nil {
			err := ch.leftErr
			ch.leftErr = nil
			return n, err
		}
		return n, nil
	}
	if ch.leftErr != nil {
		err := ch.leftErr
		ch.leftErr = nil
		return 0, err
	}
	if len(b) == 0 {
		return 0, nil
	}
	for round := 0; round < maxDeadlineRounds; round++ {
		ch.dmu.Lock()
		dl := ch.rDeadline
		var changed chan struct{}
		if ch.pending || !dl.IsZero() {
			if ch.rDeadlineC == nil {
				ch.rDeadlineC = make(chan struct{})
			}
			changed = ch.rDeadlineC
		}
		ch.dmu.Unlock()
		if !ch.pending && dl.IsZero() {
			// No deadline: read directly, and hold nothing for deadlines.
			ch.bgbuf, ch.leftover = nil, nil
			if ch.timer != nil {
				ch.timer.Stop()
				ch.timer = nil
			}
			return ch.Conn.Read(b)
		}
		if !dl.IsZero() && !time.Now().Before(dl) {
			return 0, os.ErrDeadlineExceeded
		}
		if !ch.pending {
			ch.startRead(len(b))
		}
		var timeout <-chan time.Time
		if !dl.IsZero() {
			if ch.timer == nil {
				ch.timer = time.NewTimer(time.Until(dl))
			} else {
				ch.timer.Reset(time.Until(dl))
			}
			timeout = ch.timer.C
		}
		select {
		case r := <-ch.results:
			ch.stopTimer()
			ch.pending = false
			n := copy(b, r.buf)
			if n < len(r.buf) {
				ch.leftover, ch.leftErr = r.buf[n:], r.err
				return n, nil
			}
			return n, r.err
		case <-timeout:
			return 0, os.ErrDeadlineExceeded
		case <-changed:
			ch.stopTimer()
		}
	}
	return 0, os.ErrDeadlineExceeded
}

// startRead starts a background read of at most want bytes (and at most
// readChunk) into the reused background buffer. leftover is empty here, so
// the buffer is free.
func (ch *channel) startRead(want int) {
	if ch.results == nil {
		ch.results = make(chan readResult, 1)
	}
	if n := min(want, readChunk); cap(ch.bgbuf) < n {
		ch.bgbuf = make([]byte, n)
	}
	buf := ch.bgbuf[:min(want, cap(ch.bgbuf))]
	ch.pending = true
	go func(out chan<- readResult) {
		n, err := ch.Conn.Read(buf)
		out <- readResult{buf: buf[:n], err: err}
	}(ch.results)
}

func (ch *channel) stopTimer() {
	if ch.timer != nil {
		ch.timer.Stop()
	}
}

// Write writes to the channel. A write deadline is checked when Write
// starts; a Write already waiting for the SSH window is not interrupted.
func (ch *channel) Write(b []byte) (int, error) {
	ch.dmu.Lock()
	dl := ch.wDeadline
	ch.dmu.Unlock()
	if !dl.IsZero() && !time.Now().Before(dl) {
		return 0, os.ErrDeadlineExceeded
	}
	n, err := ch.Conn.Write(b)
	ch.c.bytesUp.Add(int64(n))
	return n, err
}

// SetReadDeadline sets the read deadline; zero means none.
func (ch *channel) SetReadDeadline(t time.Time) error {
	ch.dmu.Lock()
	defer ch.dmu.Unlock()
	ch.rDeadline = t
	if ch.rDeadlineC != nil {
		close(ch.rDeadlineC)
		ch.rDeadlineC = nil // a Read that needs one makes the next
	}
	return nil
}

// SetWriteDeadline sets the write deadline (see Write).
func (ch *channel) SetWriteDeadline(t time.Time) error {
	ch.dmu.Lock()
	defer ch.dmu.Unlock()
	ch.wDeadline = t
	return nil
}

// SetDeadline sets both deadlines.
func (ch *channel) SetDeadline(t time.Time) error {
	ch.SetReadDeadline(t)
	return ch.SetWriteDeadline(t)
}

// CloseWrite half-closes the channel (SSH EOF): the destination reads EOF
// and can still send.
func (ch *channel) CloseWrite() error {
	if cw, ok := ch.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("tunnel: channel cannot half-close")
}

// Close closes the channel and releases it from its connection.
func (ch *channel) Close() error {
	err := ch.Conn.Close()
	ch.once.Do(ch.release)
	return err
}
