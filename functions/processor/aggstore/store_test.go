package aggstore_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/processor/aggstore"
	"github.com/streamproc/streamproc/functions/processor/aggstore/fakedb"
	"github.com/streamproc/streamproc/functions/processor/sensor"
)

var base = time.Date(2026, 11, 25, 10, 7, 0, 0, time.UTC).UnixMilli()

// groups builds n sensors x w windows with k readings each; ids are unique
// per (sensor, window, reading) and stable across calls.
func groups(t *testing.T, n, w, k int) []sensor.Group {
	t.Helper()
	win, _ := sensor.NewWindows(time.Minute)
	b := sensor.NewBatcher(win)
	ref := int32(0)
	for s := 0; s < n; s++ {
		for x := 0; x < w; x++ {
			for i := 0; i < k; i++ {
				id := []byte{byte(s), byte(x), byte(i), 'e'}
				b.Add(sensor.Reading{SensorID: string(rune('a' + s)), EventIDHash: sensor.HashEventID(id), EventTime: base + int64(x)*60000 + int64(i)*1000, Temperature: sensor.Micro(int64(i) * 500000)}, ref)
				ref++
			}
		}
	}
	return b.Groups()
}

func newStore(t *testing.T, db aggstore.API, cfg aggstore.Config) *aggstore.Store {
	t.Helper()
	cfg.Table = "aggs"
	s, err := aggstore.New(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func noErrs(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("group %d: %v", i, err)
		}
	}
}

func TestApplyIsIdempotentAndWritesOncePerWindow(t *testing.T) {
	db := fakedb.New()
	s := newStore(t, db, aggstore.Config{})
	g := groups(t, 3, 2, 5) // 6 windows, 30 readings
	errs, st := s.Apply(context.Background(), g)
	noErrs(t, errs)
	if st.WriteCalls != 6 || st.WindowsWritten != 6 || st.Applied != 30 || st.ReadCalls != 1 {
		t.Fatalf("first apply stats %+v", st)
	}
	errs, st = s.Apply(context.Background(), g)
	noErrs(t, errs)
	if st.WriteCalls != 0 || st.DuplicatesSkipped != 30 {
		t.Fatalf("second apply stats %+v, want no writes and 30 duplicates", st)
	}
	items := db.Items()
	if len(items) != 6 {
		t.Fatalf("%d items", len(items))
	}
	for _, it := range items {
		_, agg, version, err := aggstore.DecodeItem(it)
		if err != nil {
			t.Fatal(err)
		}
		if agg.Count != 5 || agg.Sum != 5*sensor.Scale || agg.Min != 0 || agg.Max != 2*sensor.Scale || version != 1 {
			t.Fatalf("item %+v version %d", agg, version)
		}
		if avg := it[aggstore.AttrAvg]; avg.Type != aggstore.TypeN || avg.N != "1" {
			t.Fatalf("avg %+v", avg)
		}
	}
}

func TestConflictReReadsAndMerges(t *testing.T) {
	db := fakedb.New()
	s := newStore(t, db, aggstore.Config{})
	all := groups(t, 1, 1, 10)[0]
	first := sensor.Group{Key: all.Key, Points: all.Points[:4]}
	rest := sensor.Group{Key: all.Key, Points: all.Points[2:]}
	// Another writer stores `first` between our read and our write.
	var once atomic.Bool
	db.Hook = func(op string, _ [2]string) error {
		if op == "PutItem" && once.CompareAndSwap(false, true) {
			other := newStore(t, fakedb.Passthrough(db), aggstore.Config{})
			if errs, _ := other.Apply(context.Background(), []sensor.Group{first}); errs[0] != nil {
				t.Error(errs[0])
			}
		}
		return nil
	}
	errs, st := s.Apply(context.Background(), []sensor.Group{rest})
	noErrs(t, errs)
	if st.Conflicts != 1 || st.WriteCalls != 2 || st.Applied != 6 || st.DuplicatesSkipped != 2 {
		t.Fatalf("stats %+v", st)
	}
	_, agg, version, _ := aggstore.DecodeItem(db.Items()[0])
	if agg.Count != 10 || version != 2 {
		t.Fatalf("count %d version %d, want 10 and 2", agg.Count, version)
	}
}

