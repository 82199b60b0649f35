package sim

import (
	"math"
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

// TestAgreesWithPlanner simulates the planner's design at each rate of the
// sweep. Stated tolerances: invocations/s, writes per record, WCU/s and the
// monthly cost within 10%; average concurrency within 25%; the simulated
// largest iterator age within 25% of the planned one (the planner's is a
// steady-state bound, the simulation's the largest seen, quantised by the
// one-second polls).
func TestAgreesWithPlanner(t *testing.T) {
	rows, err := Sweep(plan.Input{RecordsPerSecond: 1, RecordBytes: 200, Keys: 100_000}, DefaultRates, Config{})
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

func planFor(t *testing.T, in plan.Input) plan.Result {
	t.Helper()
	p, err := plan.Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConcurrencyLimitThrottles: a catch-up after a 5-minute outage keeps
// every lane busy; a function limited below shards x factor is throttled
// and drains later.
func TestConcurrencyLimitThrottles(t *testing.T) {
	in := plan.Input{RecordsPerSecond: 100_000, RecordBytes: 200, Keys: 100_000}
	p := planFor(t, in)
	base := Config{Input: in, Design: p.Design, Backlog: 5 * time.Minute, Duration: 400 * time.Second}
	free := Run(base)
	limited := base
	limited.ConcurrencyLimit = p.Concurrency / 4
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

// TestPartitionThrottling: the same load on a table with a third of the
// partitions it needs is throttled and falls behind.
func TestPartitionThrottling(t *testing.T) {
	in := plan.Input{RecordsPerSecond: 100_000, RecordBytes: 200, Keys: 100_000}
	p := planFor(t, in)
	d := p.Design
	if d.Partitions < 12 {
		t.Fatalf("planned %d partitions, want at least 12 for this test", d.Partitions)
	}
	d.Partitions /= 3
	s := Run(Config{Input: in, Design: d})
	if s.ThrottledWrites == 0 || s.KeepsUp {
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
