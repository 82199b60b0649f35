package handler_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/streamproc/streamproc/functions/kinesisbatch"

	"example.com/orders/handler"
	"example.com/orders/order"
	"example.com/orders/totals"
)

// fakeStore records what it was asked to add and answers from fail.
type fakeStore struct {
	mu    sync.Mutex
	added []string
	seen  map[string]bool
	fail  func(o order.Order) error
}

func (f *fakeStore) Add(_ context.Context, o order.Order) (totals.Outcome, error) {
	if f.fail != nil {
		if err := f.fail(o); err != nil {
			return 0, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	if f.seen[o.OrderID] {
		return totals.Duplicate, nil
	}
	f.seen[o.OrderID] = true
	f.added = append(f.added, o.OrderID)
	return totals.Applied, nil
}

// memQuarantine keeps the quarantined records' sequence numbers and reasons.
type memQuarantine struct {
	mu      sync.Mutex
	reasons map[string]string
}

func (q *memQuarantine) Put(_ context.Context, fs []kinesisbatch.Failure) []error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.reasons == nil {
		q.reasons = map[string]string{}
	}
	for _, f := range fs {
		q.reasons[f.Record.SequenceNumber] = f.Err.Error()
	}
	return make([]error, len(fs))
}

func records(payloads ...string) []kinesisbatch.Record {
	rs := make([]kinesisbatch.Record, len(payloads))
	for i, p := range payloads {
		rs[i] = kinesisbatch.Record{Data: []byte(p), SequenceNumber: fmt.Sprint(100 + i), PartitionKey: "k", Index: i}
	}
	return rs
}

func ord(id, customer string, cents int) string {
	return fmt.Sprintf(`{"order_id":%q,"customer_id":%q,"amount_cents":%d}`, id, customer, cents)
}

func processor(t *testing.T, st handler.Store, q kinesisbatch.Quarantine) *kinesisbatch.Processor {
	t.Helper()
	h, err := handler.New(st, 2)
	if err != nil {
		t.Fatal(err)
	}
	return kinesisbatch.New(h, kinesisbatch.Config{
		Quarantine: q, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DisableMetrics: true,
		Retry: kinesisbatch.RetryPolicy{MaxAttempts: 1},
	})
}

func TestEveryRecordGetsItsOwnOutcome(t *testing.T) {
	throttled := errors.New("throttled")
	st := &fakeStore{fail: func(o order.Order) error {
		switch o.OrderID {
		case "full":
			return fmt.Errorf("%w: no room", totals.ErrCustomerFull)
		case "slow":
			return throttled
		case "boom":
			panic("store bug")
		}
		return nil
	}}
	q := &memQuarantine{}
	res := processor(t, st, q).Process(context.Background(), records(
		ord("a", "c-1", 10),   // 100 applied
		`{"order_id":"bad"}`,  // 101 invalid: quarantined
		ord("full", "c-2", 1), // 102 customer full: quarantined, c-2's next order still applied
		ord("b", "c-2", 5),    // 103 applied
		ord("slow", "c-3", 1), // 104 transient: failed
		ord("c", "c-3", 1),    // 105 after a transient error of its customer: failed, retried later
		ord("a", "c-1", 10),   // 106 duplicate: succeeds, not added again
		ord("boom", "c-4", 1), // 107 panic: failed
	))
	slices.Sort(st.added) // customers run concurrently
	if got := strings.Join(st.added, ","); got != "a,b" {
		t.Errorf("added %s, want a,b", got)
	}
	if len(q.reasons) != 2 || !strings.Contains(q.reasons["101"], "customer_id is missing") || !strings.Contains(q.reasons["102"], "no room") {
		t.Errorf("quarantined %v, want 101 (invalid) and 102 (customer full)", q.reasons)
	}
	var failed []string
	for _, f := range res.Response.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if got := strings.Join(failed, ","); got != "104,105,107" {
		t.Errorf("batch item failures %s, want 104,105,107", got)
	}
}

func TestNewChecksItsArguments(t *testing.T) {
	if _, err := handler.New(nil, 0); err == nil {
		t.Error("New(nil store) succeeded")
	}
	if _, err := handler.New(&fakeStore{}, -1); err == nil || !strings.Contains(err.Error(), "-1") {
		t.Errorf("New(concurrency -1) = %v, want an error naming -1", err)
	}
}
