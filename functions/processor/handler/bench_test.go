package handler

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/functions/kinesisbatch"
	"github.com/streamproc/streamproc/internal/tools/bench/workload"
)

// The benchmarks run on the benchmark workload: the event file named by
// $BENCH_EVENT (what `make bench` generates once for every language), or a
// freshly generated one.
func benchEvent(b *testing.B) ([]byte, time.Time) {
	if p := os.Getenv("BENCH_EVENT"); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		st, _ := os.Stat(p)
		return data, st.ModTime()
	}
	return workload.Event(workload.Records(workload.Options{})), time.Now()
}

// discardStore is an eventtime.Store without I/O: every window reads as new
// and every write succeeds. With it the benchmarks measure the CPU of the
// path up to the DynamoDB requests (the window states encoded as they would
// be written).
type discardStore struct{}

func (discardStore) GetWindows(_ context.Context, keys []eventtime.WindowKey) ([]eventtime.WindowState, error) {
	return make([]eventtime.WindowState, len(keys)), nil
}
func (discardStore) PutWindow(_ context.Context, _ eventtime.WindowKey, s eventtime.WindowState) (int64, error) {
	return s.Version + 1, nil
}
func (discardStore) DueWindows(context.Context, int64) ([]eventtime.WindowKey, error) {
	return nil, nil
}
func (discardStore) GetWatermarks(context.Context) (eventtime.Watermarks, error) {
	return eventtime.Watermarks{Stream: -1 << 63}, nil
}
func (discardStore) GetShard(_ context.Context, shard string) (int64, eventtime.ShardState, bool, error) {
	return -1 << 63, eventtime.ShardState{}, false, nil
}
func (discardStore) PutShard(context.Context, eventtime.ShardState) error { return nil }
func (discardStore) AdvanceStream(context.Context, int64) error           { return nil }
func (discardStore) TakeFireLease(context.Context, int64, int64) (bool, error) {
	return true, nil
}
func (discardStore) ReleaseFireLease(context.Context, int64) error { return nil }

// benchHandler is the example's handler on an engine over discardStore,
// with the clock at the event's generation time.
func benchHandler(b *testing.B, gen time.Time) *Handler {
	windows, _ := eventtime.Tumbling(time.Minute)
	none := eventtime.ResultSinkFunc[string, eventtime.Stats](func(_ context.Context, rs []eventtime.Result[string, eventtime.Stats]) []error {
		return make([]error, len(rs))
	})
	eng, err := eventtime.New(eventtime.Config[string, eventtime.Fixed, eventtime.Stats]{
		Windows: windows, OutOfOrderness: 20 * time.Second, AllowedLateness: 2 * time.Minute,
		Store: discardStore{}, Results: none,
		Late: eventtime.LateSinkFunc[string](func(_ context.Context, l []eventtime.LateRecord[string]) []error { return make([]error, len(l)) }),
		Now:  func() time.Time { return gen },
	})
	if err != nil {
		b.Fatal(err)
	}
	h, err := New(Config{Engine: eng, Now: func() time.Time { return gen }})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkPipeline is the headline figure: the raw invoke payload ->
// envelope and base64 decode -> reading decode and validation -> the
// engine's grouping, exactly-once merge and encoded window states (no I/O),
// then its (empty) firing; without the toolkit's per-invocation bookkeeping.
func BenchmarkPipeline(b *testing.B) {
	payload, gen := benchEvent(b)
	pipeline(b, payload, gen)
}

// BenchmarkPipelineKPL is BenchmarkPipeline on the KPL event: readings of
// the same workload packed workload.KPLPerRecord per Kinesis record, as many
// as fit in an event of the plain one's size ($BENCH_EVENT_KPL, or generated).
func BenchmarkPipelineKPL(b *testing.B) {
	payload, gen := benchEventKPL(b)
	pipeline(b, payload, gen)
}

func benchEventKPL(b *testing.B) ([]byte, time.Time) {
	if p := os.Getenv("BENCH_EVENT_KPL"); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		st, _ := os.Stat(p)
		return data, st.ModTime()
	}
	plain, gen := benchEvent(b)
	ev, _ := workload.AggregatedEvent(workload.Options{Start: gen.Add(-time.Minute)}, workload.KPLPerRecord, len(plain))
	return ev, gen
}

func pipeline(b *testing.B, payload []byte, gen time.Time) {
	h := benchHandler(b, gen)
	var dec kinesisbatch.Decoder
	var dg kinesisbatch.Deaggregator
	var ptrs []*kinesisbatch.Record
	var records int
	checked := false
	b.SetBytes(int64(len(payload)))
	measure(b, func() {
		recs, err := dec.Decode(payload)
		if err != nil {
			b.Fatal(err)
		}
		recs, _ = dg.Expand(recs) // the KPL check: a 4-byte compare per plain record
		ptrs = ptrs[:0]
		for i := range recs {
			ptrs = append(ptrs, &recs[i])
		}
		batch := &kinesisbatch.Batch{Records: ptrs, Attempt: 1}
		if err := h.HandleBatch(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		// Every record applied: checked on the first (untimed) run only,
		// as Batch.Err takes a lock per record that the toolkit's own
		// bookkeeping does not.
		for _, r := range ptrs {
			if checked {
				break
			}
			if err := batch.Err(r); err != nil {
				b.Fatal(err)
			}
		}
		checked = true
		records = len(recs)
	})
	reportPerRecord(b, records)
}

// BenchmarkInvoke is the whole Processor.Invoke (toolkit bookkeeping, EMF,
// logs to io.Discard, the JSON response) with the same no-I/O store.
func BenchmarkInvoke(b *testing.B) {
	payload, gen := benchEvent(b)
	p := kinesisbatch.New(benchHandler(b, gen), kinesisbatch.Config{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), MetricsOutput: io.Discard})
	recs, _ := kinesisbatch.DecodeEvent(payload)
	b.SetBytes(int64(len(payload)))
	measure(b, func() {
		out, err := p.Invoke(context.Background(), payload)
		if err != nil || len(out) > 40 {
			b.Fatalf("%v %s", err, out)
		}
	})
	reportPerRecord(b, len(recs))
}

