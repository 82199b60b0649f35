package eventtime_test

// When the engine fires: at the boundaries a shard's watermark crosses,
// under a lease, once per boundary however many shards cross it at once.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/internal/emulator/dynamotest"
)

// countingStore counts the calls a Store gets, the successful reserve
// writes per window (a write that stores a Pending result the window did
// not hold) and the listings that found due windows.
type countingStore struct {
	eventtime.Store
	mu       sync.Mutex
	calls    map[string]int
	reserves map[eventtime.WindowKey]int
	pending  map[eventtime.WindowKey]int64 // revision pending, -1 none
	listed   int                           // DueWindows calls that found windows
}

func newCountingStore(s eventtime.Store) *countingStore {
	return &countingStore{Store: s, calls: map[string]int{}, reserves: map[eventtime.WindowKey]int{}, pending: map[eventtime.WindowKey]int64{}}
}

func (c *countingStore) count(op string) {
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
}

func (c *countingStore) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.calls {
		out[k] = v
	}
	clear(c.calls)
	return out
}

func (c *countingStore) GetWindows(ctx context.Context, keys []eventtime.WindowKey) ([]eventtime.WindowState, error) {
	c.count("GetWindows")
	return c.Store.GetWindows(ctx, keys)
}

func (c *countingStore) PutWindow(ctx context.Context, k eventtime.WindowKey, s eventtime.WindowState) (int64, error) {
	c.count("PutWindow")
	v, err := c.Store.PutWindow(ctx, k, s)
	if err == nil {
		c.mu.Lock()
		rev := int64(-1)
		if s.Pending != nil {
			rev = s.Pending.Revision
		}
		if prev, ok := c.pending[k]; rev >= 0 && (!ok || prev != rev) {
			c.reserves[k]++
		}
		c.pending[k] = rev
		c.mu.Unlock()
	}
	return v, err
}

func (c *countingStore) DueWindows(ctx context.Context, w int64) ([]eventtime.WindowKey, error) {
	c.count("DueWindows")
	ks, err := c.Store.DueWindows(ctx, w)
	if len(ks) > 0 {
		c.mu.Lock()
		c.listed++
		c.mu.Unlock()
	}
	return ks, err
}

func (c *countingStore) GetWatermarks(ctx context.Context) (eventtime.Watermarks, error) {
	c.count("GetWatermarks")
	return c.Store.GetWatermarks(ctx)
}

func (c *countingStore) GetShard(ctx context.Context, shard string) (int64, eventtime.ShardState, bool, error) {
	c.count("GetShard")
	return c.Store.GetShard(ctx, shard)
}

func (c *countingStore) PutShard(ctx context.Context, s eventtime.ShardState) error {
	c.count("PutShard")
	return c.Store.PutShard(ctx, s)
}

func (c *countingStore) AdvanceStream(ctx context.Context, w int64) error {
	c.count("AdvanceStream")
	return c.Store.AdvanceStream(ctx, w)
}

func (c *countingStore) TakeFireLease(ctx context.Context, now, until int64) (bool, error) {
	ok, err := c.Store.TakeFireLease(ctx, now, until)
	if ok {
		c.count("TakeFireLease")
	} else {
		c.count("TakeFireLease refused")
	}
	return ok, err
}

func (c *countingStore) ReleaseFireLease(ctx context.Context, until int64) error {
	c.count("ReleaseFireLease")
	return c.Store.ReleaseFireLease(ctx, until)
}

// slowSinks delivers after a pause, so that firings last long enough for
// other shards' batches to cross the same boundary meanwhile.
type slowSinks struct {
	sinks
	pause time.Duration
}

func (s *slowSinks) Publish(ctx context.Context, rs []eventtime.Result[string, eventtime.Stats]) []error {
	time.Sleep(s.pause)
	return s.sinks.Publish(ctx, rs)
}

