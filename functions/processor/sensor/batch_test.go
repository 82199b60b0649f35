package sensor

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestWindows(t *testing.T) {
	w, err := ParseWindowSize("", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Date(2026, 11, 25, 10, 7, 59, 999e6, time.UTC).UnixMilli()
	if got := FormatWindowStart(w.Start(ms)); got != "2026-11-25T10:07:00Z" {
		t.Fatalf("window start %s", got)
	}
	if got := FormatTime(ms); got != "2026-11-25T10:07:59.999Z" {
		t.Fatalf("FormatTime %s", got)
	}
	for _, bad := range []string{"0s", "1500ms", "7m", "25h", "soon"} {
		if _, err := ParseWindowSize(bad, time.Minute); err == nil {
			t.Errorf("window size %q accepted", bad)
		}
	}
	if w5, err := ParseWindowSize("5m", time.Minute); err != nil || FormatWindowStart(w5.Start(ms)) != "2026-11-25T10:05:00Z" {
		t.Fatalf("5m window: %v %v", err, w5)
	}
}

// TestMergeIsOrderAndBoundaryIndependent applies the same readings (with
// duplicates) in random batch splits and orders and checks the aggregate is
// always identical to a direct computation over the unique readings.
func TestMergeIsOrderAndBoundaryIndependent(t *testing.T) {
	w, _ := NewWindows(time.Minute)
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 25, 10, 7, 0, 0, time.UTC).UnixMilli()
	var readings []Reading
	for i := 0; i < 300; i++ {
		readings = append(readings, Reading{SensorID: "s", EventIDHash: uint64(rng.IntN(150)), EventTime: base + int64(rng.IntN(60000)), Temperature: Micro(rng.IntN(60e6) - 20e6)})
	}
	// Same event id means same reading: make duplicates identical.
	first := map[uint64]Reading{}
	for i, r := range readings {
		if f, ok := first[r.EventIDHash]; ok {
			readings[i] = f
		} else {
			first[r.EventIDHash] = r
		}
	}
	var want Aggregate
	for _, r := range first {
		if want.Count == 0 || r.Temperature < want.Min {
			want.Min = r.Temperature
		}
		if want.Count == 0 || r.Temperature > want.Max {
			want.Max = r.Temperature
		}
		if want.Count == 0 || r.EventTime < want.First {
			want.First = r.EventTime
		}
		if want.Count == 0 || r.EventTime > want.Last {
			want.Last = r.EventTime
		}
		want.Count++
		want.Sum += r.Temperature
	}
	for trial := 0; trial < 50; trial++ {
		rng.Shuffle(len(readings), func(i, j int) { readings[i], readings[j] = readings[j], readings[i] })
		var agg Aggregate
		b := NewBatcher(w)
		applied, dups := 0, 0
		for start := 0; start < len(readings); {
			end := min(len(readings), start+1+rng.IntN(80))
			b.Reset()
			for i, r := range readings[start:end] {
				b.Add(r, int32(i))
			}
			// Redeliver part of the batch too.
			for i, r := range readings[start/2 : start] {
				b.Add(r, int32(i))
			}
			groups := b.Groups()
			if len(groups) != 1 {
				t.Fatalf("%d groups, want 1", len(groups))
			}
			var res MergeResult
			agg, res = agg.Merge(groups[0].Points, nil)
			applied += res.Applied
			dups += res.Duplicates
			start = end
		}
		if agg.Count != want.Count || agg.Sum != want.Sum || agg.Min != want.Min || agg.Max != want.Max || agg.First != want.First || agg.Last != want.Last {
			t.Fatalf("trial %d: got %+v want %+v", trial, agg, want)
		}
		if int64(len(agg.IDs)) != want.Count || applied != int(want.Count) {
			t.Fatalf("ids %d applied %d want %d", len(agg.IDs), applied, want.Count)
		}
		for i := 1; i < len(agg.IDs); i++ {
			if agg.IDs[i-1] >= agg.IDs[i] {
				t.Fatal("IDs not sorted and unique")
			}
		}
	}
}

