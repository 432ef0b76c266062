// Package report writes the calibration report that people look at: one
// self-contained HTML file (inline SVG, no scripts, no outside resources)
// with, for each quantizer, the histogram of |x| on a log scale and a
// vertical line at the amax each calibration method chose, plus a results
// table.
package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/tensorquant/tensorquant/internal/atomicfile"
)

// Report is the content of one report.
type Report struct {
	Title      string
	Notes      []string // paragraphs under the title
	Table      Table
	Quantizers []Histogram
}

// Table is a results table: a header row and rows of cells.
type Table struct {
	Columns []string
	Rows    [][]string
}

// Histogram is what one quantizer saw during calibration: counts of |x| in
// bins with the given edges (len(Edges) == len(Counts)+1) and the amax each
// method picked.
type Histogram struct {
	Name   string
	Counts []int64
	Edges  []float64
	Amax   []Marker
}

// Marker is a labelled vertical line, for example {"entropy", 3.21}.
type Marker struct {
	Label string
	Value float64
}

// Validate returns an error naming the quantizer whose histogram is
// inconsistent (edge count, non-increasing or non-finite edges, negative
// counts) or whose markers are not finite.
func (r Report) Validate() error {
	for _, q := range r.Quantizers {
		if len(q.Edges) != len(q.Counts)+1 || len(q.Counts) == 0 {
			return fmt.Errorf("report: quantizer %q: %d edges for %d bins", q.Name, len(q.Edges), len(q.Counts))
		}
		for i, e := range q.Edges {
			if math.IsNaN(e) || math.IsInf(e, 0) || (i > 0 && e < q.Edges[i-1]) {
				return fmt.Errorf("report: quantizer %q: bad bin edge %v at %d", q.Name, e, i)
			}
		}
		for i, c := range q.Counts {
			if c < 0 {
				return fmt.Errorf("report: quantizer %q: negative count %d in bin %d", q.Name, c, i)
			}
		}
		for _, m := range q.Amax {
			if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
				return fmt.Errorf("report: quantizer %q: %s amax %v is not finite", q.Name, m.Label, m.Value)
			}
		}
	}
	return nil
}

// colors for the markers, in order; chosen to be told apart in print.
var colors = []string{"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"}

const (
	plotW, plotH = 720, 220
	padL, padR   = 56, 16
	padT, padB   = 12, 36
)

type svgPlot struct {
	Name         string
	W, H         int
	Bars         string // path data
	Axis         template.HTML
	Markers      []svgMarker
	TotalCount   int64
	Bins         int
	Range        string
	AxisX, AxisY int
}

type svgMarker struct {
	Label, Color string
	X            float64
	Value        string
	LabelY       int
	Anchor       string  // text-anchor of the label: "start", or "end" near the right edge
	DX           float64 // label offset from the line
}

