//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/functions/processor/config"
	"github.com/streamproc/streamproc/internal/producer"
)

var cases = []testCase{
	{
		name:   "steady load, 4 shards, out-of-order",
		shards: 4,
		run: func(c *caseCtx) {
			c.produce(producer.GenOptions{Seed: 1, Sensors: 200, OutOfOrder: 0.3, MaxLateness: 90 * time.Second}, 4000, 0, nil)
		},
		expect: func(c *caseCtx, v verdict) {
			c.clean(v)
			if v.Applied != int64(v.Unique) || v.Unique != 4000 {
				c.t.Errorf("applied %d of %d unique readings (4000 produced)", v.Applied, v.Unique)
			}
		},
	},
	{
		name:   "duplicates: producer and redelivery",
		shards: 2,
		run: func(c *caseCtx) {
			c.produce(producer.GenOptions{Seed: 2, Sensors: 50, Duplicates: 0.15, OutOfOrder: 0.1}, 3000, 0, nil)
			c.settle()
			// The same batch again, then retries with other boundaries.
			c.redeliver(0, 0, 500)
			c.redeliver(0, 100, 350)
			c.redeliver(1, 0, 300)
			c.fault = "3 redelivered batches (1050 records)"
		},
		expect: func(c *caseCtx, v verdict) {
			c.clean(v)
			if v.Duplicates == 0 || v.Applied != int64(v.Unique) {
				c.t.Errorf("duplicates %d, applied %d, unique %d", v.Duplicates, v.Applied, v.Unique)
			}
			if skipped := int(c.p.Metrics()[config.MetricDuplicatesSkipped]); skipped < v.Duplicates {
				c.t.Errorf("DuplicatesSkipped = %d, want at least the %d producer duplicates", skipped, v.Duplicates)
			}
		},
	},
	{
		name: "poison pills inside large batches",
		run: func(c *caseCtx) {
			huge := append([]byte(`{"event_id":"huge","sensor_id":"sensor-0001","ts":1,"temperature":20,"pad":"`), bytes.Repeat([]byte("x"), 900<<10)...)
			huge = append(huge, `"}`...)
			poison := map[int]producer.Record{
				100:  {Entry: producer.Entry{PartitionKey: "sensor-0001", Data: []byte("\x00\xffnot json at all")}, Kind: producer.Invalid, Reason: "binary garbage"},
				700:  {Entry: producer.Entry{PartitionKey: "sensor-0002", Data: []byte(`{"event_id":"nan","sensor_id":"sensor-0002","ts":1764000000000,"temperature":"NaN"}`)}, Kind: producer.Invalid, Reason: "NaN temperature"},
				1500: {Entry: producer.Entry{PartitionKey: "sensor-0003", Data: huge}, Kind: producer.Invalid, Reason: "900 KiB payload"},
				2500: {Entry: producer.Entry{PartitionKey: "sensor-0004", Data: []byte(`{"sensor_id":"sensor-0004","ts":1764000000000,"temperature":21.5}`)}, Kind: producer.Invalid, Reason: "no event_id"},
			}
			c.produce(producer.GenOptions{Seed: 3, Sensors: 100, Invalid: 0.05}, 4000, 0, poison)
			c.fault = "5% invalid + 4 crafted (900 KiB, binary)"
		},
		expect: func(c *caseCtx, v verdict) {
			c.clean(v)
			if v.Invalid < 100 || v.Quarantined != v.Invalid {
				c.t.Errorf("quarantined %d of %d invalid records", v.Quarantined, v.Invalid)
			}
			if s := c.p.Poller.Stats(); s.FailedInvocations != 0 || s.Retries != 0 {
				c.t.Errorf("poison pills blocked the shard: %d failed invocations, %d retries", s.FailedInvocations, s.Retries)
			}
		},
	},
	{
		name: "processor killed mid-batch, restarted",
		run: func(c *caseCtx) {
			var kills atomic.Int64
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				rng := rand.New(rand.NewPCG(4, 4))
				for kills.Load() < 6 {
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(150+rng.IntN(200)) * time.Millisecond):
					}
					if busy := c.p.Pool.Busy(); len(busy) > 0 {
						c.p.Pool.Kill(busy[rng.IntN(len(busy))])
						kills.Add(1)
					}
				}
			}()
			c.produce(producer.GenOptions{Seed: 4, Sensors: 100, OutOfOrder: 0.2}, 5000, 1000, nil)
			c.settle()
			close(stop)
			<-done
			c.fault = fmt.Sprintf("%d environments SIGKILLed mid-invoke", kills.Load())
		},
		expect: func(c *caseCtx, v verdict) {
			c.clean(v)
			if s := c.p.Poller.Stats(); s.FailedInvocations == 0 {
				c.t.Errorf("no invocation failed: the kills missed every batch")
			}
			if v.Applied != int64(v.Unique) {
				c.t.Errorf("applied %d, unique %d", v.Applied, v.Unique)
			}
		},
	},
	{
		name: "sink throttled for a while, recovering",
		run: func(c *caseCtx) {
			// Throttle every DynamoDB call for 4s, starting with the first
			// write the processor makes, then recover.
			go func() {
				for c.p.Sink.Calls.Load() == 0 && c.ctx.Err() == nil {
					time.Sleep(10 * time.Millisecond)
				}
				c.p.Sink.Throttle(4*time.Second, 1)
			}()
			c.produce(producer.GenOptions{Seed: 5, Sensors: 100, OutOfOrder: 0.2}, 4000, 1000, nil)
			c.settle()
			c.fault = fmt.Sprintf("%d DynamoDB calls throttled in 4s", c.p.Sink.Throttled.Load())
		},
		expect: func(c *caseCtx, v verdict) {
			c.clean(v)
			if c.p.Sink.Throttled.Load() == 0 {
				c.t.Errorf("no call was throttled")
			}
			if v.Applied != int64(v.Unique) {
				c.t.Errorf("applied %d, unique %d", v.Applied, v.Unique)
			}
		},
	},
	{
		name: "retries exhausted -> DLQ -> redrive",
		// The processor retries a throttled sink until shortly before its
		// deadline; a 4s timeout (instead of the template's) keeps each of
		// the 1 + MaximumRetryAttempts invocations short.
		functionTimeout: 4 * time.Second,
		run: func(c *caseCtx) {
			c.produce(producer.GenOptions{Seed: 6, Sensors: 40}, 1000, 0, nil)
			c.settle()
			c.p.Sink.Throttle(time.Hour, 1)
			c.produce(producer.GenOptions{Seed: 7, Sensors: 40, OutOfOrder: 0.2}, 300, 0, nil)
			c.settle() // every batch of this phase ends in the DLQ
			c.p.Sink.Recover()
			c.produce(producer.GenOptions{Seed: 8, Sensors: 40}, 1000, 0, nil)
			c.settle()
			v, err := check(c.ctx, c.p, c.produced, c.window)
			if err != nil {
				c.t.Fatal(err)
			}
			if v.DLQMessages == 0 || v.CoveredReadings == 0 {
				c.t.Fatalf("expected on-failure messages after exhausting retries: %+v", v)
			}
			for _, p := range v.Problems {
				c.t.Errorf("before redrive: %s", p)
			}
			c.before = &v
			// The messages are the mapping's, in AWS's shape.
			retries := -1
			if r := c.p.Poller.Config().MaximumRetryAttempts; r != nil {
				retries = *r
			}
			for _, m := range c.p.DLQ().BatchInfo {
				b := m.KinesisBatchInfo
				if m.RequestContext.Condition != "RetryAttemptsExhausted" || m.RequestContext.ApproximateInvokeCount != retries+1 ||
					m.RequestContext.FunctionARN != c.p.FunctionARN || b.StreamARN != c.p.StreamARN || b.BatchSize < 1 ||
					m.Version != "1.0" || b.ApproximateArrivalOfFirstRecord.After(b.ApproximateArrivalOfLastRecord.Time) {
					c.t.Errorf("on-failure message %+v", m)
				}
			}
			c.fault = fmt.Sprintf("%d batches (%d readings) to DLQ", v.DLQMessages, v.CoveredReadings)
			if err := c.redrive(); err != nil {
				c.t.Skipf("streamctl redrive is not usable yet (%v): conservation before redrive holds", err)
			}
			c.fault += ", redriven"
		},
		expect: func(c *caseCtx, v verdict) {
			if v.DLQMessages != 0 || v.CoveredReadings != 0 || v.Applied != int64(v.Unique) {
				c.t.Errorf("after redrive: %d DLQ messages left, %d readings covered, applied %d of %d", v.DLQMessages, v.CoveredReadings, v.Applied, v.Unique)
			}
		},
	},
}

