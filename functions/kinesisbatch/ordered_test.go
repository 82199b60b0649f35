package kinesisbatch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// orderWorld is a stream shard and a store that remembers the order in
// which records were first applied; Lambda is simulated by redelivering from
// the lowest failed sequence number until nothing fails.
type orderWorld struct {
	mu      sync.Mutex
	recs    []Record
	trouble map[string][]string // payload -> what its next tries do: "fail", "panic", "hang"
	applied map[string]bool     // by RecordID
	order   map[string][]int    // applied record numbers per partition key
	all     []int               // applied record numbers, in order
}

func newOrderWorld(n, keys int, seed uint64) *orderWorld {
	rng := rand.New(rand.NewPCG(seed, 7))
	w := &orderWorld{trouble: map[string][]string{}, applied: map[string]bool{}, order: map[string][]int{}}
	w.recs = testRecords(n)
	for i := range w.recs {
		w.recs[i].PartitionKey = fmt.Sprintf("k%d", rng.IntN(keys))
		switch x := rng.IntN(20); {
		case x < 3:
			w.trouble[string(w.recs[i].Data)] = slices.Repeat([]string{"fail"}, 1+rng.IntN(3))
		case x < 4:
			w.trouble[string(w.recs[i].Data)] = []string{"panic"}
		}
	}
	return w
}

