package kinesisbatch

import (
	"context"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Record is one Kinesis record of a Lambda event, with the fields of
// events.KinesisEventRecord flattened.
type Record struct {
	// Data is the record payload, base64-decoded. When the record came from
	// Processor.Invoke it aliases a buffer that is reused by later
	// invocations: it is valid until the invocation returns. Copy it to keep
	// it.
	Data []byte
	// PartitionKey, SequenceNumber, KinesisSchemaVersion, EncryptionType and
	// ApproximateArrivalTimestamp come from the record's "kinesis" object.
	PartitionKey                string
	SequenceNumber              string
	ApproximateArrivalTimestamp time.Time
	KinesisSchemaVersion        string
	EncryptionType              string
	// EventID is "<shardId>:<sequenceNumber>".
	EventID           string
	EventName         string
	EventSource       string
	EventVersion      string
	EventSourceARN    string
	AWSRegion         string
	InvokeIdentityARN string
	// Index is the record's position among the records the handler sees
	// in this invocation (after KPL deaggregation).
	Index int

	// Aggregated reports a user record unpacked from a KPL aggregated
	// Kinesis record (see deaggregate.go). Then PartitionKey,
	// ExplicitHashKey and Data are the user record's, SubSequenceNumber is
	// its position in the Kinesis record, and every other field is the
	// Kinesis record's: all user records of one Kinesis record share its
	// SequenceNumber, and fail or succeed together in the batch response.
	Aggregated bool
	// SubSequenceNumber is the user record's position in its aggregated
	// Kinesis record, from 0. Zero when Aggregated is false.
	SubSequenceNumber uint64
	// ExplicitHashKey is the user record's explicit hash key, if the
	// producer set one. Always "" when Aggregated is false (Lambda does not
	// deliver the explicit hash key of plain records).
	ExplicitHashKey string
}

// ShardID returns the shard the record came from, taken from EventID.
func (r *Record) ShardID() string {
	if i := strings.LastIndexByte(r.EventID, ':'); i >= 0 {
		return r.EventID[:i]
	}
	return ""
}

// RecordID returns "<shardId>/<sequenceNumber>", or
// "<shardId>/<sequenceNumber>/<subSequenceNumber>" for a user record of a KPL
// aggregated record: the identifier quarantine messages carry, unique per
// record a producer put, and stable across redeliveries.
func (r *Record) RecordID() string {
	id := r.ShardID() + "/" + r.SequenceNumber
	if r.Aggregated {
		id += "/" + strconv.FormatUint(r.SubSequenceNumber, 10)
	}
	return id
}

// RecordsFromEvent converts a decoded events.KinesisEvent. The records share
// the event's Data slices.
func RecordsFromEvent(ev events.KinesisEvent) []Record {
	recs := make([]Record, len(ev.Records))
	for i, e := range ev.Records {
		recs[i] = Record{
			Data:                        e.Kinesis.Data,
			PartitionKey:                e.Kinesis.PartitionKey,
			SequenceNumber:              e.Kinesis.SequenceNumber,
			ApproximateArrivalTimestamp: e.Kinesis.ApproximateArrivalTimestamp.Time,
			KinesisSchemaVersion:        e.Kinesis.KinesisSchemaVersion,
			EncryptionType:              e.Kinesis.EncryptionType,
			EventID:                     e.EventID,
			EventName:                   e.EventName,
			EventSource:                 e.EventSource,
			EventVersion:                e.EventVersion,
			EventSourceARN:              e.EventSourceArn,
			AWSRegion:                   e.AwsRegion,
			InvokeIdentityARN:           e.InvokeIdentityArn,
			Index:                       i,
		}
	}
	return recs
}

// A BatchHandler handles the records of one attempt. Records it does not
// fail through Batch.Fail succeeded. A returned error fails every record of
// the attempt that was not failed already; a panic does the same with a
// *PanicError.
type BatchHandler interface {
	HandleBatch(ctx context.Context, b *Batch) error
}

// BatchFunc adapts a function to BatchHandler.
type BatchFunc func(ctx context.Context, b *Batch) error

// HandleBatch calls f.
func (f BatchFunc) HandleBatch(ctx context.Context, b *Batch) error { return f(ctx, b) }

// RecordFunc handles one record; it is run for every record of an attempt in
// event order. Its error, or a panic, is that record's outcome. Records not
// yet started when ctx is done fail with ctx's error (transient).
type RecordFunc func(ctx context.Context, r *Record) error

// HandleBatch runs f for each record.
func (f RecordFunc) HandleBatch(ctx context.Context, b *Batch) error {
	for _, r := range b.Records {
		if err := ctx.Err(); err != nil {
			b.Fail(r, err)
			continue
		}
		if b.Hold(r) {
			continue
		}
		if err := callRecord(ctx, f, r); err != nil {
			b.Fail(r, err)
		}
	}
	return nil
}

func callRecord(ctx context.Context, f RecordFunc, r *Record) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = newPanicError(v)
		}
	}()
	return f(ctx, r)
}

// Batch is the set of records one attempt works on.
type Batch struct {
	// Records are the records still to handle in this attempt, in event
	// order: all of them on the first attempt, the transiently failed ones
	// on retries.
	Records []*Record
	// Attempt is 1 on the first attempt.
	Attempt int

	mu   sync.Mutex
	errs []error // indexed by Record.Index

	// Ordered mode (see ordered.go).
	order    Ordering
	classify func(error) Class
	heldFrom map[string]int // Index of the first transient failure per ordering key, this attempt
}

