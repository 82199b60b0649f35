package eventtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamproc/streamproc/functions/kinesisbatch"
)

const minTime = math.MinInt64

// ErrWindowFull marks records refused because their window's state would
// pass Config.MaxWindowBytes. It is permanent: retrying cannot make room.
var ErrWindowFull = errors.New("eventtime: window state would exceed its size limit")

// Record is one input record of the engine.
type Record[K ~string, V any] struct {
	// ID identifies the record across redeliveries (an event id, or the
	// Kinesis "<shard>/<sequence number>" if the producer has none). Two
	// records with the same ID are the same record: only the first is
	// applied.
	ID string
	// Hash is the record's identity as stored: HashID(ID). Set it when
	// the hash is at hand already (e.g. of an event id the decoder did not
	// keep as a string); 0 means "compute HashID(ID)".
	// Default: 0
	Hash uint64
	// Key and EventTime (Unix ms UTC) place the record in its windows.
	Key       K
	EventTime int64
	// Value is what the aggregate adds.
	Value V
	// Payload is the record as received, kept for the late output.
	Payload []byte
	// Source is the Kinesis record this one came from, if any: the late
	// output copies its metadata (shard, sequence number, arrival time).
	// Default: nil
	Source *kinesisbatch.Record
}

// Config configures an Engine.
type Config[K ~string, V any, A Aggregate[A, V]] struct {
	// Windows assigns records to windows (Tumbling or Hopping).
	Windows Assigner
	// OutOfOrderness is how far behind the highest event time seen on a
	// shard a record may be and still be on time: a shard's watermark is
	// its highest event time minus OutOfOrderness.
	// Default: 0
	OutOfOrderness time.Duration
	// AllowedLateness is how long after the watermark passed a window's end
	// records still update it (each update then publishes a correction).
	// Past End + AllowedLateness the window is closed and its records go to
	// the late output.
	// Default: 0
	AllowedLateness time.Duration
	// IdleTimeout is the processing time after its latest batch at which a
	// shard stops holding the stream watermark back. When every open shard
	// is idle, the stream watermark is the highest of theirs. Negative: a
	// shard never counts as idle.
	// Default: 5 minutes
	IdleTimeout time.Duration
	// Store keeps windows and watermarks.
	Store Store
	// Results receives final results and corrections.
	Results ResultSink[K, A]
	// Late receives late records.
	Late LateSink[K]
	// Parents, if set, names the parent shards of a shard (from Kinesis
	// ListShards). On a shard's first batch its parents are marked closed:
	// Kinesis delivers a child's records only after its parents' last, so
	// they no longer hold the watermark back.
	// Default: nil (parents drop out after IdleTimeout)
	Parents func(shard string) []string
	// Codec encodes aggregates for the Store.
	// Default: JSONCodec[A]
	Codec Codec[A]
	// Concurrency bounds the windows written or fired at the same time.
	// Default: 16
	Concurrency int
	// MaxConflictRetries bounds re-reads of one window after conflicting
	// writes within one call; past it the records fail transiently.
	// Default: 8
	MaxConflictRetries int
	// PendingTimeout is how long a result reserved by one firing is left
	// to it, and how long a firing's lease lasts unless released: firings
	// that overlap it (the schedule's, one whose lease expired) do not
	// publish it again, so that it is delivered once; after this, any
	// firing publishes it again (the reserving one failed or its function
	// ended). A shorter value delivers a result whose publishing failed
	// sooner, and a copy of a slow one more often.
	// Default: 1 minute
	PendingTimeout time.Duration
	// MaxWindowBytes bounds a window's state: 8 bytes per applied or late
	// record plus the encoded aggregate (twice while a result is pending).
	// DynamoDB's item limit is 400 KB.
	// Default: 350000
	MaxWindowBytes int
	// Now is the processing-time clock.
	// Default: time.Now
	Now func() time.Time
}

// Engine applies keyed records to event-time windows exactly once, tracks
// watermarks and publishes final results, corrections and late records. It
// is safe for concurrent use.
type Engine[K ~string, V any, A Aggregate[A, V]] struct {
	cfg     Config[K, V, A]
	l       int64     // allowed lateness, ms
	ooo     int64     // out-of-orderness, ms
	scratch sync.Pool // *batchScratch[K]
}

