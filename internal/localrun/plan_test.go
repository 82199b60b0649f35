package localrun_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/streamproc/streamproc/internal/localrun"
	"github.com/streamproc/streamproc/internal/plan"
	"github.com/streamproc/streamproc/internal/producer"
)

// TestLocalRunMatchesThePlan runs the real pipeline (kinesalite, dynalite,
// the processor under aws-lambda-rie) with 2 shards x parallelization 2 and
// batches of 100, sends 40,000 readings from 40 sensors as fast as the
// stream takes them, and compares what it counted with the planner's
// prediction for the same setup at the measured rate. The readings' event
// times are 15 ms apart (10 minutes of event time in seconds of wall time),
// so windows end, fire and close during the run as they do in a long one;
// the planner gets the template's window, lateness and due bucket scaled by
// the same factor. Counts, not times, so a loaded machine does not change
// the verdict. Stated tolerances: invocations per record within 15 %;
// DynamoDB calls per record (every call the processor sends: the
// event-time engine's window items, watermarks, due index, results) within
// 30 % of the plan's writes + reads per record, and writes alone within
// 30 % (conflict retries, the windows still open when the run ends and how
// batches split the 40 sensors' windows vary).
func TestLocalRunMatchesThePlan(t *testing.T) {
	if testing.Short() {
		t.Skip("starts emulators and builds the processor")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const count, sensors, shards, factor, batch = 40_000, 40, 2, 2, 100
	const step = 15 * time.Millisecond // event time between readings
	p, err := localrun.Start(ctx, localrun.Options{
		Template: "testdata/stack.template.json", Kinesis: localrun.Kinesalite,
		Shards: shards, ParallelizationFactor: factor, BatchSize: batch, BatchingWindowSet: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	gen := producer.NewGenerator(producer.GenOptions{Seed: 7, RunID: "plan", Sensors: sensors,
		Start: time.Now().Truncate(time.Minute).Add(-count * step), Step: step})
	start := time.Now()
	rep, err := producer.New(p.Kinesis, producer.Config{Stream: p.StreamName, Count: count}).Run(ctx, producer.GeneratorSource(gen, nil))
	if err != nil || rep.Sent != count {
		t.Fatalf("producer: %v (sent %d)", err, rep.Sent)
	}
	if err := p.WaitIdle(ctx, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	s := p.Poller.Stats()
	writes := float64(p.Sink.Calls.Load())
	if s.AcknowledgedRecords != count || s.Invocations == 0 || writes == 0 {
		t.Fatalf("stats %+v, DynamoDB calls %.0f: want every record acknowledged", s, writes)
	}
	rate := float64(count) / elapsed.Seconds()
	// Event seconds per wall second: the template's 1-minute windows,
	// 120 s lateness (STREAMPROC_EVENTTIME_ALLOWED_LATENESS) and the
	// engine's 1-minute due buckets pass that much faster.
	speed := rate * step.Seconds()
	scaled := func(d time.Duration) time.Duration { return time.Duration(float64(d) / speed) }
	pl, err := plan.Compute(plan.Input{
		RecordsPerSecond: rate, RecordBytes: 180, Keys: sensors,
		Shards: shards, ParallelizationFactor: factor, BatchSize: batch, BatchingWindowSet: true,
		Window: scaled(time.Minute), Lateness: scaled(2 * time.Minute), DueBucket: scaled(time.Minute),
		FireSchedule: 5 * time.Second, // localrun.Options.FireEvery's default plays the fire schedule every 5 s
	})
	if err != nil {
		t.Fatal(err)
	}
	gotInv, wantInv := float64(s.Invocations)/count, 1/pl.RecordsPerInvocation
	gotC, wantC := writes/count, pl.WritesPerRecord+pl.ReadsPerRecord
	ops := p.Sink.Ops()
	var gotW, gotR float64
	for op, n := range ops {
		switch op {
		case "PutItem", "UpdateItem", "DeleteItem":
			gotW += float64(n) / count
		case "Query", "GetItem", "BatchGetItem":
			gotR += float64(n) / count
		}
	}
	t.Logf("%.0f records/s (event time x%.0f: %.2fs windows): the plan's %.2f firing attempts and %.2f lease firings per window", rate, speed, pl.Input.WindowSeconds, pl.FiringAttempts, pl.LeaseFirings)
	t.Logf("%.0f records/s: invocations/record %.4f (plan %.4f), DynamoDB calls/record %.4f (plan %.4f): writes %.4f (plan %.4f), reads %.4f (plan %.4f); calls %v",
		rate, gotInv, wantInv, gotC, wantC, gotW, pl.WritesPerRecord, gotR, pl.ReadsPerRecord, ops)
	if math.Abs(gotInv-wantInv) > 0.15*wantInv {
		t.Errorf("invocations per record %.4f, plan %.4f: more than 15%% apart", gotInv, wantInv)
	}
	if math.Abs(gotC-wantC) > 0.30*wantC {
		t.Errorf("DynamoDB calls per record %.4f, plan %.4f: more than 30%% apart", gotC, wantC)
	}
	if math.Abs(gotW-pl.WritesPerRecord) > 0.30*pl.WritesPerRecord {
		t.Errorf("DynamoDB writes per record %.4f, plan %.4f: more than 30%% apart", gotW, pl.WritesPerRecord)
	}
}
