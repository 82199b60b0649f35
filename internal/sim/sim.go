// Package sim is a deterministic discrete-event model of a Kinesis event
// source mapping feeding the example's function: shards polled once a second
// (5 times a second while a shard has more), records split by partition key
// over ParallelizationFactor concurrent batches, batching windows, one
// invocation in flight per batch lane, invocation time from the measured
// per-record costs plus DynamoDB round trips, throttling at the concurrency
// limit, and DynamoDB partition and table throttling under key skew. It
// checks the planner (internal/plan) with the dynamics the planner's
// steady-state formulas leave out.
//
// Large streams are simulated on a sample of shards: the shard holding the
// busiest key in full, the others as a few representative shards whose
// counts are scaled up; shared limits (concurrency, table throughput,
// partitions) are scaled down to the sample.
package sim

import (
	"container/heap"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"github.com/streamproc/streamproc/internal/plan"
)

// Config is one run.
type Config struct {
	Input  plan.Input  // load, costs, prices
	Design plan.Design // shards, batch size, window, factor, memory, partitions
	// Seed simulates the seed-style handler (one PutItem per record).
	Seed bool
	// Duration is simulated time. Default: 300s.
	Duration time.Duration
	// Warmup is left out of the steady-state figures. Default: 60s.
	Warmup time.Duration
	// Backlog is how far behind the mapping starts: records of the last
	// Backlog are already in the stream (a catch-up after an outage).
	// Default: 0.
	Backlog time.Duration
	// SampleShards is how many shards are simulated. Default: 8.
	SampleShards int
	// ConcurrencyLimit is the function's concurrency (reserved or the
	// account's). Default: 0, unlimited.
	ConcurrencyLimit int
	// TableWCU is the table's write throughput limit. Default: 40,000 (the
	// on-demand per-table quota).
	TableWCU float64
	// RandSeed seeds the key draws. Default: 1.
	RandSeed uint64
}

// Result is what a run measured, scaled to the whole stream.
type Result struct {
	RecordsPerSecond     float64 `json:"records_per_second"`
	Shards               int     `json:"shards"`
	Factor               int     `json:"parallelization_factor"`
	SimulatedRecords     int64   `json:"simulated_records"`
	InvocationsPerSecond float64 `json:"invocations_per_second"`
	RecordsPerInvocation float64 `json:"records_per_invocation"`
	WritesPerRecord      float64 `json:"dynamodb_writes_per_record"`
	ReadsPerRecord       float64 `json:"dynamodb_reads_per_record"`
	NewWindowsPerSecond  float64 `json:"new_windows_per_second"`
	// FiredPerSecond is window results fired per second.
	FiredPerSecond float64 `json:"fired_windows_per_second"`
	// BoundariesFired is the window boundaries fired in the steady state,
	// BoundaryFirings the firings that fired them: one each when every
	// boundary is fired once.
	BoundariesFired int64 `json:"boundaries_fired"`
	BoundaryFirings int64 `json:"boundary_firings"`
	// FiringAttempts and LeaseFirings are per window length: every
	// shard's attempt per boundary crossed and the schedule's, and the
	// firings among them that took the lease.
	FiringAttempts       float64 `json:"firing_attempts_per_window"`
	LeaseFirings         float64 `json:"lease_firings_per_window"`
	StreamItemWCU        float64 `json:"dynamodb_stream_item_wcu_per_second"`
	WCUPerSecond         float64 `json:"dynamodb_wcu_per_second"`
	RCUPerSecond         float64 `json:"dynamodb_rcu_per_second"`
	IteratorAgeMax       float64 `json:"iterator_age_max_seconds"`
	IteratorAgeMean      float64 `json:"iterator_age_mean_seconds"`
	ConcurrencyMax       float64 `json:"concurrency_max"`
	ConcurrencyAvg       float64 `json:"concurrency_avg"`
	ConcurrencyThrottles int64   `json:"concurrency_throttles"`
	ThrottledWrites      int64   `json:"dynamodb_throttled_writes"`
	// StreamItemThrottled counts the batches whose writes on the stream
	// item's partition were throttled (part of ThrottledWrites).
	StreamItemThrottled int64 `json:"dynamodb_stream_item_throttled"`
	KeepsUp             bool  `json:"keeps_up"`
	// Drained is when the backlog was worked off (0 without a backlog, -1
	// when it never was).
	DrainedSeconds float64        `json:"drained_seconds"`
	Cost           plan.Breakdown `json:"breakdown_usd_per_month"`
	MonthlyCostUSD float64        `json:"monthly_cost_usd"`
}

