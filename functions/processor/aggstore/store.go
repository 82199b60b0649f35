// Package aggstore is the exactly-once DynamoDB sink of the example pipeline:
// it merges groups of sensor readings into one item per (sensor, event-time
// window) so that every redelivery Kinesis and Lambda can produce changes the
// stored aggregates exactly once.
//
// # Idempotency scheme
//
// Each aggregate item holds, next to count/sum/min/max/avg and the first and
// last event time, a version number and the set of the event ids it has
// applied, stored compactly as one binary attribute of sorted 8-byte XXH64
// hashes (sensor.HashEventID). Applying a group of readings is
//
//  1. read the touched items with consistent BatchGetItem (at most 100 keys
//     per call, calls concurrent under a bound);
//  2. drop readings whose id is already in the item, and repeats inside the
//     batch; if nothing is left, write nothing;
//  3. compute the new aggregate (exact fixed-point arithmetic, see
//     sensor.Micro) and PutItem it on condition that the version is still the
//     one read (attribute_not_exists for a new item);
//  4. on ConditionalCheckFailed (another writer got there first) take the
//     current item from the failure (ReturnValuesOnConditionCheckFailure) or
//     re-read it, and go to 2.
//
// So an item changes only by a conditional write whose content already
// includes the ids it applied: a reading is counted once no matter how often,
// in which batch boundaries or in which order it is delivered, including a
// producer retry that re-sends the same event_id under a new sequence number
// and an old record redriven after newer ones were applied. Writes per batch
// are at most the distinct (sensor, window) pairs touched (plus conflict
// retries), issued concurrently under a bound.
//
// Cost: 8 bytes of item per applied reading; every write rewrites the whole
// item, so a write costs ceil(item size / 1 KB) WCU and a consistent read
// ceil(item size / 4 KB) RCU. An item is about 250 bytes plus the sensor id
// plus 8 bytes per reading, so up to ~95 readings per (sensor, window) it
// stays within 1 WCU per write. DynamoDB caps an item at 400 KB: Config.
// MaxItemBytes (default 350,000 bytes, ~43,000 readings per window) is
// enforced before writing, and readings that would pass it fail with
// ErrWindowFull, a permanent error, so they are quarantined rather than lost.
//
// # DynamoDB access
//
// The store makes its three calls through API, with its own wire types named
// after DynamoDB's (AttributeValue, Item, PutItemInput, ...). NewDynamoDB
// implements API over functions/awsjson, so that a function linking this
// package does not link aws-sdk-go-v2, whose package initialisation costs
// ~9 ms of Lambda INIT; fakedb implements it in memory for tests.
package aggstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/streamproc/streamproc/functions/processor/config"
	"github.com/streamproc/streamproc/functions/processor/sensor"
	"github.com/streamproc/streamproc/internal/backoff"
	"github.com/streamproc/streamproc/internal/ctxsleep"
)

// Attribute names of an aggregate item besides the key.
const (
	AttrCount     = "count"
	AttrSum       = "sum"
	AttrMin       = "min"
	AttrMax       = "max"
	AttrAvg       = "avg"
	AttrFirst     = "first_event_time"
	AttrLast      = "last_event_time"
	AttrVersion   = "version"
	AttrEventIDs  = "event_ids_xxh64" // sorted big-endian 8-byte XXH64 hashes of applied event ids
	AttrUpdatedAt = "updated_at"
)

// ErrWindowFull marks readings refused because their window's item would pass
// Config.MaxItemBytes. It is permanent: retrying cannot make room.
var ErrWindowFull = errors.New("aggregate item would exceed the DynamoDB item size limit")

// Config configures a Store.
type Config struct {
	// Table is the aggregate table (key sensor_id S, window_start S).
	Table string
	// Concurrency bounds the DynamoDB calls in flight.
	// Default: 16
	Concurrency int
	// MaxConflictRetries bounds re-reads after ConditionalCheckFailed per item
	// within one Apply; past it the group fails transiently.
	// Default: 5
	MaxConflictRetries int
	// MaxItemBytes is the largest item the store will write.
	// Default: 350000
	MaxItemBytes int
	// Now stamps updated_at.
	// Default: time.Now
	Now func() time.Time
}

// Store merges reading groups into aggregate items. It is safe for concurrent
// use.
type Store struct {
	db  API
	cfg Config
}

