package plan

import (
	"math"
	"time"
)

// model is one concurrent batch of a shard (a "lane": shards x
// ParallelizationFactor of them) in steady state. Lambda keeps every record
// of a partition key in one lane, so a lane sees Keys/lanes keys.
type model struct {
	in     Input
	seed   bool
	window float64
	eng    EngineModel // the engine's calls and the invocation time (shared with internal/sim)
}

func newModel(in Input, seed bool, shards, concurrency int) model {
	return model{in: in, seed: seed, window: in.Window.Seconds(), eng: NewEngineModel(in, shards, concurrency, seed)}
}

// cpuSeconds is the function time per record at in's memory size: below
// 1,769 MB a function gets that share of one vCPU.
func cpuSeconds(in Input, seed bool) float64 {
	cpu := in.Costs.CPUPerRecord.Seconds()
	if seed {
		cpu = in.Costs.SeedCPUPerRecord.Seconds()
	}
	return cpu * math.Max(1, float64(fullVCPUMemoryMB)/float64(in.MemoryMB))
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
	newWindows       float64 // windows a batch creates (and, in steady state, fires)
	due              float64 // other windows each firing reads (within the lateness)
	fired            float64 // windows a batch's share of the firings publishes, on average
	attempts         float64 // firing attempts per window length that find the lease taken
	leaseFirings     float64 // firings per window length that take the lease
	calls            EngineCalls
	fireDur          float64 // the batch that fires a window boundary, seconds
	boundary         float64 // the firing of a window boundary, seconds
	boundaryWCU      float64 // its write units
	processWCU       float64 // the batch's own writes (Process), WCU
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

// at is a lane's batch of n records every period seconds at rate records/s
// over keys keys: the window items it writes (pairs, items), the engine's
// other calls (EngineModel.Batch) and the invocation time they make. In
// steady state a lane opens as many windows per window length as it has
// active keys. The stream's windows end together at each window boundary
// and one firing fires them (under the lease on the stream item); every
// shard attempts a firing when its watermark crosses a boundary, within a
// batch period of the others, and the attempts that find the lease free
// before the stream watermark has crossed fire nothing
// (EngineModel.LeaseFirings). A batch carries its share: the stream's
// attempts and firings per window length over the stream's batches per
// window length. Every firing also reads the stream's windows that ended
// within the lateness.
func (m model) at(n, rate, keys, period float64) laneState {
	s := laneState{n: n, period: period}
	if m.seed {
		s.writes, s.windowWrites = n, n
		m.items(&s, rate, keys)
		s.dur = m.eng.SeedDuration(n)
		return s
	}
	s.windowWrites = m.pairs(n, rate, keys)
	m.items(&s, rate, keys)
	s.newWindows = math.Min(s.windowWrites, s.itemsPerWindow*period/m.window)
	lanes := float64(m.in.Keys) / math.Max(keys, 1e-12)
	stream := s.itemsPerWindow * lanes // windows ending at one boundary
	batches := lanes * m.window / period
	s.due = stream * m.in.Lateness.Seconds() / m.window
	s.boundary = m.eng.Boundary(stream, s.due)
	s.leaseFirings = m.eng.LeaseFirings(period, s.due)
	s.attempts = math.Max(0, m.eng.FiringAttempts()-s.leaseFirings)
	s.fired = stream / batches
	b := EngineBatch{
		Windows: s.windowWrites, NewWindows: s.newWindows, WindowWCU: s.wcu, WindowRCU: s.rcu,
		Attempts: s.attempts / batches, Firings: s.leaseFirings / batches,
		Fired: s.fired, FiredBytes: s.finalItemBytes, Due: s.due,
	}
	s.calls = m.eng.Batch(b)
	s.processWCU = m.eng.Batch(EngineBatch{Windows: b.Windows, NewWindows: b.NewWindows, WindowWCU: b.WindowWCU, WindowRCU: b.WindowRCU}).WCU
	s.boundaryWCU = m.eng.Batch(EngineBatch{Firings: 1, Fired: stream, FiredBytes: b.FiredBytes, Due: b.Due}).WCU
	s.writes, s.reads, s.wcu, s.rcu = s.calls.Writes, s.calls.Reads, s.calls.WCU, s.calls.RCU
	s.dur = m.eng.Duration(n, s.calls)
	b.Attempts, b.Firings, b.Fired = 0, 1, stream
	s.fireDur = math.Max(s.dur, m.eng.Duration(n, m.eng.Batch(b)))
	return s
}

// lane solves a lane's steady state at rate records/s: a batch is gathered
// for the batching window (at least Lambda's one-second base poll) or until
// it holds N records, and the next one cannot start before the previous
// invocation returns; so period = max(fill, duration) and n = rate*period
// (at most N).
func (m model) lane(rate, keys, N, B float64) laneState {
	if rate <= 0 {
		return laneState{keepsUp: true, period: math.Max(B, basePollSeconds), n: 0}
	}
	fill := math.Min(math.Max(B, basePollSeconds), N/rate)
	n, period := math.Min(N, rate*fill), fill
	s := m.at(n, rate, keys, period)
	for range 200 {
		nextPeriod := math.Max(fill, s.dur)
		next := math.Min(N, rate*nextPeriod)
		done := math.Abs(next-n) < 1e-9*n && math.Abs(nextPeriod-period) < 1e-9*period
		n, period = next, nextPeriod
		s = m.at(n, rate, keys, period)
		if done {
			break
		}
	}
	s.period = math.Max(fill, s.dur)
	s.busy = s.dur / s.period
	s.keepsUp = s.dur <= N/rate*(1+1e-9) || n < N
	// The records of the batch that fires a window boundary are the oldest.
	s.age = s.period + s.dur
	if !m.seed {
		s.age = s.period + s.fireDur
	}
	if !s.keepsUp {
		s.age = -1
	}
	return s
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
		s.wcu = s.windowWrites * WriteUnits(size)
		s.itemsPerWindow = rate * m.window
		return
	}
	keys = math.Max(keys, 1)
	perKey := rate / keys * m.window // readings per key and window
	active := keys * -math.Expm1(-perKey)
	readings := math.Max(1, perKey/math.Max(-math.Expm1(-perKey), 1e-12))
	writesPerItem := s.windowWrites * m.window / s.period / math.Max(active, 1e-12)
	k := int(math.Round(math.Min(math.Max(writesPerItem, 1), math.Max(readings, 1))))
	var wcu, rcu, bytes float64
	prev := 0.0
	for i := 1; i <= k; i++ {
		size := WindowItemBytes(c, readings*float64(i)/float64(k))
		wcu += WriteUnits(size)
		rcu += ReadUnits(prev)
		bytes += size
		prev = size
	}
	s.wcu = s.windowWrites * wcu / float64(k)
	s.rcu = s.windowWrites * rcu / float64(k)
	s.itemBytes = bytes / float64(k)
	s.finalItemBytes = prev
	s.itemsPerWindow = active
}

// capacity is the most records/s a lane carries with full batches of N: the
// rate c at which N records take exactly N/c seconds to process.
func (m model) capacity(keys, N float64) float64 {
	c := N / m.at(N, 1e15, keys, 1).dur
	for range 100 {
		next := N / m.at(N, c, keys, N/c).dur
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
	return time.Duration(cpuSeconds(in, seed) * float64(time.Second))
}