type rec struct {
	arrival float64
	readAt  float64
	event   float64
	key     int32
	window  int64
}

type shard struct {
	id      int
	rate    float64 // records/s
	hotRate float64 // of which the busiest key
	weight  float64 // shards this one stands for
	keys    int
	next    int64 // index of the next record to arrive
	start   float64
	lanes   []*lane
	rng     *rand.Rand
	// stored is the shard's watermark item (its largest event time), as
	// the batches store it; hasStored: stored once.
	stored    float64
	hasStored bool
}

type lane struct {
	sh       *shard
	buf      []rec
	busy     bool
	timerAt  float64
	retrying bool
	started  float64 // the latest invocation's start, -1 before the first
}

// group is the stream's windows of one window index: they end together and
// are listed in the due index together.
type group struct {
	created, bytes float64 // windows and their bytes, weighted to the stream
	fired          bool    // the firing of their boundary has fired them
}

type event struct {
	t    float64
	seq  int64
	kind int
	sh   *shard
	ln   *lane
	recs []rec
}

const (
	evPoll = iota
	evTimer
	evRetry
	evDone
	evSchedule
)

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].t != h[j].t {
		return h[i].t < h[j].t
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

type bucket struct {
	tokens, rate, burst, at float64
}

// take consumes n units at t and returns how long the caller waits for them.
func (b *bucket) take(t, n float64) float64 {
	b.tokens = math.Min(b.burst, b.tokens+(t-b.at)*b.rate)
	b.at = t
	b.tokens -= n
	if b.tokens >= 0 {
		return 0
	}
	return -b.tokens / b.rate
}

type itemKey struct {
	shard int
	key   int32
	win   int64
}

type runner struct {
	cfg                        Config
	in                         plan.Input
	eng                        plan.EngineModel // the planner's engine calls and invocation time
	N                          int
	B                          float64
	window, warmup, end        float64
	groups                     map[int64]*group // the due index, by window index
	gMin, gMax                 int64
	events                     eventHeap
	seq                        int64
	items                      map[itemKey]int
	itemOrder                  []itemKey // creation order, for sums that do not depend on map order
	parts                      []bucket
	table                      bucket
	wm                         bucket // partition key "wm": the stream item and the shard watermarks
	inflight, inflightMax      float64
	concArea, lastT            float64
	concLimit                  float64
	invocations, records       float64 // weighted, steady state
	writes, reads, wcu, rcu    float64
	newWindows, wmWCU, fired   float64
	attempts, leaseFirings     float64 // weighted, steady state
	boundariesFired, firings   int64
	leaseShare                 float64 // the latest crossing's (EngineModel.LeaseShare)
	sampleWeight               float64
	ageMax, ageSum, ageN       float64
	throttles, throttledWrites int64
	streamItemThrottled        int64
	simRecords                 int64
	pending                    int64 // arrived and read, not yet done (all shards)
	drained                    float64
	shards                     []*shard
}

// Run simulates cfg.
func Run(cfg Config) Result {
	if cfg.Duration == 0 {
		cfg.Duration = 300 * time.Second
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = 60 * time.Second
	}
	if cfg.SampleShards == 0 {
		cfg.SampleShards = 8
	}
	if cfg.TableWCU == 0 {
		cfg.TableWCU = 40_000
	}
	if cfg.RandSeed == 0 {
		cfg.RandSeed = 1
	}
	in := cfg.Input.WithDefaults()
	d := cfg.Design
	r := &runner{
		cfg: cfg, in: in,
		eng:        plan.NewEngineModel(in, d.Shards, d.EngineConcurrency, cfg.Seed),
		N:          d.BatchSize * in.Aggregation,
		B:          d.BatchingWindowSeconds,
		window:     in.Window.Seconds(),
		warmup:     cfg.Warmup.Seconds(),
		end:        cfg.Duration.Seconds(),
		items:      map[itemKey]int{},
		groups:     map[int64]*group{},
		gMin:       math.MaxInt64,
		gMax:       math.MinInt64,
		drained:    -1,
		leaseShare: 1,
	}
	S := d.Shards
	k := min(S, cfg.SampleShards)
	peak := in.PeakRecordsPerSecond
	hot := 0.0
	if in.HotKeyShare > 0 {
		hot = in.HotKeyShare * peak
	}
	base := (peak - hot) / float64(S)
	keysPerShard := max(1, in.Keys/S)
	sampleWeight := 1.0 // of the whole stream in the sample, for shared limits
	for i := range k {
		w := 1.0
		if i > 0 {
			w = float64(S-1) / float64(k-1)
		}
		sh := &shard{id: i, rate: base, weight: w, keys: keysPerShard, start: -cfg.Backlog.Seconds(),
			rng: rand.New(rand.NewPCG(cfg.RandSeed, uint64(i)))}
		if i == 0 {
			sh.rate += hot
			sh.hotRate = hot
		}
		for range d.ParallelizationFactor {
			sh.lanes = append(sh.lanes, &lane{sh: sh, timerAt: -1, started: -1})
		}
		r.shards = append(r.shards, sh)
		// Shards are polled independently: spread the first polls over a second.
		r.push(&event{t: float64(i) / float64(k), kind: evPoll, sh: sh})
	}
	if in.FireSchedule > 0 && !cfg.Seed {
		r.push(&event{t: in.FireSchedule.Seconds(), kind: evSchedule})
	}
	sampleWeight = float64(k) / float64(S)
	r.sampleWeight = sampleWeight
	// Shared limits scaled to the sample (a sampled shard's lanes stand for
	// weight lanes, so they use weight slots of the concurrency limit).
	if cfg.ConcurrencyLimit > 0 {
		r.concLimit = float64(cfg.ConcurrencyLimit)
	}
	// Every partition of the table is modelled (a new on-demand table starts
	// with about 4,000 WCU, four partitions); the sample gets its share of
	// each partition's 1,000 WCU/s, with DynamoDB's burst capacity (up to
	// 300 s of unused throughput).
	r.parts = make([]bucket, max(4, d.Partitions))
	for i := range r.parts {
		rate := 1000 * sampleWeight
		r.parts[i] = bucket{tokens: 300 * rate, rate: rate, burst: 300 * rate}
	}
	// The sample's share of the table's throughput quota, charged with the
	// sample's own writes. The shards it stands for write at other moments
	// of a batching period, so the share is smoothed over one period.
	tw := cfg.TableWCU * sampleWeight
	period := math.Max(1, r.B)
	r.table = bucket{tokens: tw * period, rate: tw, burst: tw * period}
	// The stream item is one item of one partition, "wm", whatever the
	// table's size: the sample gets its share of that partition. It starts
	// with one window of unused capacity (the burst a partition below its
	// rate has saved between two window boundaries), not DynamoDB's full
	// 300 s: a load over its rate has spent that long ago.
	wr := 1000 * sampleWeight
	r.wm = bucket{tokens: r.window * wr, rate: wr, burst: 300 * wr}

	for r.events.Len() > 0 {
		e := heap.Pop(&r.events).(*event)
		if e.t > r.end {
			break
		}
		r.advance(e.t)
		switch e.kind {
		case evPoll:
			r.poll(e.sh, e.t)
		case evTimer:
			e.ln.timerAt = -1
			r.try(e.ln, e.t)
		case evRetry:
			e.ln.retrying = false
			r.try(e.ln, e.t)
		case evDone:
			r.done(e.ln, e.recs, e.t)
		case evSchedule:
			r.schedule(e.t)
		}
	}
	r.advance(r.end)
	return r.result(S, d, peak)
}

func (r *runner) push(e *event) {
	r.seq++
	e.seq = r.seq
	heap.Push(&r.events, e)
}

func (r *runner) advance(t float64) {
	if t > r.lastT {
		if r.lastT >= r.warmup {
			r.concArea += r.inflight * (t - r.lastT)
		} else if t > r.warmup {
			r.concArea += r.inflight * (t - r.warmup)
		}
		r.lastT = t
	}
}

// poll is one GetRecords: up to 10,000 records that have arrived.
func (r *runner) poll(sh *shard, t float64) {
	// A shard serves 2 MiB/s to its readers: a call returns at most 10,000
	// records, and a big one makes the next wait.
	perCall := min(10_000, max(1, int(2<<20/float64(r.in.RecordBytes))))
	n := 0
	for n < perCall {
		arr := sh.start + float64(sh.next)/sh.rate
		if arr > t {
			break
		}
		sh.next++
		n++
		key := int32(sh.rng.IntN(sh.keys))
		if sh.hotRate > 0 && sh.rng.Float64() < sh.hotRate/sh.rate {
			key = -1 // the busiest key
		}
		ev := arr
		if s := r.in.OutOfOrderShare; s > 0 && r.in.Lateness > 0 && sh.rng.Float64() < s {
			ev -= sh.rng.Float64() * r.in.Lateness.Seconds()
		}
		ln := sh.lanes[laneOf(key, len(sh.lanes))]
		ln.buf = append(ln.buf, rec{arrival: arr, readAt: t, event: ev, key: key, window: int64(math.Floor(ev / r.window))})
	}
	r.pending += int64(n)
	r.simRecords += int64(n)
	for _, ln := range sh.lanes {
		r.try(ln, t)
	}
	gap := 1.0 // Lambda's base rate when the shard is caught up
	if n == perCall {
		// more waiting: read again as soon as 2 MiB/s and 5 calls/s allow
		gap = math.Max(0.2, float64(n*r.in.RecordBytes)/(2<<20))
	}
	r.push(&event{t: t + gap, kind: evPoll, sh: sh})
}

func laneOf(key int32, n int) int {
	if n == 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte{byte(key), byte(key >> 8), byte(key >> 16), byte(key >> 24)})
	return int(h.Sum32() % uint32(n))
}

