package tunnel

import (
	"crypto/hmac"
	"crypto/sha256"
	"sync"
	"time"

	"socksd/internal/scrub"
)

// maxRejected bounds the rejected-password memory.
const maxRejected = 100000

// digest is an HMAC-SHA256 under the pool's in-memory key.
type digest [sha256.Size]byte

// keyedHash computes HMAC-SHA256 over the parts, each length-prefixed so
// that ("ab","c") and ("a","bc") differ. A part may be a password, so no
// copy of it may stay behind: a final block of zeros overwrites the hash's
// buffer of pending input, and the hash runs under scrub.Do, which erases
// its stack and, once they are garbage, its allocations.
func keyedHash(key []byte, parts ...[]byte) digest {
	var d digest
	scrub.Do(func() {
		m := hmac.New(sha256.New, key)
		for _, p := range parts {
			n := len(p)
			m.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
			m.Write(p)
		}
		m.Write(make([]byte, m.BlockSize()))
		m.Sum(d[:0])
	})
	return d
}

// rejectMemory remembers rejected (server, user, password) digests until
// they expire.
type rejectMemory struct {
	mu      sync.Mutex
	ttl     time.Duration
	entries map[digest]time.Time // expiry
}

func newRejectMemory(ttl time.Duration) *rejectMemory {
	return &rejectMemory{ttl: ttl, entries: map[digest]time.Time{}}
}

// add remembers d as rejected from now.
func (r *rejectMemory) add(d digest, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) >= maxRejected {
		r.pruneLocked(now)
	}
	if len(r.entries) >= maxRejected {
		// Still full of live entries: forget the one expiring first.
		var oldest digest
		var first time.Time
		for k, exp := range r.entries {
			if first.IsZero() || exp.Before(first) {
				oldest, first = k, exp
			}
		}
		delete(r.entries, oldest)
	}
	r.entries[d] = now.Add(r.ttl)
}

// rejected reports whether d was rejected and has not expired.
func (r *rejectMemory) rejected(d digest, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	exp, ok := r.entries[d]
	if !ok {
		return false
	}
	if !now.Before(exp) {
		delete(r.entries, d)
		return false
	}
	return true
}

func (r *rejectMemory) pruneLocked(now time.Time) {
	for k, exp := range r.entries {
		if !now.Before(exp) {
			delete(r.entries, k)
		}
	}
}
