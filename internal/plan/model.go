package plan

import (
	"math"
	"time"
)

// model is one concurrent batch of a shard (a "lane": shards x
// ParallelizationFactor of them) in steady state. Lambda keeps every record
// of a partition key in one lane, so a lane sees Keys/lanes keys.
type model struct {
	in       Input
	seed     bool
	cpu      float64 // seconds of function time per record at the memory size
	overhead float64
	lat      float64
	conc     float64
	window   float64
}

func newModel(in Input, seed bool) model {
	cpu := in.Costs.CPUPerRecord.Seconds()
	if seed {
		cpu = in.Costs.SeedCPUPerRecord.Seconds()
	}
	// Below 1,769 MB a function gets that share of one vCPU.
	cpu *= math.Max(1, float64(fullVCPUMemoryMB)/float64(in.MemoryMB))
	return model{
		in: in, seed: seed, cpu: cpu,
		overhead: in.Costs.InvokeOverhead.Seconds(),
		lat:      in.Costs.DynamoDBLatency.Seconds(),
		conc:     float64(in.Costs.StoreConcurrency),
		window:   in.Window.Seconds(),
	}
}

// laneState is a lane's steady state: per-batch figures and timing.
type laneState struct {
	n       float64 // user records per invocation
	period  float64 // seconds between invocations
	dur     float64 // invocation duration, seconds
	busy    float64 // dur / period
	age     float64 // a record's age when its batch completes; -1: unbounded
	keepsUp bool

	writes, wcu, rcu float64 // per invocation: every DynamoDB write, WCU, RCU
	reads            float64 // read calls per invocation
	windowWrites     float64 // window-item PutItems per invocation
	newWindows       float64 // windows a batch creates
	itemBytes        float64 // average item size a write stores
	finalItemBytes   float64 // an item at its window's end
	itemsPerWindow   float64 // items a lane creates per window
}

// pairs is the expected number of distinct (key, window) items in a batch of
// n records arriving at rate over keys equally busy keys: the batch spans
// n/rate seconds, so 1 + span/window windows; in each, n/windows draws from
// keys give keys*(1-exp(-draws/keys)) distinct keys. Out-of-order records
// within the lateness touch up to ceil(lateness/window) earlier windows.
func (m model) pairs(n, rate, keys float64) float64 {
	if n <= 0 {
		return 0
	}
	keys = math.Max(keys, 1)
	windows := 1 + n/rate/m.window
	w := windows * keys * -math.Expm1(-n/windows/keys)
	if s := m.in.OutOfOrderShare; s > 0 && m.in.Lateness > 0 {
		lw := math.Ceil(m.in.Lateness.Seconds() / m.window)
		w += keys * lw * -math.Expm1(-n*s/(keys*lw))
	}
	return math.Min(n, w)
}

// duration is one invocation: fixed overhead, CPU per record, and the
// engine's DynamoDB rounds — BatchGetItem calls of 100 windows, then one
// PutItem per window, StoreConcurrency calls in flight, plus the calls one
// after another of every batch (fixedRounds: watermarks and the firing's
// queries). The seed-style handler writes every record with its own PutItem,
// one after another.
func (m model) duration(n, writes float64) float64 {
	if m.seed {
		return m.overhead + n*(m.cpu+m.lat)
	}
	if writes <= 0 {
		return m.overhead + n*m.cpu
	}
	rounds := math.Ceil(math.Ceil(writes/batchGetKeys)/m.conc) + math.Ceil(writes/m.conc) + m.fixedRounds()
	return m.overhead + n*m.cpu + rounds*m.lat
}

// dueQueries is the due buckets a firing Queries: (lateness + window) /
// DueBucket (1 minute), at least one.
func (m model) dueQueries() float64 {
	return math.Max(1, math.Ceil((m.in.Lateness.Seconds()+m.window)/dueBucketSeconds))
}

// fixedRounds are the engine's sequential calls per batch: the Query of the
// watermark items, the shard watermark's GetItem and conditional PutItem,
// and the firing's Query of the watermarks, GetItem of the stream item and
// Queries of the due buckets.
func (m model) fixedRounds() float64 {
	return 5 + m.dueQueries()
}

// writesFor is the PutItems a batch of n records makes on the items it
// aggregates into (window items; one per record for the seed-style handler).
func (m model) writesFor(n, rate, keys float64) float64 {
	if m.seed {
		return n
	}
	return m.pairs(n, rate, keys)
}

// lane solves a lane's steady state at rate records/s: a batch is gathered
// for the batching window (at least Lambda's one-second base poll) or until
// it holds N records, and the next one cannot start before the previous
// invocation returns; so period = max(fill, duration) and n = rate*period
// (at most N).
func (m model) lane(rate, keys, N, B float64) laneState {
	var s laneState
	if rate <= 0 {
		return laneState{keepsUp: true, period: math.Max(B, basePollSeconds), n: 0}
	}
	fill := math.Min(math.Max(B, basePollSeconds), N/rate)
	n := math.Min(N, rate*fill)
	for range 200 {
		dur := m.duration(n, m.writesFor(n, rate, keys))
		next := math.Min(N, rate*math.Max(fill, dur))
		if math.Abs(next-n) < 1e-9*n {
			break
		}
		n = next
	}
	s.n = n
	s.writes = m.writesFor(n, rate, keys)
	s.dur = m.duration(n, s.writes)
	s.period = math.Max(fill, s.dur)
	s.busy = s.dur / s.period
	s.keepsUp = s.dur <= N/rate*(1+1e-9) || n < N
	s.age = s.period + s.dur
	if !s.keepsUp {
		s.age = -1
	}
	m.items(&s, rate, keys)
	m.engineCalls(&s)
	return s
}

