package kinesisbatch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// genEvent builds a Lambda Kinesis event of n sensor readings, in the shape
// and field order Lambda sends, deterministically: ~195 B of JSON each, 200
// sensors, event time out of order by up to 30 s. 8,000 of them make a
// 6.5 MB event, the size of the largest invoke.
func genEvent(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	b.WriteString(`{"Records":[`)
	seq := []byte("49590338271490256608559692538361571095921575989136500000")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		sensor := fmt.Sprintf("sensor-%03d", rng.IntN(200))
		ts := base.Add(time.Duration(i)*75*time.Millisecond - time.Duration(rng.IntN(30000))*time.Millisecond)
		reading := fmt.Sprintf(`{"event_id":"%016x-%04d-4000-8000-%012x","sensor_id":"%s","ts":%d,"temperature":%.2f,"humidity":%.1f,"battery_v":%.2f,"site":"plant-north","firmware":"2.4.1"}`,
			rng.Uint64(), rng.IntN(10000), rng.Uint64()&0xffffffffffff, sensor, ts.UnixMilli(), 15+rng.Float64()*15, 30+rng.Float64()*40, 3+rng.Float64())
		s := strconv.Itoa(i)
		copy(seq[len(seq)-len(s):], s)
		arrival := ts.Add(time.Duration(rng.IntN(2000)) * time.Millisecond)
		fmt.Fprintf(&b, `{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"%s","sequenceNumber":"%s","data":"%s","approximateArrivalTimestamp":%d.%03d},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-000000000006:%s","eventName":"aws:kinesis:record","invokeIdentityArn":"arn:aws:iam::123456789012:role/streamproc-processor-role","awsRegion":"eu-west-1","eventSourceARN":"arn:aws:kinesis:eu-west-1:123456789012:stream/streamproc-readings"}`,
			sensor, seq, base64.StdEncoding.EncodeToString([]byte(reading)), arrival.Unix(), arrival.Nanosecond()/1e6, seq)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// cpuTime returns the CPU time the process has used. Benchmarks report it per
// operation as "cpu-ns/op" next to the wall time: the machines this runs on
// are shared, and CPU time is what a Lambda invocation pays for.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRecords is the largest batch Lambda delivers by size: ~6 MB.
const benchRecords = 8000

// BenchmarkDecode compares the Decoder with encoding/json into
// events.KinesisEvent (what lambda.Start does) on the same ~6 MB event and
// reports the ratio as "x-faster-than-encoding/json".
func BenchmarkDecode(b *testing.B) {
	payload := genEvent(benchRecords)
	var stdNs, fastNs float64
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		c0 := cpuTime()
		for b.Loop() {
			var ev events.KinesisEvent
			if err := json.Unmarshal(payload, &ev); err != nil {
				b.Fatal(err)
			}
		}
		stdNs = float64(cpuTime()-c0) / float64(b.N)
		b.ReportMetric(stdNs, "cpu-ns/op")
		b.ReportMetric(float64(benchRecords), "records/op")
	})
	b.Run("kinesisbatch", func(b *testing.B) {
		var d Decoder
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		c0 := cpuTime()
		for b.Loop() {
			recs, err := d.Decode(payload)
			if err != nil || len(recs) != benchRecords {
				b.Fatal(err, len(recs))
			}
		}
		fastNs = float64(cpuTime()-c0) / float64(b.N)
		b.ReportMetric(fastNs, "cpu-ns/op")
		b.ReportMetric(float64(benchRecords), "records/op")
		if stdNs > 0 {
			b.ReportMetric(stdNs/fastNs, "x-less-cpu-than-encoding/json")
		}
	})
	// The general path alone: what an event in another field order or
	// layout costs (the record template never matches).
	b.Run("kinesisbatch-general-path", func(b *testing.B) {
		d := Decoder{noTemplate: true}
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		c0 := cpuTime()
		for b.Loop() {
			recs, err := d.Decode(payload)
			if err != nil || len(recs) != benchRecords {
				b.Fatal(err, len(recs))
			}
		}
		ns := float64(cpuTime()-c0) / float64(b.N)
		b.ReportMetric(ns, "cpu-ns/op")
		b.ReportMetric(float64(benchRecords), "records/op")
		if stdNs > 0 {
			b.ReportMetric(stdNs/ns, "x-less-cpu-than-encoding/json")
		}
	})
}

// BenchmarkInvoke is the toolkit's whole cost for a ~6 MB event with a
// handler that does nothing: decoding, the attempt loop, the response, the
// EMF line and the summary log (to io.Discard).
func BenchmarkInvoke(b *testing.B) {
	payload := genEvent(benchRecords)
	quiet := Config{Logger: slog.New(slog.DiscardHandler), MetricsOutput: io.Discard}
	run := func(b *testing.B, h BatchHandler) {
		p := New(h, quiet)
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		c0 := cpuTime()
		for b.Loop() {
			out, err := p.Invoke(context.Background(), payload)
			if err != nil || string(out) != `{"batchItemFailures":[]}` {
				b.Fatal(err, string(out))
			}
		}
		b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRecords, "ns/record")
	}
	b.Run("RecordFunc", func(b *testing.B) {
		run(b, RecordFunc(func(ctx context.Context, r *Record) error { return nil }))
	})
	b.Run("Grouped", func(b *testing.B) {
		run(b, Grouped(
			func(ctx context.Context, r *Record) (string, int, error) { return r.PartitionKey, len(r.Data), nil },
			func(ctx context.Context, key string, items []Item[int]) error { return nil },
			GroupOptions{},
		))
	})
}
