package socksd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"socksd/ftp"
	"socksd/internal/testing/testpeer"
	"socksd/rules"
	"socksd/socks"
	"socksd/tunnel"
)

// ruleNamed returns the compiled rule of the daemon's configuration.
func ruleNamed(t *testing.T, d *testDaemon, name string) *rules.Rule {
	t.Helper()
	for _, r := range d.state.Load().rules.Rules() {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no rule %q", name)
	return nil
}

// TestFTPOpenError types the tunnel failures of an FTP session's Opener:
// a rejected login as it is (530), fallback_to_plain only when the SSH
// server cannot be reached, for ftp-tunnel and ftp-sftp alike, and 421
// for everything else.
func TestFTPOpenError(t *testing.T) {
	fake := &fakeDialer{echo: testpeer.EchoServer(t)}
	d := newTestDaemon(t, routeConfig, fake)
	sshdown := fakeFailures["sshdown"].open
	for _, tc := range []struct {
		name, rule string
		err        error
		want       string // "as is", "tunnel" or "fallback"
	}{
		{"login rejected", "ftpfb", fakeFailures["auth"].open, "as is"},
		{"password rejected recently", "sftp3", &tunnel.AuthError{Err: tunnel.ErrPasswordRejectedRecently}, "as is"},
		{"ssh down, no fallback", "ftp", sshdown, "tunnel"},
		{"ssh down, no fallback, sftp", "sftp", sshdown, "tunnel"},
		{"host key, fallback rule", "ftpfb", fakeFailures["hostkey-changed"].open, "tunnel"},
		{"subsystem refused, fallback rule", "sftp3", fakeFailures["nosftp"].open, "tunnel"},
		{"ssh down, ftp-tunnel fallback", "ftpfb", sshdown, "fallback"},
		{"ssh down, ftp-sftp fallback", "sftp3", sshdown, "fallback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.take()
			rule := ruleNamed(t, d, tc.rule)
			s := &session{id: 77, action: rule.Action.String()}
			r := &request{d: d.Daemon, ctx: context.Background(), st: d.state.Load(), s: s,
				req: &socks.Request{Dest: socks.Addr{Host: "partner.test", Port: 21}}}
			before := len(d.log.find(withID("SOX0208W")))
			err := r.ftpOpenError(rule, tc.err)
			var te *ftp.TunnelError
			var fe *ftp.FallbackError
			isTunnel, isFallback := errors.As(err, &te), errors.As(err, &fe)
			switch tc.want {
			case "as is":
				if err != tc.err {
					t.Fatalf("got %v (%T), want the error as it is", err, err)
				}
			case "tunnel":
				if !isTunnel || isFallback || !errors.Is(err, tc.err) {
					t.Fatalf("got %v (%T), want a *ftp.TunnelError", err, err)
				}
			case "fallback":
				// The session that does not handle FallbackError still finds
				// a TunnelError: 421.
				if !isFallback || !isTunnel || !errors.Is(err, tunnel.ErrServerUnreachable) {
					t.Fatalf("got %v (%T), want a *ftp.FallbackError around a *ftp.TunnelError", err, err)
				}
				p := fe.Plain
				if p.Server() != "direct" || p.ID() != "-" || p.Close() != nil {
					t.Errorf("plain tunnel %q %q", p.Server(), p.ID())
				}
				c, err := p.Dial(context.Background(), "tcp", "partner.test:21")
				if err != nil {
					t.Fatalf("plain dial: %v", err)
				}
				c.Close()
				if calls := fake.take(); fmt.Sprint(calls) != "[direct partner.test:21]" {
					t.Errorf("dialer calls %q, want a direct dial", calls)
				}
				if s.action != plainFallback {
					t.Errorf("action %q, want %q", s.action, plainFallback)
				}
			}
			fell := len(d.log.find(withID("SOX0208W"))) - before
			if fell != map[bool]int{true: 1, false: 0}[tc.want == "fallback"] {
				t.Errorf("%d SOX0208W", fell)
			}
			if tc.want != "fallback" && s.action != rule.Action.String() {
				t.Errorf("action changed to %q", s.action)
			}
		})
	}
}

// An SSH server that refuses the sftp subsystem: the job gets 421 and the
// operator SOX0216E, which names the server and the user.
func TestFTPSFTPSubsystemRefusedMessage(t *testing.T) {
	fake := &fakeDialer{echo: testpeer.EchoServer(t)}
	d := newTestDaemon(t, routeConfig, fake)
	dest := socks.Addr{Host: "nosftp.sftp.test", Port: 21}
	c, rep := socksConnect(t, d.addr, nil, 5, socks.CmdConnect, dest, "job1", "secret")
	if rep != socks.RepSucceeded {
		t.Fatalf("reply %s", rep)
	}
	ftpLoginFails(t, c, dest.Host)
	d.log.waitEnd(t, dest.String())
	evs := d.log.find(withID("SOX0216E"))
	if len(evs) != 1 {
		t.Fatalf("%d SOX0216E", len(evs))
	}
	ev := evs[0]
	if str(ev, "level") != "error" || str(ev, "ssh_server") != "ssh.test:22" || str(ev, "user") != "ftpjob" ||
		!strings.Contains(str(ev, "message"), "refused the sftp subsystem") {
		t.Errorf("SOX0216E event %v", ev)
	}
	if len(d.log.find(withID("SOX0211W"))) != 0 {
		t.Error("a refused subsystem was also logged as an unreachable server")
	}
	for _, ev := range d.log.all() {
		if strings.Contains(fmt.Sprint(ev), "secret") {
			t.Fatalf("the password reached the log: %v", ev)
		}
	}
}
