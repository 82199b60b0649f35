package eventtime_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/eventtime"
)

// rec is one generated record.
type rec struct {
	id, key string
	t       int64
	v       eventtime.Fixed
}

func (r rec) record() eventtime.Record[string, eventtime.Fixed] {
	return eventtime.Record[string, eventtime.Fixed]{ID: r.id, Key: r.key, EventTime: r.t, Value: r.v, Payload: []byte(r.id)}
}

const t0 = int64(1_796_083_200_000) // 2026-12-01T00:00:00Z

// stream is a generated multi-shard stream: records per shard in shard
// order, and shard lineage (a child is readable once its parents are
// drained).
type stream struct {
	shards  []string
	recs    map[string][]rec
	parents map[string][]string
}

// genStream makes a stream over 3 shards whose first splits into two
// children halfway: keys map to shards as a partition key would, event
// times run ahead with jitter, some records are out of order beyond the
// bound or very late, and producers re-send some records (same id, later
// in the shard).
func genStream(rng *rand.Rand, perShard int, ooo, lateness int64) stream {
	s := stream{shards: []string{"shard-0", "shard-1", "shard-2", "shard-0a", "shard-0b"}, recs: map[string][]rec{},
		parents: map[string][]string{"shard-0a": {"shard-0"}, "shard-0b": {"shard-0"}}}
	keys := []string{"alpha", "beta", "gamma/δ", "delta", "eps", "zeta"}
	for si, shard := range s.shards[:3] {
		base := t0 + rng.Int64N(20_000)
		var out []rec
		n := perShard
		if si == 0 {
			n = perShard / 2
		}
		emit := func(shard string, keyset []string, n int) {
			for i := range n {
				base += rng.Int64N(4000)
				t := base - rng.Int64N(ooo+ooo/2+1)
				if rng.IntN(20) == 0 {
					t = base - lateness - rng.Int64N(3*lateness+120_000)
				}
				r := rec{id: fmt.Sprintf("%s-%d", shard, i), key: keyset[rng.IntN(len(keyset))], t: t, v: eventtime.Fixed(rng.Int64N(80_000_000) - 20_000_000)}
				out = append(out, r)
				if rng.IntN(20) == 0 { // producer retry: same record again, a little later
					out = append(out, r)
				}
			}
		}
		shardKeys := []string{keys[2*si], keys[2*si+1]}
		emit(shard, shardKeys, n)
		s.recs[shard] = out
		if si == 0 {
			// The split: each child takes one of the parent's keys and
			// continues from the parent's event time.
			parentBase := base
			for ci, child := range []string{"shard-0a", "shard-0b"} {
				out, base = nil, parentBase
				emit(child, shardKeys[ci:ci+1], perShard/2)
				s.recs[child] = out
			}
		}
	}
	return s
}

// faults injects failures: before (nothing happened) and after (it
// happened, the caller sees an error) into window writes, window reads and
// both sinks. Watermark calls are left alone: a failure there only delays
// the watermark, which the oracle would then have to model.
type faults struct {
	mu  sync.Mutex
	rng *rand.Rand
	p   float64 // per call and kind
}

var errInjected = errors.New("injected failure")