// engineCalls adds the event-time engine's calls besides the window-item
// PutItems (docs/engine.md, "DynamoDB layout and cost"). Per batch: a Query
// of the watermarks and a consistent BatchGetItem per 100 windows touched,
// the shard watermark's GetItem and conditional PutItem, a firing (Query of
// the watermarks, conditional UpdateItem of the stream watermark, GetItem of
// the stream item, Queries of the due buckets). Per new window: a due-item
// PutItem, two UpdateItems of the stream item, one DeleteItem when done, and
// its result: a BatchGetItem per 100 due windows and two PutItems of the
// window item (reserve, confirm) holding the aggregate twice. Small items
// cost 1 WCU / 1 RCU each.
func (m model) engineCalls(s *laneState) {
	if m.seed {
		s.windowWrites = s.writes
		return
	}
	s.windowWrites = s.writes
	// Every active key opens a window per window length.
	s.newWindows = math.Min(s.writes, s.itemsPerWindow*s.period/m.window)
	final := s.finalItemBytes + float64(m.in.Costs.AggregateBytes)
	s.writes += 2 + 6*s.newWindows
	s.wcu += 2 + 4*s.newWindows + 2*s.newWindows*math.Ceil(final/1024)
	s.reads = 1 + math.Ceil(s.windowWrites/batchGetKeys) + 1 + 2 + m.dueQueries() + math.Ceil(s.newWindows/batchGetKeys)
	s.rcu += 4 + m.dueQueries() + s.newWindows*math.Ceil(s.finalItemBytes/4096)
}

// items sizes the window items and the capacity units of their writes
// and consistent reads. An item holds ~200 B + key + the encoded aggregate +
// 8 B per applied reading (its id hashes); each of a window's writes stores the readings so
// far, costs ceil(size/1 KB) WCU and is preceded by a consistent read of the
// previous version, ceil(size/4 KB) RCU (1 for a missing item).
func (m model) items(s *laneState, rate, keys float64) {
	c := m.in.Costs
	if m.seed {
		size := float64(m.in.RecordBytes + 100)
		s.itemBytes, s.finalItemBytes = size, size
		s.wcu = s.writes * math.Ceil(size/1024)
		s.itemsPerWindow = rate * m.window
		return
	}
	keys = math.Max(keys, 1)
	perKey := rate / keys * m.window // readings per key and window
	active := keys * -math.Expm1(-perKey)
	readings := math.Max(1, perKey/math.Max(-math.Expm1(-perKey), 1e-12))
	writesPerItem := s.writes * m.window / s.period / math.Max(active, 1e-12)
	k := int(math.Round(math.Min(math.Max(writesPerItem, 1), math.Max(readings, 1))))
	base := float64(c.ItemBaseBytes + c.KeyBytes + c.AggregateBytes)
	maxB := float64(c.MaxItemBytes)
	var wcu, rcu, bytes float64
	prev := 0.0
	for i := 1; i <= k; i++ {
		size := math.Min(maxB, base+float64(c.BytesPerReading)*readings*float64(i)/float64(k))
		wcu += math.Ceil(size / 1024)
		rcu += math.Max(1, math.Ceil(prev/4096))
		bytes += size
		prev = size
	}
	s.wcu = s.writes * wcu / float64(k)
	s.rcu = s.writes * rcu / float64(k)
	s.itemBytes = bytes / float64(k)
	s.finalItemBytes = prev
	s.itemsPerWindow = active
}

// capacity is the most records/s a lane carries with full batches of N: the
// rate c at which N records take exactly N/c seconds to process.
func (m model) capacity(keys, N float64) float64 {
	c := N / m.duration(N, m.writesFor(N, 1e15, keys))
	for range 100 {
		next := N / m.duration(N, m.writesFor(N, c, keys))
		if math.Abs(next-c) < 1e-9*c {
			break
		}
		c = next
	}
	return c
}

// maxReadings is how many readings one window item holds before the engine
// refuses more (eventtime.DynamoConfig.MaxWindowBytes, ErrWindowFull).
func (m model) maxReadings() int {
	c := m.in.Costs
	return (c.MaxItemBytes - c.ItemBaseBytes - c.KeyBytes - c.AggregateBytes) / c.BytesPerReading
}

// CPUPerRecord is the function time per record at in's memory size (below
// 1,769 MB a function gets that share of one vCPU); seed selects the
// seed-style handler's cost.
func CPUPerRecord(in Input, seed bool) time.Duration {
	in = in.WithDefaults()
	return time.Duration(newModel(in, seed).cpu * float64(time.Second))
}
