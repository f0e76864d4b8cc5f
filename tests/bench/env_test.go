package bench

import (
	"strings"
	"testing"
)

func TestOptionsFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Options
		wantErr string
	}{
		{"defaults", map[string]string{"SOCKSD_BENCH_OUT": "/x/B.md"},
			Options{Out: "/x/B.md", Runs: 5, SizeMiB: 1024, IdleSessions: 1000, IdleRuns: 3, Sessions: 100, DelayMiB: 256}, ""},
		{"set", map[string]string{"SOCKSD_BENCH_RUNS": " 7 ", "SOCKSD_BENCH_MB": "64", "SOCKSD_BENCH_IDLE": "10",
			"SOCKSD_BENCH_IDLE_RUNS": "2", "SOCKSD_BENCH_SESSIONS": "5", "SOCKSD_BENCH_ONLY": "ftp", "SOCKSD_BENCH_DELAY_MB": "8"},
			Options{Runs: 7, SizeMiB: 64, IdleSessions: 10, IdleRuns: 2, Sessions: 5, Only: "ftp", DelayMiB: 8}, ""},
		{"not a number", map[string]string{"SOCKSD_BENCH_MB": "1G"}, Options{}, `SOCKSD_BENCH_MB="1G": not a number`},
		{"zero runs", map[string]string{"SOCKSD_BENCH_RUNS": "0"}, Options{}, "SOCKSD_BENCH_RUNS=0: out of range"},
		{"too many idle", map[string]string{"SOCKSD_BENCH_IDLE": "100000"}, Options{}, "SOCKSD_BENCH_IDLE=100000: out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := OptionsFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "bench: ") {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	if got := (Options{SizeMiB: 3}).Size(); got != 3<<20 {
		t.Errorf("Size = %d", got)
	}
}

func TestRotateAndOrder(t *testing.T) {
	paths := []sockPath{{name: "a"}, {name: "b"}, {name: "c"}}
	firsts := map[string]bool{}
	for i := 0; i < 3; i++ {
		r := rotate(paths, i)
		if len(r) != 3 {
			t.Fatalf("rotate dropped paths: %v", r)
		}
		seen := map[string]bool{}
		for _, p := range r {
			seen[p.name] = true
		}
		if len(seen) != 3 {
			t.Errorf("rotate(%d) repeats a path", i)
		}
		firsts[r[0].name] = true
	}
	if len(firsts) != 3 {
		t.Errorf("each path should lead once in three runs: %v", firsts)
	}
	if o0, o1 := order(0), order(1); o0[0] == o1[0] || o0[0] == o0[1] {
		t.Errorf("order does not alternate: %v %v", o0, o1)
	}
}

func TestPattern(t *testing.T) {
	for _, size := range []int64{0, 1, 1 << 20, 3<<20 + 17} {
		p := newPattern(size)
		buf := make([]byte, 300_001)
		var n int64
		for i := 0; i < 100; i++ {
			m, err := p.Read(buf)
			n += int64(m)
			if err != nil {
				break
			}
		}
		if n != size {
			t.Errorf("pattern(%d) gave %d bytes", size, n)
		}
	}
}
