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
)

// EngineBatch is what one batch does to the engine's state table.
type EngineBatch struct {
	// Windows is the distinct windows the batch's records touch: one
	// window-item PutItem each (conflict retries are not counted).
	Windows float64
	// NewWindows is how many of them the batch stores for the first time.
	NewWindows float64
	// WindowWCU and WindowRCU are the capacity of those PutItems and of the
	// consistent reads before them (by item size: WriteUnits, ReadUnits).
	WindowWCU, WindowRCU float64
	// Fired is the windows whose result the batch's firing publishes:
	// reserve and confirm, a closing write when the allowed lateness kept
	// it open past its end, and its due item deleted. A firing lists every
	// due window of the stream, so the first one after a window boundary
	// fires all the windows that ended there, and so does every other
	// firing that starts before that one has confirmed them (each then
	// publishes the results again: same result ids).
	Fired float64
	// FiredBytes is a fired window item's size (WindowItemBytes).
	FiredBytes float64
	// Due is the other windows listed in the due index that the firing
	// reads: ended and not yet closed (within the allowed lateness). Every
	// firing reads all of them, whichever shard it runs for.
	Due float64
}

// EngineCalls is one batch's DynamoDB traffic.
type EngineCalls struct {
	Reads, Writes float64 // calls (Query pages, BatchGetItem, GetItem; PutItem, UpdateItem, DeleteItem)
	RCU, WCU      float64
	// Rounds is the DynamoDB (and result sink) round trips one after
	// another: what the invocation waits for. FireRounds is the part of
	// them that grows with the windows the firing lists (expected rounds:
	// continuous, so that an average batch's share of a firing adds up).
	Rounds, FireRounds float64
	// WatermarkWCU and WatermarkRCU are the share on partition key "wm":
	// the stream item (two UpdateItems per new window, the stream
	// watermark's UpdateItem per firing) and the shard watermark items (a
	// GetItem and PutItem per batch, two Queries of them all).
	WatermarkWCU, WatermarkRCU float64
}

// EngineModel prices batches for one pipeline: its costs, window, allowed
// lateness and shard count.
type EngineModel struct {
	costs                    Costs
	window, lateness, shards float64
	cpu, overhead, lat, conc float64
	wmRCU, wmPages, dueQ     float64
	single                   bool
}

// NewEngineModel returns the model of in (defaults applied) on a stream of
// shards; seed selects the seed-style handler's CPU cost per record.
func NewEngineModel(in Input, shards int, seed bool) EngineModel {
	in = in.WithDefaults()
	e := EngineModel{
		costs: in.Costs, window: in.Window.Seconds(), lateness: in.Lateness.Seconds(), shards: float64(max(shards, 1)),
		cpu: cpuSeconds(in, seed), overhead: in.Costs.InvokeOverhead.Seconds(),
		lat: in.Costs.DynamoDBLatency.Seconds(), conc: float64(in.Costs.StoreConcurrency),
		single: in.SingleFiring,
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
//	Process: Query "wm" (every watermark item), consistent BatchGetItem per
//	  100 windows (one after another), per window a conditional PutItem —
//	  a new one first PutItems its due item and UpdateItems the stream
//	  item twice (change counter, low_due) — StoreConcurrency windows at a
//	  time; the shard watermark's GetItem and conditional PutItem.
//	Fire: Query "wm", UpdateItem of the stream watermark, GetItem of the
//	  stream item, a Query per due bucket (1 MB pages), BatchGetItem of
//	  every listed window, per fired window a reserve PutItem (the item
//	  holds the aggregate twice), the results published 500 per call, a
//	  confirm PutItem, a closing PutItem when the lateness kept it open, and
//	  the due item's DeleteItem.
func (e EngineModel) Batch(b EngineBatch) EngineCalls {
	var c EngineCalls
	if b.Windows <= 0 {
		return c
	}
	closing := 0.0
	if e.lateness > 0 {
		closing = 1
	}
	listed := b.Fired + b.Due
	dueBytes := listed * dueItemBytes
	duePages := e.dueQ + math.Floor(dueBytes/queryPageBytes)
	gets := math.Ceil(b.Windows / batchGetKeys)

	c.Reads = e.wmPages + gets + 1 + // Process
		e.wmPages + 1 + duePages + math.Ceil(listed/batchGetKeys) // Fire
	c.Writes = b.Windows + 3*b.NewWindows + 1 + // Process
		1 + b.Fired*(2+closing+1) // Fire
	c.RCU = e.wmRCU + b.WindowRCU + 1 +
		e.wmRCU + 1 + e.dueQ + dueBytes/4096 + listed*ReadUnits(b.FiredBytes)
	c.WCU = b.WindowWCU + 3*b.NewWindows + 1 +
		1 + b.Fired*(WriteUnits(b.FiredBytes+float64(e.costs.AggregateBytes)+pendingBytes)+(1+closing)*WriteUnits(b.FiredBytes)+1)
	c.WatermarkWCU = 2*b.NewWindows + 2
	c.WatermarkRCU = 2*e.wmRCU + 2
	c.FireRounds = e.fireRounds(b.Fired, listed)
	c.Rounds = e.wmPages + gets + math.Ceil((b.Windows+3*b.NewWindows)/e.conc) + 2 +
		e.wmPages + 1 + 1 + e.dueQ + c.FireRounds
	return c
}

// fireRounds is a firing's rounds that grow with the windows it lists and
// fires: Query pages past the first, BatchGetItems, reserve, publish,
// confirm and delete (and close, with lateness) StoreConcurrency at a time.
func (e EngineModel) fireRounds(fired, listed float64) float64 {
	closing := 0.0
	if e.lateness > 0 {
		closing = 1
	}
	return math.Floor(listed*dueItemBytes/queryPageBytes) + listed/batchGetKeys +
		fired*((3+closing)/e.conc+1.0/resultsPerCall)
}

// Boundary is the firing of the windows that end at one window boundary
// (tumbling windows of every active key end together): how long one firing
// of them takes (seconds), and how many firings fire them (the herd: every
// firing that starts before the first has confirmed them, 1 + the other
// lanes' firings/s x seconds, at most every firing of one window length; 1
// with Input.SingleFiring).
func (e EngineModel) Boundary(windows, firingsPerSecond float64) (seconds, firings float64) {
	seconds = e.fireRounds(windows, windows) * e.lat
	if e.single {
		return seconds, 1
	}
	firings = math.Min(1+firingsPerSecond*seconds, math.Max(1, firingsPerSecond*e.window))
	return seconds, firings
}

// SingleFiring reports whether a boundary is fired once (Input.SingleFiring).
func (e EngineModel) SingleFiring() bool { return e.single }

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
