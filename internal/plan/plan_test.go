package plan

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %v, want %v (±%g)", name, got, want, tol)
	}
}

func TestShards(t *testing.T) {
	for _, c := range []struct {
		peak, bytes, agg float64
		want             int
		by               string
	}{
		{1e6, 200, 1, 1250, "records/s"}, // 1e6 / (1000 x 0.8)
		{1000, 200, 1, 2, "records/s"},   // 1000 / 800 -> 1.25 -> 2
		{1000, 2000, 1, 3, "bytes/s"},    // 2,000,000 / (1,048,576 x 0.8) = 2.38 -> 3
		{1e6, 200, 100, 249, "bytes/s"},  // 10,000 x (100 x 208 + 20) / 838,860.8 = 248.2 -> 249
		{1, 10, 1, 1, "records/s"},       // never below one
	} {
		got, by := Shards(c.peak, c.bytes, c.agg, 0.8)
		if got != c.want || by != c.by {
			t.Errorf("Shards(%g, %g, %g) = %d %s, want %d %s", c.peak, c.bytes, c.agg, got, by, c.want, c.by)
		}
	}
}

func TestPairsAndDuration(t *testing.T) {
	in := Input{RecordsPerSecond: 1, RecordBytes: 200, Keys: 1000}.WithDefaults()
	m := newModel(in, false, 1, 0)
	// A batch with no time span: one window, 1000 draws from 1000 keys.
	near(t, "pairs", m.pairs(1000, 1e12, 1000), 1000*(1-math.Exp(-1)), 1e-6)
	// A 60 s batch spans two windows: 2 x 100 x (1 - e^-(500/100)).
	near(t, "pairs over two windows", m.pairs(1000, 1000.0/60, 100), 2*100*(1-math.Exp(-5)), 1e-6)
	// Out-of-order records within the lateness: 10% of 1000 over 2 earlier
	// windows of 100 keys add 200 x (1 - e^-(100/200)).
	late := in
	late.OutOfOrderShare, late.Lateness = 0.1, 2*time.Minute
	near(t, "late pairs", newModel(late, false, 1, 0).pairs(1000, 1e12, 100)-m.pairs(1000, 1e12, 100), 200*(1-math.Exp(-0.5)), 1e-6)
	// Never more items than records.
	near(t, "pairs capped", m.pairs(3, 1e12, 1e6), 3, 1e-5)
	// The invocation: 1 ms, 1000 x 0.552 µs x 1769/256 of CPU, and the
	// engine's rounds at 5 ms each.
	s := m.at(1000, 1e12, 1000, 10)
	want := 0.001 + 1000*552e-9*1769/256 + s.calls.Rounds*0.005
	near(t, "duration", s.dur, want, 1e-9)
	seed := newModel(in, true, 1, 0)
	near(t, "seed duration", seed.at(100, 100, 1, 1).dur, 0.001+100*(10625e-9*1769/256+0.005), 1e-9)
}

func TestItemUnits(t *testing.T) {
	// One key at 10 records/s, 60 s windows, a write every 30 s: two writes a
	// window, at 300 and 600 readings: 266+2400 = 2666 B (3 WCU) and
	// 266+4800 = 5066 B (5 WCU); reads before them: missing (1 RCU) and
	// 2666 B (1 RCU).
	in := Input{RecordsPerSecond: 10, RecordBytes: 200, Keys: 1}.WithDefaults()
	m := newModel(in, false, 1, 0)
	s := laneState{windowWrites: 1, period: 30}
	m.items(&s, 10, 1)
	near(t, "wcu per write", s.wcu, 4, 1e-9)
	near(t, "rcu per write", s.rcu, 1, 1e-9)
	near(t, "final item bytes", s.finalItemBytes, 5066, 1e-9)
}

