package plan

import "math"

// The event-time engine's DynamoDB traffic (functions/eventtime:
// Engine.Process, Engine.Fire, DynamoStore), one formula for the planner and
// the simulation (internal/sim), so the two cannot drift apart.

// Sizes of the engine's small items and the limits of its calls.
const (
	watermarkItemBytes = 100     // a shard's watermark item "wm"/"shard#<id>" (the stream item is smaller)
	dueItemBytes       = 130     // a due-index item "due#<bucket>"/"<end>|<start>|<key>"
	queryPageBytes     = 1 << 20 // a Query returns at most 1 MB per call
	resultsPerCall     = 500     // results per PutRecords (the Kinesis result sink)
	pendingBytes       = 32      // a pending result's bookkeeping besides its aggregate
	// maxEngineConcurrency is the most windows written or fired at once
	// the planner chooses (eventtime.Config.Concurrency).
	maxEngineConcurrency = 256
)

// EngineBatch is what one batch (or, in the planner, an average batch) does
// to the engine's state table: its own windows, and its share of the
// stream's firings.
type EngineBatch struct {
	// Windows is the distinct windows the batch's records touch: one
	// window-item PutItem each (conflict retries are not counted).
	Windows float64
	// NewWindows is how many of them the batch stores for the first time.
	NewWindows float64
	// WindowWCU and WindowRCU are the capacity of those PutItems and of the
	// consistent reads before them (by item size: WriteUnits, ReadUnits).
	WindowWCU, WindowRCU float64
	// Attempts is firing attempts that find the lease on the stream item
	// taken (another firing is at work): one conditional UpdateItem each.
	// A shard attempts once per firing boundary its watermark crosses.
	Attempts float64
	// Firings is firings that take the lease: the lease write, a round
	// (Query of every watermark item, the stream watermark's UpdateItem,
	// the stream item's GetItem, the due-bucket Queries, BatchGetItems of
	// the listed windows), the Query that checks the watermark again, and
	// the release.
	Firings float64
	// Fired is the windows whose result those firings publish: reserve
	// and confirm, a closing write when the allowed lateness kept it open,
	// and its due item deleted. The stream's windows that end at one
	// boundary are fired once, by one firing.
	Fired float64
	// FiredBytes is a fired window item's size (WindowItemBytes).
	FiredBytes float64
	// Due is the other windows listed in the due index that every firing
	// reads: ended and not yet closed (within the allowed lateness).
	Due float64
}

// EngineCalls is one batch's DynamoDB traffic.
type EngineCalls struct {
	Reads, Writes float64 // calls (Query pages, BatchGetItem, GetItem; PutItem, UpdateItem, DeleteItem)
	RCU, WCU      float64
	// Rounds is the DynamoDB (and result sink) round trips one after
	// another: what the invocation waits for. FireRounds is the part of
	// them that grows with the windows the firings list and fire
	// (expected rounds: continuous, so that an average batch's share of a
	// firing adds up).
	Rounds, FireRounds float64
	// WatermarkWCU and WatermarkRCU are the share on partition key "wm":
	// the stream item (two UpdateItems per new window, the lease attempts,
	// a lease holder's lease, stream watermark and release writes) and the
	// shard items (the batch's BatchGetItem of the stream and its shard,
	// its PutItem; a firing's two Queries of them all).
	WatermarkWCU, WatermarkRCU float64
}

// EngineModel prices batches for one pipeline: its costs, window, allowed
// lateness, shard count, fire schedule and engine concurrency.
type EngineModel struct {
	costs                    Costs
	window, lateness, shards float64
	schedule                 float64 // seconds between the schedule's fire requests; 0: none
	boundaries               float64 // firing boundaries per window length (1 or 2)
	cpu, overhead, lat, conc float64
	wmRCU, wmPages, dueQ     float64
}

