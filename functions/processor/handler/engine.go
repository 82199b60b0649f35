package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// EngineConfig configures an EngineHandler.
type EngineConfig struct {
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

// EngineHandler is the example's kinesisbatch.BatchHandler on the
// event-time engine: it keeps only the domain (decode, validate, key =
// sensor, event time, value = temperature) and leaves windows, watermarks,
// exactly-once state, results and late records to the engine.
type EngineHandler struct {
	cfg  EngineConfig
	pool sync.Pool // *engineState
}

type engineState struct {
	dec  *sensor.Decoder
	recs []eventtime.Record[string, eventtime.Fixed]
	refs []int
}

// NewEngineHandler returns an EngineHandler.
func NewEngineHandler(cfg EngineConfig) (*EngineHandler, error) {
	if cfg.Engine == nil {
		return nil, errors.New("handler: EngineConfig.Engine is nil: build one with eventtime.New")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &EngineHandler{cfg: cfg}
	h.pool.New = func() any { return &engineState{dec: sensor.NewDecoder(cfg.Limits)} }
	return h, nil
}

// HandleBatch implements kinesisbatch.BatchHandler. A Lambda batch comes
// from one shard.
func (h *EngineHandler) HandleBatch(ctx context.Context, b *kinesisbatch.Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	st := h.pool.Get().(*engineState)
	defer h.pool.Put(st)
	now := h.cfg.Now().UnixMilli()
	st.recs, st.refs = st.recs[:0], st.refs[:0]
	for i, r := range b.Records {
		rd, err := decode(st.dec, r.Data, now)
		if err != nil {
			b.Fail(r, err)
			continue
		}
		st.recs = append(st.recs, eventtime.Record[string, eventtime.Fixed]{
			Hash: rd.EventIDHash, // identity: the event id's hash (the decoder keeps no string)
			Key:  rd.SensorID, EventTime: rd.EventTime, Value: eventtime.Fixed(rd.Temperature),
			Payload: r.Data, Source: r,
		})
		st.refs = append(st.refs, i)
	}
	if len(st.recs) == 0 {
		return nil
	}
	out := h.process(ctx, b.Records[0].ShardID(), st.recs)
	for j, err := range out.Errs {
		if err == nil {
			continue
		}
		if errors.Is(err, eventtime.ErrWindowFull) {
			err = kinesisbatch.Permanent(err)
		}
		b.Fail(b.Records[st.refs[j]], err)
	}
	m := kinesisbatch.MetricsFromContext(ctx)
	m.Add(config.MetricLateRecords, kinesisbatch.UnitCount, float64(out.Late))
	m.Add(config.MetricDuplicatesSkipped, kinesisbatch.UnitCount, float64(out.Duplicates))
	m.Add(config.MetricResultsPublished, kinesisbatch.UnitCount, float64(out.Fire.Published))
	if out.Fire.Watermark > 0 {
		m.Observe(config.MetricWatermarkLag, kinesisbatch.UnitMilliseconds, float64(now-out.Fire.Watermark))
	}
	if out.FireErr != nil {
		// The records are stored; the due windows fire again on the next
		// batch or scheduled run.
		m.Add(config.MetricPublishFailures, kinesisbatch.UnitCount, 1)
		slog.WarnContext(ctx, "firing windows", "error", out.FireErr.Error())
	}
	return nil
}

// process calls the engine; a panic there fails every record (transiently).
func (h *EngineHandler) process(ctx context.Context, shard string, recs []eventtime.Record[string, eventtime.Fixed]) (out eventtime.Outcome) {
	defer func() {
		if v := recover(); v != nil {
			err := fmt.Errorf("handler: panic in the event-time engine: %v", v)
			out = eventtime.Outcome{Errs: make([]error, len(recs))}
			for i := range out.Errs {
				out.Errs[i] = err
			}
		}
	}()
	return h.cfg.Engine.Process(ctx, shard, recs)
}
