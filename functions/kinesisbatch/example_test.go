package kinesisbatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/streamproc/streamproc/functions/kinesisbatch"
)

type reading struct {
	EventID     string  `json:"event_id"`
	SensorID    string  `json:"sensor_id"`
	Temperature float64 `json:"temperature"`
}

// The main of a Lambda function: configuration from the environment the
// StreamProcessor construct sets, and the Processor handed to lambda.Start
// as a lambda.Handler, so the invoke payload never goes through
// encoding/json.
func Example_lambdaMain() {
	ctx := context.Background()
	cfg, err := kinesisbatch.ConfigFromEnv(ctx) // SQS quarantine on $STREAMPROC_QUARANTINE_QUEUE_URL
	if err != nil {
		kinesisbatch.NewLogger(os.Stderr).Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	p := kinesisbatch.New(kinesisbatch.RecordFunc(func(ctx context.Context, r *kinesisbatch.Record) error {
		var rd reading
		if err := json.Unmarshal(r.Data, &rd); err != nil {
			return kinesisbatch.Permanent(err) // quarantined with its payload, acknowledged
		}
		return nil // or a plain error: transient, retried, then reported
	}), cfg)
	lambda.Start(p)
}

// A per-record handler. One record succeeds, one is permanently bad and
// goes to the quarantine, one keeps failing transiently and is returned as
// a batch item failure with its exact sequence number.
func ExampleRecordFunc() {
	payload, _ := os.ReadFile("testdata/three-records.json")
	p := kinesisbatch.New(kinesisbatch.RecordFunc(func(ctx context.Context, r *kinesisbatch.Record) error {
		var rd reading
		if err := json.Unmarshal(r.Data, &rd); err != nil {
			return kinesisbatch.Permanent(fmt.Errorf("not a reading: %w", err))
		}
		if rd.SensorID == "sensor-3" {
			return errors.New("table throttled") // transient
		}
		fmt.Printf("stored %s %.1f\n", rd.SensorID, rd.Temperature)
		return nil
	}), kinesisbatch.Config{
		Quarantine: printQuarantine{},
		Retry:      kinesisbatch.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond},
		// In Lambda leave these unset: JSON logs and one EMF line go to stdout.
		Logger:        slog.New(slog.DiscardHandler),
		MetricsOutput: io.Discard,
	})
	out, err := p.Invoke(context.Background(), payload) // err only if payload is not a Kinesis event
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
	// Output:
	// stored sensor-1 21.5
	// quarantined 49590338271490256608559692540925702759324208523137515618: not a reading: invalid character 'o' in literal null (expecting 'u')
	// {"batchItemFailures":[{"itemIdentifier":"49590338271490256608559692540925702759324208523137515700"}]}
}

// printQuarantine stands in for the SQS quarantine.
type printQuarantine struct{}

func (printQuarantine) Put(_ context.Context, fs []kinesisbatch.Failure) []error {
	for _, f := range fs {
		fmt.Printf("quarantined %s: %v\n", f.Record.SequenceNumber, f.Err)
	}
	return make([]error, len(fs))
}

// A grouped handler: prepare decodes and validates each record, apply runs
// once per key (here the sensor) with bounded concurrency. An error or a
// panic in apply fails that group's records only.
func ExampleGrouped() {
	payload, _ := os.ReadFile("testdata/kinesis-event.json")
	h := kinesisbatch.Grouped(
		func(ctx context.Context, r *kinesisbatch.Record) (string, float64, error) {
			var rd reading
			if err := json.Unmarshal(r.Data, &rd); err != nil {
				return "", 0, kinesisbatch.Permanent(err)
			}
			return rd.SensorID, rd.Temperature, nil
		},
		func(ctx context.Context, sensor string, items []kinesisbatch.Item[float64]) error {
			sum := 0.0
			for _, it := range items {
				sum += it.Value
			}
			fmt.Printf("%s: %d readings, sum %.2f\n", sensor, len(items), sum)
			kinesisbatch.MetricsFromContext(ctx).Add("WindowsWritten", kinesisbatch.UnitCount, 1)
			return nil
		},
		kinesisbatch.GroupOptions{Concurrency: 1},
	)
	p := kinesisbatch.New(h, kinesisbatch.Config{Logger: slog.New(slog.DiscardHandler), MetricsOutput: io.Discard})
	out, _ := p.Invoke(context.Background(), payload)
	fmt.Println(string(out))
	// Output:
	// sensor-1: 1 readings, sum 21.50
	// sensor-2: 1 readings, sum 19.75
	// {"batchItemFailures":[]}
}

