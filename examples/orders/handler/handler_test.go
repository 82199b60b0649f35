package handler_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/functions/kinesisbatch"

	"example.com/orders/handler"
	"example.com/orders/revenue"
)

// The app's windows and bounds, as the stack sets them.
const (
	size, slide     = 5 * time.Minute, time.Minute
	outOfOrderness  = 30 * time.Second
	allowedLateness = 2 * time.Minute
)

// memQuarantine keeps the quarantined records' sequence numbers and reasons.
type memQuarantine struct {
	mu      sync.Mutex
	reasons map[string]string
}

func (q *memQuarantine) Put(_ context.Context, fs []kinesisbatch.Failure) []error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.reasons == nil {
		q.reasons = map[string]string{}
	}
	for _, f := range fs {
		q.reasons[f.Record.SequenceNumber] = f.Err.Error()
	}
	return make([]error, len(fs))
}

// sinks collect what the engine publishes and sends late.
type sinks struct {
	mu      sync.Mutex
	results []eventtime.Result[string, revenue.Revenue]
	late    []eventtime.LateRecord[string]
}

func (s *sinks) publish(_ context.Context, rs []eventtime.Result[string, revenue.Revenue]) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results = append(s.results, rs...)
	return make([]error, len(rs))
}

func (s *sinks) putLate(_ context.Context, ls []eventtime.LateRecord[string]) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.late = append(s.late, ls...)
	return make([]error, len(ls))
}

