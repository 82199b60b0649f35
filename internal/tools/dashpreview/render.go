package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/yuin/goldmark"

	"github.com/streamproc/streamproc/internal/tools/dashpreview/cwdash"
)

// Page geometry. CloudWatch divides the dashboard width into 24 columns; a
// height unit is a fixed number of pixels.
type geometry struct {
	Width   int // page width in px
	Margin  int // around the grid
	Header  int // title bar height
	RowUnit int // px per grid row
	Gap     int // px between widgets
}

var defaultGeometry = geometry{Width: 1800, Margin: 16, Header: 96, RowUnit: 46, Gap: 8}

func (g geometry) colUnit() float64 { return float64(g.Width-2*g.Margin) / cwdash.GridColumns }

// box is a widget's pixel rectangle on the page.
type box struct{ Left, Top, Width, Height int }

// place converts a widget's grid rectangle to pixels (gaps inside the cell).
func (g geometry) place(w cwdash.Widget) box {
	cu := g.colUnit()
	left := g.Margin + int(math.Round(float64(w.X)*cu))
	right := g.Margin + int(math.Round(float64(w.X+w.Width)*cu))
	top := g.Header + w.Y*g.RowUnit
	return box{Left: left + g.Gap/2, Top: top + g.Gap/2, Width: right - left - g.Gap, Height: w.Height*g.RowUnit - g.Gap}
}

// pageHeight is the screenshot height that shows every widget.
func (g geometry) pageHeight(ws []cwdash.Widget) int {
	return g.Header + cwdash.Rows(ws)*g.RowUnit + g.Margin
}

// CloudWatch's graph palette.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

type renderOptions struct {
	Source string    // template path, shown in the banner
	Now    time.Time // right edge of the graphs
}

// renderHTML renders the dashboard as a self-contained HTML page (inline SVG,
// no scripts, no network).
func renderHTML(d cwdash.Dashboard, g geometry, o renderOptions) (string, error) {
	rng := parseRange(d.Body.Start)
	var b strings.Builder
	h := g.pageHeight(d.Body.Widgets)
	fmt.Fprintf(&b, `<!DOCTYPE html><html><head><meta charset="utf-8"><title>%s</title><style>%s</style></head><body style="width:%dpx;height:%dpx">`,
		html.EscapeString(d.Name), css, g.Width, h)
	fmt.Fprintf(&b, `<div class="top"><div class="crumbs">CloudWatch › Dashboards › <b>%s</b></div>`, html.EscapeString(d.Name))
	b.WriteString(`<div class="range">`)
	for _, r := range []string{"1h", "3h", "12h", "1d", "3d", "1w", "Custom"} {
		cls := ""
		if r == rng.label {
			cls = ` class="on"`
		}
		fmt.Fprintf(&b, `<span%s>%s</span>`, cls, r)
	}
	b.WriteString(`</div>`)
	fmt.Fprintf(&b, `<div class="preview">PREVIEW · sample data, not real metrics · layout, titles, metrics, stats, periods and thresholds from %s</div></div>`, html.EscapeString(o.Source))
	for i, w := range d.Body.Widgets {
		bx := g.place(w)
		inner, err := renderWidget(w, bx, rng, o.Now, i)
		if err != nil {
			return "", fmt.Errorf("widget %d %q: %w", i, w.Title(), err)
		}
		cls := "w"
		if w.Type == "text" && w.Properties.Background == "transparent" {
			cls = "w transparent"
		}
		fmt.Fprintf(&b, `<div class="%s" style="left:%dpx;top:%dpx;width:%dpx;height:%dpx">%s</div>`, cls, bx.Left, bx.Top, bx.Width, bx.Height, inner)
	}
	b.WriteString(`</body></html>`)
	return b.String(), nil
}

