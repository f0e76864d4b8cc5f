package tunnel

import (
	"context"
	"errors"
	"testing"
)

// A server that takes no session channels at all (the in-process test
// server accepts direct-tcpip only): the refusal is a *SessionError with
// nothing open, the claim is counted off, and OpenSubsystems does not try
// another connection.
func TestSubsystemSessionRefused(t *testing.T) {
	s := newTestServer(t)
	p := testPool(t, s, nil)
	prof := testProfile(s)
	ctx := context.Background()
	l, err := p.Open(ctx, prof, "", Credentials{User: s.user, Password: []byte(s.password)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = l.Subsystem(ctx, "sftp")
	var se *SessionError
	if !errors.As(err, &se) || !errors.Is(err, ErrSessionRefused) || se.Open != 0 || se.Tunnel != l.ID() {
		t.Fatalf("Subsystem: %v, want a *SessionError for ErrSessionRefused with 0 open", err)
	}
	if errors.Is(err, ErrSubsystemRefused) || errors.Is(err, ErrTunnelClosed) {
		t.Errorf("%v is also another kind of failure", err)
	}
	snap := p.Snapshot()
	if len(snap) != 1 || snap[0].Channels != 0 || snap[0].Sessions != 0 || snap[0].TotalChannels != 1 {
		t.Fatalf("snapshot %+v", snap)
	}
	// The connection is now known to take no session: a lease that needs
	// one gets another connection, one that needs none the same.
	prof2 := prof
	prof2.Sessions = 1
	l2, err := p.Open(ctx, prof2, "", Credentials{User: s.user, Password: []byte(s.password)})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.ID() == l.ID() {
		t.Errorf("a lease for a session channel got the connection that refuses them")
	}
	l3, err := p.Open(ctx, prof, "", Credentials{User: s.user, Password: []byte(s.password)})
	if err != nil {
		t.Fatal(err)
	}
	defer l3.Close()
	if len(p.Snapshot()) != 2 {
		t.Errorf("a lease without sessions opened a connection: %+v", p.Snapshot())
	}
	if _, err := p.OpenSubsystems(ctx, prof, "", Credentials{User: s.user, Password: []byte(s.password)}, "sftp", 2); !errors.Is(err, ErrSessionRefused) {
		t.Fatalf("OpenSubsystems: %v", err)
	}
	if n := len(p.Snapshot()); n > 3 {
		t.Errorf("%d connections after OpenSubsystems, want at most one more", n)
	}
	// A canceled context ends the wait.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l3.Subsystem(cctx, "sftp"); err == nil {
		t.Error("Subsystem with a canceled context succeeded")
	}
	l.Close()
	if _, err := l.Subsystem(ctx, "sftp"); err == nil {
		t.Error("Subsystem on a released lease succeeded")
	}
}