// try invokes the lane's next batch when it is full, its batching window
// has passed, or (without a window) as soon as records are in.
func (r *runner) try(ln *lane, t float64) {
	if ln.busy || ln.retrying || len(ln.buf) == 0 {
		return
	}
	if len(ln.buf) < r.N && r.B > 0 {
		due := ln.buf[0].readAt + r.B
		if t < due {
			if ln.timerAt != due {
				ln.timerAt = due
				r.push(&event{t: due, kind: evTimer, ln: ln})
			}
			return
		}
	}
	w := ln.sh.weight
	if r.concLimit > 0 && r.inflight+w > r.concLimit+1e-9 {
		if t >= r.warmup {
			r.throttles++
		}
		ln.retrying = true
		r.push(&event{t: t + 1, kind: evRetry, ln: ln})
		return
	}
	n := min(r.N, len(ln.buf))
	batch := ln.buf[:n:n]
	ln.buf = ln.buf[n:]
	ln.busy = true
	r.inflight += w
	r.inflightMax = math.Max(r.inflightMax, r.inflight)
	r.push(&event{t: t + r.invoke(ln, batch, t), kind: evDone, ln: ln, recs: batch})
}

// invoke returns the invocation's duration and books its calls: the
// planner's per-batch formula (plan.EngineModel.Batch) on the batch as
// simulated — its windows and the new ones; when the batch moved its
// shard's watermark across a firing boundary, the shard's firing attempt:
// the firing of the boundaries the stream watermark (the lowest shard's)
// passed with this batch, which fires their windows once and reads those
// within the lateness, or else an attempt that finds the lease taken or
// takes it and fires nothing (EngineModel.LeaseShare, with the lane's own
// batch period as the spread of the shards' crossings) — with throttling
// waits on the window items' partitions, the stream item and the table.
func (r *runner) invoke(ln *lane, batch []rec, t float64) float64 {
	sh := ln.sh
	c := r.in.Costs
	steady := t >= r.warmup
	w := sh.weight
	n := float64(len(batch))
	period := r.B
	if ln.started >= 0 {
		period = t - ln.started
	}
	ln.started = t
	if r.cfg.Seed {
		size := float64(r.in.RecordBytes + 100)
		var wait float64
		for _, rc := range batch {
			wait = math.Max(wait, r.write(sh, rc.key, rc.window, t, plan.WriteUnits(size)))
		}
		if steady {
			r.wcu += w * n * plan.WriteUnits(size)
			r.invocations += w
			r.records += w * n
			r.writes += w * n
		}
		return r.eng.SeedDuration(n) + wait
	}
	counts := map[itemKey]int{}
	var order []itemKey
	maxEvent := math.Inf(-1)
	for _, rc := range batch {
		ik := itemKey{sh.id, rc.key, rc.window}
		if counts[ik] == 0 {
			order = append(order, ik)
		}
		counts[ik]++
		maxEvent = math.Max(maxEvent, rc.event)
	}
	// The window items: sizes before and after, new ones.
	var wwcu, wrcu, newW float64
	wus := make([]float64, len(order))
	for j, ik := range order {
		before, seen := r.items[ik]
		g := r.group(ik.win)
		if !seen {
			r.itemOrder = append(r.itemOrder, ik)
			g.created += w
			newW++
		}
		after := before + counts[ik]
		r.items[ik] = after
		size := plan.WindowItemBytes(c, float64(after))
		wus[j] = plan.WriteUnits(size)
		wwcu += wus[j]
		if before > 0 {
			prev := plan.WindowItemBytes(c, float64(before))
			wrcu += plan.ReadUnits(prev)
			g.bytes += w * (size - prev)
		} else {
			wrcu++
			g.bytes += w * size
		}
	}
	proc := plan.EngineBatch{Windows: float64(len(order)), NewWindows: newW, WindowWCU: wwcu, WindowRCU: wrcu}
	// The shard's watermark item: the batch read it at its start, and
	// stores its largest event time. (Stored at once: lanes of one shard
	// that overlap do not attempt twice here; in the engine they may.)
	crossed := !sh.hasStored || r.boundaryCount(maxEvent) > r.boundaryCount(sh.stored)
	if !sh.hasStored || maxEvent > sh.stored {
		sh.stored, sh.hasStored = maxEvent, true
	}
	own, all := proc, proc // this lane's calls; the w shards' it stands for
	var fired []*group
	if crossed {
		wm := r.streamWatermark()
		var firedW, firedBytes float64
		for k := r.gMin; k <= r.gMax; k++ {
			g := r.groups[k]
			if g == nil || g.fired || float64(k+1)*r.window > wm {
				continue
			}
			fired = append(fired, g)
			firedW += g.created
			firedBytes += g.bytes
		}
		due, dueBytes := r.due(wm)
		q := r.eng.LeaseShare(period, due)
		r.leaseShare = q
		others := w
		if len(fired) > 0 {
			// This shard's crossing moved the stream watermark past the
			// boundaries: its firing fires them (weight 1, the stream's
			// windows), the other shards it stands for attempt.
			others = w - 1
			own.Firings, own.Fired, own.FiredBytes, own.Due = 1, firedW, (firedBytes+dueBytes)/(firedW+due), due
		} else {
			own.Firings, own.Attempts, own.Due, own.FiredBytes = q, 1-q, due, dueBytes/math.Max(due, 1e-12)
		}
		all.Firings, all.Attempts, all.Fired, all.FiredBytes, all.Due = others*q, others*(1-q), own.Fired, own.FiredBytes, due
		if len(fired) > 0 {
			all.Firings++
		}
		if steady {
			r.attempts += others
			if len(fired) > 0 {
				r.attempts++
			}
			r.leaseFirings += all.Firings
		}
	}
	for _, g := range fired {
		g.fired = true
	}
	base := r.eng.Batch(proc)
	calls := r.eng.Batch(own)
	booked := r.eng.Batch(all)
	dur := r.eng.Duration(n, calls)
	if len(fired) > 0 && steady {
		// The lane stands for w lanes, but only one of them fires the
		// boundary: its firing time counts once in the concurrency.
		r.concArea -= (w - 1) * (dur - r.eng.Duration(n, base))
		r.firings++
		r.boundariesFired += int64(len(fired))
	}
	// The window PutItems go out StoreConcurrency at a time after the reads
	// (a new window's due item and stream item updates first, in the same
	// writer); a throttled write holds its slot for the backoff, delaying
	// the rest. The stream item's writes and the firing's writes follow
	// (the firing's on the table: the stream's windows, spread over every
	// partition, in the sample's share).
	lat := r.eng.RoundSeconds()
	conc := float64(r.eng.Concurrency())
	start := t + n*r.eng.RecordSeconds() + lat*(1+math.Ceil(float64(len(order))/100))
	var wait float64
	for j, ik := range order {
		at := start + lat*math.Floor(float64(j)/conc) + wait
		wait += r.write(sh, ik.key, ik.win, at, wus[j])
	}
	at := start + lat*math.Ceil((float64(len(order))+3*newW)/conc) + wait
	if calls.WatermarkWCU > 0 {
		wait += r.writeStreamItem(at, calls.WatermarkWCU)
	}
	if fw := calls.WCU - base.WCU - (calls.WatermarkWCU - base.WatermarkWCU); fw > 0 {
		if d := r.table.take(at+wait, fw*r.sampleWeight); d > 0 {
			if steady {
				r.throttledWrites++
			}
			wait += d + 0.025
		}
	}
	if steady {
		book := func(all, base float64) float64 { return w*base + (all - base) }
		r.invocations += w
		r.records += w * n
		r.writes += book(booked.Writes, base.Writes)
		r.reads += book(booked.Reads, base.Reads)
		r.wcu += book(booked.WCU, base.WCU)
		r.rcu += book(booked.RCU, base.RCU)
		r.newWindows += w * newW
		r.wmWCU += book(booked.WatermarkWCU, base.WatermarkWCU)
		r.fired += own.Fired
	}
	return dur + wait
}