// engineEnv sets the engine's bounds for the event-time cases: 2 minutes
// of out-of-orderness (the producer's concurrent puts reorder a phase's
// minute of readings), 5s allowed lateness, a shard idle after 3s.
var engineEnv = []string{
	contract.EnvEventTimeOutOfOrderness + "=2m",
	contract.EnvEventTimeAllowedLateness + "=5s",
	contract.EnvEventTimeIdleTimeout + "=3s",
}

// eventTimeCases are the engine's promises end to end: finals despite an
// idle shard, records beyond the lateness in the late output, and a redrive
// after the watermark moved counted once.
var eventTimeCases = []testCase{
	{
		name:   "idle shard: final results still arrive",
		shards: 2,
		env:    engineEnv,
		run: func(c *caseCtx) {
			now := time.Now()
			c.produce(producer.GenOptions{Seed: 11, Sensors: 20, Start: now.Add(-10 * time.Minute), Step: 100 * time.Millisecond}, 1200, 0, nil)
			phase1 := slices.Clone(c.produced)
			c.settle()
			// One sensor (one shard) moves on; the other shard has nothing
			// more and goes idle: it must stop holding the watermark back.
			c.produce(producer.GenOptions{Seed: 12, Sensors: 1, Start: now.Add(-4 * time.Minute), Step: 100 * time.Millisecond}, 300, 0, nil)
			c.settle()
			c.waitFinals(phase1, time.Minute)
			c.fault = "1 of 2 shards idle after the first phase"
		},
		expect: func(c *caseCtx, v verdict) {
			c.clean(v)
			if v.Applied != int64(v.Unique) || v.Late != 0 || v.Finals == 0 {
				c.t.Errorf("applied %d of %d unique, %d late, %d finals", v.Applied, v.Unique, v.Late, v.Finals)
			}
		},
	},
	{
		name: "records beyond the lateness -> late output",
		env:  engineEnv,
		run: func(c *caseCtx) {
			now := time.Now()
			c.produce(producer.GenOptions{Seed: 13, Sensors: 10, Start: now.Add(-10 * time.Minute), Step: 100 * time.Millisecond}, 600, 0, nil)
			c.settle()
			c.produce(producer.GenOptions{Seed: 14, Sensors: 10, Start: now.Add(-3 * time.Minute), Step: 100 * time.Millisecond}, 200, 0, nil)
			c.settle()
			// New readings for the windows that closed minutes ago.
			c.produce(producer.GenOptions{Seed: 15, Sensors: 10, Start: now.Add(-10 * time.Minute), Step: 200 * time.Millisecond}, 300, 0, nil)
			c.fault = "300 readings 7 minutes behind the watermark"
		},
		expect: func(c *caseCtx, v verdict) {
			c.clean(v)
			if v.Late != 300 || v.Applied != int64(v.Unique-300) {
				c.t.Errorf("%d late (want 300), applied %d of %d unique", v.Late, v.Applied, v.Unique)
			}
			if n := c.p.Metrics()[config.MetricLateRecords]; n < 300 {
				c.t.Errorf("LateRecords = %v, want at least 300", n)
			}
		},
	},
	{
		name: "redrive after the watermark moved",
		env:  engineEnv,
		run: func(c *caseCtx) {
			now := time.Now()
			c.produce(producer.GenOptions{Seed: 16, Sensors: 10, Start: now.Add(-10 * time.Minute), Step: 100 * time.Millisecond}, 600, 0, nil)
			c.settle()
			c.produce(producer.GenOptions{Seed: 17, Sensors: 10, Start: now.Add(-3 * time.Minute), Step: 100 * time.Millisecond}, 200, 0, nil)
			c.settle()
			c.fire()
			// The first phase's windows are closed and final; its records
			// come again, as a redrive would send them, in other boundaries.
			c.redeliver(0, 0, 600)
			c.redeliver(0, 100, 400)
			c.fault = "900 records redelivered after their windows closed"
		},
		expect: func(c *caseCtx, v verdict) {
			c.clean(v)
			if v.Applied != int64(v.Unique) || v.Late != 0 || v.Corrections != 0 {
				c.t.Errorf("applied %d of %d unique, %d late, %d corrections (want none)", v.Applied, v.Unique, v.Late, v.Corrections)
			}
			if skipped := c.p.Metrics()[config.MetricDuplicatesSkipped]; skipped < 900 {
				c.t.Errorf("DuplicatesSkipped = %v, want at least 900", skipped)
			}
		},
	},
}

