// Package handler is the example pipeline's processor logic, only its
// domain: it decodes a Kinesis record into a sensor reading, quarantines the
// invalid ones, and hands the rest to the event-time engine
// (functions/eventtime) keyed by sensor, at the reading's event time, with
// the temperature as value. Windows, watermarks, exactly-once state, final
// results and late records are the engine's. It plugs into the batch toolkit
// as a kinesisbatch.BatchHandler, which provides decoding of the Lambda
// event, retries, quarantine, the batch response, logs and metrics.
package handler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/functions/kinesisbatch"
	"github.com/streamproc/streamproc/functions/processor/config"
	"github.com/streamproc/streamproc/functions/processor/sensor"
)

// Engine is the example's windowing on the event-time engine: per-sensor
// tumbling windows of the temperature, with a declared out-of-orderness,
// allowed lateness, final results and a late output.
type Engine = eventtime.Engine[string, eventtime.Fixed, eventtime.Stats]

// Config configures a Handler.
type Config struct {
	// Engine windows, stores and publishes the readings (eventtime.New with
	// Tumbling windows of the example's size).
	Engine *Engine
	// Limits bound valid readings.
	// Default: sensor.DefaultLimits()
	Limits sensor.Limits
	// Now is the processing-time clock (reading validation).
	// Default: time.Now
	Now func() time.Time
}

// Handler is the example's kinesisbatch.BatchHandler. It is safe for
// concurrent use.
type Handler struct {
	cfg  Config
	pool sync.Pool // *engineState
}

type engineState struct {
	dec  *sensor.Decoder
	recs []eventtime.Record[string, eventtime.Fixed]
	refs []int
}

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Engine == nil {
		return nil, errors.New("handler: Config.Engine is nil: build one with eventtime.New")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg}
	h.pool.New = func() any { return &engineState{dec: sensor.NewDecoder(cfg.Limits)} }
	return h, nil
}

// HandleBatch implements kinesisbatch.BatchHandler. A Lambda batch comes
// from one shard.
func (h *Handler) HandleBatch(ctx context.Context, b *kinesisbatch.Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	st := h.pool.Get().(*engineState)
	defer h.pool.Put(st)
	now := h.cfg.Now().UnixMilli()
	st.recs, st.refs = st.recs[:0], st.refs[:0]
	for i := 0; i < len(b.Records); {
		i = st.decode(b, i, now)
	}
	if len(st.recs) == 0 {
		return nil
	}
	out := h.cfg.Engine.ProcessBatch(ctx, b, st.recs, st.refs)
	kinesisbatch.MetricsFromContext(ctx).Add(config.MetricDuplicatesSkipped, kinesisbatch.UnitCount, float64(out.Duplicates))
	return nil
}

// decode turns b.Records[from:] into engine records, failing the invalid
// ones, and returns len(b.Records); when the decoder panics on a record, it
// fails that record only (transiently, like any unexpected failure: a bug
// must not quarantine valid data) and returns the index after it, where the
// caller resumes. The deferred recover covers a run of records, not each
// one: per record it would cost a measurable share of the decoding.
func (st *engineState) decode(b *kinesisbatch.Batch, from int, now int64) (next int) {
	i := from
	defer func() {
		if v := recover(); v != nil {
			b.Fail(b.Records[i], fmt.Errorf("handler: panic decoding the reading: %v", v))
			next = i + 1
		}
	}()
	for ; i < len(b.Records); i++ {
		r := b.Records[i]
		rd, err := st.dec.Decode(r.Data, now)
		if err != nil {
			b.Fail(r, kinesisbatch.Permanent(err))
			continue
		}
		st.recs = append(st.recs, eventtime.Record[string, eventtime.Fixed]{
			Hash: rd.EventIDHash, // identity: the event id's hash (the decoder keeps no string)
			Key:  rd.SensorID, EventTime: rd.EventTime, Value: eventtime.Fixed(rd.Temperature),
			Payload: r.Data, Source: r,
		})
		st.refs = append(st.refs, i)
	}
	return i
}
