// Package cwdash reads CloudWatch dashboards out of a synthesized
// CloudFormation template: it resolves the DashboardBody (usually an Fn::Join
// of JSON text and Ref/GetAtt tokens) into readable JSON, parses the widgets
// and their metrics, and checks the layout against CloudWatch's 24-column grid.
//
// It is plain Go (no CDK) so that tests and the dashpreview tool can use it
// without starting node.
package cwdash

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// GridColumns is the width of a CloudWatch dashboard in grid units.
const GridColumns = 24

// Dashboard is one AWS::CloudWatch::Dashboard of a template.
type Dashboard struct {
	LogicalID string
	Name      string // DashboardName, or the logical id when it is not a plain string
	Body      Body
	RawBody   string // the resolved body JSON
}

// Body is the dashboard body JSON.
type Body struct {
	Start          string   `json:"start,omitempty"`
	End            string   `json:"end,omitempty"`
	PeriodOverride string   `json:"periodOverride,omitempty"`
	Widgets        []Widget `json:"widgets"`
}

// Widget is one widget with its position on the grid.
type Widget struct {
	Type       string     `json:"type"` // metric, text, alarm, log, ...
	X          int        `json:"x"`
	Y          int        `json:"y"`
	Width      int        `json:"width"`
	Height     int        `json:"height"`
	Properties Properties `json:"properties"`
}

// Properties are the widget properties dashpreview understands.
type Properties struct {
	Title       string          `json:"title,omitempty"`
	Markdown    string          `json:"markdown,omitempty"`
	Background  string          `json:"background,omitempty"`
	View        string          `json:"view,omitempty"`
	Stacked     bool            `json:"stacked,omitempty"`
	Region      string          `json:"region,omitempty"`
	Period      int             `json:"period,omitempty"`
	Stat        string          `json:"stat,omitempty"`
	Metrics     [][]any         `json:"metrics,omitempty"`
	Annotations *Annotations    `json:"annotations,omitempty"`
	YAxis       map[string]Axis `json:"yAxis,omitempty"`
	Legend      *struct {
		Position string `json:"position"`
	} `json:"legend,omitempty"`
	Alarms    []string `json:"alarms,omitempty"`
	SortBy    string   `json:"sortBy,omitempty"`
	Sparkline bool     `json:"sparkline,omitempty"`
}

// Annotations of a graph.
type Annotations struct {
	Horizontal []Annotation `json:"horizontal,omitempty"`
}

// Annotation is a horizontal line (or band) on a graph.
type Annotation struct {
	Label string  `json:"label,omitempty"`
	Value float64 `json:"value"`
	Color string  `json:"color,omitempty"`
	Fill  string  `json:"fill,omitempty"`
	YAxis string  `json:"yAxis,omitempty"` // "left" (default) or "right"
}

// Axis of a graph.
type Axis struct {
	Min       *float64 `json:"min,omitempty"`
	Max       *float64 `json:"max,omitempty"`
	Label     string   `json:"label,omitempty"`
	ShowUnits *bool    `json:"showUnits,omitempty"`
}

// Metric is one line of a graph's "metrics" array, decoded.
type Metric struct {
	Namespace  string
	Name       string
	Dimensions [][2]string // name, value (value is readable text for tokens)
	Expression string      // for math expressions
	ID         string
	Label      string
	Stat       string
	Period     int
	Color      string
	YAxis      string // "left" or "right"
	Visible    bool
}

// Dimension returns the value of the named dimension and whether it is set.
func (m Metric) Dimension(name string) (string, bool) {
	for _, d := range m.Dimensions {
		if d[0] == name {
			return d[1], true
		}
	}
	return "", false
}