const css = `
*{box-sizing:border-box}
body{margin:0;background:#f2f3f3;font-family:"Amazon Ember","Helvetica Neue",Roboto,"Liberation Sans","DejaVu Sans",Arial,sans-serif;color:#16191f;position:relative;font-size:12px}
.top{position:absolute;left:0;top:0;right:0;height:80px;background:#fff;border-bottom:1px solid #d5dbdb;padding:12px 24px}
.crumbs{font-size:18px;color:#545b64}.crumbs b{color:#16191f}
.range{position:absolute;right:24px;top:14px;display:flex;border:1px solid #aab7b8;border-radius:2px}
.range span{padding:4px 10px;font-size:13px;color:#545b64;border-left:1px solid #aab7b8}.range span:first-child{border-left:0}
.range span.on{background:#0073bb;color:#fff;font-weight:bold}
.preview{margin-top:12px;display:inline-block;background:#fff4e5;border:1px solid #ff9900;color:#8a4b00;padding:3px 8px;border-radius:2px;font-size:12px}
.w{position:absolute;background:#fff;border:1px solid #d5dbdb;box-shadow:0 1px 1px rgba(0,28,36,.12);overflow:hidden}
.w.transparent{background:transparent;border:0;box-shadow:none}
.title{font-weight:bold;font-size:14px;padding:8px 10px 0 12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.title .menu{float:right;color:#879596;font-weight:normal}
.md{padding:4px 14px;font-size:13px;line-height:1.45;overflow:hidden;height:100%}
.md h1{font-size:20px;margin:6px 0 4px}.md h2{font-size:17px;margin:6px 0 0;font-weight:bold}.md p{margin:4px 0}
.md code{background:#eaeded;padding:0 3px;border-radius:2px;font-family:"DejaVu Sans Mono",monospace;font-size:12px}
.transparent .md{padding:0 2px}.transparent h2{margin:4px 0 0;color:#16191f}
.legend{position:absolute;left:12px;right:8px;bottom:4px;line-height:15px;font-size:11px;color:#16191f}
.legend span{margin-right:10px;white-space:nowrap;display:inline-block}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}
.legend i.ann{height:0;border-top:2px dashed;margin-bottom:3px;vertical-align:2px}
.legend .meta{color:#687078}
.alarms{display:flex;flex-wrap:wrap;padding:8px 10px;gap:6px}
.alarm{width:calc(25% - 6px);border:1px solid #d5dbdb;border-left:4px solid #1d8102;padding:6px 8px;font-size:12px;min-height:48px}
.alarm .st{font-weight:bold;color:#1d8102;font-size:11px}
.alarm.composite{border-left-color:#0073bb;background:#f1faff}
.alarm .nm{overflow-wrap:anywhere}
svg text{font-family:inherit}
.sv{display:flex;padding:2px 12px}
.svc{padding:0 12px;border-left:1px solid #eaeded}.svc:first-child{border-left:0}
.svl{font-size:12px;color:#545b64;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.svv{font-size:28px;line-height:34px}
.svm{font-size:10px;color:#879596;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
`

func renderWidget(w cwdash.Widget, bx box, rng timeRange, now time.Time, idx int) (string, error) {
	switch w.Type {
	case "text":
		var out bytes.Buffer
		// Resolved tokens read "<Orders/Stream>": escape them so they are not
		// taken for HTML tags.
		md := strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(w.Properties.Markdown)
		if err := goldmark.Convert([]byte(md), &out); err != nil {
			return "", err
		}
		return `<div class="md">` + out.String() + `</div>`, nil
	case "alarm":
		return renderAlarms(w), nil
	case "metric":
		if w.Properties.View == "singleValue" {
			return renderSingleValues(w, bx, rng)
		}
		return renderGraph(w, bx, rng, now)
	}
	return fmt.Sprintf(`<div class="title">%s</div><div class="md">widget type %q is not previewed</div>`, html.EscapeString(w.Title()), w.Type), nil
}