// engine is the app's engine on store, with sinks that collect.
func engine(t *testing.T, store eventtime.Store, s *sinks, tune func(*eventtime.Config[string, int64, revenue.Revenue])) *handler.Engine {
	t.Helper()
	w, err := eventtime.Hopping(size, slide)
	if err != nil {
		t.Fatal(err)
	}
	cfg := eventtime.Config[string, int64, revenue.Revenue]{
		Windows: w, OutOfOrderness: outOfOrderness, AllowedLateness: allowedLateness, IdleTimeout: -1,
		Store:   store,
		Results: eventtime.ResultSinkFunc[string, revenue.Revenue](s.publish),
		Late:    eventtime.LateSinkFunc[string](s.putLate),
	}
	if tune != nil {
		tune(&cfg)
	}
	eng, err := eventtime.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func processor(t *testing.T, eng *handler.Engine, q kinesisbatch.Quarantine) *kinesisbatch.Processor {
	t.Helper()
	h, err := handler.New(eng)
	if err != nil {
		t.Fatal(err)
	}
	return kinesisbatch.New(h, kinesisbatch.Config{
		Quarantine: q, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DisableMetrics: true,
		Retry: kinesisbatch.RetryPolicy{MaxAttempts: 1},
	})
}

// records makes one shard's batch; sequence numbers count from first.
func records(first int, payloads ...string) []kinesisbatch.Record {
	rs := make([]kinesisbatch.Record, len(payloads))
	for i, p := range payloads {
		seq := fmt.Sprint(first + i)
		rs[i] = kinesisbatch.Record{Data: []byte(p), SequenceNumber: seq, EventID: "shardId-000000000000:" + seq, PartitionKey: "k", Index: i}
	}
	return rs
}

// at is a time on 2026-01-15 UTC, "hh:mm:ss".
func at(hms string) time.Time {
	t, err := time.Parse(time.RFC3339, "2026-01-15T"+hms+"Z")
	if err != nil {
		panic(err)
	}
	return t
}

func ord(id, customer string, cents int, placed time.Time) string {
	return fmt.Sprintf(`{"order_id":%q,"customer_id":%q,"amount_cents":%d,"placed_at":%q}`, id, customer, cents, placed.Format(time.RFC3339Nano))
}

func failures(res kinesisbatch.Result) string {
	var ids []string
	for _, f := range res.Response.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return strings.Join(ids, ",")
}

// A small case computed by hand: every order is in 5 windows of 5 minutes
// sliding every minute, and each (customer, window) whose end the watermark
// passed publishes its revenue once.
func TestHoppingWindowsByHand(t *testing.T) {
	s := &sinks{}
	store := eventtime.NewMemoryStore()
	q := &memQuarantine{}
	eng := engine(t, store, s, nil)
	p := processor(t, eng, q)
	ctx := context.Background()

	// Batch 1: watermark afterwards 10:06:00 - 30s = 10:05:30.
	if res := p.Process(ctx, records(100,
		ord("a", "c-1", 100, at("10:00:30")),
		ord("b", "c-1", 250, at("10:02:10")),
		ord("c", "c-2", 7, at("10:01:00")),
		ord("d", "c-1", 40, at("10:06:00")),
	)); failures(res) != "" {
		t.Fatalf("batch 1 failed %s", failures(res))
	}
	// Batch 2 moves the watermark to 10:19:30 (the order itself is in
	// windows that end after it: no result yet).
	if res := p.Process(ctx, records(200, ord("e", "c-9", 1, at("10:20:00")))); failures(res) != "" {
		t.Fatalf("batch 2 failed %s", failures(res))
	}

	// Order "a" (10:00:30) is in the windows starting 09:56 to 10:00.
	wins := mustHopping(t).Assign(at("10:00:30").UnixMilli(), nil)
	if len(wins) != 5 || wins[0].StartTime() != at("09:56:00") || wins[4].StartTime() != at("10:00:00") {
		t.Fatalf("order a is in windows %v, want the 5 starting 09:56 to 10:00", wins)
	}

	rev := func(orders, cents, largest int64) revenue.Revenue {
		return revenue.Revenue{Orders: orders, Cents: cents, LargestCents: largest}
	}
	want := map[string]revenue.Revenue{
		// c-1: a (100 at 10:00:30), b (250 at 10:02:10), d (40 at 10:06:00)
		"c-1 09:56": rev(1, 100, 100), "c-1 09:57": rev(1, 100, 100),
		"c-1 09:58": rev(2, 350, 250), "c-1 09:59": rev(2, 350, 250), "c-1 10:00": rev(2, 350, 250),
		"c-1 10:01": rev(1, 250, 250), // [10:01, 10:06): d at 10:06 is not in it
		"c-1 10:02": rev(2, 290, 250),
		"c-1 10:03": rev(1, 40, 40), "c-1 10:04": rev(1, 40, 40), "c-1 10:05": rev(1, 40, 40), "c-1 10:06": rev(1, 40, 40),
		// c-2: c (7 at 10:01:00)
		"c-2 09:57": rev(1, 7, 7), "c-2 09:58": rev(1, 7, 7), "c-2 09:59": rev(1, 7, 7), "c-2 10:00": rev(1, 7, 7), "c-2 10:01": rev(1, 7, 7),
	}
	got := finals(t, s.results)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("final results\n got %v\nwant %v", got, want)
	}
	if len(s.late) != 0 || len(q.reasons) != 0 {
		t.Errorf("late %d, quarantined %v; want none", len(s.late), q.reasons)
	}

	// Batch 3, judged against 10:19:30: a resend of "a" (a duplicate), an
	// order of 10:05 whose 5 windows are all closed (End + 2m <= 10:19:30:
	// late for each), one of 10:14 late for its windows ending 10:15 to
	// 10:17 and applied to those ending 10:18 and 10:19, and an invalid one.
	s.results = nil
	res := p.Process(ctx, records(300,
		ord("a", "c-1", 100, at("10:00:30")),
		ord("f", "c-1", 900, at("10:05:00")),
		ord("g", "c-2", 60, at("10:14:00")),
		`{"order_id":"h","customer_id":"c-3","amount_cents":5,"placed_at":"2026-01-15T10:15:00"}`,
	))
	if failures(res) != "" {
		t.Fatalf("batch 3 failed %s", failures(res))
	}
	if len(q.reasons) != 1 || !strings.Contains(q.reasons["303"], `placed_at "2026-01-15T10:15:00" is not an RFC 3339 time with a zone`) {
		t.Errorf("quarantined %v, want 303 for its placed_at", q.reasons)
	}
	lateWins := map[string][]string{}
	for _, l := range s.late {
		lateWins[l.ID] = append(lateWins[l.ID], l.Window.StartTime().Format("15:04"))
	}
	for _, ws := range lateWins {
		sort.Strings(ws)
	}
	if fmt.Sprint(lateWins) != "map[f:[10:01 10:02 10:03 10:04 10:05] g:[10:10 10:11 10:12]]" {
		t.Errorf("late output by order and window start: %v", lateWins)
	}
	// Batch 3 moved no watermark across a window's end: g's two windows
	// that ended but are open are published by the next firing (the
	// schedule's).
	if len(s.results) != 0 {
		t.Errorf("batch 3 published %v; it crossed no window boundary", finals(t, s.results))
	}
	if _, err := eng.Fire(ctx); err != nil {
		t.Fatal(err)
	}
	got = finals(t, s.results)
	if fmt.Sprint(got) != fmt.Sprint(map[string]revenue.Revenue{"c-2 10:13": rev(1, 60, 60), "c-2 10:14": rev(1, 60, 60)}) {
		t.Errorf("the firing after batch 3 published %v, want g's two open windows", got)
	}
}

