package tunnel

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"socksd/internal/testing/testpeer"
)

// sftpConfig enables the sftp subsystem; with max it also limits the
// session channels per connection (a Match block, because sshd takes the
// first value of a keyword and the rig's config sets MaxSessions already).
func sftpConfig(max string) testpeer.SSHDConfig {
	return sftpServerConfig("internal-sftp", max)
}

// sftpServerConfig is sftpConfig with the given sftp server.
func sftpServerConfig(server, max string) testpeer.SSHDConfig {
	extra := "Subsystem sftp " + server + "\n"
	if max != "" {
		extra += "Match all\n\tMaxSessions " + max + "\n"
	}
	return testpeer.SSHDConfig{PasswordAuth: true, ExtraConfig: extra}
}

// sftpHello sends SSH_FXP_INIT on s and expects SSH_FXP_VERSION: an SFTP
// server answers on the other end.
func sftpHello(t *testing.T, s io.ReadWriter) {
	t.Helper()
	if _, err := s.Write([]byte{0, 0, 0, 5, 1, 0, 0, 0, 3}); err != nil {
		t.Fatalf("SSH_FXP_INIT: %v", err)
	}
	var hdr [5]byte
	if _, err := io.ReadFull(s, hdr[:]); err != nil {
		t.Fatalf("SSH_FXP_VERSION: %v", err)
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if hdr[4] != 2 || n < 5 || n > 1<<16 {
		t.Fatalf("got packet type %d length %d, want SSH_FXP_VERSION", hdr[4], n)
	}
	if _, err := io.CopyN(io.Discard, s, int64(n-1)); err != nil {
		t.Fatalf("SSH_FXP_VERSION body: %v", err)
	}
}

// snapshotOf returns the pool's one connection.
func snapshotOf(t *testing.T, p *Pool) TunnelInfo {
	t.Helper()
	snap := p.Snapshot()
	if len(snap) != 1 {
		t.Fatalf("%d connections, want 1: %+v", len(snap), snap)
	}
	return snap[0]
}

func TestSSHDSubsystemSFTP(t *testing.T) {
	for _, server := range []string{"internal-sftp", "/usr/lib/openssh/sftp-server"} {
		t.Run(server, func(t *testing.T) {
			if _, err := os.Stat(server); strings.HasPrefix(server, "/") && err != nil {
				testpeer.Missing(t, "%s: %v", server, err)
			}
			testSubsystemSFTP(t, server)
		})
	}
}

func testSubsystemSFTP(t *testing.T, server string) {
	s, p, prof := e2e(t, sftpServerConfig(server, ""), nil)
	ctx := context.Background()
	l, err := p.Open(ctx, prof, "", Credentials{User: s.User, Password: []byte(s.Password)})
	if err != nil {
		t.Fatalf("open: %v\n%s", err, s.Log())
	}
	defer l.Close()
	st, err := l.Subsystem(ctx, "sftp")
	if err != nil {
		t.Fatalf("subsystem: %v\n%s", err, s.Log())
	}
	sftpHello(t, st)
	if info := snapshotOf(t, p); info.Channels != 1 || info.Sessions != 1 || info.BytesUp == 0 || info.BytesDown == 0 {
		t.Errorf("with the channel open: %+v", info)
	}
	if err := st.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	st.Close() // twice is harmless
	if info := snapshotOf(t, p); info.Channels != 0 || info.Sessions != 0 || info.TotalChannels != 1 {
		t.Errorf("after close: %+v", info)
	}
}

func TestSSHDSubsystemRefused(t *testing.T) {
	// The rig's sshd_config has no Subsystem line.
	s, p, prof := e2e(t, testpeer.SSHDConfig{PasswordAuth: true}, nil)
	ctx := context.Background()
	l, err := p.Open(ctx, prof, "", Credentials{User: s.User, Password: []byte(s.Password)})
	if err != nil {
		t.Fatalf("open: %v\n%s", err, s.Log())
	}
	defer l.Close()
	_, err = l.Subsystem(ctx, "sftp")
	var se *SessionError
	if !errors.Is(err, ErrSubsystemRefused) || !errors.As(err, &se) || se.Subsystem != "sftp" || se.Tunnel != l.ID() {
		t.Fatalf("subsystem: %v, want a *SessionError for ErrSubsystemRefused", err)
	}
	if errors.Is(err, ErrSessionRefused) || errors.Is(err, ErrTunnelClosed) {
		t.Errorf("%v is also another kind of failure", err)
	}
	if info := snapshotOf(t, p); info.Channels != 0 || info.Sessions != 0 {
		t.Errorf("the refused channel still counts: %+v", info)
	}
	// OpenSubsystems ends with the same error and holds nothing.
	if _, err := p.OpenSubsystems(ctx, prof, "", Credentials{User: s.User, Password: []byte(s.Password)}, "sftp", 2); !errors.Is(err, ErrSubsystemRefused) {
		t.Fatalf("OpenSubsystems: %v, want ErrSubsystemRefused", err)
	}
	if info := snapshotOf(t, p); info.Leases != 1 || info.Channels != 0 {
		t.Errorf("OpenSubsystems left something behind: %+v", info)
	}
}

func TestSSHDMaxSessionsOpensAnotherConnection(t *testing.T) {
	var logs logBuffer
	s, p, prof := e2e(t, sftpConfig("2"), func(o *Options) { o.Logger = zerolog.New(&logs) })
	ctx := context.Background()
	pw := []byte(s.Password)
	set, err := p.OpenSubsystems(ctx, prof, "", Credentials{User: s.User, Password: pw}, "sftp", 3)
	if err != nil {
		t.Fatalf("OpenSubsystems: %v\n%s", err, s.Log())
	}
	defer set.Close()
	if string(pw) != s.Password {
		t.Fatal("OpenSubsystems changed the password")
	}
	if set.Leases() != 2 || !strings.Contains(set.ID(), "+") {
		t.Fatalf("%d leases (%s), want 2", set.Leases(), set.ID())
	}
	snap := p.Snapshot()
	if len(snap) != 2 || snap[0].Sessions != 2 || snap[1].Sessions != 1 {
		t.Fatalf("connections %+v, want one with 2 session channels and one with 1", snap)
	}
	if !strings.Contains(logs.String(), "SOX0217W") {
		t.Errorf("no SOX0217W in the log:\n%s", logs.String())
	}
	var streams []io.ReadWriteCloser
	for i := 0; i < 3; i++ {
		st, err := set.Subsystem(ctx, "sftp")
		if err != nil {
			t.Fatalf("pre-opened channel %d: %v", i, err)
		}
		sftpHello(t, st)
		streams = append(streams, st)
	}
	// A fourth fits on the second connection, a fifth nowhere: no new
	// connection without the credentials.
	st, err := set.Subsystem(ctx, "sftp")
	if err != nil {
		t.Fatalf("fourth channel: %v", err)
	}
	sftpHello(t, st)
	if _, err := set.Subsystem(ctx, "sftp"); !errors.Is(err, ErrSessionRefused) {
		t.Fatalf("fifth channel: %v, want ErrSessionRefused", err)
	}
	if n := len(p.Snapshot()); n != 2 {
		t.Fatalf("%d connections after the fifth channel, want 2", n)
	}
	// Another session of the same identity passes over both full
	// connections and gets a third.
	other, err := p.OpenSubsystems(ctx, prof, "", Credentials{User: s.User, Password: pw}, "sftp", 1)
	if err != nil {
		t.Fatalf("second session: %v", err)
	}
	st2, _ := other.Subsystem(ctx, "sftp")
	sftpHello(t, st2)
	if n := len(p.Snapshot()); n != 3 {
		t.Fatalf("%d connections, want 3", n)
	}
	other.Close()
	// Close ends every channel, handed out or not, and releases the leases.
	streams[0].Close()
	set.Close()
	set.Close()
	for _, info := range p.Snapshot() {
		if info.Channels != 0 || info.Leases != 0 {
			t.Errorf("after Close: %+v", info)
		}
	}
	if _, err := set.Subsystem(ctx, "sftp"); err == nil {
		t.Error("a closed set handed out a channel")
	}
}

func TestSSHDNoSessionsAllowed(t *testing.T) {
	s, p, prof := e2e(t, sftpConfig("0"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := p.OpenSubsystems(ctx, prof, "", Credentials{User: s.User, Password: []byte(s.Password)}, "sftp", 2)
	var se *SessionError
	if !errors.Is(err, ErrSessionRefused) || !errors.As(err, &se) || se.Open != 0 {
		t.Fatalf("OpenSubsystems: %v, want a *SessionError for ErrSessionRefused with 0 open", err)
	}
	if n := len(p.Snapshot()); n != 1 {
		t.Fatalf("%d connections, want 1: a server that allows no session is not tried again", n)
	}
}
