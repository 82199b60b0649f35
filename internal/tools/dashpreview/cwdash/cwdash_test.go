package cwdash

import (
	"os"
	"strings"
	"testing"
)

// A template shaped like CDK's output: the body is an Fn::Join of JSON text
// and tokens.
const tmpl = `{
 "Resources": {
  "Stream1": {"Type": "AWS::Kinesis::Stream", "Metadata": {"aws:cdk:path": "App-dev/Orders/Stream/Resource"}},
  "Fn1": {"Type": "AWS::Lambda::Function", "Metadata": {"aws:cdk:path": "App-dev/Orders/Function/Resource"}},
  "Esm1": {"Type": "AWS::Lambda::EventSourceMapping", "Metadata": {"aws:cdk:path": "App-dev/Orders/Mapping/Resource"}},
  "Alarm1": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmName": "App-dev-Orders-IteratorAge"}},
  "Dash": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
    "DashboardName": "App-dev-Orders",
    "DashboardBody": {"Fn::Join": ["", [
      "{\"start\":\"-PT3H\",\"widgets\":[{\"type\":\"metric\",\"width\":12,\"height\":6,\"x\":0,\"y\":0,\"properties\":{\"view\":\"timeSeries\",\"title\":\"Iterator age\",\"region\":\"",
      {"Ref": "AWS::Region"},
      "\",\"metrics\":[[\"AWS/Kinesis\",\"GetRecords.IteratorAgeMilliseconds\",\"StreamName\",\"",
      {"Ref": "Stream1"},
      "\",{\"label\":\"stream\",\"stat\":\"Maximum\",\"period\":60}],[\"AWS/Lambda\",\"IteratorAge\",\"FunctionName\",\"",
      {"Ref": "Fn1"},
      "\",{\"stat\":\"Maximum\",\"yAxis\":\"right\"}],[\".\",\"DroppedEventCount\",\"EventSourceMappingUUID\",\"",
      {"Ref": "Esm1"},
      "\"],[{\"expression\":\"m1*2\",\"label\":\"twice\",\"id\":\"e1\"}]],\"annotations\":{\"horizontal\":[{\"label\":\"alarm\",\"value\":1500000,\"color\":\"#ff7f0e\"}]},\"period\":300}},{\"type\":\"alarm\",\"width\":12,\"height\":6,\"x\":12,\"y\":0,\"properties\":{\"title\":\"Alarms\",\"alarms\":[\"",
      {"Fn::GetAtt": ["Alarm1", "Arn"]},
      "\"]}}]}"
    ]]}
  }}
 }
}`

