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
	m := newModel(in, false, 1)
	// A batch with no time span: one window, 1000 draws from 1000 keys.
	near(t, "pairs", m.pairs(1000, 1e12, 1000), 1000*(1-math.Exp(-1)), 1e-6)
	// A 60 s batch spans two windows: 2 x 100 x (1 - e^-(500/100)).
	near(t, "pairs over two windows", m.pairs(1000, 1000.0/60, 100), 2*100*(1-math.Exp(-5)), 1e-6)
	// Out-of-order records within the lateness: 10% of 1000 over 2 earlier
	// windows of 100 keys add 200 x (1 - e^-(100/200)).
	late := in
	late.OutOfOrderShare, late.Lateness = 0.1, 2*time.Minute
	near(t, "late pairs", newModel(late, false, 1).pairs(1000, 1e12, 100)-m.pairs(1000, 1e12, 100), 200*(1-math.Exp(-0.5)), 1e-6)
	// Never more items than records.
	near(t, "pairs capped", m.pairs(3, 1e12, 1e6), 3, 1e-5)
	// The invocation: 1 ms, 1000 x 0.552 µs x 1769/256 of CPU, and the
	// engine's rounds at 5 ms each.
	s := m.at(1000, 1e12, 1000, 10)
	want := 0.001 + 1000*552e-9*1769/256 + s.calls.Rounds*0.005
	near(t, "duration", s.dur, want, 1e-9)
	seed := newModel(in, true, 1)
	near(t, "seed duration", seed.at(100, 100, 1, 1).dur, 0.001+100*(10625e-9*1769/256+0.005), 1e-9)
}

func TestItemUnits(t *testing.T) {
	// One key at 10 records/s, 60 s windows, a write every 30 s: two writes a
	// window, at 300 and 600 readings: 266+2400 = 2666 B (3 WCU) and
	// 266+4800 = 5066 B (5 WCU); reads before them: missing (1 RCU) and
	// 2666 B (1 RCU).
	in := Input{RecordsPerSecond: 10, RecordBytes: 200, Keys: 1}.WithDefaults()
	m := newModel(in, false, 1)
	s := laneState{windowWrites: 1, period: 30}
	m.items(&s, 10, 1)
	near(t, "wcu per write", s.wcu, 4, 1e-9)
	near(t, "rcu per write", s.rcu, 1, 1e-9)
	near(t, "final item bytes", s.finalItemBytes, 5066, 1e-9)
}

