package kinesisbatch

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/streamproc/streamproc/functions/contract"
)

// Unit is a CloudWatch metric unit.
type Unit string

// Units used by the toolkit and the example processor.
const (
	UnitCount        Unit = "Count"
	UnitMilliseconds Unit = "Milliseconds"
	UnitSeconds      Unit = "Seconds"
	UnitBytes        Unit = "Bytes"
	UnitNone         Unit = "None"
)

// maxValues is the EMF limit of values per metric in one document.
const maxValues = 100

// Metrics collects one invocation's metrics and writes them as one CloudWatch
// Embedded Metric Format document. It is safe for concurrent use; a nil
// *Metrics discards everything.
type Metrics struct {
	mu      sync.Mutex
	order   []string
	metrics map[string]*metric
	props   map[string]string
}

type metric struct {
	unit   Unit
	sum    bool // Add: one accumulated value
	values []float64
}

// NewMetrics returns an empty Metrics.
func NewMetrics() *Metrics { return &Metrics{metrics: make(map[string]*metric)} }

type metricsKey struct{}

// ContextWithMetrics returns ctx carrying m.
func ContextWithMetrics(ctx context.Context, m *Metrics) context.Context {
	return context.WithValue(ctx, metricsKey{}, m)
}

// MetricsFromContext returns the invocation's Metrics that the Processor put
// into the handler's context, or nil (which discards) outside a Processor.
func MetricsFromContext(ctx context.Context) *Metrics {
	m, _ := ctx.Value(metricsKey{}).(*Metrics)
	return m
}

func (m *Metrics) get(name string, unit Unit) *metric {
	mt, ok := m.metrics[name]
	if !ok {
		mt = &metric{unit: unit}
		m.metrics[name] = mt
		m.order = append(m.order, name)
	}
	return mt
}

// Add adds v to the metric name (a counter): the document carries the sum.
func (m *Metrics) Add(name string, unit Unit, v float64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	mt := m.get(name, unit)
	mt.sum = true
	if len(mt.values) == 0 {
		mt.values = append(mt.values, v)
	} else {
		mt.values[0] += v
	}
	m.mu.Unlock()
}

// Observe records one value of the metric name (a distribution: CloudWatch
// keeps every value). At most 100 values per metric are kept per invocation,
// the EMF limit; later ones are dropped.
func (m *Metrics) Observe(name string, unit Unit, v float64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	mt := m.get(name, unit)
	if len(mt.values) < maxValues {
		mt.values = append(mt.values, v)
	}
	m.mu.Unlock()
}

// SetProperty adds a non-metric key to the document (searchable in Logs
// Insights, not a dimension).
func (m *Metrics) SetProperty(key, value string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	if m.props == nil {
		m.props = make(map[string]string)
	}
	m.props[key] = value
	m.mu.Unlock()
}

// Value returns the current value of a metric added with Add, or the last
// observed value, and whether it exists.
func (m *Metrics) Value(name string) (float64, bool) {
	if m == nil {
		return 0, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	mt, ok := m.metrics[name]
	if !ok || len(mt.values) == 0 {
		return 0, false
	}
	return mt.values[len(mt.values)-1], true
}

// WriteEMF writes the document as one JSON line: namespace, one dimension
// contract.MetricDimension with the value functionName, timestamp ts.
func (m *Metrics) WriteEMF(w io.Writer, namespace, functionName string, ts time.Time) error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var b bytes.Buffer
	b.WriteString(`{"_aws":{"Timestamp":`)
	b.WriteString(strconv.FormatInt(ts.UnixMilli(), 10))
	b.WriteString(`,"CloudWatchMetrics":[{"Namespace":`)
	writeJSONString(&b, namespace)
	b.WriteString(`,"Dimensions":[[`)
	writeJSONString(&b, contract.MetricDimension)
	b.WriteString(`]],"Metrics":[`)
	for i, name := range m.order {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"Name":`)
		writeJSONString(&b, name)
		b.WriteString(`,"Unit":`)
		writeJSONString(&b, string(m.metrics[name].unit))
		b.WriteByte('}')
	}
	b.WriteString(`]}]},`)
	writeJSONString(&b, contract.MetricDimension)
	b.WriteByte(':')
	writeJSONString(&b, functionName)
	for k, v := range m.props {
		if k == contract.MetricDimension || k == "_aws" || m.metrics[k] != nil {
			continue
		}
		b.WriteByte(',')
		writeJSONString(&b, k)
		b.WriteByte(':')
		writeJSONString(&b, v)
	}
	for _, name := range m.order {
		mt := m.metrics[name]
		b.WriteByte(',')
		writeJSONString(&b, name)
		b.WriteByte(':')
		if len(mt.values) == 1 {
			b.WriteString(formatFloat(mt.values[0]))
			continue
		}
		b.WriteByte('[')
		for i, v := range mt.values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(formatFloat(v))
		}
		b.WriteByte(']')
	}
	b.WriteString("}\n")
	_, err := w.Write(b.Bytes())
	return err
}

func formatFloat(v float64) string {
	out, err := json.Marshal(v)
	if err != nil { // NaN or Inf: not representable
		return "0"
	}
	return string(out)
}

func writeJSONString(b *bytes.Buffer, s string) {
	out, _ := json.Marshal(s)
	b.Write(out)
}