// TestEngineBatch counts one batch's calls as functions/eventtime makes them
// (Engine.Process, Engine.Fire, DynamoStore) with a firing that fires a
// boundary once under a lease on the stream item.
func TestEngineBatch(t *testing.T) {
	in := Input{RecordsPerSecond: 10, RecordBytes: 200, Keys: 1}
	e := NewEngineModel(in, 2, 0, false)
	b := EngineBatch{Windows: 632.1, NewWindows: 50, WindowWCU: 700, WindowRCU: 650}
	c := e.Batch(b)
	// Reads: one BatchGetItem of the stream and shard items, 7 of the
	// windows. Writes: 632.1 window PutItems, 50 x (due PutItem + 2
	// stream UpdateItems), the shard item's PutItem.
	near(t, "reads", c.Reads, 1+7, 1e-9)
	near(t, "writes", c.Writes, 632.1+150+1, 1e-9)
	near(t, "rcu", c.RCU, 2+650, 1e-9)
	near(t, "wcu", c.WCU, 700+150+1, 1e-9)
	// Partition "wm": 2 stream UpdateItems per new window + the shard
	// PutItem; the BatchGetItem's two items.
	near(t, "stream item wcu", c.WatermarkWCU, 101, 1e-9)
	near(t, "wm rcu", c.WatermarkRCU, 2, 1e-9)
	// Rounds: the BatchGetItem, 7 window BatchGetItems one after another,
	// ceil((632.1 + 150)/16) = 49 write rounds, the shard PutItem.
	near(t, "rounds", c.Rounds, 1+7+49+1, 1e-9)

	// Three attempts that find the lease taken: a failed conditional
	// UpdateItem of the stream item each.
	b.Attempts = 3
	a := e.Batch(b)
	near(t, "attempt writes", a.Writes-c.Writes, 3, 1e-9)
	near(t, "attempt stream item wcu", a.WatermarkWCU-c.WatermarkWCU, 3, 1e-9)
	near(t, "attempt rounds", a.Rounds-c.Rounds, 3, 1e-9)

	// The firing of a boundary of 50 windows of 3,000 B: lease, Query wm
	// (3 items of 100 B: 1 page, 1 RCU), stream watermark UpdateItem,
	// stream GetItem, 1 due Query (no lateness), 50/100 BatchGetItems, per
	// window reserve (3,082 B: 4 WCU), confirm (3 WCU) and the due item's
	// DeleteItem, the Query wm that finds nothing more, the release.
	f := e.Batch(EngineBatch{Firings: 1, Fired: 50, FiredBytes: 3000})
	near(t, "firing reads", f.Reads, 2+1+1+0.5, 1e-9)
	near(t, "firing writes", f.Writes, 3+150, 1e-9)
	near(t, "firing rcu", f.RCU, 2+1+1+50*130.0/4096+50, 1e-9)
	near(t, "firing wcu", f.WCU, 3+50*8, 1e-9)
	near(t, "firing stream item wcu", f.WatermarkWCU, 3, 1e-9)
	near(t, "firing wm rcu", f.WatermarkRCU, 3, 1e-9)
	// 7 calls one after another, then 50/100 BatchGetItems, 50 x 3/16
	// write rounds and 50/500 PutRecords (expected rounds).
	near(t, "firing rounds", f.Rounds, 7+0.5+50*3.0/16+0.1, 1e-9)
	near(t, "boundary seconds", e.Boundary(50, 0), f.Rounds*0.005, 1e-12)

	// With 2 minutes of lateness a window is closed by a third PutItem,
	// the firing Queries 2 buckets, and reads the 1,000 windows within the
	// lateness too (10 BatchGetItems more).
	in.Lateness = 2 * time.Minute
	e = NewEngineModel(in, 2, 0, false)
	l := e.Batch(EngineBatch{Firings: 1, Fired: 50, FiredBytes: 3000, Due: 1000})
	near(t, "late reads", l.Reads, 2+1+2+10+0.5, 1e-9)
	near(t, "late writes", l.Writes, 3+200, 1e-9)
	near(t, "late rcu", l.RCU, 2+1+2+1050*130.0/4096+1050, 1e-9)
	near(t, "late wcu", l.WCU, 3+50*11, 1e-9)
	near(t, "late rounds", l.Rounds, 8+10+0.5+50*4.0/16+0.1, 1e-9)

	// 1,250 shards: each Query of wm reads 125,100 B: 31 RCU.
	near(t, "wm rcu of 1,250 shards", NewEngineModel(in, 1250, 0, false).Batch(EngineBatch{Firings: 1}).WatermarkRCU, 2*31+1, 1e-9)
	// An empty batch makes no calls (Process returns at once).
	if z := e.Batch(EngineBatch{}); z != (EngineCalls{}) {
		t.Errorf("empty batch: %+v", z)
	}
}

