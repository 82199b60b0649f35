package kinesisbatch

import (
	"errors"
)

// Ordering chooses what happens to the records after a failed one within an
// invocation (Config.Ordering).
//
// Lambda redelivers every record from the lowest failed sequence number on,
// so a record that fails and succeeds on redelivery is applied after the
// later records of the batch that succeeded the first time. When the order of
// one key's records matters (a state machine, last-writer-wins updates),
// ordered mode holds those later records back: they are not applied in this
// invocation and are reported as failures, to be retried behind the failed
// record. The price is throughput: one slow or failing key stalls its later
// records (OrderPartitionKey) or the whole shard (OrderShard) until it
// succeeds.
//
// Only transient failures hold records back: a permanently failed record is
// quarantined and never applied, so it cannot be overtaken.
type Ordering int

const (
	// OrderNone applies every record it can; records of one key may be
	// applied out of order when an earlier one fails and is retried.
	OrderNone Ordering = iota
	// OrderPartitionKey holds back the later records of a failed record's
	// partition key (for a KPL user record, its own partition key).
	OrderPartitionKey
	// OrderShard holds back every later record of the shard (one
	// invocation reads one shard): the shard advances strictly in order.
	OrderShard
)

func (o Ordering) String() string {
	switch o {
	case OrderPartitionKey:
		return "partition-key"
	case OrderShard:
		return "shard"
	}
	return "none"
}

// ErrHeldBack is the error of a record that ordered mode held back because
// an earlier record of its partition key (or shard) failed transiently in
// the same attempt. It is always transient: the record is retried behind the
// failed one, and reported as a batch item failure if that one still fails.
var ErrHeldBack = errors.New("kinesisbatch: held back in ordered mode: an earlier record of the same partition key (or shard) failed")

// reset prepares b for another attempt over records.
func (b *Batch) reset(records []*Record, attempt int) {
	clear(b.errs)
	clear(b.heldFrom)
	b.Records, b.Attempt = records, attempt
}

func (b *Batch) orderKey(r *Record) string {
	if b.order == OrderShard {
		return ""
	}
	return r.PartitionKey
}

// noteFailure remembers the earliest transient failure of r's key.
func (b *Batch) noteFailure(r *Record, err error) {
	classify := b.classify
	if classify == nil {
		classify = DefaultClassify
	}
	if !errors.Is(err, ErrHeldBack) && classify(err) != ClassTransient {
		return
	}
	k := b.orderKey(r)
	b.mu.Lock()
	if b.heldFrom == nil {
		b.heldFrom = make(map[string]int)
	}
	if from, ok := b.heldFrom[k]; !ok || r.Index < from {
		b.heldFrom[k] = r.Index
	}
	b.mu.Unlock()
}

// Hold reports whether ordered mode holds r back in this attempt: an
// earlier record of its partition key (OrderPartitionKey) or of the shard
// (OrderShard) failed transiently. A held record is failed with ErrHeldBack;
// the handler must not apply it. RecordFunc and Grouped call Hold before
// every record; a BatchFunc that applies records itself, in ordered mode,
// must call it before applying each one, in event order. Without ordered
// mode Hold is always false.
func (b *Batch) Hold(r *Record) bool {
	if b.order == OrderNone {
		return false
	}
	k := b.orderKey(r)
	b.mu.Lock()
	from, ok := b.heldFrom[k]
	b.mu.Unlock()
	if !ok || from >= r.Index {
		return false
	}
	b.Fail(r, ErrHeldBack)
	return true
}

// lanes splits the groups of Grouped into lanes that may run at the same
// time: in ordered mode the groups that share an ordering key (transitively)
// run one after another, in the order of their first record; OrderShard
// makes one lane. Without ordered mode every group is its own lane (nil).
// keys(gi) calls fn with the ordering key of every item of group gi.
func (b *Batch) lanes(n int, keys func(gi int, fn func(r *Record))) [][]int32 {
	if b.order == OrderNone {
		return nil
	}
	parent := make([]int32, n)
	for i := range parent {
		parent[i] = int32(i)
	}
	find := func(i int32) int32 {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := make(map[string]int32)
	for gi := range n {
		keys(gi, func(r *Record) {
			k := b.orderKey(r)
			if o, ok := owner[k]; ok {
				a, c := find(o), find(int32(gi))
				if a != c { // the lower group index is the root: lanes start at their first group
					if a < c {
						parent[c] = a
					} else {
						parent[a] = c
					}
				}
			} else {
				owner[k] = int32(gi)
			}
		})
	}
	var out [][]int32
	laneOf := make(map[int32]int)
	for gi := range n {
		root := find(int32(gi))
		li, ok := laneOf[root]
		if !ok {
			li = len(out)
			laneOf[root] = li
			out = append(out, nil)
		}
		out[li] = append(out[li], int32(gi))
	}
	return out
}