// New returns a Store writing to cfg.Table through db.
func New(db API, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("aggstore: nil DynamoDB client")
	}
	if cfg.Table == "" {
		return nil, fmt.Errorf("aggstore: no table name: set %s", config.EnvTableName)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.MaxConflictRetries <= 0 {
		cfg.MaxConflictRetries = 5
	}
	if cfg.MaxItemBytes <= 0 {
		cfg.MaxItemBytes = 350_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{db: db, cfg: cfg}, nil
}

// Stats counts what one Apply did.
type Stats struct {
	Applied           int // readings newly applied
	DuplicatesSkipped int // readings already applied or repeated in the batch
	WindowsWritten    int // items written
	WriteCalls        int // PutItem calls, conflicts included
	ReadCalls         int // BatchGetItem and GetItem calls
	Conflicts         int // ConditionalCheckFailed answers
}

func (s *Stats) add(o Stats) {
	s.Applied += o.Applied
	s.DuplicatesSkipped += o.DuplicatesSkipped
	s.WindowsWritten += o.WindowsWritten
	s.WriteCalls += o.WriteCalls
	s.ReadCalls += o.ReadCalls
	s.Conflicts += o.Conflicts
}

// batchGetLimit is DynamoDB's key limit per BatchGetItem call.
const batchGetLimit = 100

// maxUnprocessedRounds bounds BatchGetItem calls per chunk while DynamoDB
// returns UnprocessedKeys; the failure is transient and the batch toolkit
// retries it later in the invocation.
const maxUnprocessedRounds = 6

// Apply merges every group into its item. errs[i] is nil when group i is
// stored (applied, or nothing new in it); otherwise the group's readings are
// not applied and may be retried: ErrWindowFull (wrapped) is permanent,
// anything else transient. Groups must have distinct keys, as
// sensor.Batcher.Groups returns them.
func (s *Store) Apply(ctx context.Context, groups []sensor.Group) (errs []error, stats Stats) {
	errs = make([]error, len(groups))
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, s.cfg.Concurrency)
	)
	merge := func(st Stats) {
		mu.Lock()
		stats.add(st)
		mu.Unlock()
	}
	// One goroutine per chunk of keys: read the chunk, then write its groups
	// as soon as their items are known, so reads and writes overlap.
	for lo := 0; lo < len(groups); lo += batchGetLimit {
		hi := min(lo+batchGetLimit, len(groups))
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			cur, st, err := s.safeRead(ctx, groups[lo:hi])
			<-sem
			merge(st)
			for i := lo; i < hi; i++ {
				if err != nil {
					errs[i] = err
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					st, err := s.safeWrite(ctx, &groups[i], cur[i-lo])
					errs[i] = err
					merge(st)
				}()
			}
		}()
	}
	wg.Wait()
	return errs, stats
}

// safeRead and safeWrite turn a panic into that call's error: the store runs
// them on its own goroutines, where a panic would end the process.
func (s *Store) safeRead(ctx context.Context, groups []sensor.Group) (cur []current, st Stats, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("aggstore: panic reading items: %v", v)
		}
	}()
	return s.read(ctx, groups)
}

func (s *Store) safeWrite(ctx context.Context, g *sensor.Group, cur current) (st Stats, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("aggstore: panic writing %s: %v", g.SensorID, v)
		}
	}()
	return s.write(ctx, g, cur)
}

// current is an item as read: its aggregate and version (0 = absent).
type current struct {
	agg     sensor.Aggregate
	version int64
}

