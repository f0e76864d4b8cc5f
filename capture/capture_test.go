package capture

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestCgroup2Mount(t *testing.T) {
	const hybrid = `25 31 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
35 25 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
41 35 0:38 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw
42 35 0:39 / /sys/fs/cgroup/cpu rw,relatime shared:11 - cgroup cgroup rw,cpu
`
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"hybrid", hybrid, "/sys/fs/cgroup/unified", false},
		{"unified", "30 25 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n", "/sys/fs/cgroup", false},
		{"prefers /sys/fs/cgroup", "1 2 0:1 / /mnt/cg rw - cgroup2 none rw\n3 2 0:1 / /sys/fs/cgroup rw - cgroup2 none rw\n", "/sys/fs/cgroup", false},
		{"skips a bind of a sub-cgroup", "1 2 0:1 /sub /mnt/sub rw - cgroup2 none rw\n3 2 0:1 / /mnt/cg rw - cgroup2 none rw\n", "/mnt/cg", false},
		{"optional fields", "41 35 0:38 / /cg rw shared:10 master:3 - cgroup2 cgroup2 rw\n", "/cg", false},
		{"escaped blank", `41 35 0:38 / /my\040cg rw - cgroup2 cgroup2 rw` + "\n", "/my cg", false},
		{"none", "25 31 0:23 / /sys rw - sysfs sysfs rw\n42 35 0:39 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n", "", true},
		{"empty", "", "", true},
		{"garbage", "no separator here\n- \n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Cgroup2Mount(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("Cgroup2Mount = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParsePorts(t *testing.T) {
	tests := []struct {
		in      string
		want    []PortRange
		wantErr bool
	}{
		{"21", []PortRange{{21, 21}}, false},
		{"21,80, 2100-2199", []PortRange{{21, 21}, {80, 80}, {2100, 2199}}, false},
		{"1-65535", []PortRange{{1, 65535}}, false},
		{"", nil, true},
		{"0", nil, true},
		{"65536", nil, true},
		{"90-80", nil, true},
		{"ftp", nil, true},
		{"21-", nil, true},
	}
	for _, tt := range tests {
		got, err := ParsePorts(tt.in)
		if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePorts(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "capture: ") {
			t.Errorf("ParsePorts(%q) error %q lacks the package prefix", tt.in, err)
		}
	}
}

func TestEndpointString(t *testing.T) {
	for _, tt := range []struct {
		e    Endpoint
		want string
	}{
		{Endpoint{netip.MustParseAddr("127.0.0.1"), PortRange{1080, 1080}}, "127.0.0.1:1080"},
		{Endpoint{netip.MustParseAddr("::1"), PortRange{32768, 60999}}, "[::1]:32768-60999"},
	} {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