func renderAlarms(w cwdash.Widget) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<div class="title">%s <span class="menu">⋮</span></div><div class="alarms">`, html.EscapeString(w.Properties.Title))
	for _, arn := range w.Properties.Alarms {
		name := cwdash.AlarmName(arn)
		cls := "alarm"
		if strings.HasSuffix(name, "PipelineUnhealthy") {
			cls += " composite"
		}
		fmt.Fprintf(&b, `<div class="%s"><div class="st">✔ OK (sample)</div><div class="nm">%s</div></div>`, cls, html.EscapeString(name))
	}
	b.WriteString(`</div>`)
	return b.String()
}

// timeRange is the dashboard's default time range.
type timeRange struct {
	label string
	span  time.Duration
}

func parseRange(start string) timeRange {
	// CDK writes "-PT3H", "-PT15M", "-P1D", "-P7D" for the default interval.
	s := strings.TrimPrefix(strings.TrimPrefix(start, "-"), "P")
	var d time.Duration
	if strings.HasPrefix(s, "T") {
		if x, err := time.ParseDuration(strings.ToLower(strings.TrimPrefix(s, "T"))); err == nil {
			d = x
		}
	} else if strings.HasSuffix(s, "D") {
		var n int
		if _, err := fmt.Sscanf(s, "%dD", &n); err == nil {
			d = time.Duration(n) * 24 * time.Hour
		}
	} else if strings.HasSuffix(s, "W") {
		var n int
		if _, err := fmt.Sscanf(s, "%dW", &n); err == nil {
			d = time.Duration(n) * 7 * 24 * time.Hour
		}
	}
	if d <= 0 {
		d = 3 * time.Hour
	}
	labels := map[time.Duration]string{time.Hour: "1h", 3 * time.Hour: "3h", 12 * time.Hour: "12h", 24 * time.Hour: "1d", 72 * time.Hour: "3d", 168 * time.Hour: "1w"}
	l, ok := labels[d]
	if !ok {
		l = "Custom"
	}
	return timeRange{label: l, span: d}
}

// series is one drawn line.
type series struct {
	metric cwdash.Metric
	color  string
	values []float64 // NaN = no data
}

func renderGraph(w cwdash.Widget, bx box, rng timeRange, now time.Time) (string, error) {
	ms, err := w.Metrics()
	if err != nil {
		return "", err
	}
	var left, right []series
	ci := 0
	for _, m := range ms {
		if !m.Visible {
			continue
		}
		s := series{metric: m, color: m.Color}
		if s.color == "" {
			s.color = palette[ci%len(palette)]
		}
		ci++
		s.values = sampleSeries(m, rng.span)
		if m.YAxis == "right" {
			right = append(right, s)
		} else {
			left = append(left, s)
		}
	}
	var anns []cwdash.Annotation
	if w.Properties.Annotations != nil {
		anns = w.Properties.Annotations.Horizontal
	}

	// Legend lines, then the chart fills the rest.
	legend, legendLines := renderLegend(append(append([]series{}, left...), right...), anns, bx.Width-20)
	const titleH = 30
	chartH := bx.Height - titleH - legendLines*15 - 10
	if chartH < 40 {
		chartH = 40
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<div class="title">%s <span class="menu">⋮</span></div>`, html.EscapeString(w.Properties.Title))
	b.WriteString(renderChart(bx.Width, chartH, left, right, anns, rng, now))
	b.WriteString(legend)
	return b.String(), nil
}

// renderLegend lists every line with its stat and period (CloudWatch shows
// them on hover; the preview shows them so a reviewer can check them) and
// every threshold line. It returns the HTML and an estimate of its lines.
func renderLegend(ss []series, anns []cwdash.Annotation, width int) (string, int) {
	var b strings.Builder
	b.WriteString(`<div class="legend">`)
	chars, lines := 0, 1
	add := func(item string, n int) {
		if chars > 0 && chars+n > width*10/68 { // ~6.8 px per character at 11 px
			lines++
			chars = 0
		}
		chars += n
		b.WriteString(item)
	}
	for _, s := range ss {
		label := s.metric.Label
		if label == "" {
			label = s.metric.Name
		}
		meta := statPeriod(s.metric)
		add(fmt.Sprintf(`<span><i style="background:%s"></i>%s <span class="meta">%s</span></span>`, s.color, html.EscapeString(label), html.EscapeString(meta)), len(label)+len(meta)+5)
	}
	_ = anns // threshold lines carry their label on the chart, as in CloudWatch
	b.WriteString(`</div>`)
	return b.String(), lines
}

