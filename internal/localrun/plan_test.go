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
// batches of 100, sends 20,000 readings from 40 sensors as fast as the
// stream takes them, and compares what it counted with the planner's
// prediction for the same setup at the measured rate. Counts, not times, so
// a loaded machine does not change the verdict. Stated tolerances:
// invocations per record within 15 %; DynamoDB calls per record (every call
// the processor sends: the event-time engine's window items, watermarks,
// due index, results) within 30 % of the plan's writes + reads per record
// (conflict retries and how batches split the 40 sensors' windows vary).
func TestLocalRunMatchesThePlan(t *testing.T) {
	if testing.Short() {
		t.Skip("starts emulators and builds the processor")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const count, sensors, shards, factor, batch = 20_000, 40, 2, 2, 100
	p, err := localrun.Start(ctx, localrun.Options{
		Template: "testdata/stack.template.json", Kinesis: localrun.Kinesalite,
		Shards: shards, ParallelizationFactor: factor, BatchSize: batch, BatchingWindowSet: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	gen := producer.NewGenerator(producer.GenOptions{Seed: 7, RunID: "plan", Sensors: sensors})
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
	pl, err := plan.Compute(plan.Input{
		RecordsPerSecond: rate, RecordBytes: 180, Keys: sensors,
		Shards: shards, ParallelizationFactor: factor, BatchSize: batch, BatchingWindowSet: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	gotInv, wantInv := float64(s.Invocations)/count, 1/pl.RecordsPerInvocation
	gotC, wantC := writes/count, pl.WritesPerRecord+pl.ReadsPerRecord
	t.Logf("%.0f records/s: invocations/record %.4f (plan %.4f), DynamoDB calls/record %.4f (plan %.4f: writes %.4f + reads %.4f)",
		rate, gotInv, wantInv, gotC, wantC, pl.WritesPerRecord, pl.ReadsPerRecord)
	if math.Abs(gotInv-wantInv) > 0.15*wantInv {
		t.Errorf("invocations per record %.4f, plan %.4f: more than 15%% apart", gotInv, wantInv)
	}
	if math.Abs(gotC-wantC) > 0.30*wantC {
		t.Errorf("DynamoDB calls per record %.4f, plan %.4f: more than 30%% apart", gotC, wantC)
	}
}
