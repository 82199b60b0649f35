package eventtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/streamproc/streamproc/internal/backoff"
	"github.com/streamproc/streamproc/internal/ctxsleep"
)

// DynamoAPI is the DynamoDB JSON protocol: *awsjson.Client (with Service
// awsjson.DynamoDB) implements it; errors are *awsjson.APIError-like values
// with an ErrorCode method.
type DynamoAPI interface {
	Call(ctx context.Context, op string, in, out any) error
}

// Attribute names of the engine's table. The key is pk (S, hash) and sk (S,
// range); ttl (N, epoch seconds) is the table's TTL attribute.
const (
	DynamoPartitionKey = "pk"
	DynamoSortKey      = "sk"
	DynamoTTL          = "ttl"
)

// DynamoConfig configures a DynamoStore.
type DynamoConfig struct {
	// Table is the state table: pk S hash key, sk S range key, TTL on ttl.
	Table string
	// DueBucket is the width of the due-index buckets: a firing queries one
	// partition per bucket from the oldest window not yet closed to the
	// watermark.
	// Default: 1 minute
	DueBucket time.Duration
	// Retention is how long a window's state stays after it closes (its ttl
	// is End + AllowedLateness + Retention). Redeliveries later than that
	// are no longer recognised: keep it above the stream's retention period.
	// Default: 8 days (Kinesis' default retention is 24 hours, up to 365 days)
	Retention time.Duration
	// AllowedLateness must equal the engine's; it only sets ttl.
	// Default: 0
	AllowedLateness time.Duration
}

// DynamoStore is a Store in one DynamoDB table:
//
//	pk "w#<key>"            sk "<start>/<end>" (RFC 3339)  one item per window
//	pk "due#<bucket>"       sk "<end>|<start>|<key>"       one item per window not done
//	pk "wm"                 sk "stream", "shard#<id>"      watermarks
//
// A window item holds the encoded aggregate, the applied and late record
// hashes (8 bytes each, binary), the result bookkeeping and a version; every
// write is a PutItem conditioned on the version read. Due items are the
// index DueWindows reads with strongly consistent Queries, one bucket at a
// time, from the stream item's lowDue bucket up: no table scans.
type DynamoStore struct {
	db  DynamoAPI
	cfg DynamoConfig
	bkt int64 // ms
}

// NewDynamoStore returns a DynamoStore over db.
func NewDynamoStore(db DynamoAPI, cfg DynamoConfig) (*DynamoStore, error) {
	if db == nil {
		return nil, errors.New("eventtime: nil DynamoDB client: pass an *awsjson.Client for awsjson.DynamoDB")
	}
	if cfg.Table == "" {
		return nil, errors.New("eventtime: DynamoConfig.Table is empty: name the state table")
	}
	if cfg.DueBucket <= 0 {
		cfg.DueBucket = time.Minute
	}
	if cfg.DueBucket < time.Second {
		return nil, fmt.Errorf("eventtime: DynamoConfig.DueBucket %s is below 1s: use 1m or more", cfg.DueBucket)
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 8 * 24 * time.Hour
	}
	return &DynamoStore{db: db, cfg: cfg, bkt: cfg.DueBucket.Milliseconds()}, nil
}

// attr is a DynamoDB attribute value of type S, N or B.
type attr struct {
	S *string `json:"S,omitempty"`
	N *string `json:"N,omitempty"`
	B []byte  `json:"B,omitempty"`
}

type item map[string]attr

func sAttr(s string) attr { return attr{S: &s} }
func nAttr(n int64) attr  { s := strconv.FormatInt(n, 10); return attr{N: &s} }
func bAttr(b []byte) attr { return attr{B: b} }

// setB sets binary attribute name, or leaves it out when b is empty (an
// absent attribute reads back as empty).
func (it item) setB(name string, b []byte) {
	if len(b) > 0 {
		it[name] = bAttr(b)
	}
}

func (it item) str(name string) string {
	if a, ok := it[name]; ok && a.S != nil {
		return *a.S
	}
	return ""
}

func (it item) num(name string) (int64, bool) {
	a, ok := it[name]
	if !ok || a.N == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(*a.N, 10, 64)
	return n, err == nil
}

