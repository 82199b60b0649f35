package sizing

import (
	"math"
	"testing"
)

func TestShards(t *testing.T) {
	for _, c := range []struct {
		peak, bytes, agg float64
		want             int
		bytesBound       bool
	}{
		{1e6, 200, 1, 1250, false}, // 1e6 / (1000 x 0.8)
		{1000, 2000, 1, 3, true},   // 2e6 B/s / (1,048,576 x 0.8) = 2.38
		{1e6, 200, 100, 249, true}, // 1e4 x 20,820 B / 838,860.8 = 248.2
		{1, 1, 1, 1, false},
	} {
		got, b := Shards(c.peak, c.bytes, c.agg, DefaultUtilization)
		if got != c.want || b != c.bytesBound {
			t.Errorf("Shards(%g, %g, %g) = %d %v, want %d %v", c.peak, c.bytes, c.agg, got, b, c.want, c.bytesBound)
		}
		if cap := ShardCapacity(got, c.bytes, c.agg, DefaultUtilization); cap < c.peak {
			t.Errorf("%d shards carry %g < peak %g", got, cap, c.peak)
		}
	}
}

func TestMaxBatchAndFactor(t *testing.T) {
	// 200 B -> 268 B of base64 + 540 B = 808 B; 6,291,442 / 808 = 7,786.
	if got := MaxBatch(200); got != 7786 {
		t.Errorf("MaxBatch(200) = %d, want 7786", got)
	}
	if got := MaxBatch(10); got != MaxBatchSize {
		t.Errorf("MaxBatch(10) = %d, want the 10,000 cap", got)
	}
	// 100 records in 50 ms + 100 x 1 ms = 150 ms: 666.7 records/s a lane.
	if c := LaneCapacity(100, 0.001, 0.05); math.Abs(c-100/0.15) > 1e-9 {
		t.Errorf("LaneCapacity = %g", c)
	}
	// 5 shards at 4,000 records/s: 800 per shard; a lane carries 0.7 x 666.7
	// = 466.7, so factor 2 (400 per lane).
	f, ok := Factor(4000, 5, func(int) float64 { return LaneCapacity(100, 0.001, 0.05) })
	if f != 2 || !ok {
		t.Errorf("Factor = %d %v, want 2 true", f, ok)
	}
	if _, ok := Factor(1e6, 1, func(int) float64 { return 10 }); ok {
		t.Error("Factor found a factor for an impossible load")
	}
}