// New validates cfg and returns an Engine.
func New[K ~string, V any, A Aggregate[A, V]](cfg Config[K, V, A]) (*Engine[K, V, A], error) {
	var problems []error
	if cfg.Windows.size == 0 {
		problems = append(problems, errors.New("Config.Windows is not set: use Tumbling(time.Minute) or Hopping(size, slide)"))
	}
	if cfg.OutOfOrderness < 0 {
		problems = append(problems, fmt.Errorf("Config.OutOfOrderness %s is negative: use 0 or more", cfg.OutOfOrderness))
	}
	if cfg.PendingTimeout < 0 {
		problems = append(problems, fmt.Errorf("Config.PendingTimeout %s is negative: use 0 (1 minute) or more", cfg.PendingTimeout))
	}
	if cfg.AllowedLateness < 0 {
		problems = append(problems, fmt.Errorf("Config.AllowedLateness %s is negative: use 0 or more", cfg.AllowedLateness))
	}
	if cfg.Store == nil {
		problems = append(problems, errors.New("Config.Store is nil: use NewMemoryStore() or NewDynamoStore(...)"))
	}
	if cfg.Results == nil {
		problems = append(problems, errors.New("Config.Results is nil: give a ResultSink (NewKinesisSink, NewEventBridgeSink or your own)"))
	}
	if cfg.Late == nil {
		problems = append(problems, errors.New("Config.Late is nil: give a LateSink (NewQuarantineLateSink or your own)"))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("eventtime: invalid config: %w", errors.Join(problems...))
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.Codec == nil {
		cfg.Codec = JSONCodec[A]{}
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.MaxConflictRetries <= 0 {
		cfg.MaxConflictRetries = 8
	}
	if cfg.PendingTimeout == 0 {
		cfg.PendingTimeout = time.Minute
	}
	if cfg.MaxWindowBytes <= 0 {
		cfg.MaxWindowBytes = 350_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Engine[K, V, A]{cfg: cfg, l: cfg.AllowedLateness.Milliseconds(), ooo: cfg.OutOfOrderness.Milliseconds()}
	e.scratch.New = func() any { return &batchScratch[K]{byKey: make(map[K]int, 64)} }
	return e, nil
}

// Outcome is what Process did with a batch.
type Outcome struct {
	// Errs has one entry per record: nil when the record's fate is stored
	// (applied, duplicate or late), else why not. ErrWindowFull (wrapped)
	// is permanent; any other error is transient: deliver the record again.
	Errs []error
	// Applied counts records applied to at least one window, Late records
	// sent to the late output for at least one window, Duplicates records
	// whose every window already held them.
	Applied, Late, Duplicates int
	// Watermark is the stream watermark the batch was judged against.
	Watermark int64
	// Fired: the batch moved its shard's watermark across a firing
	// boundary (a window's end or close) or was the shard's first, so
	// Process called Fire; Fire is what that did (Fire.Skipped: another
	// firing was at work). FireErr is the firing's error, or the failure
	// to store the shard's watermark (the records are stored all the same:
	// due windows fire on the next firing).
	Fired   bool
	Fire    FireStats
	FireErr error
}

// FirstFailed returns the index of the first record that failed, or -1.
func (o *Outcome) FirstFailed() int {
	for i, err := range o.Errs {
		if err != nil {
			return i
		}
	}
	return -1
}

// entry is one (record, window) assignment.
type entry struct {
	rec  int
	hash uint64
}

// fate of an entry.
const (
	fateNone uint8 = iota
	fateApplied
	fateDuplicate
	fateLate
)

// Process applies the records of one batch of shard, in shard order. It
// reads two items of the store, the stream watermark and the shard's state
// (GetShard). Records are judged against the stream watermark as stored by
// the latest Fire; the shard's watermark then advances by the records up to
// the first one that failed transiently (those from it on will be delivered
// again; a record refused with ErrWindowFull is quarantined and does not
// hold the shard back). Process then calls Fire only if the shard's
// watermark crossed a firing boundary (a window's end or End +
// AllowedLateness) since its latest firing, or the shard is new: all keys'
// windows end at the same instants, so the stream watermark crosses one when
// the last active shard's does, or when shards go idle (the schedule fires
// those). When a record failed transiently, Process does not fire: the
// redelivery is judged against the same watermark, and fires.
func (e *Engine[K, V, A]) Process(ctx context.Context, shard string, recs []Record[K, V]) Outcome {
	out := Outcome{Errs: make([]error, len(recs))}
	if len(recs) == 0 {
		return out
	}
	now := e.cfg.Now().UnixMilli()
	stream, prev, found, err := e.cfg.Store.GetShard(ctx, shard)
	if err != nil {
		err = fmt.Errorf("eventtime: reading the watermarks of shard %s: %w", shard, err)
		for i := range out.Errs {
			out.Errs[i] = err
		}
		return out
	}
	// Judge against the stored stream watermark, which moves only in Fire:
	// a retry of the batch's failed records right after this call is then
	// judged against the same watermark as the first attempt.
	w := stream
	out.Watermark = w
	if !found {
		prev = ShardState{Shard: shard, MaxEventTime: minTime, LastActive: minTime, Fired: minTime}
		if e.cfg.Parents != nil {
			for _, p := range e.cfg.Parents(shard) {
				if err := e.cfg.Store.PutShard(ctx, ShardState{Shard: p, MaxEventTime: minTime, LastActive: minTime, Fired: minTime, Closed: true}); err != nil {
					err = fmt.Errorf("eventtime: closing parent shard %s: %w", p, err)
					for i := range out.Errs {
						out.Errs[i] = err
					}
					return out
				}
			}
		}
	}

	// Group (record, window) entries by window, in first-seen order: one
	// map lookup per record (by key), then a short scan of that key's
	// windows in the batch.
	// (Per key, the head of a chain through link of its windows' groups,
	// the newest first: records of a key mostly go to its latest window.)
	bs := e.scratch.Get().(*batchScratch[K])
	defer e.putScratch(bs)
	keys, perKey, wins, pairs, sizes, link := bs.keys[:0], bs.perKey[:0], bs.wins[:0], bs.pairs[:0], bs.sizes[:0], bs.link[:0]
	byKey := bs.byKey
	for i := range recs {
		h := recs[i].Hash
		if h == 0 {
			h = HashID(recs[i].ID)
		}
		ki, ok := byKey[recs[i].Key]
		if !ok {
			ki = len(perKey)
			byKey[recs[i].Key] = ki
			perKey = append(perKey, -1)
		}
		head := &perKey[ki]
		wins = e.cfg.Windows.Assign(recs[i].EventTime, wins[:0])
		for _, win := range wins {
			gi := *head
			for gi >= 0 && keys[gi].Window != win {
				gi = link[gi]
			}
			if gi < 0 {
				gi = len(keys)
				link = append(link, *head)
				*head = gi
				keys = append(keys, WindowKey{Key: string(recs[i].Key), Window: win})
				sizes = append(sizes, 0)
			}
			sizes[gi]++
			pairs = append(pairs, groupEntry{group: gi, entry: entry{rec: i, hash: h}})
		}
	}
	bs.keys, bs.perKey, bs.wins, bs.pairs, bs.sizes, bs.link = keys, perKey, wins, pairs, sizes, link
	// Per group, from shared slabs: its entries (in record order), its
	// fates, and the scratch applyWindow collects in.
	slab := grow(&bs.slab, len(pairs))
	fateSlab := grow(&bs.fateSlab, len(pairs))
	clear(fateSlab)
	intSlab := grow(&bs.intSlab, len(pairs))
	idSlab := grow(&bs.idSlab, len(pairs))
	groups := grow(&bs.groups, len(keys))
	scratch := grow(&bs.scratch, len(keys))
	off := 0
	for gi, n := range sizes {
		groups[gi] = slab[off : off : off+n]
		scratch[gi] = windowScratch{fates: fateSlab[off : off+n : off+n], fresh: intSlab[off : off : off+n], ids: idSlab[off : off : off+n]}
		off += n
	}
	for _, p := range pairs {
		groups[p.group] = append(groups[p.group], p.entry)
	}

	fates := grow(&bs.fates, len(keys))
	errs := grow(&bs.errs, len(keys))
	clear(errs)
	states, err := e.cfg.Store.GetWindows(ctx, keys)
	if err != nil {
		err = fmt.Errorf("eventtime: reading %d windows: %w", len(keys), err)
		for i := range out.Errs {
			out.Errs[i] = err
		}
		return out
	}
	e.parallel(len(keys), func(i int) {
		fates[i], errs[i] = e.applyWindow(ctx, shard, keys[i], groups[i], states[i], w, recs, scratch[i])
	})

	// Per record: failed if any of its windows failed.
	const (
		sawApplied = 1 << iota
		sawLate
		sawDup
	)
	seen := grow(&bs.seen, len(recs))
	clear(seen)
	for gi := range keys {
		for ei, en := range groups[gi] {
			if errs[gi] != nil {
				if out.Errs[en.rec] == nil {
					out.Errs[en.rec] = errs[gi]
				}
				continue
			}
			switch fates[gi][ei] {
			case fateApplied:
				seen[en.rec] |= sawApplied
			case fateLate:
				seen[en.rec] |= sawLate
			case fateDuplicate:
				seen[en.rec] |= sawDup
			}
		}
	}
	for i, s := range seen {
		if out.Errs[i] != nil {
			continue
		}
		switch {
		case s&sawApplied != 0:
			out.Applied++
		case s&sawLate != 0:
			out.Late++
		default:
			out.Duplicates++
		}
		if s&sawApplied != 0 && s&sawLate != 0 {
			out.Late++
		}
	}

	// The shard's watermark advances by the records before the first
	// transient failure: Lambda checkpoints there and delivers the rest
	// again. A record refused with ErrWindowFull is quarantined, never
	// delivered again: it does not hold the shard back.
	maxEvent := int64(minTime)
	prefix := len(recs)
	for i, err := range out.Errs {
		if err != nil && !errors.Is(err, ErrWindowFull) {
			prefix = i
			break
		}
	}
	for _, r := range recs[:prefix] {
		maxEvent = max(maxEvent, r.EventTime)
	}
	next := prev
	next.MaxEventTime = max(prev.MaxEventTime, maxEvent)
	next.LastActive = max(prev.LastActive, now)
	// Fire when the shard's watermark crossed a firing boundary since its
	// latest firing (or the shard is new): the stream watermark can only
	// cross a boundary when the last shard below it does. The mark is
	// stored with the watermark, so that a crossing by a batch that failed
	// part-way fires with its retry.
	swm := e.shardWatermark(next.MaxEventTime)
	fire := prefix == len(recs) && (!found || e.crossed(prev.Fired, swm))
	if fire {
		next.Fired = max(prev.Fired, swm)
	}
	if err := e.cfg.Store.PutShard(ctx, next); err != nil {
		// The records are stored; only the watermark lags until the
		// shard's next batch.
		out.FireErr = fmt.Errorf("eventtime: storing the watermark of shard %s: %w", shard, err)
		return out
	}
	if !fire {
		// No boundary crossed: the windows this batch changed after their
		// end are published by the next firing (a boundary or the
		// schedule). After a failure, the retry fires, so that it judges
		// the failed records against the watermark their batch saw.
		return out
	}
	out.Fired = true
	out.Fire, out.FireErr = e.Fire(ctx)
	return out
}

// shardWatermark is the watermark of a shard whose highest event time is
// maxEvent.
func (e *Engine[K, V, A]) shardWatermark(maxEvent int64) int64 {
	if maxEvent > minTime+e.ooo {
		return maxEvent - e.ooo
	}
	return minTime
}

// crossed reports whether a firing boundary lies in (from, to]: an
// instant at which a window ends (a multiple of the slide) or closes (an
// end plus AllowedLateness). A watermark reaching it makes windows due.
func (e *Engine[K, V, A]) crossed(from, to int64) bool {
	if to <= from {
		return false
	}
	if from == minTime {
		return true
	}
	slide := e.cfg.Windows.slide
	if (floorDiv(from, slide)+1)*slide <= to {
		return true
	}
	return (floorDiv(from-e.l, slide)+1)*slide+e.l <= to
}

// watermark is the stream watermark at processing time now: the lowest
// watermark of the open, active shards (the highest of the idle ones if
// none is active), never below the stored one.
func (e *Engine[K, V, A]) watermark(wms Watermarks, now int64) int64 {
	lowActive, highIdle := int64(math.MaxInt64), int64(minTime)
	active := false
	for _, s := range wms.Shards {
		if s.Closed {
			continue
		}
		swm := e.shardWatermark(s.MaxEventTime)
		if e.cfg.IdleTimeout > 0 && now-s.LastActive >= e.cfg.IdleTimeout.Milliseconds() {
			highIdle = max(highIdle, swm)
			continue
		}
		active = true
		lowActive = min(lowActive, swm)
	}
	w := highIdle
	if active {
		w = lowActive
	}
	return max(w, wms.Stream)
}

// closedAt reports whether window win is closed at watermark w.
func (e *Engine[K, V, A]) closedAt(win Window, w int64) bool {
	// End + lateness <= w, without overflow for w near minTime.
	return w >= minTime+e.l && win.End <= w-e.l
}

// parallel runs f(0..n-1) on at most Concurrency goroutines, each taking
// the next index: few goroutines (their stacks grow once) and calls that
// wait on I/O overlap.
func (e *Engine[K, V, A]) parallel(n int, f func(i int)) {
	workers := min(n, e.cfg.Concurrency)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// batchScratch is the memory of one Process call, kept for the next one
// (Engine.scratch): grouping a 6 MB event of 8,000 records otherwise
// allocates ~700 KB of slabs per call; reused, the engine's share of that
// event takes about a sixth less CPU (BenchmarkEngine).
type batchScratch[K comparable] struct {
	byKey               map[K]int
	perKey, sizes, link []int // per key: its newest group; per group: entries, the key's previous group
	keys                []WindowKey
	wins                []Window
	pairs               []groupEntry
	slab                []entry
	fateSlab, seen      []uint8
	intSlab             []int
	idSlab              []uint64
	groups              [][]entry
	scratch             []windowScratch
	fates               [][]uint8
	errs                []error
}

// putScratch drops what bs refers to outside itself (keys, errors) and
// returns it to the pool.
func (e *Engine[K, V, A]) putScratch(bs *batchScratch[K]) {
	clear(bs.byKey)
	clear(bs.keys)
	clear(bs.errs)
	e.scratch.Put(bs)
}

// grow sets *s to length n, reusing its array when large enough, and
// returns it. The elements are not cleared.
func grow[T any](s *[]T, n int) []T {
	if cap(*s) < n {
		*s = make([]T, n, n+n/4)
	}
	*s = (*s)[:n]
	return *s
}

// groupEntry is an entry of group (window) group, while grouping a batch.
type groupEntry struct {
	group int
	entry entry
}

// windowScratch is applyWindow's memory, cut from slabs shared by the batch:
// fates (len = entries), fresh (the entries to store, cap = entries) and ids
// (cap = entries).
type windowScratch struct {
	fates []uint8
	fresh []int
	ids   []uint64
}

// applyWindow stores the fate of every entry of window k, starting from st
// as read. A closed window (stored closed, or closed by the watermark w)
// takes the entries as late: they go to the late sink first and their ids
// are then stored with the window, so that a redelivery finds them there and
// is not judged again. An open window applies them. Either way the decision
// and the ids are one conditional write: a record's fate is decided once.
func (e *Engine[K, V, A]) applyWindow(ctx context.Context, shard string, k WindowKey, ents []entry, st WindowState, w int64, recs []Record[K, V], sc windowScratch) (fates []uint8, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("eventtime: panic storing %s %s: %v", k.Key, k.Window, v)
		}
	}()
	fates = sc.fates
	// Entries by hash, so that repeats inside the batch are neighbours, and
	// equal hashes in batch order: the first is the one applied, in every
	// window of a hopping assigner alike. The caller reads fates[i] as the
	// fate of ents[i], in this order.
	sortByHash(ents)
	var lateSent map[uint64]bool // sent to the late sink in an earlier round of this call
	fresh := sc.fresh[:0]        // indexes into ents
	ids := sc.ids[:0]            // their hashes, ascending
	for conflicts := 0; ; {
		fresh, ids = fresh[:0], ids[:0]
		for i := range ents {
			h := ents[i].hash
			if (i > 0 && ents[i-1].hash == h) || contains(st.Applied, h) || contains(st.Late, h) {
				fates[i] = fateDuplicate
				continue
			}
			fresh = append(fresh, i)
			ids = append(ids, h)
		}
		if len(fresh) == 0 {
			return fates, nil
		}
		next := st
		late := st.Closed || e.closedAt(k.Window, w)
		if late {
			var (
				toSend   []LateRecord[K]
				sendHash []uint64
			)
			for _, i := range fresh {
				if lateSent[ents[i].hash] {
					continue
				}
				r := &recs[ents[i].rec]
				sendHash = append(sendHash, ents[i].hash)
				toSend = append(toSend, LateRecord[K]{ID: r.ID, Key: r.Key, Window: k.Window, EventTime: r.EventTime, Shard: shard, Watermark: w, Payload: r.Payload, Source: r.Source})
			}
			if len(toSend) > 0 {
				for i, serr := range e.cfg.Late.PutLate(ctx, toSend) {
					if serr != nil {
						return fates, fmt.Errorf("eventtime: late output for %s %s: %w", k.Key, k.Window, serr)
					}
					if lateSent == nil {
						lateSent = map[uint64]bool{}
					}
					lateSent[sendHash[i]] = true
				}
			}
			next.Closed = true
			next.Late = mergeSorted(st.Late, ids)
		} else {
			agg, derr := e.cfg.Codec.Decode(st.Agg)
			if derr != nil {
				return fates, fmt.Errorf("eventtime: window %s %s holds an aggregate this code cannot decode: %w", k.Key, k.Window, derr)
			}
			for _, i := range fresh {
				r := &recs[ents[i].rec]
				agg = agg.Add(r.EventTime, r.Value)
			}
			b, eerr := e.cfg.Codec.Encode(agg)
			if eerr != nil {
				return fates, fmt.Errorf("eventtime: encoding the aggregate of %s %s: %w", k.Key, k.Window, eerr)
			}
			next.Agg = b
			next.Applied = mergeSorted(st.Applied, ids)
			next.DataVersion++
		}
		if size := stateSize(&next); size > e.cfg.MaxWindowBytes {
			if !late {
				return fates, fmt.Errorf("eventtime: %s %s: %w (%d bytes; limit %d)", k.Key, k.Window, ErrWindowFull, size, e.cfg.MaxWindowBytes)
			}
			// No room to remember more late ids: the records are in the
			// late output already, and a redelivery sends them again.
			next.Late = st.Late
		}
		if _, perr := e.cfg.Store.PutWindow(ctx, k, next); perr == nil {
			for _, i := range fresh {
				if late {
					fates[i] = fateLate
				} else {
					fates[i] = fateApplied
				}
			}
			return fates, nil
		} else if !errors.Is(perr, ErrConflict) {
			return fates, fmt.Errorf("eventtime: storing %s %s: %w", k.Key, k.Window, perr)
		} else if conflicts++; conflicts > e.cfg.MaxConflictRetries {
			return fates, fmt.Errorf("eventtime: %s %s still conflicting after %d re-reads: %w", k.Key, k.Window, conflicts-1, perr)
		}
		cur, gerr := e.cfg.Store.GetWindows(ctx, []WindowKey{k})
		if gerr != nil {
			return fates, fmt.Errorf("eventtime: re-reading %s %s: %w", k.Key, k.Window, gerr)
		}
		st = cur[0]
	}
}

// sortByHash sorts ents by hash, equal hashes by record index (the order
// a stable sort keeps): an insertion sort with the comparison inlined for the
// few entries a window usually gets from one batch, slices.SortFunc beyond.
func sortByHash(ents []entry) {
	if len(ents) > 48 {
		slices.SortFunc(ents, func(a, b entry) int {
			if c := cmp.Compare(a.hash, b.hash); c != 0 {
				return c
			}
			return cmp.Compare(a.rec, b.rec)
		})
		return
	}
	for i := 1; i < len(ents); i++ {
		x := ents[i]
		j := i
		for ; j > 0 && (ents[j-1].hash > x.hash || (ents[j-1].hash == x.hash && ents[j-1].rec > x.rec)); j-- {
			ents[j] = ents[j-1]
		}
		ents[j] = x
	}
}

func stateSize(s *WindowState) int {
	n := 64 + len(s.Agg) + 8*(len(s.Applied)+len(s.Late))
	if s.Pending != nil {
		n += 32 + len(s.Pending.Agg)
	}
	return n
}

func contains(sorted []uint64, h uint64) bool {
	_, ok := slices.BinarySearch(sorted, h)
	return ok
}

// mergeSorted returns the sorted union of a and b (both sorted, unique) in
// a new slice.
func mergeSorted(a, b []uint64) []uint64 {
	out := make([]uint64, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}