// TestConflictRetriesAreBounded: another writer changes the item before
// each of our writes; past MaxConflictRetries re-reads the group fails
// transiently with the condition failure.
func TestConflictRetriesAreBounded(t *testing.T) {
	db := fakedb.New()
	s := newStore(t, db, aggstore.Config{MaxConflictRetries: 2})
	g := groups(t, 1, 1, 3)[0]
	others := groups(t, 1, 1, 10)[0].Points[3:] // other readings of the same window
	var n atomic.Int32
	db.Hook = func(op string, _ [2]string) error {
		if op == "PutItem" {
			i := n.Add(1) - 1
			other := newStore(t, fakedb.Passthrough(db), aggstore.Config{})
			if errs, _ := other.Apply(context.Background(), []sensor.Group{{Key: g.Key, Points: others[i : i+1]}}); errs[0] != nil {
				t.Error(errs[0])
			}
		}
		return nil
	}
	errs, st := s.Apply(context.Background(), []sensor.Group{g})
	var ccf *aggstore.ConditionalCheckFailedException
	if !errors.As(errs[0], &ccf) || !strings.Contains(errs[0].Error(), "still conflicting after 2 re-reads") {
		t.Fatalf("got %v, want the condition failure after 2 re-reads", errs[0])
	}
	if st.Conflicts != 3 || st.WriteCalls != 3 || st.Applied != 0 || st.WindowsWritten != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWriteThatTookEffectButFailedIsNotAppliedTwice(t *testing.T) {
	db := fakedb.New()
	s := newStore(t, db, aggstore.Config{})
	g := groups(t, 1, 1, 5)
	db.Hook = func(op string, _ [2]string) error {
		if op == "PutItem" {
			return fakedb.ErrAfter
		}
		return nil
	}
	errs, _ := s.Apply(context.Background(), g)
	if errs[0] == nil || errors.Is(errs[0], aggstore.ErrWindowFull) {
		t.Fatalf("want a transient error, got %v", errs[0])
	}
	db.Hook = nil
	errs, st := s.Apply(context.Background(), g)
	noErrs(t, errs)
	if st.WriteCalls != 0 || st.DuplicatesSkipped != 5 {
		t.Fatalf("retry stats %+v", st)
	}
}

func TestThrottledReadsAreRetriedAndThenFailTransiently(t *testing.T) {
	db := fakedb.New()
	s := newStore(t, db, aggstore.Config{})
	g := groups(t, 2, 1, 1)
	var n atomic.Int32
	db.Unprocessed = func([2]string) bool { return n.Add(1) <= 2 } // first two key reads throttled
	errs, st := s.Apply(context.Background(), g)
	noErrs(t, errs)
	if st.ReadCalls != 2 {
		t.Fatalf("read calls %d, want 2", st.ReadCalls)
	}
	db.Unprocessed = func([2]string) bool { return true }
	errs, _ = s.Apply(context.Background(), groups(t, 3, 1, 1))
	for _, err := range errs {
		if err == nil {
			t.Fatal("want errors while every read is throttled")
		}
	}
	db.Unprocessed = nil
	db.Hook = func(op string, _ [2]string) error {
		if op == "PutItem" {
			return fakedb.Throttled()
		}
		return nil
	}
	errs, _ = s.Apply(context.Background(), groups(t, 4, 1, 1))
	var ae *awsjson.APIError
	if !errors.As(errs[3], &ae) || ae.Code != "ProvisionedThroughputExceededException" || !ae.Throttling() {
		t.Fatalf("want the throttling error wrapped, got %v", errs[3])
	}
}

func TestWindowFullIsPermanent(t *testing.T) {
	s := newStore(t, fakedb.New(), aggstore.Config{MaxItemBytes: 400})
	errs, _ := s.Apply(context.Background(), groups(t, 1, 1, 40))
	if !errors.Is(errs[0], aggstore.ErrWindowFull) {
		t.Fatalf("want ErrWindowFull, got %v", errs[0])
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	db := fakedb.New()
	var inFlight, peak atomic.Int32
	db.Hook = func(op string, _ [2]string) error {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		inFlight.Add(-1)
		return nil
	}
	s := newStore(t, db, aggstore.Config{Concurrency: 4})
	errs, st := s.Apply(context.Background(), groups(t, 30, 10, 1)) // 300 windows: 3 read chunks
	noErrs(t, errs)
	if st.ReadCalls != 3 || st.WriteCalls != 300 {
		t.Fatalf("stats %+v", st)
	}
	if p := peak.Load(); p > 4 || p < 2 {
		t.Fatalf("peak concurrency %d, want 2..4", p)
	}
}