// boundaryCount is the firing boundaries up to event time x: window ends,
// and window closes (end + lateness) unless the lateness is a multiple of
// the window.
func (r *runner) boundaryCount(x float64) float64 {
	n := math.Floor(x / r.window)
	if r.eng.Boundaries() > 1 {
		n += math.Floor((x - r.in.Lateness.Seconds()) / r.window)
	}
	return n
}

// streamWatermark is the lowest stored watermark of the sampled shards
// (-Inf while one has stored none).
func (r *runner) streamWatermark() float64 {
	wm := math.Inf(1)
	for _, sh := range r.shards {
		if !sh.hasStored {
			return math.Inf(-1)
		}
		wm = math.Min(wm, sh.stored)
	}
	return wm
}

// due is the stream's windows that ended within the lateness before the
// stream watermark wm and were fired, and their bytes: every firing reads
// them again.
func (r *runner) due(wm float64) (windows, bytes float64) {
	l := r.in.Lateness.Seconds()
	for k := r.gMin; k <= r.gMax; k++ {
		g := r.groups[k]
		if g == nil || !g.fired {
			continue
		}
		if end := float64(k+1) * r.window; end <= wm && end > wm-l {
			windows += g.created
			bytes += g.bytes
		}
	}
	return windows, bytes
}