// read fetches the items of groups with consistent BatchGetItem, following
// UnprocessedKeys. It returns one current per group.
func (s *Store) read(ctx context.Context, groups []sensor.Group) ([]current, Stats, error) {
	var st Stats
	cur := make([]current, len(groups))
	pos := make(map[sensor.Key]int, len(groups))
	keys := make([]Item, len(groups))
	for i := range groups {
		pos[groups[i].Key] = i
		keys[i] = itemKey(groups[i].Key)
	}
	req := map[string]KeysAndAttributes{s.cfg.Table: {Keys: keys, ConsistentRead: true}}
	for attempt := 0; len(req) > 0; attempt++ {
		if attempt == maxUnprocessedRounds {
			return nil, st, fmt.Errorf("aggstore: BatchGetItem left keys unprocessed %d times (throttled)", attempt)
		}
		if attempt > 0 {
			// UnprocessedKeys means the table is throttling: back off
			// (25 ms, doubling, so ~0.4 s in all on average before the
			// read fails transiently and the toolkit backs off in turn).
			if err := ctxsleep.Sleep(ctx, backoff.Jittered(attempt, 25*time.Millisecond, time.Second)); err != nil {
				return nil, st, fmt.Errorf("aggstore: reading %d items: %w", len(groups), err)
			}
		}
		st.ReadCalls++
		out, err := s.db.BatchGetItem(ctx, &BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, st, fmt.Errorf("aggstore: BatchGetItem: %w", err)
		}
		for _, item := range out.Responses[s.cfg.Table] {
			k, c, err := decodeItem(item)
			if err != nil {
				return nil, st, err
			}
			if i, ok := pos[k]; ok {
				cur[i] = c
			}
		}
		req = nil
		if u, ok := out.UnprocessedKeys[s.cfg.Table]; ok && len(u.Keys) > 0 {
			// DynamoDB may leave ConsistentRead out of UnprocessedKeys; an
			// eventually consistent read could miss the latest ids.
			u.ConsistentRead = true
			req = map[string]KeysAndAttributes{s.cfg.Table: u}
		}
	}
	return cur, st, nil
}

// write merges g into cur and stores the result, re-reading on conflicts.
func (s *Store) write(ctx context.Context, g *sensor.Group, cur current) (Stats, error) {
	var st Stats
	for conflicts := 0; ; {
		next, res := cur.agg.Merge(g.Points, nil)
		if res.Applied == 0 {
			st.DuplicatesSkipped += res.Duplicates
			return st, nil
		}
		in := s.putInput(g.Key, next, cur.version)
		if size := itemSize(in.Item); size > s.cfg.MaxItemBytes {
			return st, fmt.Errorf("aggstore: %s %s: %w (%d bytes with %d readings; limit %d)",
				g.SensorID, sensor.FormatWindowStart(g.WindowStart), ErrWindowFull, size, next.Count, s.cfg.MaxItemBytes)
		}
		st.WriteCalls++
		_, err := s.db.PutItem(ctx, in)
		if err == nil {
			st.WindowsWritten++
			st.Applied += res.Applied
			st.DuplicatesSkipped += res.Duplicates
			return st, nil
		}
		var ccf *ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return st, fmt.Errorf("aggstore: PutItem %s %s: %w", g.SensorID, sensor.FormatWindowStart(g.WindowStart), err)
		}
		var latest current
		if ccf.Item != nil {
			_, latest, err = decodeItem(ccf.Item)
		} else {
			st.ReadCalls++
			latest, err = s.get(ctx, g.Key)
		}
		if err != nil {
			return st, err
		}
		if latest.version == cur.version+1 && slices.Equal(latest.agg.IDs, next.IDs) {
			// Our own write: the client retried a PutItem whose first
			// attempt took effect (its answer was a 5xx, a timeout or
			// corrupted), and the retry's condition failed on the item it
			// wrote. Count it as written so the metrics match the table.
			// (Another writer that merged exactly the same ids is
			// indistinguishable, and its item is the one we meant.)
			st.WindowsWritten++
			st.Applied += res.Applied
			st.DuplicatesSkipped += res.Duplicates
			return st, nil
		}
		st.Conflicts++
		conflicts++
		if conflicts > s.cfg.MaxConflictRetries {
			return st, fmt.Errorf("aggstore: %s %s: still conflicting after %d re-reads: %w", g.SensorID, sensor.FormatWindowStart(g.WindowStart), conflicts-1, ccf)
		}
		cur = latest
	}
}

func (s *Store) get(ctx context.Context, k sensor.Key) (current, error) {
	out, err := s.db.GetItem(ctx, &GetItemInput{TableName: s.cfg.Table, Key: itemKey(k), ConsistentRead: true})
	if err != nil {
		return current{}, fmt.Errorf("aggstore: GetItem: %w", err)
	}
	if out.Item == nil {
		return current{}, nil
	}
	_, c, err := decodeItem(out.Item)
	return c, err
}

