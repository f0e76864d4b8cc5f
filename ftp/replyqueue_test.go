package ftp

import (
	"testing"
	"time"
)

// TestReplyQueue: replies come out in order, at most srvQueue wait, a put
// on a full queue waits for a take or for done, and a drained queue holds
// no array.
func TestReplyQueue(t *testing.T) {
	rq := newReplyQueue()
	done := make(chan struct{})
	for i := 0; i < srvQueue; i++ {
		if !rq.put(srvEvent{r: &Reply{Code: 100 + i}}, done) {
			t.Fatalf("put %d refused", i)
		}
	}
	// Full: the next put waits until a reply is taken.
	putDone := make(chan bool, 1)
	go func() { putDone <- rq.put(srvEvent{r: &Reply{Code: 999}}, done) }()
	select {
	case <-putDone:
		t.Fatal("a put on a full queue did not wait")
	case <-time.After(20 * time.Millisecond):
	}
	for i := 0; i < srvQueue+1; i++ {
		if i == 1 {
			if ok := <-putDone; !ok {
				t.Fatal("the waiting put was refused")
			}
		}
		ev, ok := rq.take()
		want := 100 + i
		if i == srvQueue {
			want = 999
		}
		if !ok || ev.r.Code != want {
			t.Fatalf("take %d: %v %v, want code %d", i, ev.r, ok, want)
		}
	}
	if _, ok := rq.take(); ok || rq.waiting() || rq.q != nil {
		t.Fatalf("drained queue: waiting %v, array %v", rq.waiting(), rq.q != nil)
	}
	// A full queue and done: the put gives up.
	for i := 0; i < srvQueue; i++ {
		rq.put(srvEvent{}, done)
	}
	close(done)
	if rq.put(srvEvent{}, done) {
		t.Fatal("a put on a full queue after done was accepted")
	}
}