// waitFinals waits until every window of recs has a final result on the
// results stream.
func (c *caseCtx) waitFinals(recs []producer.Record, timeout time.Duration) {
	c.t.Helper()
	want := map[window]bool{}
	for _, r := range recs {
		if r.Kind != producer.Invalid {
			want[window{r.Reading.SensorID, time.UnixMilli(r.Reading.TS).UTC().Truncate(c.window).Format(time.RFC3339)}] = true
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		rs, err := c.p.Results(c.ctx)
		if err != nil {
			c.t.Fatal(err)
		}
		missing := len(want)
		for _, r := range rs {
			if r.Revision == 0 && want[window{r.Key, r.WindowStart.UTC().Format(time.RFC3339)}] {
				missing--
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%d of %d windows have no final result after %s", missing, len(want), timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// clean asserts nothing went to the DLQ as batch info.
func (c *caseCtx) clean(v verdict) {
	c.t.Helper()
	if v.DLQMessages != 0 {
		c.t.Errorf("%d on-failure messages in the DLQ, want none", v.DLQMessages)
	}
}

var errRedriveMissing = errors.New("not implemented")

// redrive runs `streamctl redrive` against the local pipeline as an operator
// would, with the AWS_ENDPOINT_URL_* variables of the local services.
func (c *caseCtx) redrive() error {
	// Batch-info messages only: the quarantined records are invalid on
	// purpose and stay listed in the DLQ.
	args := []string{"redrive", "--queue", c.p.DLQURL, "--only", "batches", "--no-progress"}
	if c.p.FailedBucket != "" {
		// The failed batches are objects in the S3 destination.
		args = []string{"redrive", "--bucket", c.p.FailedBucket, "--no-progress"}
	}
	cmd := exec.CommandContext(c.ctx, streamctl, args...)
	cmd.Env = append(cmd.Environ(), c.p.Env()...)
	out, err := cmd.CombinedOutput()
	c.t.Logf("streamctl redrive:\n%s", out)
	if err != nil {
		if strings.Contains(string(out), "not implemented") {
			return fmt.Errorf("%w: %s", errRedriveMissing, strings.TrimSpace(string(out)))
		}
		c.t.Fatalf("streamctl redrive: %v", err)
	}
	return nil
}
