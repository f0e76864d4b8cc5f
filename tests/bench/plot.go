package bench

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	chart "github.com/wcharczuk/go-chart/v2"
	"github.com/wcharczuk/go-chart/v2/drawing"
)

var (
	colorOurs   = drawing.ColorFromHex("1f77b4")
	colorRef    = drawing.ColorFromHex("b0b0b0")
	colorLower  = drawing.ColorFromHex("ff7f0e")
	errNoPoints = errors.New("bench: nothing to plot")
)

// WriteRatioSVG draws, for every row with a reference that is not a
// ceiling, the ratio of the medians socksd ÷ reference as a bar: blue where
// higher is better (throughput), orange where lower is better (time,
// memory). Ceilings are on the throughput plot.
func WriteRatioSVG(w io.Writer, rows []Row) error {
	c, err := ratioChart(rows)
	if err != nil {
		return err
	}
	return render(c, w)
}

// ratioChart builds the chart WriteRatioSVG draws.
func ratioChart(rows []Row) (chart.BarChart, error) {
	var bars []chart.Value
	top := 1.0
	for _, r := range rows {
		x, ok := r.Ratio()
		if !ok || r.Ceiling || r.Section.Diagnostic {
			continue
		}
		c := colorLower
		if HigherIsBetter(r.Unit) {
			c = colorOurs
		}
		bars = append(bars, chart.Value{Value: x, Label: r.Label,
			Style: chart.Style{FillColor: c, StrokeColor: c, StrokeWidth: 1}})
		top = math.Max(top, x)
	}
	if len(bars) == 0 {
		return chart.BarChart{}, errNoPoints
	}
	return barChart("socksd ÷ reference, medians (blue: MB/s, higher is better; orange: ms and KiB, lower is better)",
		"ratio", bars, top, []float64{1}), nil
}

// WriteThroughputSVG draws, for every MB/s row, the medians of socksd
// (blue) and of its reference (grey) side by side.
func WriteThroughputSVG(w io.Writer, rows []Row) error {
	c, err := throughputChart(rows)
	if err != nil {
		return err
	}
	return render(c, w)
}

// throughputChart builds the chart WriteThroughputSVG draws.
func throughputChart(rows []Row) (chart.BarChart, error) {
	var bars []chart.Value
	top := 0.0
	for _, r := range rows {
		if r.Unit != "MB/s" || r.Section.Diagnostic {
			continue
		}
		o, f := Summarize(r.Ours), Summarize(r.Ref)
		if !o.Valid {
			continue
		}
		bars = append(bars, chart.Value{Value: o.Median, Label: r.Label + ": socksd",
			Style: chart.Style{FillColor: colorOurs, StrokeColor: colorOurs, StrokeWidth: 1}})
		top = math.Max(top, o.Median)
		if f.Valid {
			bars = append(bars, chart.Value{Value: f.Median, Label: refShort(r.RefName),
				Style: chart.Style{FillColor: colorRef, StrokeColor: colorRef, StrokeWidth: 1}})
			top = math.Max(top, f.Median)
		}
	}
	if len(bars) == 0 || top <= 0 {
		return chart.BarChart{}, errNoPoints
	}
	return barChart("throughput, MB/s, medians (blue: socksd, grey: its reference)", "MB/s", bars, top, nil), nil
}

// refShort is a plot label for a reference.
func refShort(name string) string {
	switch {
	case len(name) >= 4 && name[:4] == "raw ":
		return "raw FTP"
	case len(name) >= 5 && name[:5] == "plain":
		return "loopback"
	case len(name) >= 5 && name[:5] == "`ssh ":
		return "ssh -D"
	case strings.HasPrefix(name, "OpenSSH `sftp"):
		return "sftp -b"
	case strings.HasPrefix(name, "socksd `ftp-tunnel`"):
		return "ftp-tunnel"
	}
	return name
}

// render draws c as SVG.
func render(c chart.BarChart, w io.Writer) error {
	if err := c.Render(chart.SVG, w); err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	return nil
}

// barChart lays out bars on a y axis from 0 to a round value above top,
// with extra grid lines at marks.
func barChart(title, yName string, bars []chart.Value, top float64, marks []float64) chart.BarChart {
	ticks := niceTicks(top)
	var grid []chart.GridLine
	for _, m := range marks {
		grid = append(grid, chart.GridLine{Value: m})
	}
	// Without marks the axis still draws grid lines of its own: keep them faint.
	gridStyle := chart.Style{StrokeColor: drawing.ColorFromHex("e0e0e0"), StrokeWidth: 1}
	if len(marks) > 0 {
		gridStyle = chart.Style{StrokeColor: drawing.ColorFromHex("d62728"), StrokeWidth: 1.5}
	}
	const slot = 110
	return chart.BarChart{
		Title:      title,
		TitleStyle: chart.Style{FontSize: 11},
		Width:      max(640, 120+slot*len(bars)),
		Height:     440,
		BarWidth:   60,
		BarSpacing: slot - 60,
		Background: chart.Style{Padding: chart.Box{Top: 50, Left: 20, Right: 20, Bottom: 50}},
		XAxis:      chart.Style{FontSize: 9, TextWrap: chart.TextWrapWord},
		YAxis: chart.YAxis{
			Name:           yName,
			Range:          &chart.ContinuousRange{Min: 0, Max: ticks[len(ticks)-1].Value},
			Ticks:          ticks,
			GridLines:      grid,
			GridMajorStyle: gridStyle,
		},
		Bars: bars,
	}
}

// niceTicks returns ticks from 0 to a round value at or above top, about
// five of them, with steps of 1, 2 or 5 times a power of ten.
func niceTicks(top float64) []chart.Tick {
	if !(top > 0) || math.IsInf(top, 0) {
		top = 1
	}
	raw := top / 5
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step := p
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			step = m * p
			break
		}
	}
	decimals := max(0, int(-math.Floor(math.Log10(step))))
	var ticks []chart.Tick
	for i := 0; i <= 12; i++ {
		v := float64(i) * step
		ticks = append(ticks, chart.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64)})
		if v >= top {
			break
		}
	}
	return ticks
}
