package socksd

import (
	"context"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"socksd/internal/relay"
)

// session is one client connection, from accept to close.
type session struct {
	id      uint64
	client  netip.AddrPort
	local   netip.AddrPort
	started time.Time
	cancel  context.CancelFunc
	trace   atomic.Bool
	bytes   relay.Counters
	// dataBytes, for an FTP control session, counts its data
	// connections, which the sessions that carried them count in bytes.
	dataBytes *relay.Counters

	mu        sync.Mutex
	version   int
	user      string
	dest      string
	command   string
	rule      string
	action    string
	sshServer string
	tunnel    string // id of the SSH connection carrying the session, if any
	phase     string
	origin    string // how the session came in: originSOCKS, originRedirect or originForward
}

// How a session came in, as D SESSIONS, the logs and the metrics name it.
const (
	originSOCKS    = "socks"    // a SOCKS listener
	originRedirect = "redirect" // a redirect listener (kernel REDIRECT or TPROXY)
	originForward  = "forward"  // a fixed local forward
)

// set updates the descriptive fields under the lock.
func (s *session) set(f func(s *session)) {
	s.mu.Lock()
	f(s)
	s.mu.Unlock()
}

// table is the set of live sessions.
type table struct {
	mu       sync.Mutex
	byID     map[uint64]*session
	byClient map[netip.Addr]int
	empty    chan struct{} // closed and replaced when the table empties
}

func newTable() *table {
	return &table{byID: map[uint64]*session{}, byClient: map[netip.Addr]int{}}
}

// add registers s unless a limit is reached. max and perClient of 0 mean
// no limit.
func (t *table) add(s *session, max, perClient int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	ip := s.client.Addr().Unmap()
	if max > 0 && len(t.byID) >= max {
		return false
	}
	if perClient > 0 && t.byClient[ip] >= perClient {
		return false
	}
	t.byID[s.id] = s
	t.byClient[ip]++
	return true
}

func (t *table) remove(s *session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.byID[s.id]; !ok {
		return
	}
	delete(t.byID, s.id)
	ip := s.client.Addr().Unmap()
	if t.byClient[ip]--; t.byClient[ip] <= 0 {
		delete(t.byClient, ip)
	}
	if len(t.byID) == 0 && t.empty != nil {
		close(t.empty)
		t.empty = nil
	}
}

func (t *table) get(id uint64) *session {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byID[id]
}

func (t *table) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byID)
}

// list returns the live sessions ordered by id.
func (t *table) list() []*session {
	t.mu.Lock()
	out := make([]*session, 0, len(t.byID))
	for _, s := range t.byID {
		out = append(out, s)
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// wait returns nil once the table is empty, or ctx's error.
func (t *table) wait(ctx context.Context) error {
	for {
		t.mu.Lock()
		if len(t.byID) == 0 {
			t.mu.Unlock()
			return nil
		}
		if t.empty == nil {
			t.empty = make(chan struct{})
		}
		ch := t.empty
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