func TestFromTemplate(t *testing.T) {
	ds, err := FromTemplate([]byte(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Name != "App-dev-Orders" || ds[0].Body.Start != "-PT3H" || len(ds[0].Body.Widgets) != 2 {
		t.Fatalf("got %+v", ds)
	}
	g := ds[0].Body.Widgets[0]
	if g.Properties.Region != "${AWS::Region}" {
		t.Errorf("region %q", g.Properties.Region)
	}
	ms, err := g.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		ns, name, dim, val, stat string
		period                   int
		axis                     string
	}{
		{"AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", "<Orders/Stream>", "Maximum", 60, "left"},
		{"AWS/Lambda", "IteratorAge", "FunctionName", "<Orders/Function>", "Maximum", 300, "right"},
		{"AWS/Lambda", "DroppedEventCount", "EventSourceMappingUUID", "<uuid of Orders/Mapping>", "Average", 300, "left"},
	}
	if len(ms) != 4 {
		t.Fatalf("got %d metrics", len(ms))
	}
	for i, w := range want {
		m := ms[i]
		v, ok := m.Dimension(w.dim)
		if m.Namespace != w.ns || m.Name != w.name || !ok || v != w.val || m.Stat != w.stat || m.Period != w.period || m.YAxis != w.axis {
			t.Errorf("metric %d = %+v, want %+v", i, m, w)
		}
	}
	if ms[3].Expression != "m1*2" || ms[3].Label != "twice" {
		t.Errorf("expression %+v", ms[3])
	}
	if a := g.Properties.Annotations.Horizontal; len(a) != 1 || a[0].Value != 1500000 {
		t.Errorf("annotations %+v", a)
	}
	al := ds[0].Body.Widgets[1].Properties.Alarms
	if len(al) != 1 || AlarmName(al[0]) != "App-dev-Orders-IteratorAge" {
		t.Errorf("alarms %q", al)
	}
}

func TestFromTemplateErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not json":      `{`,
		"body not json": `{"Resources":{"D":{"Type":"AWS::CloudWatch::Dashboard","Properties":{"DashboardBody":"{widgets"}}}}`,
		"unsupported":   `{"Resources":{"D":{"Type":"AWS::CloudWatch::Dashboard","Properties":{"DashboardBody":{"Fn::If":["c","a","b"]}}}}}`,
	} {
		if _, err := FromTemplate([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func w(x, y, width, height int) Widget {
	return Widget{Type: "metric", X: x, Y: y, Width: width, Height: height, Properties: Properties{Title: "w"}}
}

func TestCheckLayout(t *testing.T) {
	for _, tc := range []struct {
		name string
		ws   []Widget
		errs []string
	}{
		{"rows of 8 and 6", []Widget{w(0, 0, 8, 6), w(8, 0, 8, 6), w(16, 0, 8, 6), w(0, 6, 6, 6), w(6, 6, 6, 6), w(12, 6, 6, 6), w(18, 6, 6, 6)}, nil},
		{"touching edges do not overlap", []Widget{w(0, 0, 12, 1), w(12, 0, 12, 1), w(0, 1, 24, 1)}, nil},
		{"too wide", []Widget{w(0, 0, 25, 6)}, []string{"width 25"}},
		{"past the right edge", []Widget{w(20, 0, 6, 6)}, []string{"exceeds 24 columns"}},
		{"zero height", []Widget{w(0, 0, 6, 0)}, []string{"height 0"}},
		{"overlap", []Widget{w(0, 0, 8, 6), w(4, 3, 8, 6)}, []string{"overlaps widget 0"}},
		{"same cell", []Widget{w(0, 0, 1, 1), w(0, 0, 1, 1)}, []string{"overlaps"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := CheckLayout(tc.ws)
			if len(errs) != len(tc.errs) {
				t.Fatalf("got %v, want %d errors", errs, len(tc.errs))
			}
			for i, e := range errs {
				if !strings.Contains(e.Error(), tc.errs[i]) {
					t.Errorf("error %q, want it to mention %q", e, tc.errs[i])
				}
			}
		})
	}
}

func TestRowsAndOrder(t *testing.T) {
	ws := []Widget{w(8, 6, 8, 6), w(0, 0, 24, 1), w(0, 6, 8, 6)}
	if Rows(ws) != 12 {
		t.Errorf("rows %d", Rows(ws))
	}
	o := InReadingOrder(ws)
	if o[0].Y != 0 || o[1].X != 0 || o[2].X != 8 {
		t.Errorf("order %+v", o)
	}
}

func TestRawTokensAndHashlessNames(t *testing.T) {
	ds, err := FromTemplateWith([]byte(tmpl), Options{RawTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := ds[0].Body.Widgets[0].Metrics()
	if v, _ := ms[0].Dimension("StreamName"); v != "${Ref:Stream1}" {
		t.Errorf("raw token %q", v)
	}
	if got := ds[0].Body.Widgets[1].Properties.Alarms[0]; got != "${GetAtt:Alarm1.Arn}" {
		t.Errorf("raw alarm %q", got)
	}
	if n := readableName("PipelineStreamDD609695", nil); n != "PipelineStream" {
		t.Errorf("readableName without metadata = %q", n)
	}
}

// testdata/cdk.template.json is a stack synthesized by the streamprocessor
// monitoring tests (MONITORING_TEMPLATE_DIR=... go test), so the parser is
// checked against CDK's real body format without starting node.
func TestCDKTemplate(t *testing.T) {
	data, err := os.ReadFile("testdata/cdk.template.json")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := FromTemplate(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("%d dashboards", len(ds))
	}
	ws := ds[0].Body.Widgets
	if errs := CheckLayout(ws); len(errs) > 0 {
		t.Fatal(errs)
	}
	kinds := map[string]int{}
	for _, w := range ws {
		kinds[w.Type]++
		if w.Type != "metric" {
			continue
		}
		ms, err := w.Metrics()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			for _, d := range m.Dimensions {
				if strings.Contains(d[1], "${") && !strings.HasPrefix(d[1], "<") {
					t.Errorf("%s: unresolved token in %s=%s", w.Title(), d[0], d[1])
				}
			}
		}
	}
	if kinds["metric"] != 17 || kinds["alarm"] != 1 || kinds["text"] != 6 {
		t.Errorf("widget kinds %v", kinds)
	}
}
