package console

import (
	"fmt"
	"strings"
	"time"
)

// column is one column of a reply table.
type column struct {
	title string
	right bool // right-aligned (numbers)
}

// table renders rows under the column titles, each column as wide as its
// widest cell, two blanks apart, every line indented by one blank. Empty
// cells show as "-".
func table(cols []column, rows [][]string) []string {
	width := make([]int, len(cols))
	for i, c := range cols {
		width[i] = len(c.title)
	}
	for _, r := range rows {
		for i := range cols {
			if i < len(r) {
				if r[i] == "" {
					r[i] = "-"
				}
				r[i] = sanitize(r[i])
				width[i] = max(width[i], len(r[i]))
			}
		}
	}
	line := func(cells func(i int) string) string {
		var b strings.Builder
		for i, c := range cols {
			b.WriteString("  ")
			cell := cells(i)
			pad := strings.Repeat(" ", width[i]-len(cell))
			if c.right {
				b.WriteString(pad + cell)
			} else {
				b.WriteString(cell + pad)
			}
		}
		return " " + strings.TrimRight(b.String()[2:], " ")
	}
	out := make([]string, 0, len(rows)+1)
	out = append(out, line(func(i int) string { return cols[i].title }))
	for _, r := range rows {
		out = append(out, line(func(i int) string {
			if i < len(r) {
				return r[i]
			}
			return "-"
		}))
	}
	return out
}

// bytesText renders a byte count compactly: 999, 1.5K, 12.0M, 3.2G.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d", n)
	}
	f := float64(n)
	for _, suffix := range []string{"K", "M", "G", "T"} {
		f /= unit
		if f < unit || suffix == "T" {
			return fmt.Sprintf("%.1f%s", f, suffix)
		}
	}
	return fmt.Sprintf("%d", n) // not reached
}

// ageText renders a duration compactly: 42s, 3m05s, 2h07m, 3d04h.
func ageText(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}

// timeText renders a time stamp for detail lines; zero is "-".
func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