// Metrics decodes the widget's metrics array, applying the widget's default
// stat and period. CloudWatch's "." shorthand (repeat the previous line's
// value) is expanded.
func (w Widget) Metrics() ([]Metric, error) {
	var out []Metric
	var prev []any
	for i, raw := range w.Properties.Metrics {
		m := Metric{Stat: w.Properties.Stat, Period: w.Properties.Period, YAxis: "left", Visible: true}
		var fields []any
		var opts map[string]any
		for _, v := range raw {
			if o, ok := v.(map[string]any); ok {
				opts = o
				continue
			}
			fields = append(fields, v)
		}
		for j, f := range fields {
			if s, ok := f.(string); ok && s == "." && j < len(prev) {
				fields[j] = prev[j]
			}
		}
		prev = fields
		if len(fields) > 0 {
			strs := make([]string, len(fields))
			for j, f := range fields {
				s, ok := f.(string)
				if !ok {
					return nil, fmt.Errorf("metric %d of %q: field %d is %T, want string", i, w.Properties.Title, j, f)
				}
				strs[j] = s
			}
			if len(strs) < 2 || len(strs)%2 != 0 {
				return nil, fmt.Errorf("metric %d of %q: want namespace, name and dimension pairs, got %q", i, w.Properties.Title, strs)
			}
			m.Namespace, m.Name = strs[0], strs[1]
			for j := 2; j+1 < len(strs); j += 2 {
				m.Dimensions = append(m.Dimensions, [2]string{strs[j], strs[j+1]})
			}
		}
		for k, v := range opts {
			switch k {
			case "expression":
				m.Expression, _ = v.(string)
			case "id":
				m.ID, _ = v.(string)
			case "label":
				m.Label, _ = v.(string)
			case "stat":
				m.Stat, _ = v.(string)
			case "period":
				if f, ok := v.(float64); ok {
					m.Period = int(f)
				}
			case "color":
				m.Color, _ = v.(string)
			case "yAxis":
				m.YAxis, _ = v.(string)
			case "visible":
				if b, ok := v.(bool); ok {
					m.Visible = b
				}
			}
		}
		// CloudWatch's defaults, which CDK leaves out of the body.
		if m.Stat == "" && m.Expression == "" {
			m.Stat = "Average"
		}
		if m.Period == 0 {
			m.Period = 300
		}
		if m.Namespace == "" && m.Expression == "" {
			return nil, fmt.Errorf("metric %d of %q has neither a metric nor an expression", i, w.Properties.Title)
		}
		out = append(out, m)
	}
	return out, nil
}

// FromTemplate returns the dashboards of a CloudFormation template, with
// tokens in their bodies replaced by readable names of the resources they
// point at.
func FromTemplate(data []byte) ([]Dashboard, error) {
	return FromTemplateWith(data, Options{})
}

// Options of FromTemplateWith.
type Options struct {
	// RawTokens renders {"Ref": "X"} as ${Ref:X} and {"Fn::GetAtt": ["X", "A"]}
	// as ${GetAtt:X.A}, for tests that check which resource a token points at.
	RawTokens bool
}

