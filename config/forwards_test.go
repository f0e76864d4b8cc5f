package config

import (
	"errors"
	"strings"
	"testing"

	"socksd/socks"
)

const fwdHead = "[server]\nlisten = [\"127.0.0.1:1080\"]\n\n[profiles.gw]\nhost = \"gw\"\nuser = \"batch\"\n[profiles.other]\nhost = \"gw2\"\n\n"

func TestForwards(t *testing.T) {
	text := fwdHead + "[[forwards]]\nlisten = \"127.0.0.1:2525\"\nto = \"mail.internal:25\"\nprofile = \"gw\"\n" +
		"[[forwards]]\nname = \"db\"\nlisten = \"[::1]:5432\"\nto = \"[2001:db8::5]:5432\"\nprofile = \"gw\"\n"
	c, err := Parse("fwd.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Forwards) != 2 {
		t.Fatalf("forwards = %+v", c.Forwards)
	}
	f, g := c.Forwards[0], c.Forwards[1]
	if f.Label() != "127.0.0.1:2525" || f.Dest() != (socks.Addr{Host: "mail.internal", Port: 25}) || f.Profile != "gw" {
		t.Errorf("forward 1: %+v label %q dest %v", f, f.Label(), f.Dest())
	}
	if g.Label() != "db" || g.Dest() != (socks.Addr{Host: "2001:db8::5", Port: 5432}) {
		t.Errorf("forward 2: %+v dest %v", g, g.Dest())
	}
	if got, want := f.String(), "127.0.0.1:2525: listen 127.0.0.1:2525 to mail.internal:25 through profile gw"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if c.Line("forwards", "1", "to") != 17 {
		t.Errorf("line of forwards[2].to = %d", c.Line("forwards", "1", "to"))
	}
}

func TestForwardErrors(t *testing.T) {
	fwd := func(lines ...string) string { return fwdHead + "[[forwards]]\n" + strings.Join(lines, "\n") + "\n" }
	ok := []string{`listen = "127.0.0.1:2525"`, `to = "mail:25"`, `profile = "gw"`}
	with := func(i int, l string) []string { o := append([]string(nil), ok...); o[i] = l; return o }
	cases := []struct {
		name, body string
		line       int
		key, msg   string
	}{
		{"bad listen", fwd(with(0, `listen = "2525"`)...), 11, "forwards[1].listen", `"2525" is not a host:port address`},
		{"port 0", fwd(with(0, `listen = "127.0.0.1:0"`)...), 11, "forwards[1].listen", "needs a fixed port"},
		{"no listen", fwd(ok[1:]...), 10, "forwards[1].listen", "needs a listen address"},
		{"bad to", fwd(with(1, `to = "mail"`)...), 12, "forwards[1].to", `address "mail"`},
		{"bad to host", fwd(with(1, `to = "ma il:25"`)...), 12, "forwards[1].to", `address "ma il:25"`},
		{"to port 0", fwd(with(1, `to = "mail:0"`)...), 12, "forwards[1].to", "port 0"},
		{"no to", fwd(ok[0], ok[2]), 10, "forwards[1].to", "needs a destination"},
		{"unknown profile", fwd(with(2, `profile = "nope"`)...), 13, "forwards[1].profile", `profile "nope" does not exist`},
		{"no profile", fwd(ok[:2]...), 10, "forwards[1].profile", "needs the profile"},
		{"unknown key", fwd(append(ok, `tp = "x"`)...), 14, "forwards[1].tp", "unknown key (did you mean to?)"},
		{"type", fwd(with(0, `listen = 2525`)...), 11, "forwards[1].listen", "must be a string"},
		{"clash with socks", fwd(with(0, `listen = "127.0.0.1:1080"`)...), 11, "forwards[1].listen", "also a SOCKS listener in server.listen"},
		{"clash with wildcard", fwd(with(0, `listen = ":1080"`)...), 11, "forwards[1].listen", "also a SOCKS listener"},
		{"clash with forward", fwd(ok...) + "[[forwards]]\nlisten = \"127.0.0.1:2525\"\nto = \"x:1\"\nprofile = \"gw\"\n", 15, "forwards[2].listen", "also the listen address of forwards[1] (line 11)"},
		{"same name", fwd(append(ok, `name = "m"`)...) + "[[forwards]]\nname = \"m\"\nlisten = \"127.0.0.1:2526\"\nto = \"x:1\"\nprofile = \"gw\"\n", 16, "forwards[2].name", `"m" is also the name of forwards[1]`},
		{"name with blank", fwd(append(ok, `name = "a b"`)...), 14, "forwards[1].name", "has no blanks"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("site.toml", []byte(tc.body))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("not a *config.Error: %v", err)
			}
			if e.Line != tc.line || e.Key != tc.key || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("got %s:%d %s: %s; want line %d %s: %s", e.File, e.Line, e.Key, e.Msg, tc.line, tc.key, tc.msg)
			}
		})
	}
}

func TestListenClash(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"127.0.0.1:1", "127.0.0.1:1", true},
		{"127.0.0.1:1", "127.0.0.1:2", false},
		{"127.0.0.1:1", "127.0.0.2:1", false},
		{"0.0.0.0:1", "127.0.0.1:1", true},
		{"[::]:1", "[::1]:1", true},
		{":1", "[::1]:1", true},
		{"localhost:1", "LOCALHOST:1", true},
		{"localhost:1", "127.0.0.1:1", false},
		{"[::ffff:127.0.0.1]:1", "127.0.0.1:1", true},
		{"127.0.0.1:0", "127.0.0.1:0", false},
	}
	for _, tc := range cases {
		if got := listenClash(tc.a, tc.b); got != tc.want {
			t.Errorf("listenClash(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
