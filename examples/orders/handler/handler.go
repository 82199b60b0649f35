// Package handler is the orders app's batch logic on the streamproc batch
// toolkit: it parses every record of an attempt, quarantines the invalid
// ones, and adds the valid orders to their customers' totals, customers in
// parallel and each customer's orders in record order.
package handler

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/streamproc/streamproc/functions/kinesisbatch"

	"example.com/orders/config"
	"example.com/orders/order"
	"example.com/orders/totals"
)

// Store adds an order to the totals; *totals.Store implements it.
type Store interface {
	Add(ctx context.Context, o order.Order) (totals.Outcome, error)
}

// Handler is a kinesisbatch.BatchHandler. It is safe for concurrent use.
type Handler struct {
	store       Store
	concurrency int
}

// New returns a Handler that adds orders to store with at most concurrency
// customers in flight (0 means 8).
func New(store Store, concurrency int) (*Handler, error) {
	if store == nil {
		return nil, errors.New("handler: nil store: pass totals.New(...)")
	}
	if concurrency < 0 {
		return nil, fmt.Errorf("handler: concurrency %d: give a positive number, or 0 for the default 8", concurrency)
	}
	if concurrency == 0 {
		concurrency = 8
	}
	return &Handler{store: store, concurrency: concurrency}, nil
}

type item struct {
	rec *kinesisbatch.Record
	ord order.Order
}

// HandleBatch implements kinesisbatch.BatchHandler. It fails records one by
// one through b.Fail (Grouped would fail a whole customer for one order the
// store refuses), so every record gets its own outcome.
func (h *Handler) HandleBatch(ctx context.Context, b *kinesisbatch.Batch) error {
	var customers []string
	groups := map[string][]item{}
	for _, r := range b.Records {
		o, err := order.Parse(r.Data)
		if err != nil {
			b.Fail(r, kinesisbatch.Permanent(err))
			continue
		}
		if _, ok := groups[o.CustomerID]; !ok {
			customers = append(customers, o.CustomerID)
		}
		groups[o.CustomerID] = append(groups[o.CustomerID], item{rec: r, ord: o})
	}

	m := kinesisbatch.MetricsFromContext(ctx)
	sem := make(chan struct{}, h.concurrency)
	var wg sync.WaitGroup
	for _, c := range customers {
		sem <- struct{}{}
		wg.Add(1)
		go func(items []item) {
			defer func() { <-sem; wg.Done() }()
			h.addAll(ctx, b, m, items)
		}(groups[c])
	}
	wg.Wait()
	return nil
}

// addAll adds one customer's orders in record order. After a transient
// error the rest of the customer's orders fail with it (they are retried,
// and the ones already added are then recognised as duplicates). A panic
// fails the orders not yet added, transiently.
func (h *Handler) addAll(ctx context.Context, b *kinesisbatch.Batch, m *kinesisbatch.Metrics, items []item) {
	next := 0
	defer func() {
		if v := recover(); v != nil {
			err := fmt.Errorf("handler: panic adding orders: %v", v)
			for _, it := range items[next:] {
				b.Fail(it.rec, err)
			}
		}
	}()
	for ; next < len(items); next++ {
		it := items[next]
		out, err := h.store.Add(ctx, it.ord)
		switch {
		case errors.Is(err, totals.ErrCustomerFull):
			b.Fail(it.rec, kinesisbatch.Permanent(err))
		case err != nil:
			for _, rest := range items[next:] {
				b.Fail(rest.rec, err)
			}
			return
		case out == totals.Duplicate:
			m.Add(config.MetricDuplicateOrders, kinesisbatch.UnitCount, 1)
		default:
			m.Add(config.MetricOrdersApplied, kinesisbatch.UnitCount, 1)
			m.Add(config.MetricRevenueCents, kinesisbatch.UnitCount, float64(it.ord.AmountCents))
		}
	}
}