func statPeriod(m cwdash.Metric) string {
	p := ""
	if m.Period > 0 {
		p = (time.Duration(m.Period) * time.Second).String()
		p = strings.TrimSuffix(strings.TrimSuffix(p, "0s"), "0m")
	}
	switch {
	case m.Expression != "":
		return "· " + m.Expression
	case m.Stat != "" && p != "":
		return "· " + m.Stat + " · " + p
	default:
		return "· " + m.Stat + p
	}
}

// renderChart draws axes, grid, lines and threshold lines as SVG.
// Axes start at 0 (every graph of the construct sets min 0).
func renderChart(width, height int, left, right []series, anns []cwdash.Annotation, rng timeRange, now time.Time) string {
	padL, padR, padT, padB := 52, 14, 8, 20
	if len(right) > 0 {
		padR = 52
	}
	pw, ph := width-padL-padR, height-padT-padB
	var leftAnns, rightAnns []cwdash.Annotation
	for _, a := range anns {
		if a.YAxis == "right" {
			rightAnns = append(rightAnns, a)
		} else {
			leftAnns = append(leftAnns, a)
		}
	}
	lmax := axisMax(left, leftAnns)
	rmax := axisMax(right, rightAnns)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%d" height="%d" style="display:block">`, width, height)
	// Horizontal grid and left ticks.
	ticks := niceTicks(lmax)
	for _, t := range ticks {
		y := padT + ph - int(float64(ph)*t/ticks[len(ticks)-1])
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#eaeded"/>`, padL, padL+pw, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#687078" text-anchor="end">%s</text>`, padL-6, y+4, humanNumber(t))
	}
	lscale := ticks[len(ticks)-1]
	rscale := 1.0
	if len(right) > 0 {
		rt := niceTicks(rmax)
		rscale = rt[len(rt)-1]
		for _, t := range rt {
			y := padT + ph - int(float64(ph)*t/rscale)
			fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#687078">%s</text>`, padL+pw+6, y+4, humanNumber(t))
		}
	}
	// Time axis.
	step := timeStep(rng.span)
	start := now.Add(-rng.span)
	for tt := start.Truncate(step).Add(step); tt.Before(now); tt = tt.Add(step) {
		x := padL + int(float64(pw)*float64(tt.Sub(start))/float64(rng.span))
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#f2f3f3"/>`, x, x, padT, padT+ph)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#687078" text-anchor="middle">%s</text>`, x, padT+ph+15, tt.UTC().Format("15:04"))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#aab7b8"/>`, padL, padL+pw, padT+ph, padT+ph)
	draw := func(ss []series, scale float64) {
		for _, s := range ss {
			var pts []string
			n := len(s.values)
			for i, v := range s.values {
				if math.IsNaN(v) {
					continue
				}
				x := float64(padL) + float64(pw)*float64(i)/float64(max(n-1, 1))
				y := float64(padT+ph) - float64(ph)*v/scale
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			}
			if len(pts) > 0 {
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.6" points="%s"/>`, s.color, strings.Join(pts, " "))
			}
		}
	}
	draw(left, lscale)
	draw(right, rscale)
	// Threshold lines with their label above the line at the right end; a
	// label that would collide with the previous one goes below its line.
	type placed struct {
		a     cwdash.Annotation
		y     int
		scale float64
	}
	var lines []placed
	for _, a := range leftAnns {
		lines = append(lines, placed{a, padT + ph - int(float64(ph)*a.Value/lscale), lscale})
	}
	for _, a := range rightAnns {
		lines = append(lines, placed{a, padT + ph - int(float64(ph)*a.Value/rscale), rscale})
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].y < lines[j].y })
	prevLabel := -100
	for _, l := range lines {
		c := l.a.Color
		if c == "" {
			c = "#d62728"
		}
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="1.5" stroke-dasharray="6,3"/>`, padL, padL+pw, l.y, l.y, c)
		ty := l.y - 4
		if ty < padT+10 || ty-prevLabel < 12 {
			ty = l.y + 12
		}
		prevLabel = ty
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="%s" text-anchor="end" stroke="#fff" stroke-width="3" paint-order="stroke">%s</text>`, padL+pw-4, ty, c, html.EscapeString(l.a.Label))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// axisMax is the largest value on an axis, thresholds included (CloudWatch
// extends the axis so that horizontal annotations are visible).
func axisMax(ss []series, anns []cwdash.Annotation) float64 {
	m := 0.0
	for _, s := range ss {
		for _, v := range s.values {
			if !math.IsNaN(v) && v > m {
				m = v
			}
		}
	}
	for _, a := range anns {
		if a.Value > m {
			m = a.Value
		}
	}
	if m <= 0 {
		m = 1
	}
	return m * 1.08
}

