package handler

import (
	"context"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/functions/kinesisbatch"
)

// discardStore is an eventtime.Store without I/O: every window reads as new
// and every write succeeds. With it the engine benchmark measures what
// BenchmarkPipeline's prepOnly store measures: the CPU of the path up to the
// DynamoDB requests.
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
func (discardStore) PutShard(context.Context, eventtime.ShardState) error { return nil }
func (discardStore) AdvanceStream(context.Context, int64) error           { return nil }

// BenchmarkEnginePipeline is BenchmarkPipeline on the event-time engine:
// the raw invoke payload -> envelope and base64 decode -> reading decode and
// validation -> the engine's grouping, exactly-once merge and encoded window
// states (no I/O), then its (empty) firing.
func BenchmarkEnginePipeline(b *testing.B) {
	payload, gen := benchEvent(b)
	windows, _ := eventtime.Tumbling(time.Minute)
	none := eventtime.ResultSinkFunc[string, eventtime.Stats](func(context.Context, []eventtime.Result[string, eventtime.Stats]) []error { return nil })
	eng, err := eventtime.New(eventtime.Config[string, eventtime.Fixed, eventtime.Stats]{
		Windows: windows, OutOfOrderness: 20 * time.Second, AllowedLateness: 2 * time.Minute,
		Store: discardStore{}, Results: none,
		Late: eventtime.LateSinkFunc[string](func(_ context.Context, l []eventtime.LateRecord[string]) []error { return make([]error, len(l)) }),
		Now:  func() time.Time { return gen },
	})
	if err != nil {
		b.Fatal(err)
	}
	h, err := NewEngineHandler(EngineConfig{Engine: eng, Now: func() time.Time { return gen }})
	if err != nil {
		b.Fatal(err)
	}
	var dec kinesisbatch.Decoder
	var ptrs []*kinesisbatch.Record
	var records int
	b.SetBytes(int64(len(payload)))
	measure(b, func() {
		recs, err := dec.Decode(payload)
		if err != nil {
			b.Fatal(err)
		}
		ptrs = ptrs[:0]
		for i := range recs {
			ptrs = append(ptrs, &recs[i])
		}
		batch := &kinesisbatch.Batch{Records: ptrs, Attempt: 1}
		if err := h.HandleBatch(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		for _, r := range ptrs {
			if err := batch.Err(r); err != nil {
				b.Fatal(err)
			}
		}
		records = len(recs)
	})
	reportPerRecord(b, records)
}
