package main

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/streamproc/streamproc/internal/tools/dashpreview/cwdash"
)

// sampleSeries makes up a plausible, deterministic line for a metric so the
// preview shows what a healthy pipeline looks like. It is sample data: the
// page says so in its banner, and nothing here is read from AWS.
func sampleSeries(m cwdash.Metric, span time.Duration) []float64 {
	period := time.Duration(m.Period) * time.Second
	if period <= 0 {
		period = 5 * time.Minute
	}
	n := int(span / period)
	if n < 2 {
		n = 2
	}
	h := fnv.New64a()
	h.Write([]byte(m.Namespace + "/" + m.Name + "/" + m.Stat + "/" + m.Label + "/" + m.Expression))
	r := rand.New(rand.NewPCG(h.Sum64(), 7))
	perMin := period.Minutes()
	traffic := func(i int) float64 { // records per minute: a slow wave with noise
		return 6000 * (1 + 0.25*math.Sin(float64(i)/float64(n)*2*math.Pi+1)) * (0.93 + 0.14*r.Float64())
	}
	out := make([]float64, n)
	name := m.Name + " " + m.Label + " " + m.Expression
	for i := range out {
		var v float64
		switch {
		case m.Expression != "":
			v = 0 // error rate of a healthy pipeline
		case has(name, "Throttl", "Exceeded", "Dropped", "OnFailure", "FailedInvoke", "FailedRecords", "Errors", "DestinationDelivery",
			"FilteredOut", "NotVisible", "In flight", "Quarantined", "Visible", "LateRecords", "Late records"):
			v = 0 // alarmed or failure metrics: zero in the healthy sample
		case has(name, "Retried", "RecordsFailed", "Failed (batch"):
			v = sparse(r, 0.05, 3) // transient failures that retries absorb
		case has(name, "AgeOfOldest"):
			v = 0
		case has(name, "IteratorAge", "MillisBehind"):
			v = 300 + 900*r.Float64()
		case has(name, "Latency"):
			v = 18 + 10*r.Float64()
		case has(name, "EventTimeLag"):
			v = 1500 + 1500*r.Float64()
			if m.Stat == "Maximum" {
				v *= 2.5
			}
		case has(name, "Duration"):
			base := map[string]float64{"p50": 110, "p90": 240, "p99": 520, "Maximum": 900}[m.Stat]
			if base == 0 {
				base = 200
			}
			v = base * (0.85 + 0.3*r.Float64())
		case has(name, "ConcurrentExecutions"):
			v = math.Round(2 + 0.6*r.Float64())
		case has(name, "IncomingBytes"):
			v = traffic(i) * perMin * 240
		case has(name, "Invocations"):
			v = traffic(i) * perMin / 100
		case has(name, "WindowsWritten", "WriteCalls"):
			v = traffic(i) * perMin / 60
		case has(name, "Duplicates"):
			v = sparse(r, 0.1, 20)
		default: // records: incoming, polled, invoked, received, succeeded
			v = traffic(i) * perMin
		}
		out[i] = v
	}
	return out
}

func has(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// sparse is 0 most of the time and a small blip with probability p.
func sparse(r *rand.Rand, p, size float64) float64 {
	if r.Float64() < p {
		return math.Ceil(size * r.Float64())
	}
	return 0
}
