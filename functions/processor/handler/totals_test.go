package handler_test

import (
	"context"
	"encoding/json"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/eventtime"
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

// checkTotals compares the windows stored in the engine's store with
// expectedTotals(recs) exactly: every stored window (DueWindows an hour
// from now lists every window not done; the tests' watermark never passes
// one) and no other. The aggregates are decoded with encoding/json, not
// through the engine's codec.
func checkTotals(t *testing.T, store eventtime.Store, recs []workload.Record) {
	t.Helper()
	ctx := context.Background()
	keys, err := store.DueWindows(ctx, time.Now().Add(time.Hour).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	states, err := store.GetWindows(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	want := expectedTotals(recs)
	got := map[[2]string]totals{}
	for i, k := range keys {
		var a struct {
			Count         int64
			Sum, Min, Max json.Number
		}
		var times struct {
			First int64 `json:"first_time"`
			Last  int64 `json:"last_time"`
		}
		if err := json.Unmarshal(states[i].Agg, &a); err != nil {
			t.Fatalf("%v: %v in %s", k, err, states[i].Agg)
		}
		if err := json.Unmarshal(states[i].Agg, &times); err != nil {
			t.Fatal(err)
		}
		got[[2]string{k.Key, windowStart(k.Window.Start)}] = totals{a.Count, micro(t, a.Sum), micro(t, a.Min), micro(t, a.Max), times.First, times.Last}
	}
	if len(got) != len(want) {
		t.Errorf("%d windows stored, want %d", len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%v: missing", k)
		} else if g != w {
			t.Errorf("%v: stored %+v, want %+v", k, g, w)
		}
	}
}

// micro is the exact decimal n in millionths.
func micro(t *testing.T, n json.Number) int64 {
	t.Helper()
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		t.Fatalf("aggregate holds %q, not a decimal", n)
	}
	r.Mul(r, big.NewRat(1e6, 1))
	if !r.IsInt() || !r.Num().IsInt64() {
		t.Fatalf("aggregate holds %q, not a whole number of millionths", n)
	}
	return r.Num().Int64()
}