// schedule is the schedule's fire request: an attempt that takes the lease
// (and fires nothing: the boundaries were fired by the batches that
// crossed them) as often as the latest crossing's attempts did.
func (r *runner) schedule(t float64) {
	q := r.leaseShare
	due, bytes := r.due(r.streamWatermark())
	b := plan.EngineBatch{Firings: q, Attempts: 1 - q, Due: due, FiredBytes: bytes / math.Max(due, 1e-12)}
	c := r.eng.Batch(b)
	r.writeStreamItem(t, c.WatermarkWCU*r.sampleWeight)
	if t >= r.warmup {
		r.writes += c.Writes
		r.reads += c.Reads
		r.wcu += c.WCU
		r.rcu += c.RCU
		r.wmWCU += c.WatermarkWCU
		r.attempts++
		r.leaseFirings += q
	}
	r.push(&event{t: t + r.in.FireSchedule.Seconds(), kind: evSchedule})
}

// group returns the due-index group of window index k.
func (r *runner) group(k int64) *group {
	g := r.groups[k]
	if g == nil {
		g = &group{}
		r.groups[k] = g
		r.gMin, r.gMax = min(r.gMin, k), max(r.gMax, k)
	}
	return g
}

// writeStreamItem charges the batch's writes on partition "wm" (the stream
// item's two UpdateItems per new window, the shard item's PutItem, the
// firing lease's writes) and returns how long they wait out throttling.
func (r *runner) writeStreamItem(t, units float64) float64 {
	wait := math.Max(r.wm.take(t, units), r.table.take(t, units))
	if wait > 0 {
		if t >= r.warmup {
			r.throttledWrites++
			r.streamItemThrottled++
		}
		wait += 0.025 // the SDK's first backoff
	}
	return wait
}

