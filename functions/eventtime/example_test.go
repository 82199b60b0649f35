package eventtime_test

import (
	"context"
	"fmt"
	"time"

	"github.com/streamproc/streamproc/functions/eventtime"
)

// One key, one-minute windows, 10 s out-of-orderness, 30 s allowed
// lateness: a final result, a correction, and a late record.
func Example() {
	ctx := context.Background()
	windows, _ := eventtime.Tumbling(time.Minute)
	results := eventtime.ResultSinkFunc[string, eventtime.Stats](func(_ context.Context, rs []eventtime.Result[string, eventtime.Stats]) []error {
		for _, r := range rs {
			fmt.Printf("result %s count=%d avg=%s last=%v\n", r.ID, r.Value.Count, r.Value.Avg(), r.Last)
		}
		return make([]error, len(rs))
	})
	late := eventtime.LateSinkFunc[string](func(_ context.Context, ls []eventtime.LateRecord[string]) []error {
		for _, l := range ls {
			fmt.Printf("late %s for %s\n", l.ID, l.Window)
		}
		return make([]error, len(ls))
	})
	eng, err := eventtime.New(eventtime.Config[string, eventtime.Fixed, eventtime.Stats]{
		Windows: windows, OutOfOrderness: 10 * time.Second, AllowedLateness: 30 * time.Second,
		Store: eventtime.NewMemoryStore(), Results: results, Late: late,
	})
	if err != nil {
		panic(err)
	}
	at := func(s string) int64 { t, _ := time.Parse(time.RFC3339, s); return t.UnixMilli() }
	rec := func(id, ts string, v float64) eventtime.Record[string, eventtime.Fixed] {
		f, _ := eventtime.FixedFromFloat(v)
		return eventtime.Record[string, eventtime.Fixed]{ID: id, Key: "sensor-1", EventTime: at(ts), Value: f}
	}
	batches := [][]eventtime.Record[string, eventtime.Fixed]{
		{rec("a", "2026-12-01T10:00:05Z", 20), rec("b", "2026-12-01T10:00:50Z", 22)},
		{rec("c", "2026-12-01T10:01:15Z", 25)},                                       // watermark 10:01:05: 10:00 is final
		{rec("d", "2026-12-01T10:00:40Z", 21), rec("e", "2026-12-01T10:01:45Z", 26)}, // d within lateness: a correction
		{rec("f", "2026-12-01T10:00:30Z", 19)},                                       // watermark 10:01:35 > 10:01:00 + 30s: late
		{rec("a", "2026-12-01T10:00:05Z", 20)},                                       // a redelivery: nothing happens
	}
	for _, b := range batches {
		eng.Process(ctx, "shard-0", b)
	}
	// Output:
	// result sensor-1/2026-12-01T10:00:00Z/2026-12-01T10:01:00Z/0 count=2 avg=21 last=false
	// result sensor-1/2026-12-01T10:00:00Z/2026-12-01T10:01:00Z/1 count=3 avg=21 last=true
	// late f for 2026-12-01T10:00:00Z/2026-12-01T10:01:00Z
}