// A batch handler sees every record of an attempt and reports outcomes per
// record; records it does not fail succeeded.
func ExampleBatchFunc() {
	payload, _ := os.ReadFile("testdata/kinesis-event.json")
	h := kinesisbatch.BatchFunc(func(ctx context.Context, b *kinesisbatch.Batch) error {
		for _, r := range b.Records {
			if strings.Contains(string(r.Data), `"humidity"`) {
				b.Fail(r, errors.New("humidity sink unavailable"))
			}
		}
		return nil // a returned error would fail every record not failed yet
	})
	p := kinesisbatch.New(h, kinesisbatch.Config{
		Retry:  kinesisbatch.RetryPolicy{MaxAttempts: 1},
		Logger: slog.New(slog.DiscardHandler), MetricsOutput: io.Discard,
	})
	out, _ := p.Invoke(context.Background(), payload)
	fmt.Println(string(out))
	// Output:
	// {"batchItemFailures":[{"itemIdentifier":"49590338271490256608559692540925702759324208523137515618"}]}
}

// The Decoder on its own: the records of a Lambda Kinesis event, with Data
// already base64-decoded.
func ExampleDecoder() {
	payload, _ := os.ReadFile("testdata/kinesis-event.json")
	var d kinesisbatch.Decoder
	recs, err := d.Decode(payload)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range recs {
		fmt.Println(r.ShardID(), r.SequenceNumber[:8], r.PartitionKey, r.ApproximateArrivalTimestamp.UTC().Format(time.RFC3339Nano), string(r.Data[:16]))
	}
	_, err = d.Decode([]byte(`{"Records":[{"kinesis":{"data":"not base64!"}}]}`))
	fmt.Println(err)
	// Output:
	// shardId-000000000006 49590338 sensor-1 2025-11-25T10:07:31.123Z {"event_id":"e1"
	// shardId-000000000006 49590338 sensor-2 2025-11-25T10:07:32.456Z {"event_id":"e2"
	// kinesisbatch: invalid Kinesis event at offset 31: kinesis.data is not base64: illegal base64 data at input byte 3
}

// The EMF document a Processor prints once per invocation, here written by
// hand: the toolkit's metrics and the handler's share it.
func ExampleMetrics() {
	m := kinesisbatch.NewMetrics()
	m.Add("RecordsReceived", kinesisbatch.UnitCount, 8000)
	m.Add("WindowsWritten", kinesisbatch.UnitCount, 412)
	m.Observe("EventTimeLag", kinesisbatch.UnitMilliseconds, 1830)
	_ = m.WriteEMF(os.Stdout, "StreamProc", "readings-processor", time.UnixMilli(1764065251123))
	// Output:
	// {"_aws":{"Timestamp":1764065251123,"CloudWatchMetrics":[{"Namespace":"StreamProc","Dimensions":[["FunctionName"]],"Metrics":[{"Name":"RecordsReceived","Unit":"Count"},{"Name":"WindowsWritten","Unit":"Count"},{"Name":"EventTimeLag","Unit":"Milliseconds"}]}]},"FunctionName":"readings-processor","RecordsReceived":8000,"WindowsWritten":412,"EventTimeLag":1830}
}
