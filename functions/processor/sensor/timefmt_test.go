package sensor

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestAppendRFC3339MatchesTimeFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	max := time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()
	cases := []int64{0, 1, 999, 1000, 86399999, 86400000, 951782400000 /* 2000-02-29 */, 4107456000000 /* 2100-02-28 */, max}
	for i := 0; i < 200000; i++ {
		cases = append(cases, rng.Int64N(max+1))
	}
	for _, ms := range cases {
		tm := time.UnixMilli(ms).UTC()
		if got, want := string(AppendTime(nil, ms)), tm.Format(TimeLayout); got != want {
			t.Fatalf("%d: %s, want %s", ms, got, want)
		}
		if got, want := string(AppendWindowStart(nil, ms)), tm.Format(time.RFC3339); got != want {
			t.Fatalf("%d: %s, want %s", ms, got, want)
		}
	}
}
