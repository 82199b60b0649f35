package sim

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/streamproc/streamproc/internal/plan"
)

func within(t *testing.T, rate float64, name string, sim, pred, tol float64) {
	t.Helper()
	if math.Abs(sim-pred) > tol*math.Max(math.Abs(pred), 1e-9) {
		t.Errorf("%.0f records/s: %s simulated %.4g, planned %.4g: more than %.0f%% apart", rate, name, sim, pred, 100*tol)
	}
}

// TestAgreesWithPlanner simulates the planner's design at each rate of a
// sweep. Stated tolerances: invocations/s, writes per record, WCU/s and the
// monthly cost within 10%; average concurrency within 25%; the simulated
// largest iterator age within 25% of the planned one (the planner's is a
// steady-state bound with the batch that fires a window boundary, the
// simulation's the largest seen, quantised by the one-second polls).
//
// The loads are ones the plans carry (10,000 keys): 100,000 keys open more
// new windows/s than the stream item takes at every rate of the sweep
// (TestStreamItemThrottles).
func TestAgreesWithPlanner(t *testing.T) {
	in := plan.Input{RecordsPerSecond: 1, RecordBytes: 200, Keys: 10_000}
	rows, err := Sweep(in, DefaultRates, Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + Table(rows))
	for _, r := range rows {
		p, s := r.Plan, r.Sim
		rate := p.Input.RecordsPerSecond
		if !s.KeepsUp || s.ConcurrencyThrottles != 0 || s.ThrottledWrites != 0 {
			t.Errorf("%.0f records/s: keeps up %v, throttles %d + %d: want a plan that carries its load", rate, s.KeepsUp, s.ConcurrencyThrottles, s.ThrottledWrites)
		}
		within(t, rate, "invocations/s", s.InvocationsPerSecond, p.InvocationsPerSecond, 0.10)
		within(t, rate, "writes per record", s.WritesPerRecord, p.WritesPerRecord, 0.10)
		within(t, rate, "WCU/s", s.WCUPerSecond, p.WCU, 0.10)
		within(t, rate, "monthly cost", s.MonthlyCostUSD, p.MonthlyCostUSD, 0.10)
		within(t, rate, "average concurrency", s.ConcurrencyAvg, p.AverageConcurrency, 0.25)
		within(t, rate, "iterator age", s.IteratorAgeMax, p.IteratorAgeSeconds, 0.25)
	}
}

// TestOneFiringPerBoundary: the engine fires a window boundary from the
// batch whose shard's crossing moves the stream watermark past it, under a
// lease on the stream item, so each boundary is fired by one firing and
// every window once (fired windows/s = new windows/s, within 10% of the
// plan's). Every shard attempts a firing per boundary it crosses; the
// attempts per window length and those that take the lease agree with the
// plan within 10% and 25% (the simulation's spread of the crossings is its
// lanes' measured batch periods).
func TestOneFiringPerBoundary(t *testing.T) {
	in := plan.Input{RecordsPerSecond: 100_000, RecordBytes: 200, Keys: 10_000}
	p := planFor(t, in)
	s := Run(Config{Input: in, Design: p.Design, TableWCU: 1e9})
	if s.BoundariesFired < 3 || s.BoundaryFirings != s.BoundariesFired {
		t.Errorf("%d boundaries fired by %d firings: want one firing each, at least 3 in the steady state", s.BoundariesFired, s.BoundaryFirings)
	}
	within(t, in.RecordsPerSecond, "windows fired/s", s.FiredPerSecond, p.FiredPerSecond, 0.10)
	within(t, in.RecordsPerSecond, "windows fired/s against new windows/s", s.FiredPerSecond, s.NewWindowsPerSecond, 0.10)
	within(t, in.RecordsPerSecond, "firing attempts per window", s.FiringAttempts, p.FiringAttempts, 0.10)
	within(t, in.RecordsPerSecond, "lease firings per window", s.LeaseFirings, p.LeaseFirings, 0.25)
	if s.ThrottledWrites != 0 || !s.KeepsUp {
		t.Errorf("throttled writes %d, keeps up %v: want a plan that carries its load", s.ThrottledWrites, s.KeepsUp)
	}
}