// FromTemplateWith is FromTemplate with options.
func FromTemplateWith(data []byte, o Options) ([]Dashboard, error) {
	var tmpl struct {
		Resources map[string]struct {
			Type       string         `json:"Type"`
			Properties map[string]any `json:"Properties"`
			Metadata   map[string]any `json:"Metadata"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(data, &tmpl); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	names := map[string]string{}
	types := map[string]string{}
	props := map[string]map[string]any{}
	for id, r := range tmpl.Resources {
		names[id] = readableName(id, r.Metadata)
		types[id] = r.Type
		props[id] = r.Properties
	}
	res := &resolver{names: names, types: types, props: props, raw: o.RawTokens}
	var out []Dashboard
	ids := make([]string, 0, len(tmpl.Resources))
	for id := range tmpl.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := tmpl.Resources[id]
		if r.Type != "AWS::CloudWatch::Dashboard" {
			continue
		}
		raw, err := res.text(r.Properties["DashboardBody"])
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", id, err)
		}
		d := Dashboard{LogicalID: id, Name: id, RawBody: raw}
		if n, ok := r.Properties["DashboardName"].(string); ok {
			d.Name = n
		}
		if err := json.Unmarshal([]byte(raw), &d.Body); err != nil {
			return nil, fmt.Errorf("dashboard %s: body is not JSON after resolving tokens: %w", id, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// readableName is the construct path of a resource without the stack and the
// trailing "/Resource", e.g. "Orders/Stream"; the logical id when there is no
// path metadata.
func readableName(id string, md map[string]any) string {
	p, _ := md["aws:cdk:path"].(string)
	if p == "" {
		// CDK logical ids end in an 8-character hash of the path.
		if m := hashSuffix.FindStringSubmatch(id); m != nil {
			return m[1]
		}
		return id
	}
	parts := strings.Split(p, "/")
	if len(parts) > 1 {
		parts = parts[1:]
	}
	if n := len(parts); n > 1 && (parts[n-1] == "Resource" || parts[n-1] == "Default") {
		parts = parts[:n-1]
	}
	return strings.Join(parts, "/")
}

var hashSuffix = regexp.MustCompile(`^(.+?)[0-9A-F]{8}$`)

type resolver struct {
	raw   bool
	names map[string]string
	types map[string]string
	props map[string]map[string]any
}

// text resolves a CloudFormation string expression to text. Ref and GetAtt
// become readable placeholders; pseudo parameters keep their name.
func (r *resolver) text(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case map[string]any:
		if len(x) != 1 {
			return "", fmt.Errorf("unsupported expression %v", x)
		}
		for fn, arg := range x {
			switch fn {
			case "Ref":
				s, _ := arg.(string)
				if strings.HasPrefix(s, "AWS::") {
					return "${" + s + "}", nil
				}
				return r.ref(s), nil
			case "Fn::GetAtt":
				var parts []string
				switch a := arg.(type) {
				case []any:
					for _, p := range a {
						ps, _ := p.(string)
						parts = append(parts, ps)
					}
				case string:
					parts = strings.SplitN(a, ".", 2)
				}
				if len(parts) != 2 {
					return "", fmt.Errorf("bad Fn::GetAtt %v", arg)
				}
				return r.getAtt(parts[0], parts[1]), nil
			case "Fn::Join":
				a, ok := arg.([]any)
				if !ok || len(a) != 2 {
					return "", fmt.Errorf("bad Fn::Join %v", arg)
				}
				sep, _ := a[0].(string)
				items, _ := a[1].([]any)
				var parts []string
				for _, it := range items {
					s, err := r.text(it)
					if err != nil {
						return "", err
					}
					parts = append(parts, s)
				}
				return strings.Join(parts, sep), nil
			case "Fn::Sub":
				s, ok := arg.(string)
				if !ok {
					return "", fmt.Errorf("unsupported Fn::Sub %v", arg)
				}
				return s, nil
			}
			return "", fmt.Errorf("unsupported intrinsic %s", fn)
		}
	}
	return "", fmt.Errorf("unsupported value %T", v)
}

// ref renders what a Ref returns (a name, a UUID, ...) as a readable label.
func (r *resolver) ref(id string) string {
	if r.raw {
		return "${Ref:" + id + "}"
	}
	if _, ok := r.names[id]; !ok {
		return "${" + id + "}"
	}
	switch r.types[id] {
	case "AWS::Lambda::EventSourceMapping":
		return "<uuid of " + r.names[id] + ">"
	}
	if n := r.physicalName(id); n != "" {
		return n
	}
	return "<" + r.names[id] + ">"
}

func (r *resolver) getAtt(id, attr string) string {
	if r.raw {
		return "${GetAtt:" + id + "." + attr + "}"
	}
	if _, ok := r.names[id]; !ok {
		return "${" + id + "." + attr + "}"
	}
	if attr == "Arn" && (r.types[id] == "AWS::CloudWatch::Alarm" || r.types[id] == "AWS::CloudWatch::CompositeAlarm") {
		// Alarm widgets list ARNs: show the alarm's name.
		if n := r.physicalName(id); n != "" {
			return "arn:aws:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:" + n
		}
		return "arn:aws:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:<" + r.names[id] + ">"
	}
	if attr == "QueueName" || attr == "Name" {
		if n := r.physicalName(id); n != "" {
			return n
		}
		return "<" + r.names[id] + ">"
	}
	return "<" + r.names[id] + "." + attr + ">"
}

// physicalName is the resource's explicit name property when it is a plain string.
func (r *resolver) physicalName(id string) string {
	for _, k := range []string{"AlarmName", "FunctionName", "Name", "QueueName", "TopicName", "DashboardName"} {
		if s, ok := r.props[id][k].(string); ok {
			return s
		}
	}
	return ""
}

// AlarmName extracts the alarm name from an alarm ARN as resolved by FromTemplate.
func AlarmName(arn string) string {
	if i := strings.LastIndex(arn, ":alarm:"); i >= 0 {
		return strings.Trim(arn[i+len(":alarm:"):], "<>")
	}
	return arn
}