// TestFiringAttempts: every shard attempts a firing per boundary it
// crosses (a window's end, and its close when the lateness is not a
// multiple of the window), the schedule once a minute; of the attempts
// before the stream watermark crosses, those that find the lease free
// (Erlang's loss formula) take it and fire nothing.
func TestFiringAttempts(t *testing.T) {
	in := Input{RecordsPerSecond: 10, RecordBytes: 200, Keys: 1}
	e := NewEngineModel(in, 2, 0, false)
	near(t, "attempts", e.FiringAttempts(), 2+1, 1e-9)
	in.Lateness = 90 * time.Second
	near(t, "attempts with a close boundary", NewEngineModel(in, 2, 0, false).FiringAttempts(), 4+1, 1e-9)
	in.Lateness, in.FireSchedule = 0, -1
	near(t, "attempts without a schedule", NewEngineModel(in, 2, 0, false).FiringAttempts(), 2, 1e-9)
	// A firing that fires nothing holds the lease 7 calls (35 ms); 2
	// shards crossing within 10 s attempt 0.2 times a second.
	q := 1 / (1 + 2/10.0*0.035)
	near(t, "lease share", e.LeaseShare(10, 0), q, 1e-12)
	near(t, "lease firings", e.LeaseFirings(10, 0), 1+2*q, 1e-12)
	// 20,000 windows at 16 at a time: 7 calls, 2 more pages of the due
	// Query (2.6 MB), 200 BatchGetItems, 3,750 write rounds, 40
	// PutRecords: 19.995 s.
	near(t, "boundary", e.Boundary(20_000, 0), 3999*0.005, 1e-9)
	near(t, "boundary at 128", NewEngineModel(in, 2, 128, false).Boundary(20_000, 0), (7+2+200+20_000*3.0/128+40)*0.005, 1e-9)
}

func TestMillionPerSecond(t *testing.T) {
	r, err := Compute(Input{RecordsPerSecond: 1e6, RecordBytes: 200, Keys: 100_000, StreamMode: Provisioned})
	if err != nil {
		t.Fatal(err)
	}
	if r.Shards != 1250 || r.Concurrency < r.Shards {
		t.Fatalf("shards %d concurrency %d, want 1250 shards and concurrency >= shards", r.Shards, r.Concurrency)
	}
	// 1250 shards x 730 h x $0.015 + 1e6/s x 2,628,000 s x 1 unit x $0.014/1e6.
	near(t, "kinesis", r.Breakdown.Kinesis, 1250*730*0.015+2.628e12*0.014/1e6, 1e-9)
	// 100,000 keys on one state table: 1,667 new windows/s are over what
	// its stream item takes; the one firing of a boundary's 100,000
	// windows needs the engine's concurrency at 64 to end within the
	// window and the target iterator age: the plan says both.
	joined := strings.Join(r.Warnings, "\n")
	for _, w := range []string{"new windows/s", "Config.Concurrency to 64"} {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings lack %q:\n%s", w, joined)
		}
	}
	if r.EngineConcurrency != 64 || r.BoundaryFiringSeconds > 60 || r.FiringAttempts != 1251 || r.LeaseFirings < 1 || r.StreamItemWCU < partitionWCU {
		t.Errorf("engine concurrency %d, boundary %.1fs, %.0f attempts, %.1f lease firings, stream item %.0f WCU: want 64, within the window, 1,251, at least 1, over 1,000",
			r.EngineConcurrency, r.BoundaryFiringSeconds, r.FiringAttempts, r.LeaseFirings, r.StreamItemWCU)
	}
	// Held at the engine's default 16, the firing takes longer than the
	// window, and the plan says what to raise.
	fixed, err := Compute(Input{RecordsPerSecond: 1e6, RecordBytes: 200, Keys: 100_000, StreamMode: Provisioned, EngineConcurrency: 16})
	if err != nil {
		t.Fatal(err)
	}
	if fixed.EngineConcurrency != 16 || fixed.BoundaryFiringSeconds <= 60 || !strings.Contains(strings.Join(fixed.Warnings, "\n"), "raise the engine's Config.Concurrency") {
		t.Errorf("engine concurrency %d, boundary %.1fs, warnings %q: want 16 kept, a firing over the window and the fix", fixed.EngineConcurrency, fixed.BoundaryFiringSeconds, fixed.Warnings)
	}
	if r.ShardQuotaToRequest != 1500 {
		t.Errorf("shard quota request %d, want 1500", r.ShardQuotaToRequest)
	}
	// The seed-style design writes every record: 1e6 WCU, 1,250 partitions
	// (1e6 / 1,000 / 0.8 headroom).
	s := r.SeedStyle
	near(t, "seed writes per record", s.WritesPerRecord, 1, 1e-9)
	near(t, "seed wcu", s.WCU, 1e6, 1e-6)
	if s.Partitions != 1250 {
		t.Errorf("seed partitions %d, want 1250", s.Partitions)
	}
	sum := r.Breakdown.total()
	near(t, "total", r.MonthlyCostUSD, sum, 1e-12)
	near(t, "per billion", r.CostPerBillionUSD, sum/2628, 1e-9) // 2,628 billion records a month

	// One of five pipelines of 20,000 keys keeps up within the target at
	// the engine's default concurrency, and costs less per record than the
	// seed-style design.
	p, err := Compute(Input{RecordsPerSecond: 2e5, RecordBytes: 200, Keys: 20_000, StreamMode: Provisioned})
	if err != nil {
		t.Fatal(err)
	}
	if !p.KeepsUp || p.IteratorAgeSeconds > 60 || p.StreamItemWCU > partitionWCU || p.WritesPerRecord > 0.05 ||
		p.MonthlyCostUSD >= p.SeedStyle.MonthlyCostUSD || p.EngineConcurrency != 16 || len(p.Warnings) != 1 {
		t.Errorf("200,000 records/s over 20,000 keys: %+v", p.Design)
	}
	b, _ := json.Marshal(r)
	for _, f := range []string{`"shards":1250`, `"concurrency":`, `"monthly_cost_usd":`, `"kinesis":`, `"lambda":`, `"dynamodb":`, `"cloudwatch":`, `"sqs_s3":`, `"seed_style":`, `"engine_concurrency":`, `"firing_attempts_per_window":`, `"lease_firings_per_window":`, `"dynamodb_stream_item_wcu":`, `"dynamodb_wcu_while_firing":`} {
		if !strings.Contains(string(b), f) {
			t.Errorf("JSON lacks %s", f)
		}
	}
}

