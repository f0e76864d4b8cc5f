package socksd

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"
	"socksd/socks"
	"socksd/tunnel"
)

const routeConfig = `
[server]
listen = ["127.0.0.1:0"]
handshake_timeout = "5s"
[console]
socket = ""
[profiles.p]
host = "ssh.test"
port = 22
auth = ["password"]
[[rules]]
name = "deny-9"
ports = ["9"]
action = "block"
[[rules]]
name = "tunnel"
to = ["*.tunnel.test"]
action = "tunnel"
profile = "p"
[[rules]]
name = "fallback"
to = ["*.fallback.test"]
action = "tunnel"
profile = "p"
fallback_to_plain = true
[[rules]]
name = "ftp"
to = ["*.ftp.test"]
ports = ["21"]
action = "ftp-tunnel"
profile = "p"
[[rules]]
name = "ftpfb"
to = ["*.ftpfb.test"]
ports = ["21"]
action = "ftp-tunnel"
profile = "p"
fallback_to_plain = true
[[rules]]
name = "sftp"
to = ["*.sftp.test"]
ports = ["21"]
action = "ftp-sftp"
profile = "p"
[[rules]]
name = "sftp3"
to = ["*.sftp3.test"]
ports = ["21"]
action = "ftp-sftp"
profile = "p"
fallback_to_plain = true
[rules.sftp]
streams = 3
[[rules]]
name = "direct"
to = ["127.0.0.0/8", "*.direct.test"]
action = "direct"
`

