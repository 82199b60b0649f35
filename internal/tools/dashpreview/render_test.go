package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamproc/streamproc/internal/tools/dashpreview/cwdash"
)

func graphW(title string, x, y, w, h int) cwdash.Widget {
	return cwdash.Widget{Type: "metric", X: x, Y: y, Width: w, Height: h, Properties: cwdash.Properties{
		Title:  title,
		Period: 300,
		Metrics: [][]any{
			{"AWS/Lambda", "Duration", "FunctionName", "fn", map[string]any{"stat": "p99", "label": "p99"}},
			{"AWS/Lambda", "Invocations", "FunctionName", "fn", map[string]any{"stat": "Sum", "yAxis": "right"}},
		},
		Annotations: &cwdash.Annotations{Horizontal: []cwdash.Annotation{{Label: "DurationP99 alarm: > 48s", Value: 48000, Color: "#ff7f0e"}}},
	}}
}

// A dashboard shaped like the construct's: header row, then section titles
// and rows of 3 or 4 graphs.
func sampleDashboard() cwdash.Dashboard {
	ws := []cwdash.Widget{
		{Type: "text", X: 0, Y: 0, Width: 8, Height: 6, Properties: cwdash.Properties{Markdown: "# Pipeline\n\n**bold** and `code`"}},
		{Type: "alarm", X: 8, Y: 0, Width: 16, Height: 6, Properties: cwdash.Properties{Title: "Alarms", Alarms: []string{"arn:aws:cloudwatch:r:a:alarm:p-PipelineUnhealthy", "arn:aws:cloudwatch:r:a:alarm:p-IteratorAge"}}},
		{Type: "text", X: 0, Y: 6, Width: 24, Height: 1, Properties: cwdash.Properties{Markdown: "## Function · fn", Background: "transparent"}},
	}
	for i := 0; i < 4; i++ {
		ws = append(ws, graphW("Graph "+string(rune('A'+i)), i*6, 7, 6, 6))
	}
	return cwdash.Dashboard{Name: "p", Body: cwdash.Body{Start: "-PT3H", Widgets: ws}}
}

func TestPlaceNoOverlapAndInsidePage(t *testing.T) {
	d := sampleDashboard()
	g := defaultGeometry
	if errs := cwdash.CheckLayout(d.Body.Widgets); len(errs) > 0 {
		t.Fatal(errs)
	}
	h := g.pageHeight(d.Body.Widgets)
	var boxes []box
	for _, w := range d.Body.Widgets {
		b := g.place(w)
		if b.Left < g.Margin || b.Left+b.Width > g.Width-g.Margin || b.Top < g.Header || b.Top+b.Height > h || b.Width <= 0 || b.Height <= 0 {
			t.Errorf("%q placed at %+v outside the %dx%d page", w.Title(), b, g.Width, h)
		}
		for j, o := range boxes {
			if b.Left < o.Left+o.Width && o.Left < b.Left+b.Width && b.Top < o.Top+o.Height && o.Top < b.Top+b.Height {
				t.Errorf("%q at %+v overlaps widget %d at %+v", w.Title(), b, j, o)
			}
		}
		boxes = append(boxes, b)
	}
	// A full-width widget spans the grid; four 6-wide widgets tile it.
	full := g.place(d.Body.Widgets[2])
	last := g.place(d.Body.Widgets[6])
	if full.Left != boxes[3].Left || full.Left+full.Width != last.Left+last.Width {
		t.Errorf("grid edges do not line up: full %+v, first %+v, last %+v", full, boxes[3], last)
	}
}

func TestRenderHTML(t *testing.T) {
	d := sampleDashboard()
	out, err := renderHTML(d, defaultGeometry, renderOptions{Source: "t.json", Now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"PREVIEW", "sample data", // labelled as a preview
		"Graph A", "Graph D", "Alarms", "p-IteratorAge", "p-PipelineUnhealthy", // every widget
		"<strong>bold</strong>", "<code>code</code>", // markdown
		"p99 <span class=\"meta\">· p99 · 5m", "Invocations <span class=\"meta\">· Sum · 5m", // stat and period
		"DurationP99 alarm: &gt; 48s", "stroke-dasharray", // threshold line
		`class="on">3h<`, // time range from the body
		"09:30", "11:30", // time axis
	} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(out, "<script") || strings.Contains(out, "http://") {
		t.Error("the page must be self-contained and static")
	}
	if n := strings.Count(out, `<div class="w`); n != len(d.Body.Widgets) {
		t.Errorf("%d widgets drawn, want %d", n, len(d.Body.Widgets))
	}
}

func TestRunHTMLOnlyAgainstTemplate(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("cwdash", "testdata", "cdk.template.json")
	if _, err := os.Stat(src); err != nil { // written by the streamprocessor tests (MONITORING_TEMPLATE_DIR)
		t.Fatal(err)
	}
	out := filepath.Join(dir, "dash.png")
	if err := run(src, out, "", 1800, "", true); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "dash.html")); err != nil || st.Size() < 10000 {
		t.Fatalf("html: %v %v", st, err)
	}
}

func TestAxisIncludesThresholds(t *testing.T) {
	s := []series{{values: []float64{1, 2, 3}}}
	if m := axisMax(s, []cwdash.Annotation{{Value: 100}}); m < 100 {
		t.Errorf("axis max %v hides the threshold line", m)
	}
	ticks := niceTicks(108)
	if ticks[0] != 0 || ticks[len(ticks)-1] < 108 || len(ticks) > 7 {
		t.Errorf("ticks %v", ticks)
	}
}

func TestHumanNumber(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 0.5: "0.5", 1500: "1.5k", 1500000: "1.5M", 25e9: "25B"} {
		if got := humanNumber(in); got != want {
			t.Errorf("humanNumber(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestParseRange(t *testing.T) {
	for in, want := range map[string]timeRange{
		"-PT3H": {"3h", 3 * time.Hour}, "-PT1H": {"1h", time.Hour}, "-P1D": {"1d", 24 * time.Hour},
		"-P7D": {"1w", 168 * time.Hour}, "-PT15M": {"Custom", 15 * time.Minute}, "": {"3h", 3 * time.Hour},
	} {
		if got := parseRange(in); got != want {
			t.Errorf("parseRange(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestSampleSeriesDeterministic(t *testing.T) {
	m := cwdash.Metric{Namespace: "AWS/Kinesis", Name: "IncomingRecords", Stat: "Sum", Period: 60}
	a, b := sampleSeries(m, 3*time.Hour), sampleSeries(m, 3*time.Hour)
	if len(a) != 180 {
		t.Fatalf("len %d", len(a))
	}
	for i := range a {
		if a[i] != b[i] || math.IsNaN(a[i]) || a[i] < 0 {
			t.Fatalf("sample %d: %v vs %v", i, a[i], b[i])
		}
	}
}