// niceTicks returns 0 and 3-6 round steps up to at least max.
func niceTicks(maxV float64) []float64 {
	raw := maxV / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	var step float64
	for _, f := range []float64{1, 2, 2.5, 5, 10} {
		step = f * mag
		if step >= raw {
			break
		}
	}
	var out []float64
	for v := 0.0; ; v += step {
		out = append(out, v)
		if v >= maxV {
			break
		}
	}
	return out
}

func timeStep(span time.Duration) time.Duration {
	switch {
	case span <= time.Hour:
		return 10 * time.Minute
	case span <= 3*time.Hour:
		return 30 * time.Minute
	case span <= 12*time.Hour:
		return 2 * time.Hour
	case span <= 24*time.Hour:
		return 4 * time.Hour
	default:
		return 24 * time.Hour
	}
}

// humanNumber formats an axis value the way CloudWatch does: 1.5M, 25k, 0.5.
func humanNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return trimZero(v/1e9) + "B"
	case a >= 1e6:
		return trimZero(v/1e6) + "M"
	case a >= 1e3:
		return trimZero(v/1e3) + "k"
	}
	return trimZero(v)
}

func trimZero(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

// renderSingleValues draws a single-value widget: per visible metric its
// label, the latest (sample) value and, with sparkline, its recent trend.
func renderSingleValues(w cwdash.Widget, bx box, rng timeRange) (string, error) {
	ms, err := w.Metrics()
	if err != nil {
		return "", err
	}
	var vis []cwdash.Metric
	for _, m := range ms {
		if m.Visible {
			vis = append(vis, m)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<div class="title">%s <span class="menu">⋮</span></div><div class="sv">`, html.EscapeString(w.Properties.Title))
	if len(vis) == 0 {
		return b.String() + `</div>`, nil
	}
	cellW := (bx.Width - 24) / len(vis)
	for i, m := range vis {
		vals := sampleSeries(m, rng.span)
		last := vals[len(vals)-1]
		label := m.Label
		if label == "" {
			label = m.Name
		}
		fmt.Fprintf(&b, `<div class="svc" style="width:%dpx"><div class="svl">%s</div><div class="svv" style="color:%s">%s</div>`,
			cellW, html.EscapeString(label), palette[i%len(palette)], humanNumber(last))
		fmt.Fprintf(&b, `<div class="svm">%s</div>`, html.EscapeString(statPeriod(m)))
		if w.Properties.Sparkline {
			b.WriteString(sparkline(vals, cellW-24, 22, palette[i%len(palette)]))
		}
		b.WriteString(`</div>`)
	}
	b.WriteString(`</div>`)
	return b.String(), nil
}

func sparkline(vals []float64, width, height int, color string) string {
	maxV := 0.0
	for _, v := range vals {
		if v > maxV {
			maxV = v
		}
	}
	if maxV <= 0 {
		maxV = 1
	}
	var pts []string
	for i, v := range vals {
		x := float64(width) * float64(i) / float64(max(len(vals)-1, 1))
		y := float64(height) - float64(height-2)*v/maxV - 1
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
	}
	return fmt.Sprintf(`<svg width="%d" height="%d" style="display:block"><polyline fill="none" stroke="%s" stroke-width="1.2" points="%s"/></svg>`, width, height, color, strings.Join(pts, " "))
}