func (it item) int(name string) int64 { n, _ := it.num(name); return n }

func windowPK(k WindowKey) item {
	return item{DynamoPartitionKey: sAttr("w#" + k.Key), DynamoSortKey: sAttr(k.Window.String())}
}

func (d *DynamoStore) bucket(end int64) int64 { return floorDiv(end, d.bkt) }

func dueKey(b int64, k WindowKey) item {
	return item{
		DynamoPartitionKey: sAttr("due#" + strconv.FormatInt(b, 10)),
		DynamoSortKey:      sAttr(strconv.FormatInt(k.Window.End, 10) + "|" + strconv.FormatInt(k.Window.Start, 10) + "|" + k.Key),
	}
}

var (
	wmPK      = "wm"
	streamSK  = "stream"
	shardSKPf = "shard#"
)

func packHashes(h []uint64) []byte {
	b := make([]byte, 8*len(h))
	for i, x := range h {
		binary.BigEndian.PutUint64(b[8*i:], x)
	}
	return b
}

func unpackHashes(b []byte) ([]uint64, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of 8-byte hashes", len(b))
	}
	h := make([]uint64, len(b)/8)
	for i := range h {
		h[i] = binary.BigEndian.Uint64(b[8*i:])
	}
	return h, nil
}

func encodeWindow(k WindowKey, s WindowState, version int64, ttl int64) item {
	it := windowPK(k)
	it["v"] = nAttr(version)
	it["key"] = sAttr(k.Key)
	it["ws"] = nAttr(k.Window.Start)
	it["we"] = nAttr(k.Window.End)
	it.setB("agg", s.Agg)
	it.setB("applied", packHashes(s.Applied))
	it.setB("late", packHashes(s.Late))
	closed := int64(0)
	if s.Closed {
		closed = 1
	}
	it["closed"] = nAttr(closed)
	it["dv"] = nAttr(s.DataVersion)
	it["pdv"] = nAttr(s.PublishedData)
	it["revs"] = nAttr(s.Revisions)
	if p := s.Pending; p != nil {
		it["p_rev"] = nAttr(p.Revision)
		it["p_dv"] = nAttr(p.DataVersion)
		it.setB("p_agg", p.Agg)
		pc := int64(0)
		if p.Closed {
			pc = 1
		}
		it["p_closed"] = nAttr(pc)
		it["p_at"] = nAttr(p.ReservedAt)
	}
	it[DynamoTTL] = nAttr(ttl)
	return it
}

func decodeWindow(it item) (WindowState, error) {
	var s WindowState
	var err error
	v, ok := it.num("v")
	if !ok {
		return s, errors.New("attribute v missing or not a number")
	}
	s.Version = v
	s.Agg = it["agg"].B
	if s.Applied, err = unpackHashes(it["applied"].B); err != nil {
		return s, fmt.Errorf("attribute applied: %w", err)
	}
	if s.Late, err = unpackHashes(it["late"].B); err != nil {
		return s, fmt.Errorf("attribute late: %w", err)
	}
	s.Closed = it.int("closed") == 1
	s.DataVersion, s.PublishedData, s.Revisions = it.int("dv"), it.int("pdv"), it.int("revs")
	if rev, ok := it.num("p_rev"); ok {
		s.Pending = &PendingResult{Revision: rev, DataVersion: it.int("p_dv"), Agg: it["p_agg"].B, Closed: it.int("p_closed") == 1, ReservedAt: it.int("p_at")}
	}
	return s, nil
}

func isCode(err error, code string) bool {
	var c interface{ ErrorCode() string }
	return errors.As(err, &c) && c.ErrorCode() == code
}

const codeConditionFailed = "ConditionalCheckFailedException"