// write charges a write of units to its partition and the table and
// returns how long the writer waits out throttling (a retry with backoff).
func (r *runner) write(sh *shard, key int32, win int64, t, units float64) float64 {
	h := fnv.New64a()
	var b [16]byte
	for i := range 4 {
		b[i] = byte(key >> (8 * i))
	}
	for i := range 8 {
		b[4+i] = byte(win >> (8 * i))
	}
	b[12] = byte(sh.id)
	_, _ = h.Write(b[:13])
	p := &r.parts[h.Sum64()%uint64(len(r.parts))]
	wait := math.Max(p.take(t, units), r.table.take(t, units))
	if wait > 0 {
		if t >= r.warmup {
			r.throttledWrites++
		}
		wait += 0.025 // the SDK's first backoff
	}
	return wait
}

func (r *runner) done(ln *lane, batch []rec, t float64) {
	ln.busy = false
	r.inflight -= ln.sh.weight
	r.pending -= int64(len(batch))
	for _, rc := range batch {
		if rc.arrival >= r.warmup {
			age := t - rc.arrival
			r.ageMax = math.Max(r.ageMax, age)
			r.ageSum += age
			r.ageN++
		}
	}
	if r.cfg.Backlog > 0 && r.drained < 0 && r.caughtUp(t) {
		r.drained = t
	}
	r.try(ln, t)
}

