package eventtime_test

import (
	"math/rand/v2"
	"testing"

	"github.com/streamproc/streamproc/functions/eventtime"
)

// TestStatsAddIsMergeOfOne holds Stats.Add (written out for speed) to its
// contract: Add(t, v) equals Merge with the aggregate of that record alone,
// and the result does not depend on the order of the records, ties in
// event time included.
func TestStatsAddIsMergeOfOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	one := func(t int64, v eventtime.Fixed) eventtime.Stats {
		return eventtime.Stats{Count: 1, Sum: v, Min: v, Max: v, FirstTime: t, First: v, LastTime: t, Last: v}
	}
	for round := range 200 {
		type rec struct {
			t int64
			v eventtime.Fixed
		}
		recs := make([]rec, 1+rng.IntN(20))
		for i := range recs {
			// Few distinct times and values: ties are common.
			recs[i] = rec{t: int64(rng.IntN(4)), v: eventtime.Fixed(rng.IntN(7) - 3)}
		}
		var added, merged eventtime.Stats
		for _, r := range recs {
			added = added.Add(r.t, r.v)
			merged = merged.Merge(one(r.t, r.v))
		}
		if added != merged {
			t.Fatalf("round %d %v: Add gives %+v, Merge of ones %+v", round, recs, added, merged)
		}
		var reversed eventtime.Stats
		for i := len(recs) - 1; i >= 0; i-- {
			reversed = reversed.Add(recs[i].t, recs[i].v)
		}
		if reversed != added {
			t.Fatalf("round %d %v: in reverse order %+v, in order %+v", round, recs, reversed, added)
		}
	}
}