func mustHopping(t *testing.T) eventtime.Assigner {
	w, err := eventtime.Hopping(size, slide)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// finals maps "customer hh:mm" (window start) to the revenue of revision 0,
// failing on a second revision 0 of a window or a correction.
func finals(t *testing.T, rs []eventtime.Result[string, revenue.Revenue]) map[string]revenue.Revenue {
	t.Helper()
	out := map[string]revenue.Revenue{}
	for _, r := range rs {
		k := r.Key + " " + r.Window.StartTime().Format("15:04")
		if r.Revision != 0 {
			t.Errorf("%s: correction %d, want none", k, r.Revision)
		}
		if _, dup := out[k]; dup {
			t.Errorf("%s: published twice", k)
		}
		if r.Window.End-r.Window.Start != size.Milliseconds() {
			t.Errorf("%s: window %s is not %s long", k, r.Window, size)
		}
		out[k] = r.Value
	}
	return out
}

// Each record gets its own outcome: an invalid order is quarantined, an
// order whose window is full too, a store failure fails the valid records
// for a retry.
func TestEveryRecordGetsItsOwnOutcome(t *testing.T) {
	q := &memQuarantine{}
	small := func(c *eventtime.Config[string, int64, revenue.Revenue]) { c.MaxWindowBytes = 16 }
	res := processor(t, engine(t, eventtime.NewMemoryStore(), &sinks{}, small), q).Process(context.Background(), records(100,
		`{"order_id":"bad"}`,
		ord("a", "c-1", 10, at("10:00:00")),
	))
	if failures(res) != "" || !strings.Contains(q.reasons["100"], "customer_id is missing") || !strings.Contains(q.reasons["101"], "size limit") {
		t.Errorf("failures %q, quarantined %v; want 100 invalid and 101 window full, both quarantined", failures(res), q.reasons)
	}

	q = &memQuarantine{}
	broken := &failingStore{Store: eventtime.NewMemoryStore(), err: errors.New("throttled")}
	res = processor(t, engine(t, broken, &sinks{}, nil), q).Process(context.Background(), records(200,
		ord("a", "c-1", 10, at("10:00:00")),
		`not json`,
		ord("b", "c-2", 10, at("10:00:01")),
	))
	if failures(res) != "200,202" || len(q.reasons) != 1 {
		t.Errorf("failures %q, quarantined %v; want 200 and 202 failed for a retry, 201 quarantined", failures(res), q.reasons)
	}
}

// failingStore fails every window write.
type failingStore struct {
	eventtime.Store
	err error
}

func (s *failingStore) PutWindow(context.Context, eventtime.WindowKey, eventtime.WindowState) (int64, error) {
	return 0, s.err
}

func TestNewNeedsAnEngine(t *testing.T) {
	if _, err := handler.New(nil); err == nil || !strings.Contains(err.Error(), "eventtime.New") {
		t.Errorf("New(nil) = %v, want an error saying how to build one", err)
	}
}
