package backoff

import (
	"math"
	"testing"
	"time"
)

func TestCeiling(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		retry       int
		base, limit time.Duration
		want        time.Duration
	}{
		{1, 25 * ms, time.Second, 25 * ms},
		{0, 25 * ms, time.Second, 25 * ms}, // before the first retry: treated as 1
		{3, 25 * ms, time.Second, 100 * ms},
		{6, 25 * ms, time.Second, 800 * ms},
		{7, 25 * ms, time.Second, time.Second},
		{64, 25 * ms, time.Second, time.Second}, // no overflow
		{1000, 1, math.MaxInt64, math.MaxInt64},
		{2, 3 * time.Second, 2 * time.Second, 2 * time.Second}, // base above the limit
		{1, 0, time.Second, 0},
		{1, time.Second, 0, 0},
	} {
		if got := Ceiling(tc.retry, tc.base, tc.limit); got != tc.want {
			t.Errorf("Ceiling(%d, %v, %v) = %v, want %v", tc.retry, tc.base, tc.limit, got, tc.want)
		}
	}
}

func TestJitteredIsFullJitter(t *testing.T) {
	for retry := 1; retry <= 8; retry++ {
		ceil := Ceiling(retry, 25*time.Millisecond, time.Second)
		var low, top time.Duration = ceil, 0
		for range 2000 {
			d := Jittered(retry, 25*time.Millisecond, time.Second)
			if d < 0 || d >= ceil {
				t.Fatalf("retry %d: %v outside [0, %v)", retry, d, ceil)
			}
			low, top = min(low, d), max(top, d)
		}
		if top < ceil*3/4 || low > ceil/4 {
			t.Errorf("retry %d: 2000 waits within [%v, %v], want them spread over [0, %v)", retry, low, top, ceil)
		}
	}
	if d := Jittered(1, 0, time.Second); d != 0 {
		t.Errorf("no base: %v", d)
	}
}