// NewEngineModel returns the model of in (defaults applied) on a stream of
// shards with the engine writing and firing concurrency windows at a time
// (eventtime.Config.Concurrency; 0: in's EngineConcurrency, else the
// engine's default); seed selects the seed-style handler's CPU cost per
// record.
func NewEngineModel(in Input, shards, concurrency int, seed bool) EngineModel {
	in = in.WithDefaults()
	if concurrency <= 0 {
		concurrency = in.EngineConcurrency
	}
	if concurrency <= 0 {
		concurrency = in.Costs.StoreConcurrency
	}
	e := EngineModel{
		costs: in.Costs, window: in.Window.Seconds(), lateness: in.Lateness.Seconds(), shards: float64(max(shards, 1)),
		cpu: cpuSeconds(in, seed), overhead: in.Costs.InvokeOverhead.Seconds(),
		lat: in.Costs.DynamoDBLatency.Seconds(), conc: float64(concurrency),
		boundaries: 1,
	}
	if in.FireSchedule > 0 {
		e.schedule = in.FireSchedule.Seconds()
	}
	// A window ends at a multiple of its length and closes its lateness
	// later: a second boundary unless the lateness is a multiple of it
	// (within rounding: a plan may scale both by a float).
	if r := e.lateness / e.window; math.Abs(r-math.Round(r)) > 1e-6 {
		e.boundaries = 2
	}
	wmBytes := (e.shards + 1) * watermarkItemBytes
	e.wmRCU = math.Ceil(wmBytes / 4096)
	e.wmPages = math.Ceil(wmBytes / queryPageBytes)
	// A firing Queries the due buckets from the oldest window not yet
	// closed to the watermark's: the windows that ended within the
	// lateness span lateness / DueBucket buckets, at least the current one.
	e.dueQ = math.Max(1, math.Ceil(e.lateness/in.DueBucket.Seconds()))
	return e
}

// Concurrency is the windows the engine writes or fires at the same time.
func (e EngineModel) Concurrency() int { return int(e.conc) }

// DueQueries is the due-bucket Queries of one firing.
func (e EngineModel) DueQueries() float64 { return e.dueQ }

// WindowItemBytes is a window item holding readings applied records: its
// base, key and encoded aggregate, 8 bytes per record id, at most
// MaxItemBytes.
func WindowItemBytes(c Costs, readings float64) float64 {
	return math.Min(float64(c.MaxItemBytes), float64(c.ItemBaseBytes+c.KeyBytes+c.AggregateBytes)+float64(c.BytesPerReading)*readings)
}

// WriteUnits is the WCU of writing an item of bytes (1 KB each, at least 1).
func WriteUnits(bytes float64) float64 { return math.Max(1, math.Ceil(bytes/1024)) }

// ReadUnits is the RCU of a consistent read of an item of bytes (4 KB each,
// at least 1, also for a missing item).
func ReadUnits(bytes float64) float64 { return math.Max(1, math.Ceil(bytes/4096)) }

// Batch is the traffic of one batch (docs/engine.md, "DynamoDB layout and
// cost"; docs/scale.md):
//
//	Process: one consistent BatchGetItem of the stream item and the
//	  batch's shard item, a consistent BatchGetItem per 100 windows (one
//	  after another), per window a conditional PutItem — a new one first
//	  PutItems its due item and UpdateItems the stream item twice (change
//	  counter, low_due) — StoreConcurrency windows at a time; the shard
//	  item's PutItem.
//	A firing attempt whose lease write fails: one conditional UpdateItem.
//	A firing that holds the lease: the lease UpdateItem, Query "wm",
//	  UpdateItem of the stream watermark, GetItem of the stream item, a
//	  Query per due bucket (1 MB pages), BatchGetItem of every listed
//	  window, per fired window a reserve PutItem (the item holds the
//	  aggregate twice), the results published 500 per call, a confirm
//	  PutItem, a closing PutItem when the lateness kept it open, and the
//	  due item's DeleteItem; the Query "wm" that finds no further boundary
//	  crossed, and the lease's release.
func (e EngineModel) Batch(b EngineBatch) EngineCalls {
	var c EngineCalls
	if b.Windows > 0 {
		gets := math.Ceil(b.Windows / batchGetKeys)
		c.Reads = 1 + gets
		c.Writes = b.Windows + 3*b.NewWindows + 1
		c.RCU = 2 + b.WindowRCU
		c.WCU = b.WindowWCU + 3*b.NewWindows + 1
		c.WatermarkWCU = 2*b.NewWindows + 1
		c.WatermarkRCU = 2
		c.Rounds = 1 + gets + math.Ceil((b.Windows+3*b.NewWindows)/e.conc) + 1
	}
	// Failed lease writes.
	c.Writes += b.Attempts
	c.WCU += b.Attempts
	c.WatermarkWCU += b.Attempts
	c.Rounds += b.Attempts
	if b.Firings <= 0 && b.Fired <= 0 {
		return c
	}
	closing := 0.0
	if e.lateness > 0 {
		closing = 1
	}
	f := b.Firings
	listed := b.Fired + f*b.Due
	dueBytes := listed * dueItemBytes
	c.Reads += f*(2*e.wmPages+1+e.dueQ+math.Ceil(b.Due/batchGetKeys)) + math.Floor(dueBytes/queryPageBytes) + b.Fired/batchGetKeys
	c.Writes += 3*f + b.Fired*(2+closing+1)
	c.RCU += f*(2*e.wmRCU+1+e.dueQ) + dueBytes/4096 + listed*ReadUnits(b.FiredBytes)
	c.WCU += 3*f + b.Fired*(WriteUnits(b.FiredBytes+float64(e.costs.AggregateBytes)+pendingBytes)+(1+closing)*WriteUnits(b.FiredBytes)+1)
	c.WatermarkWCU += 3 * f
	c.WatermarkRCU += f * (2*e.wmRCU + 1)
	c.FireRounds = e.fireRounds(b.Fired, listed) + f*math.Ceil(b.Due/batchGetKeys)
	c.Rounds += f*(1+e.wmPages+1+1+e.dueQ+e.wmPages+1) + c.FireRounds
	return c
}

