package top

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// columns are the headings of a frame, with their widths; Render and the
// tests that read a screen share them.
var columns = []struct {
	title string
	width int
}{
	{"NAME", 12}, {"KIND", 8}, {"STATE", 10}, {"PAY/S", 9}, {"P50", 9}, {"P99", 9},
	{"HELD", 7}, {"IN DOUBT", 9}, {"FSYNC P99", 10}, {"ERR/S", 8},
}

// Render returns the lines of a frame: a title, the headings, then a row
// per process; no blank line, so that a blank line can separate frames.
// Unknown figures are "-"; a DOWN row gives its reason in place of
// figures.
func Render(f Frame, interval time.Duration) []string {
	lines := []string{
		fmt.Sprintf("strife top   %s   every %s", f.At.Format("15:04:05"), interval),
		strings.TrimRight(renderCells(headings()), " "),
	}
	for _, r := range f.Rows {
		lines = append(lines, renderRow(r))
	}
	return lines
}

func headings() []string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = c.title
	}
	return out
}

func renderRow(r Row) string {
	kind := string(r.Kind)
	if kind == "" {
		kind = "-"
	}
	if r.State == StateDown {
		return renderCells([]string{r.Name, kind, string(r.State)}) + r.Reason
	}
	return strings.TrimRight(renderCells([]string{
		r.Name, kind, string(r.State),
		number(r.PaymentsPerSec, 1), duration(r.P50), duration(r.P99),
		number(r.Held, 0), number(r.InDoubt, 0), duration(r.FsyncP99), number(r.ErrorsPerSec, 1),
	}), " ")
}

// renderCells pads each cell to its column: names and words to the left,
// figures (from the fourth column on) to the right.
func renderCells(cells []string) string {
	var b strings.Builder
	for i, cell := range cells {
		w := columns[i].width
		if i < 3 {
			fmt.Fprintf(&b, "%-*s ", w, truncate(cell, w))
		} else {
			fmt.Fprintf(&b, "%*s ", w, truncate(cell, w))
		}
	}
	return b.String()
}

func truncate(s string, w int) string {
	if len([]rune(s)) <= w {
		return s
	}
	return string([]rune(s)[:w-1]) + "…"
}

func number(v float64, decimals int) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.*f", decimals, v)
}

// duration shows seconds in the unit that keeps three figures.
func duration(seconds float64) string {
	switch {
	case math.IsNaN(seconds):
		return "-"
	case seconds < 0.001:
		return fmt.Sprintf("%.0fµs", seconds*1e6)
	case seconds < 1:
		return fmt.Sprintf("%.1fms", seconds*1e3)
	}
	return fmt.Sprintf("%.2fs", seconds)
}
