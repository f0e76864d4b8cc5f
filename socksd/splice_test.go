package socksd

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"
	"socksd/socks"
)

// TestTunnelSplice: the tunnel action hands the client's connection to
// the engine (Lease.Splice). The SOCKS success goes out in Ready, so that
// it precedes the first byte the engine writes; a failure before Ready
// gets the failure reply; one after it (a master that dies) ends the
// session failed with no second reply. Each session is counted once, with
// its bytes.
func TestTunnelSplice(t *testing.T) {
	fake := &fakeDialer{echo: testpeer.EchoServer(t)}
	d := newTestDaemon(t, routeConfig, fake)
	for _, tc := range []struct {
		name   string
		host   string
		reply  socks.Reply
		after  string // what the client reads after the reply: "echo", "banner" or "eof"
		result string
		err    string
	}{
		{"carried", "ok.tunnel.test", socks.RepSucceeded, "echo", "ok", ""},
		{"reply before the engine's first bytes", "splicebanner.tunnel.test", socks.RepSucceeded, "banner", "ok", ""},
		{"channel refused before Ready", "chanrefused.tunnel.test", socks.RepConnectionRefused, "", "failed", "refused"},
		{"cut after Ready", "splicecut.tunnel.test", socks.RepSucceeded, "eof", "failed", "master gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.take()
			before := d.Stats()
			dest := socks.Addr{Host: tc.host, Port: 443}
			c, got := socksConnect(t, d.addr, nil, 5, socks.CmdConnect, dest, "job1", "secret")
			if got != tc.reply {
				t.Fatalf("reply %s, want %s", got, tc.reply)
			}
			c.SetDeadline(time.Now().Add(waitTimeout))
			var up, down int64
			switch tc.after {
			case "echo":
				echoes(t, c)
			case "banner":
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil || line != fakeBanner {
					t.Fatalf("after the reply: %q %v, want the banner", line, err)
				}
				down = int64(len(fakeBanner))
			case "eof":
				// No second reply, nothing at all: the connection ends.
				if b, err := io.ReadAll(c); len(b) != 0 || err != nil {
					t.Fatalf("after the success reply: %q %v, want EOF", b, err)
				}
			}
			if tc.after == "banner" {
				c.Close()
			}
			ev := d.log.waitEnd(t, dest.String())
			c.Close()
			if str(ev, "result") != tc.result || str(ev, "action") != "tunnel" {
				t.Errorf("session_end result %q action %q, want %q tunnel", str(ev, "result"), str(ev, "action"), tc.result)
			}
			if e, has := ev["error"]; has != (tc.err != "") || (has && !strings.Contains(e.(string), tc.err)) {
				t.Errorf("session_end error = %v, want one containing %q", e, tc.err)
			}
			if tc.after == "banner" {
				if ev["bytes_down"] != float64(down) || ev["bytes_up"] != float64(up) {
					t.Errorf("session_end bytes up %v down %v, want %d %d", ev["bytes_up"], ev["bytes_down"], up, down)
				}
			}
			after := d.Stats()
			wantFailed := map[bool]int64{true: 1}[tc.result == "failed"]
			if after.Total-before.Total != 1 || after.Failed-before.Failed != wantFailed {
				t.Errorf("D STATS moved total %d failed %d, want 1 and %d", after.Total-before.Total, after.Failed-before.Failed, wantFailed)
			}
			if calls := fake.take(); len(calls) != 3 || calls[1] != fmt.Sprintf("channel %s", dest) || calls[2] != "release" {
				t.Errorf("dialer calls %q", calls)
			}
		})
	}
}