// fireRounds is the rounds of fired windows: Query pages past the first,
// BatchGetItems, reserve, publish, confirm and delete (and close, with
// lateness) StoreConcurrency at a time.
func (e EngineModel) fireRounds(fired, listed float64) float64 {
	closing := 0.0
	if e.lateness > 0 {
		closing = 1
	}
	return math.Floor(listed*dueItemBytes/queryPageBytes) + fired/batchGetKeys +
		fired*((3+closing)/e.conc+1.0/resultsPerCall)
}

// Boundary is how long (seconds) the one firing of the windows that end at
// one window boundary takes (tumbling windows of every active key end
// together), reading due other windows within the lateness too.
func (e EngineModel) Boundary(windows, due float64) float64 {
	return e.Batch(EngineBatch{Firings: 1, Fired: windows, Due: due}).Rounds * e.lat
}

// Boundaries is the firing boundaries per window length: a window's end
// and, unless the allowed lateness is a multiple of the window, its close.
func (e EngineModel) Boundaries() float64 { return e.boundaries }

// FiringAttempts is the firing attempts per window length: every shard
// once per boundary its watermark crosses, and the schedule's requests.
func (e EngineModel) FiringAttempts() float64 {
	a := e.shards * e.boundaries
	if e.schedule > 0 {
		a += e.window / e.schedule
	}
	return a
}

// LeaseFirings is the firings per window length that take the lease: the
// one that fires each boundary (the shard whose crossing moves the stream
// watermark past it, the slowest) and the attempts before it that find the
// lease free and fire nothing (the stream watermark, the lowest shard's,
// has not crossed yet). The shards cross within spread seconds of each
// other (a batch period); an attempt finds the lease free with probability
// 1 / (1 + rate x hold), rate the attempts per second during the spread
// and hold a firing that fires nothing (Erlang's loss formula, one server).
func (e EngineModel) LeaseFirings(spread, due float64) float64 {
	return e.boundaries + (e.FiringAttempts()-e.boundaries)*e.LeaseShare(spread, due)
}

// LeaseShare is the share of the attempts that take the lease and fire
// nothing (LeaseFirings).
func (e EngineModel) LeaseShare(spread, due float64) float64 {
	spread = math.Max(math.Min(spread, e.window/e.boundaries), 1e-3)
	hold := e.Batch(EngineBatch{Firings: 1, Due: due}).Rounds * e.lat
	return 1 / (1 + e.shards/spread*hold)
}

// Duration is one invocation of records with c's round trips: fixed
// overhead, CPU per record, DynamoDB latency per round.
func (e EngineModel) Duration(records float64, c EngineCalls) float64 {
	return e.overhead + records*e.cpu + c.Rounds*e.lat
}

// RecordSeconds is the function time per record.
func (e EngineModel) RecordSeconds() float64 { return e.cpu }

// RoundSeconds is one DynamoDB (or result sink) round trip.
func (e EngineModel) RoundSeconds() float64 { return e.lat }

// SeedDuration is the seed-style handler's invocation: every record
// written with its own PutItem, one after another.
func (e EngineModel) SeedDuration(records float64) float64 {
	return e.overhead + records*(e.cpu+e.lat)
}
