package ftp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestDataStateMoves(t *testing.T) {
	const (
		w = dataWaiting
		b = dataBound
		o = dataOpen
		d = dataDone
	)
	tests := []struct {
		from, to dataState
		ok       bool
	}{
		{w, w, false}, {w, b, true}, {w, o, false}, {w, d, true},
		{b, w, false}, {b, b, false}, {b, o, true}, {b, d, true},
		{o, w, false}, {o, b, false}, {o, o, false}, {o, d, true},
		{d, w, false}, {d, b, false}, {d, o, false}, {d, d, false},
		{dataState(9), d, false},
	}
	for _, tt := range tests {
		if got := canMove(tt.from, tt.to); got != tt.ok {
			t.Errorf("canMove(%v, %v) = %v, want %v", tt.from, tt.to, got, tt.ok)
		}
	}
}

// fakeDeps are data dependencies that record withdrawals.
func fakeDeps(withdrawn *int) *dataDeps {
	return &dataDeps{withdraw: func(*dataConn) { *withdrawn++ }}
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestDataConnLife walks a data connection through each way its life can
// go and checks the state, the outcome and the signals after each step.
func TestDataConnLife(t *testing.T) {
	unusedErr := errors.New("x")
	tests := []struct {
		name      string
		steps     func(d *dataConn) []bool // the results of the steps taken
		wantOK    []bool
		wantState dataState
		wantErr   error
		bound     bool // d.bound closed
	}{
		{"claimed once", func(d *dataConn) []bool { return []bool{d.claim(), d.claim()} },
			[]bool{true, false}, dataBound, nil, true},
		{"bind after claim", func(d *dataConn) []bool { return []bool{d.claim(), d.bind("h:1", nil, netip.AddrPort{})} },
			[]bool{true, false}, dataBound, nil, true},
		{"unused close", func(d *dataConn) []bool { d.close(); return []bool{d.claim()} },
			[]bool{false}, dataDone, errDataUnused, false},
		{"bound close", func(d *dataConn) []bool { ok := d.claim(); d.close(); return []bool{ok} },
			[]bool{true}, dataDone, errDataClosed, true},
		{"fail waiting", func(d *dataConn) []bool { d.fail(unusedErr); return []bool{d.claim()} },
			[]bool{false}, dataDone, unusedErr, false},
		{"fail bound", func(d *dataConn) []bool { ok := d.claim(); d.fail(unusedErr); return []bool{ok} },
			[]bool{true}, dataDone, unusedErr, true},
		{"first outcome stays", func(d *dataConn) []bool {
			d.fail(unusedErr)
			d.close()
			return []bool{d.step(dataDone, dataWaiting, nil, nil), d.step(dataWaiting, dataOpen, nil, nil)}
		}, []bool{false, false}, dataDone, unusedErr, false},
		{"no open from waiting", func(d *dataConn) []bool { return []bool{d.step(dataWaiting, dataOpen, nil, nil)} },
			[]bool{false}, dataWaiting, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var withdrawn int
			d := newDataConn(fakeDeps(&withdrawn), "passive", "h:1")
			got := tt.steps(d)
			for i := range tt.wantOK {
				if got[i] != tt.wantOK[i] {
					t.Errorf("step %d = %v, want %v", i, got[i], tt.wantOK[i])
				}
			}
			st, err := d.snapshot()
			if st != tt.wantState || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("state %v (%v), want %v (%v)", st, err, tt.wantState, tt.wantErr)
			}
			if closed(d.bound) != tt.bound {
				t.Errorf("bound signalled = %v, want %v", closed(d.bound), tt.bound)
			}
			if closed(d.done) != (st == dataDone) {
				t.Errorf("done signalled = %v in state %v", closed(d.done), st)
			}
		})
	}
}

// TestDataConnReleases: leaving waiting closes the rewrite listener, and
// ending closes a tunnel channel that no relay took.
func TestDataConnReleases(t *testing.T) {
	var withdrawn int
	d := newDataConn(fakeDeps(&withdrawn), "active", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.ln = ln
	a, b, err := tcpPair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !d.bind("h:1", b, netip.MustParseAddrPort("127.0.0.1:2121")) {
		t.Fatal("bind refused")
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("listener after bind: accept = %v, want closed", err)
	}
	d.close()
	if withdrawn != 1 {
		t.Errorf("withdrawn %d times, want 1", withdrawn)
	}
	if _, err := b.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("tunnel channel after close: write = %v, want closed", err)
	}
}

// TestUnfinishedDataIsNot226: a server's 226 while the data relay through
// socksd is still running (bytes may still be on their way to the job)
// reaches the job as 426, and the transfer is logged as failed.
func TestUnfinishedDataIsNot226(t *testing.T) {
	var log strings.Builder
	s := &session{
		ctx:   context.Background(),
		log:   zerolog.New(&log),
		grace: 10 * time.Millisecond,
		cfg:   SessionConfig{ID: 7, ClientAddr: netip.MustParseAddrPort("127.0.0.1:4000")},
	}
	var withdrawn int
	d := newDataConn(fakeDeps(&withdrawn), "passive", "h:1")
	if !d.claim() || !d.step(dataBound, dataOpen, nil, nil) {
		t.Fatal("data connection did not open")
	}
	tr := &transfer{cmd: Command{Verb: "RETR", Args: "big.bin"}, start: time.Now(), data: d}
	r := s.onTransferReply(tr, &Reply{Code: 226, Lines: FormatReply(226, "Transfer complete.")})
	if r.Code != 426 {
		t.Fatalf("job got %d %q for a relay that had not finished, want 426", r.Code, r.Lines)
	}
	if !strings.Contains(log.String(), "SOX0308W") {
		t.Errorf("transfer not logged as failed:\n%s", log.String())
	}
}
