package streamprocessor

import (
	"testing"
	"time"
)

func TestDeriveThresholds(t *testing.T) {
	const detect = 5 * time.Minute
	for _, tc := range []struct {
		name                 string
		retention, maxAge    time.Duration
		fraction             float64
		wantDiscard, wantWin time.Duration
		wantIter, wantDLQ    time.Duration
	}{
		{
			name:      "no max record age: the stream's retention is the deadline",
			retention: 24 * time.Hour, maxAge: 0, fraction: 0.5,
			wantDiscard: 24 * time.Hour, wantWin: 0,
			wantIter: 12*time.Hour - detect, wantDLQ: minDLQAgeThreshold,
		},
		{
			name:      "max record age below retention: the mapping's deadline comes first",
			retention: 24 * time.Hour, maxAge: time.Hour, fraction: 0.5,
			wantDiscard: time.Hour, wantWin: 23 * time.Hour,
			wantIter: 25 * time.Minute, wantDLQ: 11*time.Hour + 30*time.Minute,
		},
		{
			name:      "longer retention widens the redrive window, not the iterator threshold",
			retention: 7 * 24 * time.Hour, maxAge: time.Hour, fraction: 0.5,
			wantDiscard: time.Hour, wantWin: 167 * time.Hour,
			wantIter: 25 * time.Minute, wantDLQ: 83*time.Hour + 30*time.Minute,
		},
		{
			name:      "max record age above retention is capped by retention",
			retention: 24 * time.Hour, maxAge: 7 * 24 * time.Hour, fraction: 0.5,
			wantDiscard: 24 * time.Hour, wantWin: 0,
			wantIter: 12*time.Hour - detect, wantDLQ: minDLQAgeThreshold,
		},
		{
			name:      "tiny max record age: detection delay would eat the budget, floor at half the target",
			retention: 24 * time.Hour, maxAge: 2 * time.Minute, fraction: 0.5,
			wantDiscard: 2 * time.Minute, wantWin: 24*time.Hour - 2*time.Minute,
			wantIter: 30 * time.Second, wantDLQ: 11*time.Hour + 59*time.Minute,
		},
		{
			name:      "custom fraction",
			retention: 48 * time.Hour, maxAge: 0, fraction: 0.25,
			wantDiscard: 48 * time.Hour, wantWin: 0,
			wantIter: 12*time.Hour - detect, wantDLQ: minDLQAgeThreshold,
		},
		{
			name:      "invalid fraction falls back to the default",
			retention: 24 * time.Hour, maxAge: 0, fraction: 1.5,
			wantDiscard: 24 * time.Hour, wantWin: 0,
			wantIter: 12*time.Hour - detect, wantDLQ: minDLQAgeThreshold,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := deriveThresholds(tc.retention, tc.maxAge, tc.fraction, detect)
			want := derivedThresholds{TimeToDiscard: tc.wantDiscard, RedriveWindow: tc.wantWin, IteratorAge: tc.wantIter, DLQOldestMessageAge: tc.wantDLQ}
			if got != want {
				t.Fatalf("deriveThresholds(%v, %v, %v) =\n %+v\nwant\n %+v", tc.retention, tc.maxAge, tc.fraction, got, want)
			}
			if got.IteratorAge >= got.TimeToDiscard {
				t.Errorf("iterator-age threshold %v leaves no time before records are discarded at %v", got.IteratorAge, got.TimeToDiscard)
			}
		})
	}
}

// The thresholds must move with their inputs: more retention or a later max
// record age never lowers them.
func TestDeriveThresholdsMonotonic(t *testing.T) {
	const detect = 5 * time.Minute
	prev := deriveThresholds(24*time.Hour, time.Minute, 0.5, detect)
	for age := 2 * time.Minute; age <= 24*time.Hour; age += 7 * time.Minute {
		cur := deriveThresholds(24*time.Hour, age, 0.5, detect)
		if cur.IteratorAge < prev.IteratorAge {
			t.Fatalf("iterator threshold fell from %v to %v when max record age grew to %v", prev.IteratorAge, cur.IteratorAge, age)
		}
		if cur.DLQOldestMessageAge > prev.DLQOldestMessageAge {
			t.Fatalf("DLQ threshold grew from %v to %v when max record age grew to %v (redrive window shrinks)", prev.DLQOldestMessageAge, cur.DLQOldestMessageAge, age)
		}
		prev = cur
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 30 * time.Second: "30s", 25 * time.Minute: "25m", 11*time.Hour + 55*time.Minute: "11h55m",
		7 * 24 * time.Hour: "7d", 25*time.Hour + 30*time.Second: "1d1h30s", 1500 * time.Microsecond: "1.5ms",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
}
