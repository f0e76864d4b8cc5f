package socksd

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"
	"socksd/internal/testing/wait"
	"socksd/socks"
)

// limitsConfig allows three sessions, two per client address.
const limitsConfig = `
[server]
listen = ["127.0.0.1:0"]
handshake_timeout = "5s"
max_sessions = 3
max_sessions_per_client = 2
drain_timeout = "%s"
[console]
socket = ""
[[rules]]
name = "direct"
action = "direct"
`

// from is a local address to connect from: loopback 127.0.0.n.
func from(n int) net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(n))} }

// TestLimits runs one daemon through a sequence of requests: each step says
// where the request comes from, what the daemon must answer, and the
// message that says why it refused.
func TestLimits(t *testing.T) {
	fake := &fakeDialer{echo: testpeer.EchoServer(t)}
	d := newTestDaemon(t, fmt.Sprintf(limitsConfig, "1m"), fake)
	held := map[string]net.Conn{} // by destination
	for i, step := range []struct {
		what   string
		client int    // 127.0.0.n
		before string // QUIESCE, RESUME, or END (end the first held session)
		reply  socks.Reply
		msg    string // the message logged for a refusal
	}{
		{"first from .1", 1, "", socks.RepSucceeded, ""},
		{"second from .1", 1, "", socks.RepSucceeded, ""},
		{"third from .1: per-client limit", 1, "", socks.RepGeneralFailure, "SOX0104W"},
		{"first from .2", 2, "", socks.RepSucceeded, ""},
		{"first from .3: max_sessions", 3, "", socks.RepGeneralFailure, "SOX0104W"},
		{"after one ends, .3 gets a slot", 3, "END", socks.RepSucceeded, ""},
		{"quiesced", 4, "QUIESCE", socks.RepGeneralFailure, "SOX0109W"},
		{"resumed, but full", 4, "RESUME", socks.RepGeneralFailure, "SOX0104W"},
	} {
		switch step.before {
		case "QUIESCE":
			d.Quiesce()
		case "RESUME":
			d.Resume()
		case "END":
			for dest, c := range held {
				echoes(t, c)
				d.log.waitEnd(t, dest)
				delete(held, dest)
				break
			}
		}
		dest := socks.Addr{Host: "127.0.0.1", Port: uint16(1000 + i)}
		before := d.Stats()
		nmsg := 0
		if step.msg != "" {
			nmsg = len(d.log.find(withID(step.msg)))
		}
		c, got := socksConnect(t, d.addr, from(step.client), 5, socks.CmdConnect, dest, "", "")
		if got != step.reply {
			t.Fatalf("%s: reply %s, want %s", step.what, got, step.reply)
		}
		if got == socks.RepSucceeded {
			held[dest.String()] = c
			continue
		}
		c.Close()
		wait.Until(t, step.msg+" for "+step.what, waitTimeout, func() bool {
			return len(d.log.find(withID(step.msg))) > nmsg
		})
		if st := d.Stats(); st.Refused != before.Refused+1 || st.Total != before.Total {
			t.Errorf("%s: D STATS refused %d→%d, total %d→%d; want refused +1, total unchanged",
				step.what, before.Refused, st.Refused, before.Total, st.Total)
		}
		if n := len(d.log.find(func(ev map[string]any) bool { return ev["dest"] == dest.String() && ev["event"] == "session_end" })); n != 0 {
			t.Errorf("%s: a refused connection logged a session end", step.what)
		}
	}
	if st := d.Stats(); st.Active != 3 || st.Total != 4 || st.Refused != 4 {
		t.Errorf("D STATS active %d total %d refused %d, want 3, 4, 4", st.Active, st.Total, st.Refused)
	}
}

// TestDrain stops a daemon with one session running, in each of the ways
// an operator can, and checks how the session ends and what is announced.
func TestDrain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		drain   string
		stop    func(d *testDaemon)
		closeC  bool   // the client ends its session during the drain
		result  string // the session's end
		timeout bool   // SOX0009W: the drain timed out
	}{
		{"drain waits for the session", "1m", func(d *testDaemon) { d.Stop(false) }, true, "ok", false},
		{"drain timeout ends it", "100ms", func(d *testDaemon) { d.Stop(false) }, false, "cancelled", true},
		{"stop immediate", "1m", func(d *testDaemon) { d.Stop(true) }, false, "cancelled", false},
		{"stop, then stop immediate", "1m", func(d *testDaemon) {
			d.Stop(false)
			d.Stop(true)
		}, false, "cancelled", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeDialer{echo: testpeer.EchoServer(t)}
			d := newTestDaemon(t, fmt.Sprintf(limitsConfig, tc.drain), fake)
			dest := socks.Addr{Host: "127.0.0.1", Port: 7}
			c, got := socksConnect(t, d.addr, nil, 5, socks.CmdConnect, dest, "", "")
			if got != socks.RepSucceeded {
				t.Fatalf("reply %s", got)
			}
			tc.stop(d)
			// New connections are no longer accepted.
			wait.Until(t, "the listener to close", waitTimeout, func() bool {
				c, err := net.DialTimeout("tcp", d.addr, time.Second)
				if err == nil {
					c.Close()
				}
				return err != nil
			})
			if tc.closeC {
				echoes(t, c) // the session still works during the drain
			}
			select {
			case <-d.Done():
			case <-time.After(waitTimeout):
				t.Fatal("the daemon did not end")
			}
			ev := d.log.waitEnd(t, dest.String())
			if got := str(ev, "result"); got != tc.result {
				t.Errorf("session result %s, want %s", got, tc.result)
			}
			if got := len(d.log.find(withID("SOX0009W"))) > 0; got != tc.timeout {
				t.Errorf("SOX0009W logged: %v, want %v", got, tc.timeout)
			}
			// Each stop is announced before it acts: SOX0007I comes before
			// the session's end, and an immediate stop says so.
			stops := d.log.find(withID("SOX0007I"))
			if len(stops) == 0 {
				t.Fatal("no SOX0007I")
			}
			last := str(stops[len(stops)-1], "message")
			if immediate := strings.Contains(tc.name, "immediate"); immediate != strings.HasSuffix(last, "for up to 0s") {
				t.Errorf("last SOX0007I %q (immediate stop: %v)", last, immediate)
			}
			end := d.log.index(func(e map[string]any) bool { return e["event"] == "session_end" })
			if lastStop := d.log.index(func(e map[string]any) bool { return str(e, "message") == last }); lastStop > end {
				t.Errorf("the stop was announced after the session it ended had ended")
			}
			if n := len(stops); n != 1+strings.Count(tc.name, ", then") {
				t.Errorf("%d SOX0007I, want one per stop", n)
			}
		})
	}
}
