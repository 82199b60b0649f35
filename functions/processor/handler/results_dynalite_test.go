package handler_test

// The example on the event-time engine against dynalite: per-minute windows
// of the workload's readings, a redelivered batch, final results compared
// with totals computed independently from the unique valid readings.

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/functions/kinesisbatch"
	"github.com/streamproc/streamproc/functions/processor/handler"
	"github.com/streamproc/streamproc/internal/emulator/dynamotest"
	"github.com/streamproc/streamproc/internal/tools/bench/workload"
)

type resultLog struct {
	mu   sync.Mutex
	byID map[string]eventtime.Result[string, eventtime.Stats]
	n    int
	late []eventtime.LateRecord[string]
}

func (l *resultLog) Publish(_ context.Context, rs []eventtime.Result[string, eventtime.Stats]) []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range rs {
		l.byID[r.ID] = r
		l.n++
	}
	return make([]error, len(rs))
}

func (l *resultLog) PutLate(_ context.Context, ls []eventtime.LateRecord[string]) []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.late = append(l.late, ls...)
	return make([]error, len(ls))
}

func TestEngineOnDynalite(t *testing.T) {
	c, _ := dynamotest.StateTable(t)
	table := "engine-state"
	if err := eventtime.CreateDynamoTable(context.Background(), c, table); err != nil {
		t.Fatal(err)
	}
	store, err := eventtime.NewDynamoStore(c, eventtime.DynamoConfig{Table: table, AllowedLateness: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	clk := now
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return clk }
	windows, _ := eventtime.Tumbling(time.Minute)
	log := &resultLog{byID: map[string]eventtime.Result[string, eventtime.Stats]{}}
	eng, err := eventtime.New(eventtime.Config[string, eventtime.Fixed, eventtime.Stats]{
		Windows: windows, OutOfOrderness: 40 * time.Second, AllowedLateness: time.Minute, IdleTimeout: 5 * time.Minute,
		Store: store, Results: log, Late: log, Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := handler.New(handler.Config{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	p := kinesisbatch.New(h, kinesisbatch.Config{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), MetricsOutput: io.Discard})
	first := workload.Records(workload.Options{Readings: 400, Sensors: 12, Start: now.Add(-12 * time.Minute), Seed: 3})
	second := workload.Records(workload.Options{Readings: 300, Sensors: 12, Start: now.Add(-4 * time.Minute), Seed: 4})
	run := func(recs []workload.Record) {
		t.Helper()
		res := p.Process(context.Background(), toRecords(recs))
		if res.Failed != 0 {
			t.Fatalf("%d records failed: %v", res.Failed, res.Failures)
		}
	}
	run(first)
	afterFirst := len(log.byID)
	run(first) // redelivered: nothing changes, nothing is published
	if len(log.byID) != afterFirst {
		t.Fatalf("%d results after the first batch, %d after its redelivery", afterFirst, len(log.byID))
	}
	run(second)
	mu.Lock()
	clk = now.Add(10 * time.Minute) // the shard goes idle: its watermark is the stream's
	mu.Unlock()
	if _, err := eng.Fire(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := expectedTotals(append(append([]workload.Record{}, first...), second...))
	got := map[[2]string]eventtime.Result[string, eventtime.Stats]{}
	for _, r := range log.byID {
		if r.Revision != 0 {
			t.Errorf("correction %s: no record arrived late", r.ID)
		}
		got[[2]string{r.Key, windowStart(r.Window.Start)}] = r
	}
	fired := 0
	for k, w := range want {
		r, ok := got[k]
		if !ok {
			continue // the newest windows: not final yet
		}
		fired++
		v := r.Value
		g := totals{v.Count, int64(v.Sum), int64(v.Min), int64(v.Max), v.FirstTime, v.LastTime}
		if g != w {
			t.Errorf("%v: final result %+v, want %+v", k, g, w)
		}
	}
	t.Logf("%d final results of %d windows; %d after the first batch", fired, len(want), afterFirst)
	if fired != len(got) || fired < len(want)/2 {
		t.Errorf("%d final results, %d match a window of the readings (of %d)", len(got), fired, len(want))
	}
	if len(log.late) != 0 || log.n != len(log.byID) {
		t.Errorf("%d late records, %d deliveries for %d results", len(log.late), log.n, len(log.byID))
	}
}