// try applies r unless it fails this time.
func (w *orderWorld) try(ctx context.Context, r *Record) error {
	w.mu.Lock()
	next := ""
	if t := w.trouble[string(r.Data)]; len(t) > 0 {
		next = t[0]
		w.trouble[string(r.Data)] = t[1:]
	}
	w.mu.Unlock()
	switch next {
	case "fail":
		return errors.New("throttled")
	case "panic":
		panic("bug on " + string(r.Data))
	case "hang":
		<-ctx.Done()
		return ctx.Err()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.applied[r.RecordID()] {
		return nil // idempotent
	}
	w.applied[r.RecordID()] = true
	var num int
	fmt.Sscanf(string(r.Data), "r%d", &num)
	w.order[r.PartitionKey] = append(w.order[r.PartitionKey], num)
	w.all = append(w.all, num)
	return nil
}

// run redelivers until the shard is through.
func (w *orderWorld) run(t *testing.T, p *Processor) {
	t.Helper()
	from := 0
	for round := 0; from < len(w.recs); round++ {
		if round > 200 {
			t.Fatal("the shard made no progress")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		batch := slices.Clone(w.recs[from:])
		res := p.Process(ctx, batch)
		cancel()
		if len(res.Response.BatchItemFailures) == 0 {
			return
		}
		low := res.Response.BatchItemFailures[0].ItemIdentifier
		from = slices.IndexFunc(w.recs, func(r Record) bool { return r.SequenceNumber == low })
	}
}

func (w *orderWorld) inOrder(shard bool) string {
	check := func(name string, nums []int) string {
		if !slices.IsSorted(nums) {
			return fmt.Sprintf("%s applied out of order: %v", name, nums)
		}
		return ""
	}
	if shard {
		return check("shard", w.all)
	}
	for k, nums := range w.order {
		if msg := check(k, nums); msg != "" {
			return msg
		}
	}
	return ""
}

func orderedHandlers(w *orderWorld) map[string]BatchHandler {
	return map[string]BatchHandler{
		"RecordFunc": RecordFunc(w.try),
		"Grouped": Grouped(
			func(ctx context.Context, r *Record) (string, *Record, error) { return r.PartitionKey, r, nil },
			func(ctx context.Context, key string, items []Item[*Record]) error {
				for _, it := range items {
					if err := w.try(ctx, it.Value); err != nil {
						return err
					}
				}
				return nil
			},
			GroupOptions{Concurrency: 4},
		),
	}
}

// TestOrderedModeKeepsOrder: with transient failures, panics and timeouts
// (records that hang until the deadline), every record is applied exactly
// once and, per partition key (OrderPartitionKey) or for the whole shard
// (OrderShard with RecordFunc), in event order.
func TestOrderedModeKeepsOrder(t *testing.T) {
	for _, order := range []Ordering{OrderPartitionKey, OrderShard} {
		for _, name := range []string{"RecordFunc", "Grouped"} {
			t.Run(order.String()+"/"+name, func(t *testing.T) {
				w := newOrderWorld(120, 6, 1)
				// Two records hang until the handler deadline on their first try.
				w.trouble[string(w.recs[30].Data)] = []string{"hang"}
				w.trouble[string(w.recs[77].Data)] = []string{"hang"}
				p, _ := newTestProcessor(t, orderedHandlers(w)[name], Config{
					Ordering: order,
					Retry:    RetryPolicy{MaxAttempts: 2, SafetyMargin: 50 * time.Millisecond},
				})
				w.run(t, p)
				if len(w.applied) != len(w.recs) {
					t.Fatalf("%d of %d records applied", len(w.applied), len(w.recs))
				}
				// Grouped applies group by group (here: by partition key),
				// so across keys it follows the grouping, not the shard.
				if msg := w.inOrder(order == OrderShard && name == "RecordFunc"); msg != "" {
					t.Fatal(msg)
				}
			})
		}
	}
}

// TestUnorderedModeReorders is the control: the same failures without
// ordered mode apply some key's records out of order (so the ordered test
// can fail), and every record still exactly once.
func TestUnorderedModeReorders(t *testing.T) {
	w := newOrderWorld(120, 6, 1)
	p, _ := newTestProcessor(t, RecordFunc(w.try), Config{Retry: RetryPolicy{MaxAttempts: 2}})
	w.run(t, p)
	if len(w.applied) != len(w.recs) {
		t.Fatalf("%d of %d records applied", len(w.applied), len(w.recs))
	}
	if w.inOrder(false) == "" {
		t.Fatal("no key applied out of order without ordered mode: the scenario does not exercise ordering")
	}
}

// TestOrderedModeReportsHeldRecords: a held-back record is reported with
// ErrHeldBack (transient, never quarantined even with a Classify that calls
// everything permanent), permanent failures hold nothing back, and other
// keys go on.
func TestOrderedModeReportsHeldRecords(t *testing.T) {
	recs := testRecords(6) // keys pk-0 pk-1 pk-2 pk-0 pk-1 pk-2
	h := RecordFunc(func(ctx context.Context, r *Record) error {
		switch string(r.Data) {
		case "r0":
			return Transient(errors.New("throttled"))
		case "r1":
			return Permanent(errors.New("bad"))
		}
		return nil
	})
	classify := func(err error) Class {
		if IsPermanent(err) {
			return ClassPermanent
		}
		if strings.Contains(err.Error(), "throttled") {
			return ClassTransient
		}
		return ClassPermanent // anything unexpected: quarantine
	}
	p, env := newTestProcessor(t, h, Config{Ordering: OrderPartitionKey, Classify: classify, Retry: RetryPolicy{MaxAttempts: 2}})
	res := p.Process(context.Background(), recs)
	if got := failedIDs(res); len(got) != 2 || got[0] != recs[0].SequenceNumber || got[1] != recs[3].SequenceNumber {
		t.Fatalf("failed %v, want r0 and the held r3", got)
	}
	var held Failure
	for _, f := range res.Failures {
		if f.Record.Index == 3 {
			held = f
		}
	}
	if !errors.Is(held.Err, ErrHeldBack) || held.Class != ClassTransient || held.Quarantined || held.Attempts != 2 {
		t.Fatalf("held record: %+v", held)
	}
	if res.Quarantined != 1 || len(env.q.got) != 1 || string(env.q.got[0].Record.Data) != "r1" || res.Succeeded != 3 {
		t.Fatalf("r1 quarantined, r2 r4 r5 applied; got %+v", res)
	}
	// Default: nothing held back.
	p, _ = newTestProcessor(t, h, Config{Retry: RetryPolicy{MaxAttempts: 1}})
	if res := p.Process(context.Background(), testRecords(6)); len(failedIDs(res)) != 1 {
		t.Fatalf("OrderNone held records back: %v", failedIDs(res))
	}
}

// TestOrderedModeUsesUserRecordKeys: in a KPL aggregated record, ordering
// follows each user record's own partition key, not the Kinesis record's.
func TestOrderedModeUsesUserRecordKeys(t *testing.T) {
	recs := testRecords(2)
	recs[0].Data = aggregate(t, userRec{"A", "", "a1"}, userRec{"B", "", "b1"}, userRec{"A", "", "a2"})
	recs[1].Data = aggregate(t, userRec{"B", "", "b2"}, userRec{"A", "", "a3"})
	var applied []string
	p, _ := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		if string(r.Data) == "a1" {
			return errors.New("throttled")
		}
		applied = append(applied, string(r.Data))
		return nil
	}), Config{Ordering: OrderPartitionKey, Retry: RetryPolicy{MaxAttempts: 1}})
	res := p.Process(context.Background(), recs)
	if got := strings.Join(applied, ","); got != "b1,b2" {
		t.Fatalf("applied %s, want b1,b2 (a2 and a3 held back behind a1)", got)
	}
	if got := failedIDs(res); len(got) != 2 || got[0] != recs[0].SequenceNumber || got[1] != recs[1].SequenceNumber {
		t.Fatalf("batch item failures %v, want both Kinesis records once each", got)
	}
}
