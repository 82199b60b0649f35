package kinesisbatch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/streamproc/streamproc/functions/kinesisbatch"
	"github.com/streamproc/streamproc/functions/kinesisbatch/kpl"
)

// A KPL producer packed three readings into one Kinesis record. The
// handler sees three records with their own partition keys and ids; the
// one that keeps failing fails the whole Kinesis record, so Lambda will
// redeliver its siblings too (idempotency skips them).
func ExampleRecord_aggregated() {
	var a kpl.Aggregator
	_ = a.Add("sensor-1", "", []byte(`{"t":21.5}`))
	_ = a.Add("sensor-2", "", []byte(`{"t":19.0}`))
	_ = a.Add("sensor-1", "", []byte(`{"t":21.7}`))
	data, _ := a.Encode(nil)
	rec := kinesisbatch.Record{Data: data, PartitionKey: "sensor-1", SequenceNumber: "4959", EventID: "shardId-000000000000:4959"}

	p := kinesisbatch.New(kinesisbatch.RecordFunc(func(ctx context.Context, r *kinesisbatch.Record) error {
		fmt.Println(r.RecordID(), r.PartitionKey, string(r.Data))
		if r.PartitionKey == "sensor-2" {
			return errors.New("throttled")
		}
		return nil
	}), kinesisbatch.Config{Retry: kinesisbatch.RetryPolicy{MaxAttempts: 1}, Logger: slog.New(slog.DiscardHandler), MetricsOutput: io.Discard})
	res := p.Process(context.Background(), []kinesisbatch.Record{rec})
	fmt.Println("received", res.Received, "failed", res.Failed, "batchItemFailures", res.Response.BatchItemFailures)
	// Output:
	// shardId-000000000000/4959/0 sensor-1 {"t":21.5}
	// shardId-000000000000/4959/1 sensor-2 {"t":19.0}
	// shardId-000000000000/4959/2 sensor-1 {"t":21.7}
	// received 3 failed 1 batchItemFailures [{4959}]
}

// Ordered mode: after a record of key "a" fails, the later records of "a"
// are held back (reported, not applied) while other keys go on.
func ExampleOrdering() {
	recs := []kinesisbatch.Record{
		{PartitionKey: "a", SequenceNumber: "1", Data: []byte("a1")},
		{PartitionKey: "b", SequenceNumber: "2", Data: []byte("b1")},
		{PartitionKey: "a", SequenceNumber: "3", Data: []byte("a2")},
		{PartitionKey: "b", SequenceNumber: "4", Data: []byte("b2")},
	}
	p := kinesisbatch.New(kinesisbatch.RecordFunc(func(ctx context.Context, r *kinesisbatch.Record) error {
		if string(r.Data) == "a1" {
			return errors.New("throttled")
		}
		fmt.Println("applied", string(r.Data))
		return nil
	}), kinesisbatch.Config{
		Ordering:      kinesisbatch.OrderPartitionKey,
		Retry:         kinesisbatch.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond},
		Logger:        slog.New(slog.DiscardHandler),
		MetricsOutput: io.Discard,
	})
	res := p.Process(context.Background(), recs)
	for _, f := range res.Failures {
		fmt.Println("reported", string(f.Record.Data), errors.Is(f.Err, kinesisbatch.ErrHeldBack))
	}
	// Output:
	// applied b1
	// applied b2
	// reported a1 false
	// reported a2 true
}