// GetWindows implements Store with consistent BatchGetItem calls of up to
// 100 keys, following UnprocessedKeys.
func (d *DynamoStore) GetWindows(ctx context.Context, keys []WindowKey) ([]WindowState, error) {
	out := make([]WindowState, len(keys))
	pos := make(map[WindowKey]int, len(keys))
	for i, k := range keys {
		pos[k] = i
	}
	for lo := 0; lo < len(keys); lo += 100 {
		hi := min(lo+100, len(keys))
		batch := make([]item, 0, hi-lo)
		for _, k := range keys[lo:hi] {
			batch = append(batch, windowPK(k))
		}
		err := d.batchGet(ctx, batch, func(it item) error {
			k, err := windowKeyOf(it)
			if err != nil {
				return err
			}
			s, err := decodeWindow(it)
			if err != nil {
				return fmt.Errorf("eventtime: window item %s %s: %w", k.Key, k.Window, err)
			}
			if i, ok := pos[k]; ok {
				out[i] = s
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func windowKeyOf(it item) (WindowKey, error) {
	ws, ok1 := it.num("ws")
	we, ok2 := it.num("we")
	if !ok1 || !ok2 || it["key"].S == nil {
		return WindowKey{}, fmt.Errorf("eventtime: item %s %s is not a window", it.str(DynamoPartitionKey), it.str(DynamoSortKey))
	}
	return WindowKey{Key: it.str("key"), Window: Window{Start: ws, End: we}}, nil
}

// PutWindow implements Store: a PutItem conditioned on the version read.
// Before a window is first stored, its due item is written and the stream
// item's lowDue lowered to its bucket; once the window is done, its due
// item is deleted.
func (d *DynamoStore) PutWindow(ctx context.Context, k WindowKey, s WindowState) (int64, error) {
	b := d.bucket(k.Window.End)
	if s.Version == 0 && !s.Done() {
		if err := d.db.Call(ctx, "PutItem", map[string]any{"TableName": d.cfg.Table, "Item": d.dueItem(b, k)}, nil); err != nil {
			return 0, err
		}
		if err := d.lowerDue(ctx, b); err != nil {
			return 0, err
		}
	}
	ttl := (k.Window.End+d.cfg.AllowedLateness.Milliseconds()+d.cfg.Retention.Milliseconds())/1000 + 1
	in := map[string]any{"TableName": d.cfg.Table, "Item": encodeWindow(k, s, s.Version+1, ttl)}
	if s.Version == 0 {
		in["ConditionExpression"] = "attribute_not_exists(#pk)"
		in["ExpressionAttributeNames"] = map[string]string{"#pk": DynamoPartitionKey}
	} else {
		in["ConditionExpression"] = "#v = :v"
		in["ExpressionAttributeNames"] = map[string]string{"#v": "v"}
		in["ExpressionAttributeValues"] = item{":v": nAttr(s.Version)}
	}
	if err := d.db.Call(ctx, "PutItem", in, nil); err != nil {
		if isCode(err, codeConditionFailed) {
			return 0, fmt.Errorf("%w: %w", ErrConflict, err)
		}
		return 0, err
	}
	if s.Done() {
		// Best effort: a due item left behind is listed again, and the
		// engine then writes the done window again, which deletes it.
		_ = d.db.Call(ctx, "DeleteItem", map[string]any{"TableName": d.cfg.Table, "Key": dueKey(b, k)}, nil)
	}
	return s.Version + 1, nil
}

func (d *DynamoStore) dueItem(b int64, k WindowKey) item {
	it := dueKey(b, k)
	it["key"] = sAttr(k.Key)
	it["ws"] = nAttr(k.Window.Start)
	it["we"] = nAttr(k.Window.End)
	it[DynamoTTL] = nAttr((k.Window.End+d.cfg.AllowedLateness.Milliseconds()+d.cfg.Retention.Milliseconds())/1000 + 1)
	return it
}

// lowerDue makes sure the firing scans bucket b: it counts the change in
// the stream item's "touch" (so a firing that is retiring buckets at the
// same time fails its condition) and lowers lowDue to b if it is above.
func (d *DynamoStore) lowerDue(ctx context.Context, b int64) error {
	key := item{DynamoPartitionKey: sAttr(wmPK), DynamoSortKey: sAttr(streamSK)}
	if err := d.db.Call(ctx, "UpdateItem", map[string]any{
		"TableName": d.cfg.Table, "Key": key,
		"UpdateExpression":          "ADD #t :one",
		"ExpressionAttributeNames":  map[string]string{"#t": "touch"},
		"ExpressionAttributeValues": item{":one": nAttr(1)},
	}, nil); err != nil {
		return err
	}
	err := d.db.Call(ctx, "UpdateItem", map[string]any{
		"TableName": d.cfg.Table, "Key": key,
		"UpdateExpression":          "SET #l = :b",
		"ConditionExpression":       "attribute_not_exists(#l) OR #l > :b",
		"ExpressionAttributeNames":  map[string]string{"#l": "low_due"},
		"ExpressionAttributeValues": item{":b": nAttr(b)},
	}, nil)
	if err != nil && !isCode(err, codeConditionFailed) {
		return err
	}
	return nil
}

// DueWindows implements Store: one strongly consistent Query per bucket from
// lowDue to the watermark's bucket. Empty buckets below the watermark's are
// retired (lowDue moves past them) on condition that no window was created
// meanwhile.
func (d *DynamoStore) DueWindows(ctx context.Context, w int64) ([]WindowKey, error) {
	var st struct {
		Item item `json:"Item"`
	}
	if err := d.db.Call(ctx, "GetItem", map[string]any{"TableName": d.cfg.Table, "ConsistentRead": true,
		"Key": item{DynamoPartitionKey: sAttr(wmPK), DynamoSortKey: sAttr(streamSK)}}, &st); err != nil {
		return nil, err
	}
	low, ok := st.Item.num("low_due")
	if !ok {
		return nil, nil // no window stored yet
	}
	touch := st.Item.int("touch")
	top := d.bucket(w)
	var out []WindowKey
	newLow := low
	for b := low; b <= top; b++ {
		n := 0
		in := map[string]any{"TableName": d.cfg.Table, "ConsistentRead": true,
			"KeyConditionExpression":    "#pk = :pk",
			"ExpressionAttributeNames":  map[string]string{"#pk": DynamoPartitionKey},
			"ExpressionAttributeValues": item{":pk": sAttr("due#" + strconv.FormatInt(b, 10))}}
		for {
			var resp struct {
				Items            []item `json:"Items"`
				LastEvaluatedKey item   `json:"LastEvaluatedKey"`
			}
			if err := d.db.Call(ctx, "Query", in, &resp); err != nil {
				return nil, err
			}
			for _, it := range resp.Items {
				n++
				k, err := windowKeyOf(it)
				if err != nil {
					return nil, err
				}
				if k.Window.End <= w {
					out = append(out, k)
				}
			}
			if len(resp.LastEvaluatedKey) == 0 {
				break
			}
			in["ExclusiveStartKey"] = resp.LastEvaluatedKey
		}
		if n == 0 && b == newLow && b < top {
			newLow = b + 1
		}
	}
	if newLow > low {
		err := d.db.Call(ctx, "UpdateItem", map[string]any{
			"TableName": d.cfg.Table, "Key": item{DynamoPartitionKey: sAttr(wmPK), DynamoSortKey: sAttr(streamSK)},
			"UpdateExpression":          "SET #l = :n",
			"ConditionExpression":       "#l = :l AND #t = :t",
			"ExpressionAttributeNames":  map[string]string{"#l": "low_due", "#t": "touch"},
			"ExpressionAttributeValues": item{":n": nAttr(newLow), ":l": nAttr(low), ":t": nAttr(touch)},
		}, nil)
		if err != nil && !isCode(err, codeConditionFailed) {
			return nil, err
		}
	}
	sortKeys(out)
	return out, nil
}

// GetWatermarks implements Store: one consistent Query of partition "wm".
func (d *DynamoStore) GetWatermarks(ctx context.Context) (Watermarks, error) {
	wm := Watermarks{Stream: minTime}
	in := map[string]any{"TableName": d.cfg.Table, "ConsistentRead": true,
		"KeyConditionExpression":    "#pk = :pk",
		"ExpressionAttributeNames":  map[string]string{"#pk": DynamoPartitionKey},
		"ExpressionAttributeValues": item{":pk": sAttr(wmPK)}}
	for {
		var resp struct {
			Items            []item `json:"Items"`
			LastEvaluatedKey item   `json:"LastEvaluatedKey"`
		}
		if err := d.db.Call(ctx, "Query", in, &resp); err != nil {
			return wm, err
		}
		for _, it := range resp.Items {
			sk := it.str(DynamoSortKey)
			switch {
			case sk == streamSK:
				if w, ok := it.num("w"); ok {
					wm.Stream = w
				}
			case len(sk) > len(shardSKPf) && sk[:len(shardSKPf)] == shardSKPf:
				wm.Shards = append(wm.Shards, decodeShard(sk[len(shardSKPf):], it))
			}
		}
		if len(resp.LastEvaluatedKey) == 0 {
			return wm, nil
		}
		in["ExclusiveStartKey"] = resp.LastEvaluatedKey
	}
}

// GetShard implements Store: one strongly consistent BatchGetItem of the
// stream item and the shard's item.
func (d *DynamoStore) GetShard(ctx context.Context, shard string) (int64, ShardState, bool, error) {
	stream, st, found := int64(minTime), ShardState{Shard: shard, MaxEventTime: minTime, LastActive: minTime, Fired: minTime}, false
	err := d.batchGet(ctx, []item{
		{DynamoPartitionKey: sAttr(wmPK), DynamoSortKey: sAttr(streamSK)},
		{DynamoPartitionKey: sAttr(wmPK), DynamoSortKey: sAttr(shardSKPf + shard)},
	}, func(it item) error {
		switch sk := it.str(DynamoSortKey); sk {
		case streamSK:
			if w, ok := it.num("w"); ok {
				stream = w
			}
		case shardSKPf + shard:
			st, found = decodeShard(shard, it), true
		}
		return nil
	})
	if err != nil {
		return minTime, ShardState{}, false, err
	}
	return stream, st, found, nil
}

// batchGetRounds bounds the BatchGetItem calls for keys DynamoDB leaves
// unprocessed (it does under throttling), with a jittered backoff between.
const batchGetRounds = 6

// batchGet reads keys (at most 100) with strongly consistent BatchGetItem
// calls, following UnprocessedKeys, and gives each item found to each.
func (d *DynamoStore) batchGet(ctx context.Context, keys []item, each func(item) error) error {
	type kaa struct {
		Keys           []item `json:"Keys"`
		ConsistentRead bool   `json:"ConsistentRead"`
	}
	req := kaa{ConsistentRead: true, Keys: keys}
	for round := 0; len(req.Keys) > 0; round++ {
		if round == batchGetRounds {
			return fmt.Errorf("eventtime: BatchGetItem on table %s left %d keys unprocessed %d times: the table is throttled; raise its capacity (on-demand: its warm throughput) or lower the mapping's concurrency", d.cfg.Table, len(req.Keys), round)
		}
		if round > 0 {
			if err := ctxsleep.Sleep(ctx, backoff.Jittered(round, 25*time.Millisecond, time.Second)); err != nil {
				return err
			}
		}
		var resp struct {
			Responses       map[string][]item `json:"Responses"`
			UnprocessedKeys map[string]kaa    `json:"UnprocessedKeys"`
		}
		if err := d.db.Call(ctx, "BatchGetItem", map[string]any{"RequestItems": map[string]kaa{d.cfg.Table: req}}, &resp); err != nil {
			return err
		}
		for _, it := range resp.Responses[d.cfg.Table] {
			if err := each(it); err != nil {
				return err
			}
		}
		req.Keys = resp.UnprocessedKeys[d.cfg.Table].Keys
	}
	return nil
}

func decodeShard(shard string, it item) ShardState {
	s := ShardState{Shard: shard, MaxEventTime: it.int("max_event"), LastActive: it.int("last_active"),
		Closed: it.int("closed") == 1, Fired: minTime, Version: it.int("v")}
	if f, ok := it.num("fired"); ok {
		s.Fired = f
	}
	return s
}

// PutShard implements Store: one PutItem conditioned on s.Version (not
// stored, if 0); when another writer changed the item since, read, merge
// and write again.
func (d *DynamoStore) PutShard(ctx context.Context, s ShardState) error {
	key := item{DynamoPartitionKey: sAttr(wmPK), DynamoSortKey: sAttr(shardSKPf + s.Shard)}
	next, v, exists := s, s.Version, s.Version > 0
	for attempt := 0; ; attempt++ {
		it := item{DynamoPartitionKey: key[DynamoPartitionKey], DynamoSortKey: key[DynamoSortKey],
			"v": nAttr(v + 1), "max_event": nAttr(next.MaxEventTime), "last_active": nAttr(next.LastActive), "fired": nAttr(next.Fired)}
		closed := int64(0)
		if next.Closed {
			closed = 1
		}
		it["closed"] = nAttr(closed)
		in := map[string]any{"TableName": d.cfg.Table, "Item": it}
		if exists {
			in["ConditionExpression"] = "#v = :v"
			in["ExpressionAttributeNames"] = map[string]string{"#v": "v"}
			in["ExpressionAttributeValues"] = item{":v": nAttr(v)}
		} else {
			in["ConditionExpression"] = "attribute_not_exists(#pk)"
			in["ExpressionAttributeNames"] = map[string]string{"#pk": DynamoPartitionKey}
		}
		err := d.db.Call(ctx, "PutItem", in, nil)
		if err == nil || !isCode(err, codeConditionFailed) || attempt == 10 {
			return err
		}
		var cur struct {
			Item item `json:"Item"`
		}
		if err := d.db.Call(ctx, "GetItem", map[string]any{"TableName": d.cfg.Table, "Key": key, "ConsistentRead": true}, &cur); err != nil {
			return err
		}
		next = s
		v, exists = cur.Item.num("v")
		if exists {
			c := decodeShard(s.Shard, cur.Item)
			next.MaxEventTime = max(next.MaxEventTime, c.MaxEventTime)
			next.LastActive = max(next.LastActive, c.LastActive)
			next.Fired = max(next.Fired, c.Fired)
			next.Closed = next.Closed || c.Closed
		}
	}
}

// AdvanceStream implements Store: an UpdateItem that only raises w.
func (d *DynamoStore) AdvanceStream(ctx context.Context, w int64) error {
	err := d.db.Call(ctx, "UpdateItem", map[string]any{
		"TableName": d.cfg.Table, "Key": item{DynamoPartitionKey: sAttr(wmPK), DynamoSortKey: sAttr(streamSK)},
		"UpdateExpression":          "SET #w = :w",
		"ConditionExpression":       "attribute_not_exists(#w) OR #w < :w",
		"ExpressionAttributeNames":  map[string]string{"#w": "w"},
		"ExpressionAttributeValues": item{":w": nAttr(w)},
	}, nil)
	if err != nil && !isCode(err, codeConditionFailed) {
		return err
	}
	return nil
}

// TakeFireLease implements Store: one UpdateItem of the stream item,
// conditioned on no lease lasting past now.
func (d *DynamoStore) TakeFireLease(ctx context.Context, now, until int64) (bool, error) {
	err := d.db.Call(ctx, "UpdateItem", map[string]any{
		"TableName": d.cfg.Table, "Key": item{DynamoPartitionKey: sAttr(wmPK), DynamoSortKey: sAttr(streamSK)},
		"UpdateExpression":          "SET #f = :until",
		"ConditionExpression":       "attribute_not_exists(#f) OR #f < :now",
		"ExpressionAttributeNames":  map[string]string{"#f": "fire_lease"},
		"ExpressionAttributeValues": item{":until": nAttr(until), ":now": nAttr(now)},
	}, nil)
	switch {
	case err == nil:
		return true, nil
	case isCode(err, codeConditionFailed):
		return false, nil
	}
	return false, err
}

// ReleaseFireLease implements Store: one UpdateItem removing the lease if
// it is still the one taken with until.
func (d *DynamoStore) ReleaseFireLease(ctx context.Context, until int64) error {
	err := d.db.Call(ctx, "UpdateItem", map[string]any{
		"TableName": d.cfg.Table, "Key": item{DynamoPartitionKey: sAttr(wmPK), DynamoSortKey: sAttr(streamSK)},
		"UpdateExpression":          "REMOVE #f",
		"ConditionExpression":       "#f = :until",
		"ExpressionAttributeNames":  map[string]string{"#f": "fire_lease"},
		"ExpressionAttributeValues": item{":until": nAttr(until)},
	}, nil)
	if err != nil && !isCode(err, codeConditionFailed) {
		return err
	}
	return nil
}
