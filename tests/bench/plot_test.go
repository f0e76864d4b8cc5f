package bench

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestNiceTicks(t *testing.T) {
	for _, top := range []float64{0.003, 0.9, 1, 1.37, 7, 99, 1950, 123456} {
		ticks := niceTicks(top)
		if len(ticks) < 2 || ticks[0].Value != 0 || ticks[len(ticks)-1].Value < top {
			t.Errorf("niceTicks(%v) = %v", top, ticks)
		}
		if len(ticks) > 12 {
			t.Errorf("niceTicks(%v): %d ticks", top, len(ticks))
		}
		for i := 1; i < len(ticks); i++ {
			if ticks[i].Value <= ticks[i-1].Value {
				t.Errorf("niceTicks(%v) not increasing: %v", top, ticks)
			}
		}
	}
	if ticks := niceTicks(0); ticks[len(ticks)-1].Value <= 0 {
		t.Errorf("niceTicks(0) = %v", ticks)
	}
}

func TestPlots(t *testing.T) {
	rows := []Row{
		{Label: "RETR", Unit: "MB/s", Ours: []float64{300}, RefName: "`ssh -N -D`", Ref: []float64{400}},
		{Label: "setup", Unit: "ms", Ours: []float64{2}, RefName: "`ssh -N -D`", Ref: []float64{1}},
		{Label: "idle", Unit: "KiB", Ours: []float64{30}},
		{Label: "ceil", Unit: "MB/s", Ours: []float64{300}, RefName: "raw loopback FTP", Ref: []float64{900}, Ceiling: true},
		{Label: "diagrow", Unit: "MB/s", Ours: []float64{350}, RefName: "`ssh -N -D`", Ref: []float64{400}, Section: Section{Title: "D", Diagnostic: true}},
	}
	var b bytes.Buffer
	if err := WriteRatioSVG(&b, rows); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	if !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "RETR") || !strings.Contains(svg, "setup") || strings.Contains(svg, ">idle<") || strings.Contains(svg, ">ceil<") || strings.Contains(svg, "diagrow") {
		t.Errorf("ratio plot:\n%s", svg)
	}
	b.Reset()
	if err := WriteThroughputSVG(&b, rows); err != nil {
		t.Fatal(err)
	}
	svg = b.String()
	if !strings.Contains(svg, "RETR: socksd") || !strings.Contains(svg, "ssh -D") || !strings.Contains(svg, "raw FTP") || strings.Contains(svg, "setup") || strings.Contains(svg, "diagrow") {
		t.Errorf("throughput plot:\n%s", svg)
	}
	if err := WriteRatioSVG(&b, rows[2:3]); !errors.Is(err, errNoPoints) {
		t.Errorf("nothing to plot: %v", err)
	}
	if err := WriteThroughputSVG(&b, nil); !errors.Is(err, errNoPoints) {
		t.Errorf("nothing to plot: %v", err)
	}
}