// Shared, read-only request parts (no API implementation modifies its
// inputs).
var (
	namesNew = map[string]string{"#k": config.TablePartitionKey}
	namesVer = map[string]string{"#v": AttrVersion}
)

const (
	condNew     = "attribute_not_exists(#k)"
	condVersion = "#v = :v"
)

func (s *Store) putInput(k sensor.Key, a sensor.Aggregate, version int64) *PutItemInput {
	in := new(PutItemInput)
	s.fillPut(in, k, a, version)
	return in
}

// fillPut sets in to the conditional write of aggregate a over the item
// version read (0 = absent).
func (s *Store) fillPut(in *PutItemInput, k sensor.Key, a sensor.Aggregate, version int64) {
	*in = PutItemInput{
		TableName:                           s.cfg.Table,
		Item:                                EncodeItem(k, a, version+1, s.cfg.Now()),
		ReturnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailureAllOld,
	}
	if version == 0 {
		in.ConditionExpression, in.ExpressionAttributeNames = condNew, namesNew
	} else {
		in.ConditionExpression, in.ExpressionAttributeNames = condVersion, namesVer
		in.ExpressionAttributeValues = map[string]AttributeValue{":v": NumberValue(strconv.FormatInt(version, 10))}
	}
}

// PrepareWrites returns the PutItem inputs that applying groups to an empty
// table would send: the store's hot path without I/O (benchmarks use it).
func (s *Store) PrepareWrites(groups []sensor.Group) []*PutItemInput {
	// One allocation for every input; the pointers are into it.
	ins := make([]PutItemInput, len(groups))
	out := make([]*PutItemInput, 0, len(groups))
	var empty sensor.Aggregate
	// EncodeItem copies the merged ids into the item, so one buffer serves
	// every group.
	var ids []uint64
	for i := range groups {
		next, res := empty.Merge(groups[i].Points, ids)
		if cap(next.IDs) > cap(ids) {
			ids = next.IDs
		}
		if res.Applied > 0 {
			in := &ins[len(out)]
			s.fillPut(in, groups[i].Key, next, 0)
			out = append(out, in)
		}
	}
	return out
}

func itemKey(k sensor.Key) Item {
	return Item{
		config.TablePartitionKey: StringValue(k.SensorID),
		config.TableSortKey:      StringValue(sensor.FormatWindowStart(k.WindowStart)),
	}
}

// itemAttrCount is the number of attributes of an aggregate item.
const itemAttrCount = 12

// EncodeItem is the DynamoDB item of aggregate a for key k.
//
// It allocates the map and one buffer: every text value is a substring of
// the buffer's head and the event ids are its tail.
func EncodeItem(k sensor.Key, a sensor.Aggregate, version int64, now time.Time) Item {
	var arr [256]byte
	b := arr[:0]
	var off [10]int
	b = sensor.AppendWindowStart(b, k.WindowStart)
	off[0] = len(b)
	b = strconv.AppendInt(b, a.Count, 10)
	off[1] = len(b)
	b = a.Sum.AppendDecimal(b)
	off[2] = len(b)
	b = a.Min.AppendDecimal(b)
	off[3] = len(b)
	b = a.Max.AppendDecimal(b)
	off[4] = len(b)
	b = a.Avg().AppendDecimal(b)
	off[5] = len(b)
	b = sensor.AppendTime(b, a.First)
	off[6] = len(b)
	b = sensor.AppendTime(b, a.Last)
	off[7] = len(b)
	b = strconv.AppendInt(b, version, 10)
	off[8] = len(b)
	b = sensor.AppendTime(b, now.UnixMilli())
	off[9] = len(b)
	n := len(b)
	buf := make([]byte, n+8*len(a.IDs))
	copy(buf, b)
	ids := buf[n:len(buf):len(buf)]
	for i, h := range a.IDs {
		binary.BigEndian.PutUint64(ids[8*i:], h)
	}
	// Nothing writes buf[:n] after this point (ids begins after it and
	// buf itself does not escape otherwise), so it backs the text values'
	// string without a second allocation.
	text := unsafe.String(unsafe.SliceData(buf), n)
	item := make(Item, itemAttrCount)
	item[config.TablePartitionKey] = StringValue(k.SensorID)
	item[config.TableSortKey] = StringValue(text[:off[0]])
	item[AttrCount] = NumberValue(text[off[0]:off[1]])
	item[AttrSum] = NumberValue(text[off[1]:off[2]])
	item[AttrMin] = NumberValue(text[off[2]:off[3]])
	item[AttrMax] = NumberValue(text[off[3]:off[4]])
	item[AttrAvg] = NumberValue(text[off[4]:off[5]])
	item[AttrFirst] = StringValue(text[off[5]:off[6]])
	item[AttrLast] = StringValue(text[off[6]:off[7]])
	item[AttrVersion] = NumberValue(text[off[7]:off[8]])
	item[AttrUpdatedAt] = StringValue(text[off[8]:off[9]])
	item[AttrEventIDs] = BinaryValue(ids)
	return item
}