// TestEngineBatch counts one batch's calls as functions/eventtime makes them
// (Engine.Process, Engine.Fire, DynamoStore).
func TestEngineBatch(t *testing.T) {
	in := Input{RecordsPerSecond: 10, RecordBytes: 200, Keys: 1}
	e := NewEngineModel(in, 2, false)
	b := EngineBatch{Windows: 632.1, NewWindows: 50, WindowWCU: 700, WindowRCU: 650, Fired: 50, FiredBytes: 3000}
	c := e.Batch(b)
	// Reads: Query wm (3 items of 100 B: 1 page, 1 RCU), 7 BatchGetItems,
	// shard GetItem; firing: Query wm, stream GetItem, 1 due Query (no
	// lateness), 1 BatchGetItem of the 50 fired windows.
	near(t, "reads", c.Reads, 1+7+1+1+1+1+1, 1e-9)
	// Writes: 632.1 window PutItems, 50 x (due PutItem + 2 stream
	// UpdateItems), shard PutItem, stream watermark UpdateItem, 50 x
	// (reserve, confirm, DeleteItem).
	near(t, "writes", c.Writes, 632.1+150+1+1+150, 1e-9)
	// RCU: 2 x 1 (wm) + 650 + 2 GetItems + 1 Query + 50 due items of 130 B
	// + 50 fired windows of 3,000 B (1 RCU each).
	near(t, "rcu", c.RCU, 2+650+2+1+50*130.0/4096+50, 1e-9)
	// WCU: 700 + 150 small + 2 watermarks + 50 x (reserve of 3,082 B = 4,
	// confirm of 3,000 B = 3, DeleteItem 1).
	near(t, "wcu", c.WCU, 700+150+2+50*8, 1e-9)
	// Partition "wm": 2 stream UpdateItems per new window + shard PutItem +
	// stream watermark; 2 Queries of 1 RCU + 2 GetItems.
	near(t, "stream item wcu", c.WatermarkWCU, 102, 1e-9)
	near(t, "wm rcu", c.WatermarkRCU, 4, 1e-9)
	// Rounds: Query, 7 BatchGetItems one after another, ceil((632.1 +
	// 150)/16) = 49 write rounds, shard GetItem + PutItem; firing: Query,
	// UpdateItem, GetItem, due Query, then (expected rounds) 50/100
	// BatchGetItems, 50/16 reserve, 50/500 PutRecords, 100/16 confirm and
	// delete rounds.
	near(t, "rounds", c.Rounds, 1+7+49+2+1+1+1+1+0.5+50.0/16+0.1+100.0/16, 1e-9)

	// With 2 minutes of lateness a window is closed by a third PutItem,
	// the firing Queries 2 buckets, and reads the 1,000 windows within the
	// lateness too (11 BatchGetItems); the close and its DeleteItem are
	// 100 more writes in 100/16 rounds.
	in.Lateness = 2 * time.Minute
	e = NewEngineModel(in, 2, false)
	b.Due = 1000
	l := e.Batch(b)
	near(t, "late reads", l.Reads, 1+7+1+1+1+2+11, 1e-9)
	near(t, "late writes", l.Writes, c.Writes+50, 1e-9)
	near(t, "late rcu", l.RCU, 2+650+2+2+1050*130.0/4096+1050, 1e-9)
	near(t, "late wcu", l.WCU, c.WCU+50*3, 1e-9)
	near(t, "late rounds", l.Rounds, 1+7+49+2+1+1+1+2+10.5+50.0/16+0.1+150.0/16, 1e-9)

	// 1,250 shards: each Query of wm reads 125,100 B: 31 RCU.
	near(t, "wm rcu of 1,250 shards", NewEngineModel(in, 1250, false).Batch(b).WatermarkRCU, 2*31+2, 1e-9)
	// An empty batch makes no calls (Process returns at once).
	if z := e.Batch(EngineBatch{}); z != (EngineCalls{}) {
		t.Errorf("empty batch: %+v", z)
	}
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
	// its stream item takes, and the engine firing from every batch fires
	// the 100,000 windows of a boundary thousands of times: the plan says so.
	joined := strings.Join(r.Warnings, "\n")
	for _, w := range []string{"new windows/s", "firings fire them", "shard watermark items"} {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings lack %q:\n%s", w, joined)
		}
	}
	if r.BoundaryFirings < 100 || r.KeepsUp {
		t.Errorf("%.0f firings per boundary, keeps up %v: want the herd and a plan that does not keep up", r.BoundaryFirings, r.KeepsUp)
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

	// One of five pipelines of 20,000 keys with an engine that fires each
	// boundary once keeps up within the target, and costs less per record
	// than the seed-style design.
	p, err := Compute(Input{RecordsPerSecond: 2e5, RecordBytes: 200, Keys: 20_000, StreamMode: Provisioned, SingleFiring: true})
	if err != nil {
		t.Fatal(err)
	}
	if !p.KeepsUp || p.IteratorAgeSeconds > 60 || p.StreamItemWCU > partitionWCU || p.WritesPerRecord > 0.05 ||
		p.MonthlyCostUSD >= p.SeedStyle.MonthlyCostUSD || len(p.Warnings) != 1 {
		t.Errorf("200,000 records/s over 20,000 keys, single firing: %+v", p.Design)
	}
	b, _ := json.Marshal(r)
	for _, f := range []string{`"shards":1250`, `"concurrency":`, `"monthly_cost_usd":`, `"kinesis":`, `"lambda":`, `"dynamodb":`, `"cloudwatch":`, `"sqs_s3":`, `"seed_style":`, `"boundary_firings":`, `"dynamodb_stream_item_wcu":`} {
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
