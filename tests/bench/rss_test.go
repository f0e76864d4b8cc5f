package bench

import (
	"bytes"
	"errors"
	"fmt"
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
