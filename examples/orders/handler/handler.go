// Package handler is the orders app's batch logic, only its domain: it
// parses every record into an order, quarantines the invalid ones, and hands
// the rest to the event-time engine (functions/eventtime) keyed by customer,
// at the time the order was placed, with its amount as value. Windows,
// watermarks, exactly-once state, final results and late orders are the
// engine's. It plugs into the batch toolkit as a kinesisbatch.BatchHandler,
// which decodes the Lambda event, retries, quarantines, answers with the
// partial batch response and emits the metrics.
package handler

import (
	"context"
	"errors"
	"time"

	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/functions/kinesisbatch"

	"example.com/orders/config"
	"example.com/orders/order"
	"example.com/orders/revenue"
)

// Engine is the app's windowing: revenue per customer (the key) in hopping
// windows of the orders' event time.
type Engine = eventtime.Engine[string, int64, revenue.Revenue]

// Handler is a kinesisbatch.BatchHandler. It is safe for concurrent use.
type Handler struct {
	eng *Engine
	now func() time.Time
}

// New returns a Handler that processes orders through eng (eventtime.New
// with Hopping windows, a Store and the result and late sinks).
func New(eng *Engine) (*Handler, error) {
	if eng == nil {
		return nil, errors.New("handler: nil engine: build one with eventtime.New")
	}
	return &Handler{eng: eng, now: time.Now}, nil
}

// HandleBatch implements kinesisbatch.BatchHandler. A Lambda batch comes
// from one shard. Each record gets its own outcome through b.Fail: invalid
// orders are quarantined, records the engine could not store are retried.
func (h *Handler) HandleBatch(ctx context.Context, b *kinesisbatch.Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	recs := make([]eventtime.Record[string, int64], 0, len(b.Records))
	refs := make([]int, 0, len(b.Records)) // recs[j] came from b.Records[refs[j]]
	for i, r := range b.Records {
		o, err := order.Parse(r.Data)
		if err != nil {
			b.Fail(r, kinesisbatch.Permanent(err))
			continue
		}
		recs = append(recs, eventtime.Record[string, int64]{
			ID:  o.OrderID, // a resend under a new sequence number is the same order
			Key: o.CustomerID, EventTime: o.PlacedAt.UnixMilli(), Value: o.AmountCents,
			Payload: r.Data, Source: r,
		})
		refs = append(refs, i)
	}
	if len(recs) == 0 {
		return nil
	}
	out := h.eng.ProcessBatch(ctx, b, recs, refs)
	m := kinesisbatch.MetricsFromContext(ctx)
	m.Add(config.MetricOrdersApplied, kinesisbatch.UnitCount, float64(out.Applied))
	m.Add(config.MetricDuplicateOrders, kinesisbatch.UnitCount, float64(out.Duplicates))
	return nil
}