func (f *faults) roll() (before, after bool) {
	if f == nil {
		return false, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	x := f.rng.Float64()
	return x < f.p, x >= f.p && x < 2*f.p
}

type faultyStore struct {
	eventtime.Store
	f *faults
}

func (s faultyStore) PutWindow(ctx context.Context, k eventtime.WindowKey, st eventtime.WindowState) (int64, error) {
	before, after := s.f.roll()
	if before {
		return 0, errInjected
	}
	v, err := s.Store.PutWindow(ctx, k, st)
	if after && err == nil {
		return 0, errInjected
	}
	return v, err
}

func (s faultyStore) GetWindows(ctx context.Context, keys []eventtime.WindowKey) ([]eventtime.WindowState, error) {
	if before, _ := s.f.roll(); before {
		return nil, errInjected
	}
	return s.Store.GetWindows(ctx, keys)
}

// sinks record every delivery, failing some.
type sinks struct {
	mu      sync.Mutex
	f       *faults
	results []eventtime.Result[string, eventtime.Stats]
	late    []eventtime.LateRecord[string]
}

func (s *sinks) Publish(_ context.Context, rs []eventtime.Result[string, eventtime.Stats]) []error {
	errs := make([]error, len(rs))
	for i, r := range rs {
		before, after := s.f.roll()
		if before {
			errs[i] = errInjected
			continue
		}
		s.mu.Lock()
		s.results = append(s.results, r)
		s.mu.Unlock()
		if after {
			errs[i] = errInjected
		}
	}
	return errs
}

func (s *sinks) PutLate(_ context.Context, ls []eventtime.LateRecord[string]) []error {
	errs := make([]error, len(ls))
	for i, l := range ls {
		before, after := s.f.roll()
		if before {
			errs[i] = errInjected
			continue
		}
		s.mu.Lock()
		s.late = append(s.late, l)
		s.mu.Unlock()
		if after {
			errs[i] = errInjected
		}
	}
	return errs
}

type clock struct{ now int64 }

func (c *clock) Now() time.Time { return time.UnixMilli(c.now) }

type run struct {
	name          string
	seed          uint64
	size, slide   time.Duration
	ooo, lateness time.Duration
	idle          time.Duration
	faultP        float64
}

// TestOracle drives the engine and the oracle with the same randomized
// delivery schedule (batches of random size per shard, shards interleaved,
// redeliveries of already delivered records with other boundaries,
// scheduled firings, processing-time jumps past the idle timeout) and
// compares final results, late outputs and stored windows.
func TestOracle(t *testing.T) {
	var runs []run
	for seed := uint64(1); seed <= 12; seed++ {
		runs = append(runs,
			run{"tumbling", seed, time.Minute, time.Minute, 20 * time.Second, 2 * time.Minute, 90 * time.Second, 0},
			run{"tumbling-nolateness", seed, time.Minute, time.Minute, 5 * time.Second, 0, 30 * time.Second, 0},
			run{"hopping", seed, time.Minute, 20 * time.Second, 15 * time.Second, time.Minute, 90 * time.Second, 0},
			run{"tumbling-faults", seed, time.Minute, time.Minute, 20 * time.Second, 2 * time.Minute, 90 * time.Second, 0.05},
			run{"hopping-faults", seed, 30 * time.Second, 10 * time.Second, 10 * time.Second, 40 * time.Second, time.Minute, 0.05},
		)
	}
	for _, r := range runs {
		t.Run(fmt.Sprintf("%s/seed=%d", r.name, r.seed), func(t *testing.T) {
			mem := eventtime.NewMemoryStore()
			r.check(t, mem, mem.Windows, 120)
		})
	}
}

// check runs one scenario on store (listed by windows) with perShard
// records per shard.
func (r run) check(t *testing.T, base eventtime.Store, windows func() map[eventtime.WindowKey]eventtime.WindowState, perShard int) {
	rng := rand.New(rand.NewPCG(r.seed, 0x5eed))
	assigner, err := eventtime.Hopping(r.size, r.slide)
	if err != nil {
		t.Fatal(err)
	}
	ooo, lateness := r.ooo.Milliseconds(), r.lateness.Milliseconds()
	st := genStream(rng, perShard, ooo, max(lateness, 30_000))
	var f *faults
	if r.faultP > 0 {
		f = &faults{rng: rand.New(rand.NewPCG(r.seed, 0xfa17)), p: r.faultP}
	}
	store := base
	if f != nil {
		store = faultyStore{base, f}
	}
	out := &sinks{f: f}
	clk := &clock{now: t0 + 60_000}
	eng, err := eventtime.New(eventtime.Config[string, eventtime.Fixed, eventtime.Stats]{
		Windows: assigner, OutOfOrderness: r.ooo, AllowedLateness: r.lateness, IdleTimeout: r.idle,
		Store: store, Results: out, Late: out, Now: clk.Now, Concurrency: 4,
		Parents: func(s string) []string { return st.parents[s] },
	})
	if err != nil {
		t.Fatal(err)
	}
	or := newOracle(assigner, ooo, lateness, r.idle.Milliseconds())
	ctx := context.Background()

	firings, deliveries := 0, 0
	deliver := func(shard string, recs []rec) {
		deliveries++
		batch := make([]eventtime.Record[string, eventtime.Fixed], len(recs))
		for i, x := range recs {
			batch[i] = x.record()
		}
		// Lambda's retry: the records from the first failed one on, again,
		// until they all succeed.
		fired := false
		for attempt := 0; len(batch) > 0; attempt++ {
			if attempt == 200 {
				t.Fatalf("batch of shard %s still failing after %d attempts", shard, attempt)
			}
			o := eng.Process(ctx, shard, batch)
			if o.Fired && o.FirstFailed() >= 0 {
				t.Fatalf("a batch of %s fired although record %d failed", shard, o.FirstFailed())
			}
			if o.Fire.Skipped {
				t.Fatalf("a batch of %s skipped its firing with no other firing at work", shard)
			}
			fired = fired || o.Fired
			if f == nil && o.FireErr != nil {
				t.Fatalf("fire: %v", o.FireErr)
			}
			ff := o.FirstFailed()
			if ff < 0 {
				break
			}
			if f == nil {
				t.Fatalf("record %s failed without injected faults: %v", batch[ff].ID, o.Errs[ff])
			}
			batch = batch[ff:]
		}
		// The engine fires where the oracle does: at the shard's first
		// batch and where its watermark crossed a window's end or close.
		if want := or.deliver(shard, recs, clk.now, st.parents[shard]); fired != want {
			t.Fatalf("a batch of %s at %d fired=%v, oracle fired=%v", shard, clk.now, fired, want)
		}
		firings += b2i(fired)
		if wm, _ := base.GetWatermarks(ctx); wm.Stream != or.stream {
			t.Fatalf("after a batch of %s at %d: stream watermark %d, oracle %d (%+v)", shard, clk.now, wm.Stream, or.stream, wm.Shards)
		}
	}

	cursor := map[string]int{}
	drained := func(s string) bool { return cursor[s] >= len(st.recs[s]) }
	for {
		var ready []string
		for _, s := range st.shards {
			if drained(s) {
				continue
			}
			ok := true
			for _, p := range st.parents[s] {
				ok = ok && drained(p)
			}
			if ok {
				ready = append(ready, s)
			}
		}
		if len(ready) == 0 {
			break
		}
		switch x := rng.IntN(100); {
		case x < 3:
			clk.now += r.idle.Milliseconds() + rng.Int64N(60_000) // a pause: shards go idle
		default:
			clk.now += rng.Int64N(3000)
		}
		if rng.IntN(10) == 0 { // the schedule
			if _, err := eng.Fire(ctx); err != nil && f == nil {
				t.Fatal(err)
			}
			or.fire(clk.now)
			continue
		}
		s := ready[rng.IntN(len(ready))]
		lo := cursor[s]
		hi := min(len(st.recs[s]), lo+1+rng.IntN(8))
		cursor[s] = hi
		deliver(s, st.recs[s][lo:hi])
		if rng.IntN(7) == 0 { // a redelivery with other boundaries
			a := rng.IntN(hi)
			b := min(hi, a+1+rng.IntN(10))
			deliver(s, st.recs[s][a:b])
		}
	}
	// The end: time passes, every shard goes idle, the schedule fires
	// until everything is published.
	clk.now += 2*r.idle.Milliseconds() + 1
	or.fire(clk.now)
	for i := 0; ; i++ {
		// Each round a minute later: results whose reserving firing
		// failed to publish them are taken over (PendingTimeout).
		clk.now += time.Minute.Milliseconds()
		fs, err := eng.Fire(ctx)
		if err == nil && fs.Published == 0 {
			break
		}
		if i == 200 || (err != nil && f == nil) {
			t.Fatalf("final firing: %+v %v", fs, err)
		}
	}

	compareWindows(t, windows(), or, f == nil)
	compareLate(t, out.late, or, f == nil)
	compareResults(t, out.results, or, f == nil)
	corrections := 0
	for _, x := range or.results {
		if x.rev > 0 {
			corrections++
		}
	}
	t.Logf("%d results (%d corrections), %d late, %d deliveries to the sinks; %d of %d batches fired", len(or.results), corrections, len(or.late), len(out.results)+len(out.late), firings, deliveries)
	if firings == 0 || firings == deliveries {
		t.Fatalf("weak scenario: %d of %d batches fired", firings, deliveries)
	}
	if len(or.results) < 10 || len(or.late) < 3 || (lateness > 0 && corrections == 0) {
		t.Fatalf("weak scenario: %d results, %d corrections, %d late records", len(or.results), corrections, len(or.late))
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func hashes(ids []string) []uint64 {
	out := make([]uint64, 0, len(ids))
	for _, id := range ids {
		out = append(out, eventtime.HashID(id))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func compareWindows(t *testing.T, got map[eventtime.WindowKey]eventtime.WindowState, or *oracle, exact bool) {
	t.Helper()
	if len(got) != len(or.wins) {
		t.Errorf("%d windows stored, oracle has %d", len(got), len(or.wins))
	}
	for k, ow := range or.wins {
		st, ok := got[k]
		if !ok {
			t.Errorf("window %s %s missing", k.Key, k.Window)
			continue
		}
		agg, err := eventtime.JSONCodec[eventtime.Stats]{}.Decode(st.Agg)
		if err != nil {
			t.Fatal(err)
		}
		if agg != ow.agg {
			t.Errorf("window %s %s: stored %+v, oracle %+v", k.Key, k.Window, agg, ow.agg)
		}
		if !slices.Equal(st.Applied, hashes(ow.applied)) || len(ow.applied) != len(st.Applied) {
			t.Errorf("window %s %s: %d applied ids, oracle %d", k.Key, k.Window, len(st.Applied), len(ow.applied))
		}
		if !slices.Equal(st.Late, hashes(ow.late)) || len(ow.late) != len(st.Late) {
			t.Errorf("window %s %s: %d late ids, oracle %d", k.Key, k.Window, len(st.Late), len(ow.late))
		}
		if st.Closed != ow.closed || st.Pending != nil || (ow.revisions > 0) != (st.Revisions > 0) || (exact && st.Revisions != ow.revisions) {
			t.Errorf("window %s %s: closed=%v pending=%v revisions=%d, oracle closed=%v revisions=%d", k.Key, k.Window, st.Closed, st.Pending, st.Revisions, ow.closed, ow.revisions)
		}
	}
}

func compareLate(t *testing.T, got []eventtime.LateRecord[string], or *oracle, exact bool) {
	t.Helper()
	type lk struct {
		id, key string
		w       eventtime.Window
	}
	count := map[lk]int{}
	for _, l := range got {
		if string(l.Payload) != l.ID {
			t.Errorf("late record %s: payload %q", l.ID, l.Payload)
		}
		if l.Window.End+or.l > l.Watermark {
			t.Errorf("late record %s for %s judged against watermark %d: not late", l.ID, l.Window, l.Watermark)
		}
		count[lk{l.ID, l.Key, l.Window}]++
	}
	want := map[lk]bool{}
	for _, l := range or.late {
		want[lk{l.id, l.key, l.win}] = true
		if count[lk{l.id, l.key, l.win}] == 0 {
			t.Errorf("late record %s for %s %s missing", l.id, l.key, l.win)
		}
	}
	for k, n := range count {
		if !want[k] {
			t.Errorf("record %s sent late for %s %s; the oracle applied it", k.id, k.key, k.w)
		}
		if exact && n != 1 {
			t.Errorf("late record %s for %s delivered %d times without failures", k.id, k.w, n)
		}
	}
}

func compareResults(t *testing.T, got []eventtime.Result[string, eventtime.Stats], or *oracle, exact bool) {
	t.Helper()
	// One content per id, whatever the retries.
	byID := map[string]eventtime.Result[string, eventtime.Stats]{}
	deliveries := map[string]int{}
	for _, r := range got {
		if prev, ok := byID[r.ID]; ok && (prev.Value != r.Value || prev.Last != r.Last) {
			t.Errorf("result %s delivered with two contents: %+v and %+v", r.ID, prev, r)
		}
		if r.ID != eventtime.ResultID(r.Key, r.Window, r.Revision) {
			t.Errorf("result id %s does not match its key, window and revision", r.ID)
		}
		byID[r.ID] = r
		deliveries[r.ID]++
	}
	if exact {
		if len(byID) != len(or.results) {
			t.Errorf("%d distinct results, oracle %d", len(byID), len(or.results))
		}
		for _, want := range or.results {
			g, ok := byID[want.id]
			switch {
			case !ok:
				t.Errorf("result %s missing", want.id)
			case g.Value != want.value || g.Last != want.last:
				t.Errorf("result %s: got %+v last=%v, oracle %+v last=%v", want.id, g.Value, g.Last, want.value, want.last)
			case deliveries[want.id] != 1:
				t.Errorf("result %s delivered %d times without failures", want.id, deliveries[want.id])
			}
		}
		return
	}
	// With failures a firing can be delayed past more records, so the
	// intermediate revisions may differ; per window the revisions are
	// 0..n, only the last may be Last, and the last equals the oracle's.
	type wk struct {
		key string
		w   eventtime.Window
	}
	revs := map[wk][]eventtime.Result[string, eventtime.Stats]{}
	for _, r := range byID {
		revs[wk{r.Key, r.Window}] = append(revs[wk{r.Key, r.Window}], r)
	}
	final := map[wk]oResult{}
	for _, r := range or.results {
		final[wk{r.key, r.win}] = r
	}
	if len(revs) != len(final) {
		t.Errorf("results for %d windows, oracle %d", len(revs), len(final))
	}
	for k, want := range final {
		rs := revs[k]
		sort.Slice(rs, func(i, j int) bool { return rs[i].Revision < rs[j].Revision })
		for i, r := range rs {
			if r.Revision != int64(i) {
				t.Errorf("window %s %s: revisions %v not contiguous from 0", k.key, k.w, rs)
				break
			}
			if r.Last && i != len(rs)-1 {
				t.Errorf("window %s %s: revision %d is Last but %d follow", k.key, k.w, i, len(rs)-1-i)
			}
		}
		if len(rs) == 0 || rs[len(rs)-1].Value != want.value {
			t.Errorf("window %s %s: last result %v, oracle's %+v", k.key, k.w, rs, want.value)
		}
	}
}

// TestConcurrentRedeliveries has four processes apply the same records of
// one shard concurrently, each in its own batch boundaries: every record
// counts once.
func TestConcurrentRedeliveries(t *testing.T) {
	mem := eventtime.NewMemoryStore()
	concurrentRedeliveries(t, mem, mem.Windows)
}

func concurrentRedeliveries(t *testing.T, store eventtime.Store, windows func() map[eventtime.WindowKey]eventtime.WindowState) {
	rng := rand.New(rand.NewPCG(7, 7))
	assigner, _ := eventtime.Tumbling(time.Minute)
	var recs []rec
	for i := range 400 {
		recs = append(recs, rec{id: fmt.Sprint("r", i), key: fmt.Sprint("k", i%3), t: t0 + rng.Int64N(300_000), v: eventtime.Fixed(rng.Int64N(1e9))})
	}
	out := &sinks{}
	eng, err := eventtime.New(eventtime.Config[string, eventtime.Fixed, eventtime.Stats]{
		Windows: assigner, OutOfOrderness: time.Hour, Store: store, Results: out, Late: out, Concurrency: 8,
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prng := rand.New(rand.NewPCG(uint64(p), 1))
			for lo := 0; lo < len(recs); {
				hi := min(len(recs), lo+1+prng.IntN(40))
				batch := make([]eventtime.Record[string, eventtime.Fixed], 0, hi-lo)
				for _, x := range recs[lo:hi] {
					batch = append(batch, x.record())
				}
				if o := eng.Process(context.Background(), "shard-0", batch); o.FirstFailed() >= 0 {
					t.Errorf("process: %v", o.Errs[o.FirstFailed()])
					return
				}
				lo = hi
			}
		}()
	}
	wg.Wait()
	want := map[eventtime.WindowKey]eventtime.Stats{}
	for _, x := range recs {
		for _, w := range assigner.Assign(x.t, nil) {
			k := eventtime.WindowKey{Key: x.key, Window: w}
			want[k] = want[k].Add(x.t, x.v)
		}
	}
	got := windows()
	if len(got) != len(want) {
		t.Fatalf("%d windows, want %d", len(got), len(want))
	}
	for k, w := range want {
		agg, _ := eventtime.JSONCodec[eventtime.Stats]{}.Decode(got[k].Agg)
		if agg != w || int64(len(got[k].Applied)) != w.Count {
			t.Errorf("%s %s: %+v, want %+v", k.Key, k.Window, agg, w)
		}
	}
	if len(out.late) != 0 || len(out.results) != 0 {
		t.Errorf("%d late, %d results with the watermark an hour behind", len(out.late), len(out.results))
	}
}

// TestWindowFull: records beyond MaxWindowBytes fail permanently
// (ErrWindowFull) and are not applied; late records for a full closed
// window still go to the late output.
func TestWindowFull(t *testing.T) {
	a, _ := eventtime.Tumbling(time.Minute)
	mem := eventtime.NewMemoryStore()
	out := &sinks{}
	clk := &clock{now: t0}
	eng, err := eventtime.New(eventtime.Config[string, eventtime.Fixed, eventtime.Stats]{
		Windows: a, Store: mem, Results: out, Late: out, Now: clk.Now, MaxWindowBytes: 64 + 200 + 8*10,
	})
	if err != nil {
		t.Fatal(err)
	}
	batch := func(prefix string, n int, evt int64) []eventtime.Record[string, eventtime.Fixed] {
		var b []eventtime.Record[string, eventtime.Fixed]
		for i := range n {
			b = append(b, eventtime.Record[string, eventtime.Fixed]{ID: fmt.Sprint(prefix, i), Key: "k", EventTime: evt, Value: 1})
		}
		return b
	}
	ctx := context.Background()
	if o := eng.Process(ctx, "s", batch("a", 8, t0+1)); o.FirstFailed() >= 0 {
		t.Fatal(o.Errs)
	}
	o := eng.Process(ctx, "s", batch("b", 8, t0+2))
	if ff := o.FirstFailed(); ff < 0 || !errors.Is(o.Errs[ff], eventtime.ErrWindowFull) || o.Applied != 0 {
		t.Fatalf("a batch that does not fit: %+v", o)
	}
	eng.Process(ctx, "s", batch("c", 1, t0+120_000)) // closes the window
	o = eng.Process(ctx, "s", batch("d", 40, t0+3))
	if o.FirstFailed() >= 0 || o.Late != 40 || len(out.late) != 40 {
		t.Fatalf("late records for a full window: %+v, %d late outputs", o, len(out.late))
	}
}

// noLease grants every firing the lease: firings overlap as they would
// when a lease expired during a slow firing.
type noLease struct{ eventtime.Store }

func (noLease) TakeFireLease(context.Context, int64, int64) (bool, error) { return true, nil }
func (noLease) ReleaseFireLease(context.Context, int64) error             { return nil }

// TestOverlappingFiringsPublishOnce: a firing that overlaps another (the
// lease left out, as when it expired) leaves the result that one reserved
// to it; when its publishing failed, a firing PendingTimeout later takes the
// result over and publishes it.
func TestOverlappingFiringsPublishOnce(t *testing.T) {
	a, _ := eventtime.Tumbling(time.Minute)
	clk := &clock{now: t0 + 10_000}
	var (
		eng        *eventtime.Engine[string, eventtime.Fixed, eventtime.Stats]
		overlapped eventtime.FireStats
	)
	// Another firing while this one publishes; then this one fails.
	results := &failFirstPublish{during: func(ctx context.Context) {
		var err error
		if overlapped, err = eng.Fire(ctx); err != nil {
			t.Errorf("overlapping firing: %v", err)
		}
	}}
	var err error
	eng, err = eventtime.New(eventtime.Config[string, eventtime.Fixed, eventtime.Stats]{
		Windows: a, Store: noLease{eventtime.NewMemoryStore()}, Results: results, Late: &sinks{}, Now: clk.Now,
		IdleTimeout: time.Minute, PendingTimeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The second record moves the watermark past the first one's window:
	// the batch's firing reserves its result, and fails to publish it.
	o := eng.Process(ctx, "s", []eventtime.Record[string, eventtime.Fixed]{{ID: "r1", Key: "k", EventTime: t0 + 1, Value: 1}, {ID: "r2", Key: "k", EventTime: t0 + 61_000, Value: 1}})
	if o.FirstFailed() >= 0 || !errors.Is(o.FireErr, errInjected) {
		t.Fatalf("process: %+v, want the injected publishing failure", o)
	}
	if overlapped.Published != 0 || overlapped.Due != 1 {
		t.Errorf("the overlapping firing: %+v, want the due window left to the firing that reserved it", overlapped)
	}
	clk.now += 29_000
	if fs, err := eng.Fire(ctx); err != nil || fs.Published != 0 {
		t.Errorf("within PendingTimeout: %+v %v, want nothing published", fs, err)
	}
	clk.now += 1_000
	if fs, err := eng.Fire(ctx); err != nil || fs.Published != 1 {
		t.Errorf("at PendingTimeout: %+v %v, want the result taken over and published", fs, err)
	}
	if fs, err := eng.Fire(ctx); err != nil || fs.Published != 0 || len(results.delivered) != 1 {
		t.Errorf("after: %+v %v, delivered %v; want one delivery", fs, err, results.delivered)
	}
}