// plot lays one histogram out as SVG primitives.
func plot(q Histogram) svgPlot {
	lo, hi := q.Edges[0], q.Edges[len(q.Edges)-1]
	for _, m := range q.Amax {
		hi = math.Max(hi, m.Value)
	}
	if hi <= lo {
		hi = lo + 1
	}
	innerW, innerH := float64(plotW-padL-padR), float64(plotH-padT-padB)
	x := func(v float64) float64 { return float64(padL) + (v-lo)/(hi-lo)*innerW }
	var maxLog float64
	var total int64
	for _, c := range q.Counts {
		maxLog = math.Max(maxLog, math.Log10(float64(c)+1))
		total += c
	}
	if maxLog == 0 {
		maxLog = 1
	}
	// The y axis is log10(count+1), so that empty bins sit on the axis.
	y := func(c int64) float64 { return float64(padT) + innerH*(1-math.Log10(float64(c)+1)/maxLog) }
	base := float64(padT) + innerH
	var p strings.Builder
	fmt.Fprintf(&p, "M%.1f %.1f", x(q.Edges[0]), base)
	for i, c := range q.Counts {
		fmt.Fprintf(&p, "L%.1f %.1fL%.1f %.1f", x(q.Edges[i]), y(c), x(q.Edges[i+1]), y(c))
	}
	fmt.Fprintf(&p, "L%.1f %.1fZ", x(q.Edges[len(q.Edges)-1]), base)
	var axis strings.Builder
	for k := 0; k <= 4; k++ {
		v := lo + (hi-lo)*float64(k)/4
		fmt.Fprintf(&axis, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999"/><text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`,
			x(v), base, x(v), base+4, x(v), base+16, template.HTMLEscapeString(fmt.Sprintf("%.4g", v)))
	}
	var maxCount int64
	for _, c := range q.Counts {
		maxCount = max(maxCount, c)
	}
	ticks := []int64{0}
	for c := int64(10); math.Log10(float64(c)+1) <= maxLog; c *= 10 {
		ticks = append(ticks, c)
	}
	if maxLog < 1.5 {
		ticks = append(ticks, maxCount) // a short histogram gets its top labelled too
	}
	for _, c := range ticks {
		fmt.Fprintf(&axis, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#999"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL-4, y(c), padL, y(c), padL-6, y(c)+4, template.HTMLEscapeString(fmt.Sprintf("%d", c)))
	}
	s := svgPlot{Name: q.Name, W: plotW, H: plotH, Bars: p.String(), Axis: template.HTML(axis.String()),
		TotalCount: total, Bins: len(q.Counts), Range: fmt.Sprintf("[%.4g, %.4g]", q.Edges[0], q.Edges[len(q.Edges)-1]),
		AxisX: padL, AxisY: int(base)}
	for i, m := range q.Amax {
		mk := svgMarker{Label: m.Label, Color: colors[i%len(colors)], X: x(m.Value),
			Value: fmt.Sprintf("%.6g", m.Value), LabelY: padT + 12 + 14*i, Anchor: "start", DX: 3}
		if mk.X > float64(padL)+0.8*innerW {
			mk.Anchor, mk.DX = "end", -3
		}
		s.Markers = append(s.Markers, mk)
	}
	return s
}

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:800px}
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
svg{background:#fff;border:1px solid #ddd}svg text{font-size:11px;fill:#333}
.q{margin:20px 0}.legend span{display:inline-block;margin-right:14px}
</style></head><body>
<h1>{{.Title}}</h1>
{{range .Notes}}<p>{{.}}</p>{{end}}
{{if .Table.Columns}}<table><tr>{{range .Table.Columns}}<th>{{.}}</th>{{end}}</tr>
{{range .Table.Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{range .Plots}}<div class="q"><h2>{{.Name}}</h2>
<p>|x| histogram, {{.Bins}} bins over {{.Range}}, {{.TotalCount}} values; counts on a log scale.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="histogram of {{.Name}}">
<path d="{{.Bars}}" fill="#9ecae1" stroke="#3182bd" stroke-width="0.5"/>
<line x1="{{.AxisX}}" y1="{{.AxisY}}" x2="{{.W}}" y2="{{.AxisY}}" stroke="#666"/>
<line x1="{{.AxisX}}" y1="0" x2="{{.AxisX}}" y2="{{.AxisY}}" stroke="#666"/>
{{.Axis}}
{{range .Markers}}<line x1="{{printf "%.1f" .X}}" y1="0" x2="{{printf "%.1f" .X}}" y2="{{$.PlotBase}}" stroke="{{.Color}}" stroke-width="2"><title>{{.Label}} amax = {{.Value}}</title></line>
<text x="{{printf "%.1f" .X}}" y="{{.LabelY}}" dx="{{.DX}}" text-anchor="{{.Anchor}}" fill="{{.Color}}">{{.Label}}</text>
{{end}}</svg>
<div class="legend">{{range .Markers}}<span style="color:{{.Color}}">&#9632; {{.Label}} amax = {{.Value}}</span>{{end}}</div>
</div>{{end}}
</body></html>
`))

// Write renders r as HTML to w. It returns the error of Validate, or of the
// writer.
func Write(w io.Writer, r Report) error {
	if err := r.Validate(); err != nil {
		return err
	}
	data := struct {
		Report
		Plots    []svgPlot
		PlotBase int
	}{Report: r, PlotBase: plotH - padB}
	for _, q := range r.Quantizers {
		data.Plots = append(data.Plots, plot(q))
	}
	return page.Execute(w, data)
}

// WriteFile writes the report to path atomically.
func WriteFile(path string, r Report) error {
	if err := r.Validate(); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, func(w io.Writer) error { return Write(w, r) })
}