// TestRouting sends requests through the daemon with a fake dialer and
// checks, for each, the rule and action chosen, what was dialed, the SOCKS
// reply code, the session's end event and the counter it moved.
func TestRouting(t *testing.T) {
	fake := &fakeDialer{echo: testpeer.EchoServer(t)}
	d := newTestDaemon(t, routeConfig, fake)
	const (
		ok        = socks.RepSucceeded
		general   = socks.RepGeneralFailure
		notAllow  = socks.RepNotAllowed
		hostUnr   = socks.RepHostUnreachable
		netUnr    = socks.RepNetworkUnreachable
		refused   = socks.RepConnectionRefused
		ttl       = socks.RepTTLExpired
		notSupCmd = socks.RepCommandNotSupported
	)
	for _, tc := range []struct {
		name    string
		version int
		cmd     socks.Command
		dest    string
		reply   socks.Reply
		calls   []string // what the dialer was asked, in order
		rule    string
		action  string
		result  string
		ftp     bool // an FTP login follows the SOCKS success reply
		ssh     string
		errText string // part of the end event's error field; "" = no field
	}{
		// Blocks: the only 0x02.
		{"rule blocks", 5, socks.CmdConnect, "127.0.0.1:9", notAllow, nil, "deny-9", "block", "blocked", false, "", ""},
		{"no rule matches", 5, socks.CmdConnect, "other.example:80", notAllow, nil, "(none)", "block", "blocked", false, "", ""},
		{"socks4 block", 4, socks.CmdConnect, "127.0.0.2:9", notAllow, nil, "deny-9", "block", "blocked", false, "", ""},

		// Direct.
		{"direct", 5, socks.CmdConnect, "ok.direct.test:80", ok, []string{"direct ok.direct.test:80"}, "direct", "direct", "ok", false, "", ""},
		{"direct socks4a", 4, socks.CmdConnect, "ok4.direct.test:80", ok, []string{"direct ok4.direct.test:80"}, "direct", "direct", "ok", false, "", ""},
		{"direct refused", 5, socks.CmdConnect, "refused.direct.test:80", refused, []string{"direct refused.direct.test:80"}, "direct", "direct", "failed", false, "", "connection refused"},
		{"direct network unreachable", 5, socks.CmdConnect, "netdown.direct.test:80", netUnr, []string{"direct netdown.direct.test:80"}, "direct", "direct", "failed", false, "", "network is unreachable"},
		{"direct name not found", 5, socks.CmdConnect, "nxdomain.direct.test:80", hostUnr, []string{"direct nxdomain.direct.test:80"}, "direct", "direct", "failed", false, "", "no such host"},
		{"direct timeout", 5, socks.CmdConnect, "timeout.direct.test:80", ttl, []string{"direct timeout.direct.test:80"}, "direct", "direct", "failed", false, "", "deadline exceeded"},
		{"local firewall is no rule block", 5, socks.CmdConnect, "firewall.direct.test:80", general, []string{"direct firewall.direct.test:80"}, "direct", "direct", "failed", false, "", "permission denied"},
		{"socks4 direct refused", 4, socks.CmdConnect, "refused.direct.test:81", refused, []string{"direct refused.direct.test:81"}, "direct", "direct", "failed", false, "", "connection refused"},

		// Tunnel: failures to build it are 0x01 or 0x04, never 0x02.
		{"tunnel", 5, socks.CmdConnect, "ok.tunnel.test:443", ok, []string{"tunnel p job1@ok.tunnel.test password=true", "channel ok.tunnel.test:443", "release"}, "tunnel", "tunnel", "ok", false, "ssh.test:22", ""},
		{"host key changed", 5, socks.CmdConnect, "hostkey-changed.tunnel.test:443", general, []string{"tunnel p job1@hostkey-changed.tunnel.test password=true"}, "tunnel", "tunnel", "failed", false, "", "host key"},
		{"host key unknown", 5, socks.CmdConnect, "hostkey-unknown.tunnel.test:443", general, []string{"tunnel p job1@hostkey-unknown.tunnel.test password=true"}, "tunnel", "tunnel", "failed", false, "", "host key"},
		{"ssh login failed", 5, socks.CmdConnect, "auth.tunnel.test:443", general, []string{"tunnel p job1@auth.tunnel.test password=true"}, "tunnel", "tunnel", "failed", false, "", "authentication"},
		{"ssh server unreachable", 5, socks.CmdConnect, "sshdown.tunnel.test:443", hostUnr, []string{"tunnel p job1@sshdown.tunnel.test password=true"}, "tunnel", "tunnel", "failed", false, "", "unreachable"},
		{"channel prohibited", 5, socks.CmdConnect, "prohibited.tunnel.test:443", general, []string{"tunnel p job1@prohibited.tunnel.test password=true", "channel prohibited.tunnel.test:443", "release"}, "tunnel", "tunnel", "failed", false, "ssh.test:22", "prohibited"},
		{"channel refused", 5, socks.CmdConnect, "chanrefused.tunnel.test:443", refused, []string{"tunnel p job1@chanrefused.tunnel.test password=true", "channel chanrefused.tunnel.test:443", "release"}, "tunnel", "tunnel", "failed", false, "ssh.test:22", "refused"},
		{"channel no route", 5, socks.CmdConnect, "noroute.tunnel.test:443", hostUnr, []string{"tunnel p job1@noroute.tunnel.test password=true", "channel noroute.tunnel.test:443", "release"}, "tunnel", "tunnel", "failed", false, "ssh.test:22", "No route"},
		{"tunnel carries no bind", 5, socks.CmdBind, "x.tunnel.test:443", notSupCmd, nil, "tunnel", "tunnel", "refused", false, "", "CONNECT only"},
		{"socks4 host key", 4, socks.CmdConnect, "hostkey-changed.tunnel.test:444", general, []string{"tunnel p job1@hostkey-changed.tunnel.test password=false"}, "tunnel", "tunnel", "failed", false, "", "host key"},

		// fallback_to_plain: only when the SSH server cannot be reached.
		{"fallback when ssh is down", 5, socks.CmdConnect, "sshdown.fallback.test:80", ok, []string{"tunnel p job1@sshdown.fallback.test password=true", "direct sshdown.fallback.test:80"}, "fallback", "direct (fallback)", "ok", false, "", ""},
		{"no fallback on a host key", 5, socks.CmdConnect, "hostkey-changed.fallback.test:80", general, []string{"tunnel p job1@hostkey-changed.fallback.test password=true"}, "fallback", "tunnel", "failed", false, "", "host key"},

		// ftp-tunnel answers the CONNECT itself; a failed SSH login is a
		// failed session, counted as one.
		{"ftp login fails", 5, socks.CmdConnect, "auth.ftp.test:21", ok, []string{"tunnel p ftpjob@auth.ftp.test password=true"}, "ftp", "ftp-tunnel", "failed", true, "", "SSH login"},
		{"ftp ssh server down", 5, socks.CmdConnect, "sshdown.ftp.test:21", ok, []string{"tunnel p ftpjob@sshdown.ftp.test password=true"}, "ftp", "ftp-tunnel", "failed", true, "", "unreachable"},
		{"ftp host key changed", 5, socks.CmdConnect, "hostkey-changed.ftp.test:21", ok, []string{"tunnel p ftpjob@hostkey-changed.ftp.test password=true"}, "ftp", "ftp-tunnel", "failed", true, "", "host key"},
		// ftp-sftp: the same login, then the sftp subsystem: the opener asks
		// for the rule's streams channels at once, while it has the password.
		{"sftp login fails", 5, socks.CmdConnect, "auth.sftp.test:21", ok, []string{"subsystems p ftpjob@auth.sftp.test password=true sftp 1"}, "sftp", "ftp-sftp", "failed", true, "", "SSH login"},
		{"sftp ssh server down", 5, socks.CmdConnect, "sshdown.sftp.test:21", ok, []string{"subsystems p ftpjob@sshdown.sftp.test password=true sftp 1"}, "sftp", "ftp-sftp", "failed", true, "", "unreachable"},
		{"sftp subsystem refused", 5, socks.CmdConnect, "nosftp.sftp.test:21", ok, []string{"subsystems p ftpjob@nosftp.sftp.test password=true sftp 1"}, "sftp", "ftp-sftp", "failed", true, "", "refused the sftp subsystem"},
		{"sftp streams", 5, socks.CmdConnect, "hostkey-changed.sftp3.test:21", ok, []string{"subsystems p ftpjob@hostkey-changed.sftp3.test password=true sftp 3"}, "sftp3", "ftp-sftp", "failed", true, "", "host key"},
		{"sftp bind without a session", 5, socks.CmdBind, "x.sftp.test:21", notSupCmd, nil, "sftp", "ftp-sftp", "refused", false, "", "BIND"},
		{"ftp bind without a session", 5, socks.CmdBind, "x.ftp.test:21", notSupCmd, nil, "ftp", "ftp-tunnel", "refused", false, "", "BIND"},

		{"udp associate", 5, socks.CmdUDPAssociate, "127.0.0.1:53", notSupCmd, nil, "", "", "refused", false, "", "UDP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.take()
			host, port, _ := net.SplitHostPort(tc.dest)
			var p uint16
			fmt.Sscan(port, &p)
			dest := socks.Addr{Host: host, Port: p}
			user, pw := "job1", "secret"
			if tc.version == 4 {
				pw = ""
			}
			before := d.Stats()
			want := tc.reply
			if tc.version == 4 && want != socks.RepSucceeded {
				want = socks.RepGeneralFailure // CD 91, as the client reads it
			}
			c, got := socksConnect(t, d.addr, nil, tc.version, tc.cmd, dest, user, pw)
			if got != want {
				t.Errorf("reply %#02x %s, want %#02x %s", byte(got), got, byte(want), want)
			}
			switch {
			case tc.ftp:
				ftpLoginFails(t, c, host)
			case got == socks.RepSucceeded:
				echoes(t, c)
			}
			ev := d.log.waitEnd(t, dest.String())
			c.Close()
			if calls := fake.take(); !slices.Equal(calls, tc.calls) {
				t.Errorf("dialer calls %q, want %q", calls, tc.calls)
			}
			for k, v := range map[string]string{"rule": tc.rule, "action": tc.action, "result": tc.result, "ssh_server": tc.ssh} {
				if str(ev, k) != v {
					t.Errorf("session_end %s = %q, want %q", k, str(ev, k), v)
				}
			}
			wantID := "SOX0102I"
			if tc.result == "failed" {
				wantID = "SOX0111W"
			}
			if m := str(ev, "message"); !strings.HasPrefix(m, wantID+" ") || str(ev, "level") != map[bool]string{true: "warn", false: "info"}[tc.result == "failed"] {
				t.Errorf("session_end is %s %q, want %s", str(ev, "level"), m, wantID)
			}
			if e, has := ev["error"]; has != (tc.errText != "") || (has && !strings.Contains(e.(string), tc.errText)) {
				t.Errorf("session_end error = %v, want one containing %q", e, tc.errText)
			}
			for _, k := range []string{"duration_ms", "bytes_up", "bytes_down"} {
				if _, has := ev[k].(float64); !has {
					t.Errorf("session_end has no number %s: %v", k, ev)
				}
			}
			if strings.Contains(fmt.Sprint(ev), "secret") {
				t.Errorf("the password reached the log: %v", ev)
			}
			// The end was counted once, under its result.
			after := d.Stats()
			delta := map[string]int64{
				"total": after.Total - before.Total, "blocked": after.Blocked - before.Blocked,
				"refused": after.Refused - before.Refused, "failed": after.Failed - before.Failed,
			}
			wantDelta := map[string]int64{"total": 1, "blocked": 0, "refused": 0, "failed": 0}
			if _, counted := wantDelta[tc.result]; counted {
				wantDelta[tc.result] = 1
			}
			for k, v := range wantDelta {
				if delta[k] != v {
					t.Errorf("D STATS %s moved by %d, want %d", k, delta[k], v)
				}
			}
		})
	}

	// D STATS agrees with the session_end events.
	ends := d.log.find(func(ev map[string]any) bool { return ev["event"] == "session_end" })
	count := map[string]int64{}
	for _, ev := range ends {
		count[str(ev, "result")]++
	}
	st := d.Stats()
	if st.Total != int64(len(ends)) || st.Blocked != count["blocked"] || st.Failed != count["failed"] || st.Refused != count["refused"] {
		t.Errorf("D STATS total %d blocked %d failed %d refused %d; session_end events: %d, %v",
			st.Total, st.Blocked, st.Failed, st.Refused, len(ends), count)
	}
	if n := len(d.log.find(withID("SOX0111W"))); int64(n) != count["failed"] {
		t.Errorf("%d SOX0111W for %d failed sessions", n, count["failed"])
	}
}