// BenchmarkDomain is this package's share of BenchmarkPipeline without the
// engine: readings decoded and validated into engine records, from records
// already decoded.
func BenchmarkDomain(b *testing.B) {
	payload, gen := benchEvent(b)
	h := benchHandler(b, gen)
	batch, st := decodedBatch(b, payload, h)
	measure(b, func() {
		st.recs, st.refs = st.recs[:0], st.refs[:0]
		if st.decode(batch, 0, gen.UnixMilli()); len(st.recs) != len(batch.Records) {
			b.Fatalf("%d of %d records decoded", len(st.recs), len(batch.Records))
		}
	})
	reportPerRecord(b, len(batch.Records))
}

// BenchmarkEngine is the engine's share of BenchmarkPipeline: the batch's
// engine records (decoded once, beforehand) through Engine.Process on the
// no-I/O store.
func BenchmarkEngine(b *testing.B) {
	payload, gen := benchEvent(b)
	h := benchHandler(b, gen)
	batch, st := decodedBatch(b, payload, h)
	if st.decode(batch, 0, gen.UnixMilli()); len(st.recs) != len(batch.Records) {
		b.Fatalf("%d of %d records decoded", len(st.recs), len(batch.Records))
	}
	measure(b, func() {
		if out := h.cfg.Engine.Process(context.Background(), batch.Records[0].ShardID(), st.recs); out.FirstFailed() >= 0 || out.Applied != len(st.recs) {
			b.Fatalf("%+v", out)
		}
	})
	reportPerRecord(b, len(batch.Records))
}

// decodedBatch is the event's records as the toolkit hands them to the
// handler, and a handler state to decode them with.
func decodedBatch(b *testing.B, payload []byte, h *Handler) (*kinesisbatch.Batch, *engineState) {
	recs, err := kinesisbatch.DecodeEvent(payload)
	if err != nil {
		b.Fatal(err)
	}
	batch := &kinesisbatch.Batch{Attempt: 1}
	for i := range recs {
		batch.Records = append(batch.Records, &recs[i])
	}
	return batch, h.pool.Get().(*engineState)
}

// BenchmarkEncodingJSON is the reference point the targets are stated against: lambda.Start's
// encoding/json into events.KinesisEvent, then encoding/json per reading and
// the same grouping, with maps.
func BenchmarkEncodingJSON(b *testing.B) {
	payload, _ := benchEvent(b)
	type reading struct {
		EventID     string  `json:"event_id"`
		SensorID    string  `json:"sensor_id"`
		TS          int64   `json:"ts"`
		Temperature float64 `json:"temperature"`
	}
	type key struct {
		s string
		w int64
	}
	type agg struct {
		n             int
		sum, min, max float64
		ids           map[string]bool
	}
	var n int
	b.SetBytes(int64(len(payload)))
	measure(b, func() {
		var ev events.KinesisEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			b.Fatal(err)
		}
		groups := map[key]*agg{}
		for _, r := range ev.Records {
			var rd reading
			if err := json.Unmarshal(r.Kinesis.Data, &rd); err != nil {
				b.Fatal(err)
			}
			k := key{rd.SensorID, rd.TS - rd.TS%60000}
			a := groups[k]
			if a == nil {
				a = &agg{min: rd.Temperature, max: rd.Temperature, ids: map[string]bool{}}
				groups[k] = a
			}
			if a.ids[rd.EventID] {
				continue
			}
			a.ids[rd.EventID] = true
			a.n++
			a.sum += rd.Temperature
			a.min, a.max = min(a.min, rd.Temperature), max(a.max, rd.Temperature)
		}
		n = len(ev.Records)
	})
	reportPerRecord(b, n)
}

// measure runs op $BENCH_WARMUP times untimed (default 30), then in the
// benchmark loop with the process's CPU time: every benchmark here, like every
// baseline `make bench` runs, is measured as a warm execution environment that
// has already handled that many invocations (sized buffers, a grown heap).
func measure(b *testing.B, op func()) {
	warmup := 30
	if v := os.Getenv("BENCH_WARMUP"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			b.Fatalf("BENCH_WARMUP=%q: want a whole number of untimed runs, such as 10", v)
		}
		warmup = n
	}
	for range warmup {
		op()
	}
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() { // the first call resets the timer and the allocation counts
		op()
	}
	cpu.report(b)
}

func reportPerRecord(b *testing.B, records int) {
	if records == 0 {
		return
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(records), "ns/record")
	b.ReportMetric(float64(records), "records")
}

// cpuClock measures the process's CPU time (user+system, every thread: GC
// included) across a benchmark loop. On a shared machine the wall time per op
// depends on the neighbours; the CPU time per op much less so. `make bench`
// reports both.
type cpuClock struct{ start time.Duration }

func startCPU() cpuClock { return cpuClock{processCPU()} }

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64((processCPU()-c.start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEnvelope is the toolkit's share of BenchmarkPipeline: the Lambda
// event JSON and base64 only.
func BenchmarkEnvelope(b *testing.B) {
	payload, _ := benchEvent(b)
	var dec kinesisbatch.Decoder
	b.SetBytes(int64(len(payload)))
	var n int
	measure(b, func() {
		recs, err := dec.Decode(payload)
		if err != nil {
			b.Fatal(err)
		}
		n = len(recs)
	})
	reportPerRecord(b, n)
}