// Fail records err as r's outcome in this attempt. A nil err is ignored; the
// first error for a record wins. Fail is safe for concurrent use. In ordered
// mode a transient failure holds back the later records of r's partition key
// (or shard): see Hold.
func (b *Batch) Fail(r *Record, err error) {
	if err == nil {
		return
	}
	if b.order != OrderNone {
		b.noteFailure(r, err)
	}
	b.mu.Lock()
	if r.Index >= len(b.errs) {
		// A Batch built outside a Processor (in a test) grows as needed.
		b.errs = append(b.errs, make([]error, r.Index+1-len(b.errs))...)
	}
	if r.Index >= 0 && b.errs[r.Index] == nil {
		b.errs[r.Index] = err
	}
	b.mu.Unlock()
}

// Err returns the error recorded for r in this attempt, or nil.
func (b *Batch) Err(r *Record) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.Index >= 0 && r.Index < len(b.errs) {
		return b.errs[r.Index]
	}
	return nil
}

// Item is a prepared record of a group: the record and the value the prepare
// step made from it.
type Item[V any] struct {
	Record *Record
	Value  V
}

// GroupOptions configures Grouped.
type GroupOptions struct {
	// Concurrency is how many groups are applied at the same time.
	// Default: 8.
	Concurrency int
}

// Grouped builds a BatchHandler that runs prepare on every record in event
// order (sequentially; it is meant for decoding and validation), groups the
// records by the key it returns and runs apply once per group, in order of
// each group's first record, with at most opts.Concurrency groups at a time.
// Items keep event order within a group.
//
// An error or panic in prepare fails that record only. An error or panic in
// apply fails every record of that group; the other groups are unaffected.
// On a retry the failed records are prepared and grouped again.
//
// In ordered mode (Config.Ordering) a record is not prepared, and an item is
// left out of its group's apply, when an earlier record of its partition key
// (or shard) failed transiently; groups that share a partition key (or all
// groups, with OrderShard) are applied one after another in the order of
// their first record. Apply sees a group's items together, so records keep
// their event order only as far as the grouping does: for strict per-key
// order, group by the partition key (or a key that holds all records of
// one); with OrderShard, records of different groups are applied group by
// group, not in shard order, but none is applied after an earlier record of
// the shard failed.
func Grouped[K comparable, V any](
	prepare func(ctx context.Context, r *Record) (K, V, error),
	apply func(ctx context.Context, key K, items []Item[V]) error,
	opts GroupOptions,
) BatchHandler {
	conc := opts.Concurrency
	if conc <= 0 {
		conc = 8
	}
	return BatchFunc(func(ctx context.Context, b *Batch) error {
		type group struct {
			key   K
			items []Item[V]
		}
		// Prepare in event order, then lay the items out group by group in
		// one array (a counting sort, stable): a few allocations per
		// attempt whatever the number of groups.
		index := make(map[K]int32)
		var groups []group
		flat := make([]Item[V], 0, len(b.Records))
		gidx := make([]int32, 0, len(b.Records))
		var counts []int
		for _, r := range b.Records {
			if b.Hold(r) {
				continue
			}
			k, v, err := callPrepare(ctx, prepare, r)
			if err != nil {
				b.Fail(r, err)
				continue
			}
			gi, ok := index[k]
			if !ok {
				gi = int32(len(groups))
				index[k] = gi
				groups = append(groups, group{key: k})
				counts = append(counts, 0)
			}
			counts[gi]++
			flat = append(flat, Item[V]{Record: r, Value: v})
			gidx = append(gidx, gi)
		}
		sorted := make([]Item[V], len(flat))
		off := 0
		for gi := range groups {
			groups[gi].items = sorted[off : off : off+counts[gi]]
			off += counts[gi]
		}
		for k, it := range flat {
			g := &groups[gidx[k]]
			g.items = append(g.items, it)
		}
		run := func(g *group) {
			if err := ctx.Err(); err != nil {
				for _, it := range g.items {
					b.Fail(it.Record, err)
				}
				return
			}
			items := g.items
			if b.order != OrderNone {
				// Drop the items held back by failures of earlier groups.
				items = items[:0:0]
				for _, it := range g.items {
					if !b.Hold(it.Record) {
						items = append(items, it)
					}
				}
				if len(items) == 0 {
					return
				}
			}
			if err := callApply(ctx, apply, g.key, items); err != nil {
				for _, it := range items {
					b.Fail(it.Record, err)
				}
			}
		}
		// In ordered mode, groups sharing a partition key (or all of them,
		// per shard) form a lane that runs sequentially.
		lanes := b.lanes(len(groups), func(gi int, fn func(r *Record)) {
			for _, it := range groups[gi].items {
				fn(it.Record)
			}
		})
		units := len(groups)
		if lanes != nil {
			units = len(lanes)
		}
		// conc workers take the groups (or lanes) in order.
		var next atomic.Int64
		work := func() {
			for {
				u := next.Add(1) - 1
				if u >= int64(units) {
					return
				}
				if lanes == nil {
					run(&groups[u])
					continue
				}
				for _, gi := range lanes[u] {
					run(&groups[gi])
				}
			}
		}
		workers := min(conc, units)
		if workers <= 1 {
			work()
			return nil
		}
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				work()
			}()
		}
		wg.Wait()
		return nil
	})
}

func callPrepare[K comparable, V any](ctx context.Context, f func(context.Context, *Record) (K, V, error), r *Record) (k K, v V, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = newPanicError(p)
		}
	}()
	return f(ctx, r)
}

func callApply[K comparable, V any](ctx context.Context, f func(context.Context, K, []Item[V]) error, k K, items []Item[V]) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = newPanicError(p)
		}
	}()
	return f(ctx, k, items)
}

// PanicError is the error a recovered panic becomes.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the goroutine's stack at the panic
}

func newPanicError(v any) *PanicError { return &PanicError{Value: v, Stack: debug.Stack()} }

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic value if it is an error.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}