func testEngine(t *testing.T, store eventtime.Store, results eventtime.ResultSink[string, eventtime.Stats], late eventtime.LateSink[string], clk *clock, lateness time.Duration) *eventtime.Engine[string, eventtime.Fixed, eventtime.Stats] {
	t.Helper()
	a, _ := eventtime.Tumbling(time.Minute)
	eng, err := eventtime.New(eventtime.Config[string, eventtime.Fixed, eventtime.Stats]{
		Windows: a, OutOfOrderness: 5 * time.Second, AllowedLateness: lateness, IdleTimeout: -1,
		Store: store, Results: results, Late: late, Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func one(id, key string, t int64) []eventtime.Record[string, eventtime.Fixed] {
	return []eventtime.Record[string, eventtime.Fixed]{{ID: id, Key: key, EventTime: t, Value: 1}}
}

// TestHerdFiresEachWindowOnce: 20 shards' batches cross the same window
// end at the same time, on 20 goroutines. One firing reserves and
// publishes every window of the boundary, once; the others find the lease
// taken or nothing due, and none is lost: every result is out before any
// scheduled firing.
func TestHerdFiresEachWindowOnce(t *testing.T) {
	herd(t, eventtime.NewMemoryStore())
}

func TestDynamoHerdFiresEachWindowOnce(t *testing.T) {
	c, table := dynamotest.StateTable(t)
	st, err := eventtime.NewDynamoStore(c, eventtime.DynamoConfig{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	herd(t, st)
}

func herd(t *testing.T, base eventtime.Store) {
	const shards, keys = 20, 5
	store := newCountingStore(base)
	out := &slowSinks{pause: 20 * time.Millisecond}
	clk := &clock{now: t0 + 30_000}
	eng := testEngine(t, store, out, out, clk, 0)
	ctx := context.Background()
	batch := func(s, part int, evt int64) []eventtime.Record[string, eventtime.Fixed] {
		var b []eventtime.Record[string, eventtime.Fixed]
		for k := range keys {
			b = append(b, eventtime.Record[string, eventtime.Fixed]{ID: fmt.Sprintf("s%d-k%d-%d", s, k, part), Key: fmt.Sprintf("s%d-k%d", s, k), EventTime: evt, Value: 1})
		}
		return b
	}
	// Every shard fills its keys' windows [t0, t0+1m): watermark t0+45s.
	for s := range shards {
		if o := eng.Process(ctx, fmt.Sprint("shard-", s), batch(s, 0, t0+50_000)); o.FirstFailed() >= 0 || o.FireErr != nil {
			t.Fatalf("shard %d: %v %v", s, o.Errs, o.FireErr)
		}
	}
	if len(out.results) != 0 {
		t.Fatalf("%d results before the boundary", len(out.results))
	}
	store.snapshot()
	// All at once: each moves its shard's watermark to t0+65s, past the
	// windows' end (and close: no lateness).
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		stats []eventtime.Outcome
	)
	for s := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			o := eng.Process(ctx, fmt.Sprint("shard-", s), batch(s, 1, t0+70_000))
			mu.Lock()
			stats = append(stats, o)
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	fired, skipped, due, rounds := 0, 0, 0, 0
	for _, o := range stats {
		if o.FirstFailed() >= 0 || o.FireErr != nil {
			t.Fatalf("a crossing batch: %v %v", o.Errs, o.FireErr)
		}
		if !o.Fired {
			t.Errorf("a batch that crossed the boundary did not fire: %+v", o)
		}
		fired += b2i(o.Fired)
		skipped += b2i(o.Fire.Skipped)
		rounds += o.Fire.Rounds
		if o.Fire.Due > 0 {
			due++
		}
	}
	calls := store.snapshot()
	t.Logf("%d batches fired: %d skipped (lease taken), %d rounds, %d found due windows; calls %v", fired, skipped, rounds, due, calls)

	// Each window of the boundary reserved once, each result delivered
	// once, by one firing round, without the schedule.
	deliveries := map[string]int{}
	for _, r := range out.results {
		deliveries[r.ID]++
	}
	if len(deliveries) != shards*keys {
		t.Errorf("%d results published, want %d", len(deliveries), shards*keys)
	}
	for id, n := range deliveries {
		if n != 1 {
			t.Errorf("result %s delivered %d times", id, n)
		}
	}
	w := eventtime.Window{Start: t0, End: t0 + 60_000}
	for s := range shards {
		for k := range keys {
			key := eventtime.WindowKey{Key: fmt.Sprintf("s%d-k%d", s, k), Window: w}
			if n := store.reserves[key]; n != 1 {
				t.Errorf("window %s reserved %d times", key.Key, n)
			}
		}
	}
	if store.listed != 1 || due != 1 {
		t.Errorf("%d listings and %d firings found due windows, want the boundary fired by one", store.listed, due)
	}
	if fs, err := eng.Fire(ctx); err != nil || fs.Published != 0 {
		t.Errorf("the schedule after the herd: %+v %v, want nothing left", fs, err)
	}
}

// TestFireLeaseOfADeadHolder: a lease never released (its firing's
// function ended) makes other firings skip until PendingTimeout has
// passed; then the next firing takes it.
func TestFireLeaseOfADeadHolder(t *testing.T) {
	deadHolder(t, eventtime.NewMemoryStore())
}

func TestDynamoFireLeaseOfADeadHolder(t *testing.T) {
	c, table := dynamotest.StateTable(t)
	st, err := eventtime.NewDynamoStore(c, eventtime.DynamoConfig{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	deadHolder(t, st)
}

func deadHolder(t *testing.T, store eventtime.Store) {
	ctx := context.Background()
	out := &sinks{}
	clk := &clock{now: t0}
	eng := testEngine(t, store, out, out, clk, 0) // PendingTimeout: 1 minute
	if o := eng.Process(ctx, "s", one("a", "k", t0+1_000)); !o.Fired || o.Fire.Skipped || o.FireErr != nil {
		t.Fatalf("a new shard's batch: %+v", o)
	}
	// A firing takes the lease and dies.
	if ok, err := store.TakeFireLease(ctx, clk.now, clk.now+time.Minute.Milliseconds()); !ok || err != nil {
		t.Fatalf("taking a free lease: %v %v", ok, err)
	}
	if ok, _ := store.TakeFireLease(ctx, clk.now, clk.now+time.Minute.Milliseconds()); ok {
		t.Fatal("a held lease was taken again")
	}
	clk.now += 10_000
	o := eng.Process(ctx, "s", one("b", "k", t0+70_000)) // crosses the window's end
	if !o.Fired || !o.Fire.Skipped || o.FireErr != nil || len(out.results) != 0 {
		t.Fatalf("a crossing batch while the lease is held: %+v, %d results", o, len(out.results))
	}
	clk.now += time.Minute.Milliseconds() - 10_000 - 1
	if fs, err := eng.Fire(ctx); err != nil || !fs.Skipped {
		t.Errorf("the schedule 1 ms before the lease expires: %+v %v, want skipped", fs, err)
	}
	clk.now += 2
	fs, err := eng.Fire(ctx)
	if err != nil || fs.Skipped || fs.Published != 1 || len(out.results) != 1 {
		t.Fatalf("the schedule after the lease expired: %+v %v, %d results", fs, err, len(out.results))
	}
	// Released: the next firing takes it at once.
	if fs, err := eng.Fire(ctx); err != nil || fs.Skipped {
		t.Errorf("a firing after a released lease: %+v %v", fs, err)
	}
}

// failOnce fails the first write of window key k.
type failOnce struct {
	eventtime.Store
	k      string
	failed bool
}

func (f *failOnce) PutWindow(ctx context.Context, k eventtime.WindowKey, s eventtime.WindowState) (int64, error) {
	if k.Key == f.k && !f.failed {
		f.failed = true
		return 0, errInjected
	}
	return f.Store.PutWindow(ctx, k, s)
}

// TestProcessFiresAtBoundaries: a batch fires when it is its shard's first
// or moves its shard's watermark across a window's end or close, not
// otherwise; a crossing batch that fails part-way leaves the firing to its
// retry.
func TestProcessFiresAtBoundaries(t *testing.T) {
	ctx := context.Background()
	out := &sinks{}
	clk := &clock{now: t0}
	ff := &failOnce{Store: eventtime.NewMemoryStore(), k: "fail"}
	eng := testEngine(t, ff, out, out, clk, 30*time.Second) // OutOfOrderness 5s
	steps := []struct {
		name    string
		recs    []eventtime.Record[string, eventtime.Fixed]
		fired   bool
		results int // published so far
	}{
		{"first batch of the shard", one("a", "k", t0+10_000), true, 0},
		{"watermark t0+20s", one("b", "k", t0+25_000), false, 0},
		{"an older record", one("c", "k", t0+1_000), false, 0},
		{"watermark t0+35s: a close (t0+30s, of a window without records)", one("c2", "k", t0+40_000), true, 0},
		{"watermark t0+59.999s", one("d", "k", t0+64_999), false, 0},
		{"watermark t0+60s: the end", one("e", "k", t0+65_000), true, 1},
		{"watermark t0+80s", one("f", "k", t0+85_000), false, 1},
		{"watermark t0+90s: the close", one("g", "k", t0+95_000), true, 1},
		{"a late record", one("late", "k", t0+2_000), false, 1},
		{"watermark t0+119s", one("h", "k", t0+124_000), false, 1},
	}
	for _, s := range steps {
		o := eng.Process(ctx, "s", s.recs)
		if o.FirstFailed() >= 0 || o.FireErr != nil || o.Fire.Skipped {
			t.Fatalf("%s: %+v", s.name, o)
		}
		if o.Fired != s.fired || len(out.results) != s.results {
			t.Errorf("%s: fired=%v with %d results, want fired=%v with %d", s.name, o.Fired, len(out.results), s.fired, s.results)
		}
	}
	if len(out.late) != 1 {
		t.Errorf("%d late records, want 1", len(out.late))
	}
	// Crossing t0+120s (window [t0+1m, t0+2m) ends) with a record that
	// fails: no firing; the retry, which moves nothing, fires.
	o := eng.Process(ctx, "s", []eventtime.Record[string, eventtime.Fixed]{{ID: "i", Key: "k", EventTime: t0 + 126_000, Value: 1}, {ID: "j", Key: "fail", EventTime: t0 + 126_000, Value: 1}})
	if o.FirstFailed() != 1 || o.Fired || len(out.results) != 1 {
		t.Fatalf("a crossing batch that failed part-way: fired=%v, errs %v, %d results", o.Fired, o.Errs, len(out.results))
	}
	o = eng.Process(ctx, "s", []eventtime.Record[string, eventtime.Fixed]{{ID: "j", Key: "fail", EventTime: t0 + 126_000, Value: 1}})
	if o.FirstFailed() >= 0 || !o.Fired || len(out.results) != 2 {
		t.Fatalf("its retry: fired=%v, errs %v, %d results, want fired with [t0+1m, t0+2m)'s result", o.Fired, o.Errs, len(out.results))
	}
}

// TestCorrectionsAtTheNextFiring: a record that updates a window after its
// end, in a batch that crosses no boundary, is published as a correction
// by the next firing: another shard's crossing, or the schedule's.
func TestCorrectionsAtTheNextFiring(t *testing.T) {
	ctx := context.Background()
	out := &sinks{}
	clk := &clock{now: t0}
	eng := testEngine(t, eventtime.NewMemoryStore(), out, out, clk, 2*time.Minute)
	process := func(shard, id, key string, evt int64, fired bool, results int) {
		t.Helper()
		o := eng.Process(ctx, shard, one(id, key, evt))
		if o.FirstFailed() >= 0 || o.FireErr != nil || o.Applied != 1 {
			t.Fatalf("%s %s: %+v", shard, id, o)
		}
		if o.Fired != fired || len(out.results) != results {
			t.Fatalf("%s %s: fired=%v with %d results, want fired=%v with %d", shard, id, o.Fired, len(out.results), fired, results)
		}
	}
	process("s1", "a", "k", t0+10_000, true, 0)
	process("s2", "b", "x", t0+10_000, true, 0)
	process("s1", "c", "k", t0+70_000, true, 0) // s2 holds the watermark back
	process("s2", "d", "x", t0+70_000, true, 2) // both windows' revision 0
	process("s1", "e", "k", t0+20_000, false, 2)
	process("s2", "f", "x", t0+100_000, false, 2) // t0+95s: no boundary
	process("s2", "g", "x", t0+125_000, true, 3)  // t0+120s: k's correction 1
	process("s1", "h", "k", t0+30_000, false, 3)
	if fs, err := eng.Fire(ctx); err != nil || fs.Published != 1 || fs.Corrections != 1 {
		t.Fatalf("the schedule: %+v %v, want k's correction 2", fs, err)
	}
	want := []string{
		eventtime.ResultID("k", eventtime.Window{Start: t0, End: t0 + 60_000}, 0),
		eventtime.ResultID("x", eventtime.Window{Start: t0, End: t0 + 60_000}, 0),
		eventtime.ResultID("k", eventtime.Window{Start: t0, End: t0 + 60_000}, 1),
		eventtime.ResultID("k", eventtime.Window{Start: t0, End: t0 + 60_000}, 2),
	}
	var got []string
	for _, r := range out.results {
		got = append(got, r.ID)
	}
	if fmt.Sprint(got[:2]) != fmt.Sprint(want[:2]) && fmt.Sprint(got[:2]) != fmt.Sprint([]string{want[1], want[0]}) || fmt.Sprint(got[2:]) != fmt.Sprint(want[2:]) {
		t.Errorf("results %v, want %v", got, want)
	}
	if v := out.results[3].Value; v.Count != 3 {
		t.Errorf("correction 2 counts %d records, want 3 (a, e, h)", v.Count)
	}
}

// countingDynamo counts DynamoDB calls by operation and keeps the requests.
type countingDynamo struct {
	eventtime.DynamoAPI
	mu    sync.Mutex
	calls map[string]int
	reqs  []string
}

func (c *countingDynamo) Call(ctx context.Context, op string, in, out any) error {
	b, _ := json.Marshal(in)
	c.mu.Lock()
	c.calls[op]++
	c.reqs = append(c.reqs, op+" "+string(b))
	c.mu.Unlock()
	return c.DynamoAPI.Call(ctx, op, in, out)
}

func (c *countingDynamo) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls, c.reqs = map[string]int{}, nil
}

// TestDynamoProcessReadsTwoItems: a batch that crosses no boundary reads
// the stream item and its shard's item in one BatchGetItem, its windows in
// another, and writes the windows and the shard's item: no Query, no
// GetItem, no UpdateItem, whatever the number of shards.
func TestDynamoProcessReadsTwoItems(t *testing.T) {
	ctx := context.Background()
	c, table := dynamotest.StateTable(t)
	db := &countingDynamo{DynamoAPI: c, calls: map[string]int{}}
	st, err := eventtime.NewDynamoStore(db, eventtime.DynamoConfig{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	out := &sinks{}
	clk := &clock{now: t0}
	eng := testEngine(t, st, out, out, clk, 0)
	for s := range 30 {
		if o := eng.Process(ctx, fmt.Sprint("shard-", s), one(fmt.Sprint("a", s), fmt.Sprint("k", s%3), t0+10_000)); o.FirstFailed() >= 0 || o.FireErr != nil {
			t.Fatal(o.Errs, o.FireErr)
		}
	}
	db.reset()
	o := eng.Process(ctx, "shard-7", []eventtime.Record[string, eventtime.Fixed]{
		{ID: "b1", Key: "k0", EventTime: t0 + 20_000, Value: 1}, {ID: "b2", Key: "k1", EventTime: t0 + 21_000, Value: 1},
	})
	if o.FirstFailed() >= 0 || o.FireErr != nil || o.Fired || o.Applied != 2 {
		t.Fatalf("process: %+v", o)
	}
	if fmt.Sprint(db.calls) != "map[BatchGetItem:2 PutItem:3]" {
		t.Errorf("calls %v, want map[BatchGetItem:2 PutItem:3] (two items, two windows, their writes and the shard's)\n%v", db.calls, db.reqs)
	}
	first := db.reqs[0]
	var req struct {
		RequestItems map[string]struct {
			Keys           []map[string]map[string]string
			ConsistentRead bool
		}
	}
	if err := json.Unmarshal([]byte(first[len("BatchGetItem "):]), &req); err != nil {
		t.Fatal(err)
	}
	ks := req.RequestItems[table]
	if !ks.ConsistentRead || len(ks.Keys) != 2 || ks.Keys[0]["pk"]["S"] != "wm" || ks.Keys[0]["sk"]["S"] != "stream" || ks.Keys[1]["sk"]["S"] != "shard#shard-7" {
		t.Errorf("first read %s, want the stream item and shard-7's, consistent", first)
	}
	// Its next batch crosses the boundary: the firing takes the lease and
	// Queries the watermarks (of all 30 shards).
	db.reset()
	if o := eng.Process(ctx, "shard-7", one("c", "k0", t0+70_000)); !o.Fired || o.Fire.Skipped || o.FireErr != nil {
		t.Fatalf("a crossing batch: %+v", o)
	}
	if db.calls["Query"] == 0 || db.calls["UpdateItem"] < 2 {
		t.Errorf("a firing's calls %v, want the lease (UpdateItem) and watermark Queries", db.calls)
	}
}

// TestAFailedRoundStillFiresTheNextBoundary: a boundary crossed by another
// shard while a round fails (its firing finds the lease taken) is fired by
// the failing firing's next round, not left to the schedule.
func TestAFailedRoundStillFiresTheNextBoundary(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: t0}
	var (
		eng      *eventtime.Engine[string, eventtime.Fixed, eventtime.Stats]
		crossing eventtime.Outcome
	)
	// While this round publishes (and fails), shard b crosses the next
	// window end: its firing finds the lease taken.
	results := &failFirstPublish{during: func(ctx context.Context) { crossing = eng.Process(ctx, "b", one("b2", "k", t0+125_000)) }}
	eng = testEngine(t, eventtime.NewMemoryStore(), results, &sinks{}, clk, 0)
	for _, b := range []struct{ shard, id string }{{"a", "a1"}, {"b", "b1"}} {
		if o := eng.Process(ctx, b.shard, one(b.id, "k", t0+10_000)); o.FirstFailed() >= 0 {
			t.Fatal(o.Errs)
		}
	}
	// Shard a crosses t0+60s; b is still below it, so nothing is due yet.
	if o := eng.Process(ctx, "a", one("a2", "k", t0+125_000)); !o.Fired || o.Fire.Published != 0 {
		t.Fatalf("shard a crossing alone: %+v", o)
	}
	// Shard b crosses t0+60s; while that round's publishing fails, b's next
	// batch crosses t0+120s (inside the sink, above).
	o := eng.Process(ctx, "b", one("b1x", "k", t0+65_000))
	if !o.Fired || !errors.Is(o.FireErr, errInjected) || o.Fire.Rounds < 2 {
		t.Fatalf("the failing firing: %+v, want the injected failure and a second round", o)
	}
	if !crossing.Fired || !crossing.Fire.Skipped {
		t.Errorf("shard b's crossing during the failing round: %+v, want its firing skipped (lease taken)", crossing)
	}
	// The second round published [t0+60s, t0+120s) (the watermark is now
	// t0+120s); [t0, t0+60s)'s reservation waits for PendingTimeout.
	want := eventtime.ResultID("k", eventtime.Window{Start: t0 + 60_000, End: t0 + 120_000}, 0)
	if len(results.delivered) != 1 || results.delivered[0] != want {
		t.Errorf("delivered %v, want %s from the second round", results.delivered, want)
	}
}

// TestWindowFullDoesNotHoldTheShardBack: a record refused with
// ErrWindowFull is quarantined, never delivered again, so the records after
// it still move the shard's watermark and the batch fires.
func TestWindowFullDoesNotHoldTheShardBack(t *testing.T) {
	ctx := context.Background()
	out := &sinks{}
	a, _ := eventtime.Tumbling(time.Minute)
	eng, err := eventtime.New(eventtime.Config[string, eventtime.Fixed, eventtime.Stats]{
		Windows: a, IdleTimeout: -1, Store: eventtime.NewMemoryStore(), Results: out, Late: out,
		Now: (&clock{now: t0}).Now, MaxWindowBytes: 64 + 200 + 8*10,
	})
	if err != nil {
		t.Fatal(err)
	}
	var full []eventtime.Record[string, eventtime.Fixed]
	for i := range 8 {
		full = append(full, eventtime.Record[string, eventtime.Fixed]{ID: fmt.Sprint("a", i), Key: "k", EventTime: t0 + 1, Value: 1})
	}
	if o := eng.Process(ctx, "s", full); o.FirstFailed() >= 0 {
		t.Fatal(o.Errs)
	}
	var batch []eventtime.Record[string, eventtime.Fixed]
	for i := range 8 { // more than the full window takes: refused together
		batch = append(batch, eventtime.Record[string, eventtime.Fixed]{ID: fmt.Sprint("b", i), Key: "k", EventTime: t0 + 2, Value: 1})
	}
	batch = append(batch, eventtime.Record[string, eventtime.Fixed]{ID: "next", Key: "k", EventTime: t0 + 70_000, Value: 1}) // moves the watermark past t0+60s
	o := eng.Process(ctx, "s", batch)
	if !errors.Is(o.Errs[0], eventtime.ErrWindowFull) || o.Errs[8] != nil || !o.Fired || len(out.results) != 1 {
		t.Fatalf("errs %v, fired=%v, %d results: want the full window's result published by this batch", o.Errs, o.Fired, len(out.results))
	}
}

// panicCodec panics decoding once armed: user code in the firing.
type panicCodec struct {
	eventtime.JSONCodec[eventtime.Stats]
	armed *bool
}

func (c panicCodec) Decode(b []byte) (eventtime.Stats, error) {
	if *c.armed && len(b) > 0 { // a stored aggregate: the firing's, not a new window's
		panic("codec bug")
	}
	return c.JSONCodec.Decode(b)
}

// TestLeaseReleasedAfterAPanic: a panic in the aggregate's codec during a
// firing fails that firing and releases the lease.
func TestLeaseReleasedAfterAPanic(t *testing.T) {
	ctx := context.Background()
	store := eventtime.NewMemoryStore()
	clk := &clock{now: t0}
	armed := false
	a, _ := eventtime.Tumbling(time.Minute)
	eng, err := eventtime.New(eventtime.Config[string, eventtime.Fixed, eventtime.Stats]{
		Windows: a, IdleTimeout: -1, Store: store, Results: &sinks{}, Late: &sinks{}, Now: clk.Now, Codec: panicCodec{armed: &armed},
	})
	if err != nil {
		t.Fatal(err)
	}
	if o := eng.Process(ctx, "s", one("a", "k", t0+1)); o.FirstFailed() >= 0 {
		t.Fatal(o.Errs)
	}
	armed = true
	o := eng.Process(ctx, "s", one("b", "k2", t0+70_000))
	if !o.Fired || o.FireErr == nil {
		t.Fatalf("%+v: want the firing's panic as its error", o)
	}
	if ok, err := store.TakeFireLease(ctx, clk.now, clk.now+1); !ok || err != nil {
		t.Errorf("the lease is still held after the panic (%v, %v)", ok, err)
	}
}

// failFirstPublish is a result sink whose first Publish runs during (a step
// that overlaps the publishing firing) and then fails every result; the
// later ones deliver, recording the ids.
type failFirstPublish struct {
	during    func(ctx context.Context)
	calls     int
	delivered []string
}

func (f *failFirstPublish) Publish(ctx context.Context, rs []eventtime.Result[string, eventtime.Stats]) []error {
	f.calls++
	errs := make([]error, len(rs))
	if f.calls == 1 {
		f.during(ctx)
		for i := range errs {
			errs[i] = errInjected
		}
		return errs
	}
	for _, r := range rs {
		f.delivered = append(f.delivered, r.ID)
	}
	return errs
}