// DecodeItem reads an aggregate item back: its key, aggregate and version.
func DecodeItem(item Item) (sensor.Key, sensor.Aggregate, int64, error) {
	k, c, err := decodeItem(item)
	return k, c.agg, c.version, err
}

func decodeItem(item Item) (sensor.Key, current, error) {
	var (
		k   sensor.Key
		c   current
		err error
	)
	str := func(name string) string {
		if v := item[name]; v.Type == TypeS {
			return v.S
		}
		if err == nil {
			err = fmt.Errorf("attribute %s missing or not a string", name)
		}
		return ""
	}
	num := func(name string) string {
		if v := item[name]; v.Type == TypeN {
			return v.N
		}
		if err == nil {
			err = fmt.Errorf("attribute %s missing or not a number", name)
		}
		return ""
	}
	micro := func(name string) sensor.Micro {
		m, perr := sensor.ParseMicro(num(name))
		if perr != nil && err == nil {
			err = fmt.Errorf("attribute %s: %w", name, perr)
		}
		return m
	}
	when := func(name string) int64 {
		t, perr := time.Parse(time.RFC3339Nano, str(name))
		if perr != nil && err == nil {
			err = fmt.Errorf("attribute %s: %w", name, perr)
		}
		return t.UnixMilli()
	}
	integer := func(name string) int64 {
		n, perr := strconv.ParseInt(num(name), 10, 64)
		if perr != nil && err == nil {
			err = fmt.Errorf("attribute %s: %w", name, perr)
		}
		return n
	}
	k.SensorID = str(config.TablePartitionKey)
	ws := str(config.TableSortKey)
	if t, perr := time.Parse(time.RFC3339, ws); perr == nil {
		k.WindowStart = t.UnixMilli()
	} else if err == nil {
		err = fmt.Errorf("attribute %s: %w", config.TableSortKey, perr)
	}
	c.version = integer(AttrVersion)
	c.agg.Count = integer(AttrCount)
	c.agg.Sum = micro(AttrSum)
	c.agg.Min = micro(AttrMin)
	c.agg.Max = micro(AttrMax)
	c.agg.First = when(AttrFirst)
	c.agg.Last = when(AttrLast)
	if b := item[AttrEventIDs]; b.Type == TypeB && len(b.B)%8 == 0 {
		c.agg.IDs = make([]uint64, len(b.B)/8)
		for i := range c.agg.IDs {
			c.agg.IDs[i] = binary.BigEndian.Uint64(b.B[8*i:])
		}
	} else if err == nil {
		err = fmt.Errorf("attribute %s missing or not a whole number of 8-byte hashes", AttrEventIDs)
	}
	if err == nil && int64(len(c.agg.IDs)) != c.agg.Count {
		err = fmt.Errorf("%d event ids for count %d", len(c.agg.IDs), c.agg.Count)
	}
	if err != nil {
		// A malformed item is the table's problem, not the readings': fail
		// transiently so the records are retried and, in the end, go to the
		// DLQ with their sequence range instead of being dropped.
		return k, c, fmt.Errorf("aggstore: item %s %s is not an aggregate this version can merge into: %w", k.SensorID, ws, err)
	}
	return k, c, nil
}

// itemSize is DynamoDB's item size: attribute names plus values (numbers are
// counted generously as their text length).
func itemSize(item Item) int {
	n := 0
	for name, v := range item {
		n += len(name)
		switch v.Type {
		case TypeS:
			n += len(v.S)
		case TypeN:
			n += len(v.N) + 1
		case TypeB:
			n += len(v.B)
		}
	}
	return n
}
