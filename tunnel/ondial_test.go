package tunnel

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
)

// dialRecord is one call of Options.OnDial.
type dialRecord struct {
	engine, method string
	err            error
}

// TestOnDial checks that the pool tells OnDial of each SSH connection it
// tried to open, once: the login method on success, the typed error on
// failure, and nothing for a session that rides a shared connection.
func TestOnDial(t *testing.T) {
	s := newTestServer(t)
	var mu sync.Mutex
	var got []dialRecord
	p := testPool(t, s, func(o *Options) {
		o.OnDial = func(engine, method string, err error) {
			mu.Lock()
			got = append(got, dialRecord{engine, method, err})
			mu.Unlock()
		}
	})
	prof := testProfile(s)
	prof.Auth = []string{AuthPassword}
	good := Credentials{User: "alice", Password: []byte("s3cret")}
	for i := 0; i < 2; i++ { // the second rides the first's connection
		l, err := p.Open(context.Background(), prof, "", good)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
	}
	if _, err := p.Open(context.Background(), prof, "", Credentials{User: "alice", Password: []byte("guess")}); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("wrong password: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dead := prof
	dead.Name, dead.Port = "dead", closed
	if _, err := p.Open(context.Background(), dead, "", good); !errors.Is(err, ErrServerUnreachable) {
		t.Fatalf("closed port: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("OnDial calls = %+v, want 3", got)
	}
	if g := got[0]; g.engine != EngineBuiltin || g.method != AuthPassword || g.err != nil {
		t.Errorf("first dial: %+v", g)
	}
	var ae *AuthError
	if g := got[1]; g.engine != EngineBuiltin || !errors.As(g.err, &ae) || len(ae.Tried) == 0 {
		t.Errorf("wrong password: %+v", g)
	}
	if g := got[2]; !errors.Is(g.err, ErrServerUnreachable) {
		t.Errorf("closed port: %+v", g)
	}
}
