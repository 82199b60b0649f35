package kinesisbatch

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/streamproc/streamproc/functions/kinesisbatch/kpl"
)

// kplEvent packs the readings of genEvent(n) per to a Kinesis record.
func kplEvent(b *testing.B, n, per int) []byte {
	var ev events.KinesisEvent
	if err := json.Unmarshal(genEvent(n), &ev); err != nil {
		b.Fatal(err)
	}
	var out events.KinesisEvent
	var a kpl.Aggregator
	for i := 0; i < len(ev.Records); i += per {
		a.Reset()
		for _, r := range ev.Records[i:min(i+per, len(ev.Records))] {
			_ = a.Add(r.Kinesis.PartitionKey, "", r.Kinesis.Data)
		}
		rec := ev.Records[i]
		rec.Kinesis.Data, _ = a.Encode(nil)
		out.Records = append(out.Records, rec)
	}
	payload, err := json.Marshal(out)
	if err != nil {
		b.Fatal(err)
	}
	return payload
}

// BenchmarkDeaggregate is the toolkit's cost of KPL events: decoding and
// deaggregating benchRecords readings, plain or packed by 100, per reading.
func BenchmarkDeaggregate(b *testing.B) {
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"plain", genEvent(benchRecords)},
		{"kpl100", kplEvent(b, benchRecords, 100)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var d Decoder
			var dg Deaggregator
			b.SetBytes(int64(len(tc.payload)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				recs, err := d.Decode(tc.payload)
				if err != nil {
					b.Fatal(err)
				}
				recs, _ = dg.Expand(recs)
				n = len(recs)
			}
			if n != benchRecords {
				b.Fatalf("%d records", n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/reading")
		})
	}
}

// BenchmarkInvokeKPL is BenchmarkInvoke's RecordFunc on the same readings
// packed 100 per Kinesis record.
func BenchmarkInvokeKPL(b *testing.B) {
	payload := kplEvent(b, benchRecords, 100)
	p := New(RecordFunc(func(ctx context.Context, r *Record) error { return nil }), Config{Logger: slog.New(slog.DiscardHandler), MetricsOutput: io.Discard})
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := p.Invoke(context.Background(), payload)
		if err != nil || string(out) != `{"batchItemFailures":[]}` {
			b.Fatal(err, string(out))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRecords, "ns/record")
}

// BenchmarkExpandPlain is what the KPL check costs a plain event: Expand
// over benchRecords decoded records, none aggregated.
func BenchmarkExpandPlain(b *testing.B) {
	recs, err := DecodeEvent(genEvent(benchRecords))
	if err != nil {
		b.Fatal(err)
	}
	var dg Deaggregator
	b.ReportAllocs()
	for b.Loop() {
		if out, _ := dg.Expand(recs); len(out) != benchRecords {
			b.Fatal(len(out))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRecords, "ns/record")
}