// caughtUp reports whether no record older than two poll rounds and a
// batching window is waiting.
func (r *runner) caughtUp(t float64) bool {
	limit := t - (r.B + 2)
	for _, sh := range r.shards {
		if sh.start+float64(sh.next)/sh.rate < limit {
			return false
		}
		for _, ln := range sh.lanes {
			if len(ln.buf) > 0 && ln.buf[0].arrival < limit {
				return false
			}
		}
	}
	return true
}

func (r *runner) result(S int, d plan.Design, peak float64) Result {
	span := r.end - r.warmup
	res := Result{
		RecordsPerSecond: peak, Shards: S, Factor: d.ParallelizationFactor,
		SimulatedRecords:     r.simRecords,
		InvocationsPerSecond: r.invocations / span,
		WCUPerSecond:         r.wcu / span,
		NewWindowsPerSecond:  r.newWindows / span,
		FiredPerSecond:       r.fired / span,
		BoundariesFired:      r.boundariesFired,
		BoundaryFirings:      r.firings,
		FiringAttempts:       r.attempts / span * r.window,
		LeaseFirings:         r.leaseFirings / span * r.window,
		StreamItemWCU:        r.wmWCU / span,
		StreamItemThrottled:  r.streamItemThrottled,
		RCUPerSecond:         r.rcu / span,
		IteratorAgeMax:       r.ageMax,
		ConcurrencyMax:       r.inflightMax,
		ConcurrencyAvg:       r.concArea / span,
		ConcurrencyThrottles: r.throttles,
		ThrottledWrites:      r.throttledWrites,
		DrainedSeconds:       r.drained,
	}
	if r.cfg.Backlog == 0 {
		res.DrainedSeconds = 0
	}
	if r.invocations > 0 {
		res.RecordsPerInvocation = r.records / r.invocations
	}
	if r.records > 0 {
		res.WritesPerRecord = r.writes / r.records
		res.ReadsPerRecord = r.reads / r.records
	}
	if r.ageN > 0 {
		res.IteratorAgeMean = r.ageSum / r.ageN
	}
	res.KeepsUp = r.caughtUp(r.end)
	in := r.in
	// Storage: the items the steady state created (weighted), a month of
	// them stored half the month on average, as the planner prices it.
	var stored float64
	for _, ik := range r.itemOrder {
		readings := r.items[ik]
		if float64(ik.win)*r.window >= r.warmup {
			stored += r.shards[ik.shard].weight * plan.WindowItemBytes(in.Costs, float64(readings))
		}
	}
	// The month is priced at the average rate: scale the peak run's usage.
	f := in.RecordsPerSecond / peak
	gbs := 0.0
	if r.invocations > 0 {
		gbs = res.ConcurrencyAvg * float64(d.MemoryMB) / 1024
	}
	res.Cost = plan.MonthlyCost(in, d, plan.Usage{
		InvocationsPerSecond: res.InvocationsPerSecond * f,
		GBSecondsPerSecond:   gbs * f,
		WCUPerSecond:         res.WCUPerSecond * f,
		RCUPerSecond:         res.RCUPerSecond * f,
		StoredGB:             stored / span * f * 730 * 3600 / (1 << 30) / 2,
	})
	res.MonthlyCostUSD = res.Cost.Total()
	return res
}