// ftpLoginFails logs in as an FTP job on c, whose tunnel the fake dialer
// fails for host, and expects the end of the control connection after 530
// for rejected credentials, or 421 when the tunnel could not be built.
func ftpLoginFails(t *testing.T, c net.Conn, host string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(waitTimeout))
	r := bufio.NewReader(c)
	expect := func(send, code string) {
		t.Helper()
		if send != "" {
			fmt.Fprintf(c, "%s\r\n", send)
		}
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, code+" ") {
			t.Fatalf("after %q: %q %v, want %s", send, line, err, code)
		}
	}
	expect("", "220")
	expect("USER ftpjob", "331")
	want := "421"
	if strings.HasPrefix(host, "auth.") {
		want = "530"
	}
	expect("PASS secret", want)
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("the control connection stayed open after the failed login")
	}
}

// TestFailureReply maps each kind of failure to its reply code: SOCKS5
// 0x02 is for rule blocks only.
func TestFailureReply(t *testing.T) {
	for _, tc := range []struct {
		label string
		err   error
		want  socks.Reply
	}{
		{"host key changed", fakeFailures["hostkey-changed"].open, socks.RepGeneralFailure},
		{"host key unknown", fakeFailures["hostkey-unknown"].open, socks.RepGeneralFailure},
		{"host key revoked", &tunnel.HostKeyError{Err: tunnel.ErrHostKeyRevoked}, socks.RepGeneralFailure},
		{"ssh login", fakeFailures["auth"].open, socks.RepGeneralFailure},
		{"password rejected recently", &tunnel.AuthError{Err: tunnel.ErrPasswordRejectedRecently}, socks.RepGeneralFailure},
		{"ssh server unreachable", fakeFailures["sshdown"].open, socks.RepHostUnreachable},
		{"channel prohibited", fakeFailures["prohibited"].dial, socks.RepGeneralFailure},
		{"channel refused", fakeFailures["chanrefused"].dial, socks.RepConnectionRefused},
		{"channel no route", fakeFailures["noroute"].dial, socks.RepHostUnreachable},
		{"ssh connection closed", fmt.Errorf("tunnel: T0001: %w", tunnel.ErrTunnelClosed), socks.RepGeneralFailure},
		{"refused", fakeFailures["refused"].dial, socks.RepConnectionRefused},
		{"network unreachable", fakeFailures["netdown"].dial, socks.RepNetworkUnreachable},
		{"name not found", fakeFailures["nxdomain"].dial, socks.RepHostUnreachable},
		{"timeout", fakeFailures["timeout"].dial, socks.RepTTLExpired},
		{"local firewall", fakeFailures["firewall"].dial, socks.RepGeneralFailure},
		{"a peer's not-allowed", &socks.ReplyError{Code: socks.RepNotAllowed}, socks.RepGeneralFailure},
		{"anything else", errors.New("something"), socks.RepGeneralFailure},
		{"no error", nil, socks.RepGeneralFailure},
	} {
		if got := failureReply(tc.err); got != tc.want {
			t.Errorf("%s: %#02x %s, want %#02x %s", tc.label, byte(got), got, byte(tc.want), tc.want)
		}
	}
}
