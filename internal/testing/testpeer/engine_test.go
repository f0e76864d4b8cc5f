package testpeer

import "testing"

func TestWithEngine(t *testing.T) {
	for _, c := range []struct {
		name, engine, in, dir, want string
	}{
		{"unset: the default engine", "", "[ssh]\nknown_hosts = []\n", "/r", "[ssh]\nruntime_dir = \"/r\"\nknown_hosts = []\n"},
		{"unset, no directory", "", "[ssh]\nknown_hosts = []\n", "", "[ssh]\nknown_hosts = []\n"},
		{"builtin by name", "builtin", "[ssh]\n", "", "[ssh]\nengine = \"builtin\"\n"},
		{"into the ssh table", "openssh", "[server]\n[ssh]\nknown_hosts = []\n[profiles.p]\n", "/r",
			"[server]\n[ssh]\nengine = \"openssh\"\nruntime_dir = \"/r\"\nknown_hosts = []\n[profiles.p]\n"},
		{"no ssh table", "openssh", "[server]\n[[rules]]\naction = \"direct\"\n", "",
			"[server]\n[[rules]]\naction = \"direct\"\n\n[ssh]\nengine = \"openssh\"\n"},
		{"an engine chosen by the test", "openssh", "[ssh]\nengine = \"builtin\"\n", "/r", "[ssh]\nengine = \"builtin\"\n"},
		{"a profile's engine", "openssh", "[ssh]\n[profiles.p]\nengine = \"builtin\"\n", "/r", "[ssh]\n[profiles.p]\nengine = \"builtin\"\n"},
		{"its own runtime_dir", "openssh", "[ssh]\nruntime_dir = \"/x\"\n", "/r", "[ssh]\nengine = \"openssh\"\nruntime_dir = \"/x\"\n"},
		{"not a sub-table", "openssh", "[ssh.x]\n", "", "[ssh.x]\n\n[ssh]\nengine = \"openssh\"\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvEngine, c.engine)
			if got := WithEngine(c.in, c.dir); got != c.want {
				t.Errorf("WithEngine(%q, %q) under %q =\n%q\nwant\n%q", c.in, c.dir, c.engine, got, c.want)
			}
		})
	}
}