func TestOnDemandKinesisCost(t *testing.T) {
	r, err := Compute(Input{RecordsPerSecond: 1000, RecordBytes: 200, Keys: 100, StreamMode: OnDemand})
	if err != nil {
		t.Fatal(err)
	}
	// 730 h x $0.04 + 1000/s x 1 KiB (rounded up) x 2,628,000 s / GiB x $0.08
	// + 1000 x 200 B x 2,628,000 s / GiB x $0.04 (read once).
	want := 730*0.04 + 1000*1024*2.628e6/(1<<30)*0.08 + 1000*200*2.628e6/(1<<30)*0.04
	near(t, "on-demand kinesis", r.Breakdown.Kinesis, want, 1e-9)
	a, err := Compute(Input{RecordsPerSecond: 1000, RecordBytes: 200, Keys: 100, StreamMode: Auto})
	if err != nil {
		t.Fatal(err)
	}
	if a.StreamMode != Provisioned { // 2 shards: ~$59 against ~$500
		t.Errorf("auto picked %s, want provisioned at 1,000 records/s", a.StreamMode)
	}
}

func TestHotKey(t *testing.T) {
	r, err := Compute(Input{RecordsPerSecond: 1e6, RecordBytes: 200, Keys: 100_000, HotKeyShare: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(r.Warnings, "\n")
	for _, w := range []string{"over one shard's 1,000", "window item", "new windows/s"} {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings lack %q:\n%s", w, joined)
		}
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	_, err := Compute(Input{RecordsPerSecond: -1, RecordBytes: 0, Keys: 0, StreamMode: "fast", ParallelizationFactor: 11})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, s := range []string{"records per second -1", "record bytes 0", "keys 0", `stream mode "fast"`, "parallelization factor 11"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q: %v", s, err)
		}
	}
}

func TestLoadPricesOverDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(path, []byte(`{"region":"eu-west-1","kinesis_shard_hour":{"usd":0.017}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPrices(path)
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultPrices()
	if p.Region != "eu-west-1" || p.KinesisShardHour.USD != 0.017 || p.KinesisShardHour.Source != d.KinesisShardHour.Source ||
		p.LambdaRequests != d.LambdaRequests {
		t.Errorf("merged prices wrong: %+v", p)
	}
	for name, pr := range map[string]Price{"shard": d.KinesisShardHour, "gbs": d.LambdaGBSecondArm, "wru": d.DynamoDBWriteRequestUnits} {
		if pr.USD <= 0 || !strings.HasPrefix(pr.Source, "https://aws.amazon.com/") {
			t.Errorf("%s price %+v lacks a value or its source page", name, pr)
		}
	}
}
