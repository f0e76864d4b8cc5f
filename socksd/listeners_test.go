package socksd

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"socksd/console"
)

func TestListeners(t *testing.T) {
	tests := []struct {
		name, server string
		want         []string // kind address, with the port of a fixed listener as P
	}{
		{"socks only", `listen = ["127.0.0.1:0"]`, []string{"socks 127.0.0.1:P", "rewrite 127.0.0.1:*"}},
		{"with redirect and a forward", `listen = ["127.0.0.1:0"]
redirect_listen = ["127.0.0.1:0", "[::1]:0"]
[profiles.gw]
host = "127.0.0.1"
[[forwards]]
listen = "127.0.0.1:FWDPORT"
to = "mail.internal:25"
profile = "gw"`, []string{"socks 127.0.0.1:P", "redirect 127.0.0.1:P", "redirect [::1]:P", "forward 127.0.0.1:P", "rewrite [::]:*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
				t.Skipf("no IPv6 loopback: %v", err)
			} else {
				ln.Close()
			}
			// A forward needs a fixed port: one that was free a moment ago.
			free, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			_, port, _ := net.SplitHostPort(free.Addr().String())
			free.Close()
			server := strings.ReplaceAll(tt.server, "FWDPORT", port)
			d := newTestDaemon(t, "[console]\nsocket = \"\"\n[server]\n"+server+"\n[[rules]]\nname = \"all\"\naction = \"block\"\n", nil)
			got := d.Listeners()
			if len(got) != len(tt.want) {
				t.Fatalf("Listeners() = %v, want %v", got, tt.want)
			}
			for i, l := range got {
				addr := l.Addr
				if h, p, err := net.SplitHostPort(addr); err == nil && p != "*" {
					addr = net.JoinHostPort(h, "P")
				}
				if s := fmt.Sprintf("%s %s", l.Kind, addr); s != tt.want[i] {
					t.Errorf("listener %d = %s, want %s", i, s, tt.want[i])
				}
				if l.Kind == console.ListenerRedirect {
					if _, p, _ := net.SplitHostPort(l.Addr); p == "0" {
						t.Errorf("redirect listener without its port: %s", l.Addr)
					}
				}
			}
		})
	}
}
