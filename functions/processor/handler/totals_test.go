package handler_test

import (
	"math"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/processor/aggstore"
	"github.com/streamproc/streamproc/functions/processor/sensor"
	"github.com/streamproc/streamproc/internal/tools/bench/workload"
)

type totals struct {
	count         int64
	sum, min, max int64 // micro-degrees
	first, last   int64 // ms
}

// expectedTotals computes the aggregates from the unique readings directly
// from the generator's values (not through the decoder): one reading per
// event id, first occurrence wins.
func expectedTotals(recs []workload.Record) map[[2]string]totals {
	out := map[[2]string]totals{}
	seen := map[string]bool{}
	for _, r := range recs {
		if r.EventID == "" || seen[r.EventID] {
			continue
		}
		seen[r.EventID] = true
		ms := r.EventTime.UnixMilli()
		k := [2]string{r.SensorID, time.UnixMilli(ms - ms%60000).UTC().Format(time.RFC3339)}
		v := int64(math.Round(r.Temperature * 1e6))
		t, ok := out[k]
		if !ok {
			t = totals{min: v, max: v, first: ms, last: ms}
		}
		t.count++
		t.sum += v
		t.min, t.max = min(t.min, v), max(t.max, v)
		t.first, t.last = min(t.first, ms), max(t.last, ms)
		out[k] = t
	}
	return out
}

// checkTotals compares the stored items with expectedTotals(recs) exactly.
func checkTotals(t *testing.T, items []aggstore.Item, recs []workload.Record) {
	t.Helper()
	want := expectedTotals(recs)
	got := map[[2]string]totals{}
	for _, it := range items {
		k, a, _, err := aggstore.DecodeItem(it)
		if err != nil {
			t.Fatal(err)
		}
		got[[2]string{k.SensorID, sensor.FormatWindowStart(k.WindowStart)}] = totals{int64(a.Count), int64(a.Sum), int64(a.Min), int64(a.Max), a.First, a.Last}
		avg := it[aggstore.AttrAvg]
		if w := sensor.DivRound(a.Sum, a.Count).String(); avg.Type != aggstore.TypeN || avg.N != w {
			t.Errorf("%v: avg %+v, want N %s", k, avg, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d items stored, want %d", len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%v: missing", k)
		} else if g != w {
			t.Errorf("%v: stored %+v, want %+v", k, g, w)
		}
	}
}