// TestStreamItemThrottles: 40,000 keys at 10,000 records/s open ~667 new
// windows/s; two writes each on the state table's one stream item (plus two
// per batch on its partition) are over the partition's 1,000 WCU/s. The
// planner warns and the simulation's stream item is throttled; 10,000 keys
// at the same rate are not.
func TestStreamItemThrottles(t *testing.T) {
	for _, c := range []struct {
		keys int
		over bool
	}{{40_000, true}, {10_000, false}} {
		in := plan.Input{RecordsPerSecond: 10_000, RecordBytes: 200, Keys: c.keys}
		p := planFor(t, in)
		s := Run(Config{Input: in, Design: p.Design, TableWCU: 1e9})
		warned := strings.Contains(strings.Join(p.Warnings, "\n"), "stream item takes")
		if warned != c.over || (s.StreamItemThrottled > 0) != c.over {
			t.Errorf("%d keys: %.0f new windows/s, stream item %.0f WCU/s planned (%.0f simulated): warned %v, simulated throttles %d; want over the limit %v",
				c.keys, p.NewWindowsPerSecond, p.StreamItemWCU, s.StreamItemWCU, warned, s.StreamItemThrottled, c.over)
		}
		within(t, in.RecordsPerSecond, "stream item WCU/s", s.StreamItemWCU, p.StreamItemWCU, 0.10)
	}
}

func planFor(t *testing.T, in plan.Input) plan.Result {
	t.Helper()
	p, err := plan.Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConcurrencyLimitThrottles: a catch-up after a 5-minute outage keeps
// every lane busy; a function limited to a tenth of shards x factor is
// throttled and drains later. (A quarter is not enough here: 10,000 keys
// make invocations short, and the catch-up is then bound by each shard's
// 2 MiB/s of reads, not by concurrency.)
func TestConcurrencyLimitThrottles(t *testing.T) {
	in := plan.Input{RecordsPerSecond: 100_000, RecordBytes: 200, Keys: 10_000}
	p := planFor(t, in)
	base := Config{Input: in, Design: p.Design, Backlog: 5 * time.Minute, Duration: 400 * time.Second}
	free := Run(base)
	limited := base
	limited.ConcurrencyLimit = p.Concurrency / 10
	capped := Run(limited)
	if free.ConcurrencyThrottles != 0 || free.DrainedSeconds <= 0 || free.ConcurrencyMax < float64(p.Concurrency)*0.99 {
		t.Fatalf("unlimited catch-up: %+v: want every lane busy, no throttles, drained", free)
	}
	if capped.ConcurrencyThrottles == 0 || capped.ConcurrencyMax > float64(limited.ConcurrencyLimit)+1e-6 ||
		!(capped.DrainedSeconds < 0 || capped.DrainedSeconds > free.DrainedSeconds) {
		t.Errorf("limited to %d: %+v: want throttles, concurrency within the limit and a later drain than %.0fs",
			limited.ConcurrencyLimit, capped, free.DrainedSeconds)
	}
}

// TestPartitionThrottling: a load on a table with a sixth of the
// partitions its average writes need (the plan also sizes for the burst of
// a boundary's firing) is throttled on the window items' partitions (not the
// stream item) and falls behind once the partitions' burst capacity (300 s
// of their throughput) is spent. The throttled writes are the window
// items' (the stream item's, at most a tenth, come from the batches a
// mapping that fell behind invokes together: their new windows arrive on
// the stream item at once).
func TestPartitionThrottling(t *testing.T) {
	in := plan.Input{RecordsPerSecond: 1_000_000, RecordBytes: 200, Keys: 10_000}
	p := planFor(t, in)
	d := p.Design
	need := int(math.Ceil(p.WCU / 1000 / 0.8))
	if need < 12 || d.Partitions < need {
		t.Fatalf("planned %d partitions, %d for the average writes: want at least 12 for this test", d.Partitions, need)
	}
	d.Partitions = need / 6
	s := Run(Config{Input: in, Design: d, TableWCU: 1e9})
	if s.ThrottledWrites == 0 || s.StreamItemThrottled > s.ThrottledWrites/10 || s.KeepsUp {
		t.Errorf("%d partitions for %.0f WCU: %+v: want throttled writes and a mapping that falls behind", d.Partitions, p.WCU, s)
	}
}

func TestDeterministic(t *testing.T) {
	in := plan.Input{RecordsPerSecond: 20_000, RecordBytes: 200, Keys: 5_000, HotKeyShare: 0.02, OutOfOrderShare: 0.1, Lateness: time.Minute}
	p := planFor(t, in)
	a := Run(Config{Input: in, Design: p.Design, Duration: 120 * time.Second})
	b := Run(Config{Input: in, Design: p.Design, Duration: 120 * time.Second})
	if a != b {
		t.Errorf("two runs differ:\n%+v\n%+v", a, b)
	}
}