func TestBatcherGroups(t *testing.T) {
	w, _ := NewWindows(time.Minute)
	b := NewBatcher(w)
	base := time.Date(2026, 11, 25, 10, 7, 0, 0, time.UTC).UnixMilli()
	add := func(s string, off int64, h uint64, ref int32) {
		b.Add(Reading{SensorID: s, EventIDHash: h, EventTime: base + off}, ref)
	}
	add("a", 1000, 9, 0)
	add("b", 1000, 5, 1)
	add("a", 61000, 3, 2)
	add("a", 2000, 1, 3)
	add("a", 3000, 9, 4) // same id as ref 0
	g := b.Groups()
	if len(g) != 3 {
		t.Fatalf("%d groups", len(g))
	}
	if g[0].SensorID != "a" || g[0].WindowStart != base || len(g[0].Points) != 3 {
		t.Fatalf("group 0 %+v", g[0])
	}
	if p := g[0].Points; p[0].Ref != 3 || p[1].Ref != 0 || p[2].Ref != 4 {
		t.Fatalf("group 0 order %+v", p)
	}
	if g[2].WindowStart != base+60000 || g[2].Points[0].Ref != 2 {
		t.Fatalf("group 2 %+v", g[2])
	}
}

// TestBatcherKeysByValue: equal sensor ids at different addresses (not
// interned), many keys (the lookup table grows) and reuse after Reset all
// group by value.
func TestBatcherKeysByValue(t *testing.T) {
	w, _ := NewWindows(time.Minute)
	b := NewBatcher(w)
	base := time.Date(2026, 11, 25, 10, 7, 0, 0, time.UTC).UnixMilli()
	for round := 0; round < 3; round++ {
		b.Reset()
		want := map[Key]int{}
		ref := int32(0)
		for rep := 0; rep < 3; rep++ {
			for s := 0; s < 700; s++ {
				id := string([]byte(fmt.Sprintf("sensor-%04d", s))) // a new copy each time
				for win := int64(0); win < 2; win++ {
					ts := base + win*60000 + int64(rep)
					b.Add(Reading{SensorID: id, EventIDHash: uint64(ref), EventTime: ts}, ref)
					want[Key{id, w.Start(ts)}]++
					ref++
				}
			}
		}
		b.Add(Reading{SensorID: "", EventTime: base}, ref)
		want[Key{"", base}]++
		g := b.Groups()
		if len(g) != len(want) {
			t.Fatalf("round %d: %d groups, want %d", round, len(g), len(want))
		}
		for _, gr := range g {
			if len(gr.Points) != want[gr.Key] {
				t.Fatalf("round %d: group %v has %d points, want %d", round, gr.Key, len(gr.Points), want[gr.Key])
			}
		}
	}
}

// TestSortByHashOrder: every size sorts to (IDHash, Ref) order, ties
// included, whichever algorithm sortByHash picks for it.
func TestSortByHashOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 13; n <= 200; n++ {
		p := make([]Point, n)
		for i := range p {
			p[i] = Point{IDHash: rng.Uint64N(8), Ref: int32(rng.IntN(1000)), Time: int64(i)}
		}
		want := slices.Clone(p)
		slices.SortStableFunc(want, func(a, b Point) int {
			if c := cmp.Compare(a.IDHash, b.IDHash); c != 0 {
				return c
			}
			return cmp.Compare(a.Ref, b.Ref)
		})
		sortByHash(p)
		for i := range p {
			if p[i].IDHash != want[i].IDHash || p[i].Ref != want[i].Ref {
				t.Fatalf("n=%d: at %d got (%d,%d), want (%d,%d)", n, i, p[i].IDHash, p[i].Ref, want[i].IDHash, want[i].Ref)
			}
		}
	}
}
