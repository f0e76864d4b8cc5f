package bench

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"testing"
)

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int64
		err  bool
	}{
		{"proc status", "Name:\tsocksd\nVmPeak:\t  100 kB\nVmRSS:\t   12345 kB\nRssAnon:\t 1 kB\n", 12345, false},
		{"CRLF", "VmRSS: 7 kB\r\n", 7, false},
		{"no line", "Name:\tx\n", 0, true},
		{"empty", "", 0, true},
		{"no unit", "VmRSS: 7\n", 0, true},
		{"other unit", "VmRSS: 7 MB\n", 0, true},
		{"negative", "VmRSS: -7 kB\n", 0, true},
		{"overflow", "VmRSS: 99999999999999999999 kB\n", 0, true},
		{"not at line start", "xVmRSS: 7 kB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseVmRSS([]byte(tt.in))
			if tt.err {
				if !errors.Is(err, ErrNoVmRSS) {
					t.Fatalf("err = %v, want ErrNoVmRSS", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("= %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestRSSKiBOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	n, err := RSSKiB(os.Getpid())
	if err != nil || n <= 0 {
		t.Fatalf("RSSKiB(self) = %d, %v", n, err)
	}
	if _, err := RSSKiB(-1); err == nil {
		t.Error("RSSKiB(-1) succeeded")
	}
}

// FuzzParseVmRSS: never panics; a success is a non-negative value from a
// text that has a VmRSS line; a VmRSS line put first is read back exactly.
func FuzzParseVmRSS(f *testing.F) {
	f.Add([]byte("Name:\tsocksd\nVmRSS:\t   12345 kB\n"), int64(42))
	f.Add([]byte("VmRSS: x kB\n"), int64(0))
	f.Add([]byte{}, int64(1<<40))
	f.Fuzz(func(t *testing.T, status []byte, n int64) {
		got, err := ParseVmRSS(status)
		if err == nil && (got < 0 || !bytes.Contains(status, []byte("VmRSS:"))) {
			t.Fatalf("ParseVmRSS(%q) = %d", status, got)
		}
		if n < 0 {
			n = -(n + 1)
		}
		withLine := append([]byte(fmt.Sprintf("VmRSS:\t%d kB\n", n)), status...)
		got, err = ParseVmRSS(withLine)
		if err != nil || got != n {
			t.Fatalf("round trip of %d over %q: %d, %v", n, status, got, err)
		}
	})
}

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		stat       string
		ppid       int
		own, child float64
		bad        bool
	}{
		{stat: "1234 (ssh) S 99 1234 1234 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 100 1000 200", ppid: 99, own: 3, child: 0.1},
		{stat: "5 (a b) c)) R 1 5 5 0 -1 0 0 0 0 0 1 2 3 4 20 0 1 0", ppid: 1, own: 0.03, child: 0.07},
		{stat: "5 no parens", bad: true},
		{stat: "5 (x) R 1 2", bad: true},
	} {
		ppid, own, child, err := ParseStatCPU([]byte(tc.stat))
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.stat)
			}
			continue
		}
		if err != nil || ppid != tc.ppid || math.Abs(own-tc.own) > 1e-9 || math.Abs(child-tc.child) > 1e-9 {
			t.Errorf("%q = %d %v %v %v, want %d %v %v", tc.stat, ppid, own, child, err, tc.ppid, tc.own, tc.child)
		}
	}
}

func TestWithEngine(t *testing.T) {
	got := withEngine("[ssh]\nx = 1\n[profiles.a]\nhost = \"h\"\n", "openssh", 4)
	want := "[ssh]\nengine = \"openssh\"\nx = 1\n[profiles.a]\nspread = 4\nhost = \"h\"\n"
	if got != want {
		t.Errorf("withEngine = %q, want %q", got, want)
	}
}
