// Package plan sizes a StreamProcessor pipeline for a load: shards, event
// source mapping settings, function concurrency, DynamoDB capacity, what
// saturates first, and the monthly cost from a dated price table. It models
// the example on the event-time engine (functions/eventtime's DynamoStore:
// per-key window items written once per batch, watermarks, the due index and
// results) next to the seed-style design (one DynamoDB write per record). The formulas
// are documented in docs/scale.md.
package plan

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/streamproc/streamproc/constructs/streamprocessor/sizing"
)

// StreamMode is the stream's capacity mode.
type StreamMode string

const (
	Provisioned StreamMode = "provisioned"
	OnDemand    StreamMode = "on-demand"
	// Auto picks the cheaper of the two for the load.
	Auto StreamMode = "auto"
)

// Input is the load and the choices the planner is given. Zero values of
// the tunables mean "choose for me".
type Input struct {
	RecordsPerSecond     float64 // average user records/s
	PeakRecordsPerSecond float64 // 0: the average
	RecordBytes          int
	Keys                 int     // distinct partition keys
	HotKeyShare          float64 // share of records on the busiest key; 0: 1/Keys
	Aggregation          int     // user records per Kinesis record (KPL); 0 or 1: none
	Consumers            int     // consumers of the stream; 0: 1
	Retention            time.Duration
	Window               time.Duration // the example's event-time window
	Lateness             time.Duration // allowed lateness: late records reopen earlier windows
	DueBucket            time.Duration // the engine's due-index bucket (eventtime.DynamoConfig.DueBucket); 0: 1m
	OutOfOrderShare      float64       // share of records that land in an earlier window
	InvalidShare         float64       // share of records quarantined to SQS
	// FireSchedule is the period of the schedule's fire requests (the
	// construct's EventTimeProps.FireSchedule); 0: 1m, negative: none.
	FireSchedule      time.Duration
	TargetIteratorAge time.Duration
	StreamMode        StreamMode
	Region            string

	Shards                int // 0: sized
	MemoryMB              int // 0: the construct's 256
	BatchSize             int // 0: the largest the payload allows
	BatchingWindow        time.Duration
	BatchingWindowSet     bool // BatchingWindow was given (0 is a valid choice)
	ParallelizationFactor int  // 0: the smallest that keeps up
	// EngineConcurrency is the windows the engine writes or fires at the
	// same time (eventtime.Config.Concurrency). 0: the engine's default
	// (Costs.StoreConcurrency, 16), doubled up to 256 while one firing of a
	// window boundary keeps the iterator age over the target.
	EngineConcurrency int
	// Utilization is the share of a shard's write limits the plan fills at
	// peak (headroom for uneven keys and bursts). 0: 0.8.
	Utilization float64

	Costs  Costs
	Prices Prices
}

// WithDefaults returns in with every unset field given its default.
func (in Input) WithDefaults() Input {
	if in.PeakRecordsPerSecond == 0 {
		in.PeakRecordsPerSecond = in.RecordsPerSecond
	}
	if in.Aggregation <= 0 {
		in.Aggregation = 1
	}
	if in.Consumers <= 0 {
		in.Consumers = 1
	}
	if in.Retention == 0 {
		in.Retention = 24 * time.Hour
	}
	if in.Window == 0 {
		in.Window = time.Minute
	}
	if in.DueBucket == 0 {
		in.DueBucket = time.Minute
	}
	if in.FireSchedule == 0 {
		in.FireSchedule = time.Minute
	}
	if in.TargetIteratorAge == 0 {
		in.TargetIteratorAge = time.Minute
	}
	if in.StreamMode == "" {
		in.StreamMode = Provisioned
	}
	if in.Region == "" {
		in.Region = "us-east-1"
	}
	if in.MemoryMB == 0 {
		in.MemoryMB = defaultMemoryMB
	}
	if in.Utilization == 0 {
		in.Utilization = 0.8
	}
	if in.Costs == (Costs{}) {
		in.Costs = DefaultCosts()
	}
	if in.Prices.Region == "" {
		in.Prices = DefaultPrices()
	}
	return in
}

// Validate lists every problem of an Input (after WithDefaults).
func (in Input) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !(in.RecordsPerSecond > 0) || math.IsInf(in.RecordsPerSecond, 0) {
		bad("records per second %g is not valid: give a positive rate", in.RecordsPerSecond)
	}
	if in.PeakRecordsPerSecond < in.RecordsPerSecond || math.IsInf(in.PeakRecordsPerSecond, 0) {
		bad("peak %g is below the average %g: give a peak at least the average", in.PeakRecordsPerSecond, in.RecordsPerSecond)
	}
	if in.RecordBytes < 1 || in.RecordBytes*in.Aggregation > 1<<20 {
		bad("record bytes %d (x aggregation %d) is not valid: give 1 to 1 MiB per Kinesis record", in.RecordBytes, in.Aggregation)
	}
	if in.Keys < 1 {
		bad("keys %d is not valid: give the number of distinct partition keys (at least 1)", in.Keys)
	}
	if in.HotKeyShare < 0 || in.HotKeyShare > 1 {
		bad("hot key share %g is not valid: give a fraction in [0, 1]", in.HotKeyShare)
	}
	for name, v := range map[string]float64{"out-of-order share": in.OutOfOrderShare, "invalid share": in.InvalidShare} {
		if v < 0 || v > 1 {
			bad("%s %g is not valid: give a fraction in [0, 1]", name, v)
		}
	}
	if in.Retention < 24*time.Hour || in.Retention > 8760*time.Hour {
		bad("retention %s is not valid: give 24h to 8760h", in.Retention)
	}
	if in.Window < time.Second {
		bad("window %s is not valid: give at least 1s", in.Window)
	}
	if in.Lateness < 0 {
		bad("lateness %s is not valid: give 0 or more", in.Lateness)
	}
	if in.DueBucket < time.Second {
		bad("due bucket %s is not valid: give at least 1s (the engine's minimum)", in.DueBucket)
	}
	if in.FireSchedule > 0 && in.FireSchedule < time.Second {
		bad("fire schedule %s is not valid: give at least 1s, or a negative value for none", in.FireSchedule)
	}
	if in.TargetIteratorAge < time.Second {
		bad("target iterator age %s is not valid: give at least 1s", in.TargetIteratorAge)
	}
	switch in.StreamMode {
	case Provisioned, OnDemand, Auto:
	default:
		bad("stream mode %q is not valid: give provisioned, on-demand or auto", in.StreamMode)
	}
	if in.Shards < 0 {
		bad("shards %d is not valid: give 0 (sized) or more", in.Shards)
	}
	if in.MemoryMB < 128 || in.MemoryMB > 10240 {
		bad("memory %d MB is not valid: give 128 to 10240", in.MemoryMB)
	}
	if in.BatchSize < 0 || in.BatchSize > maxBatchRecords {
		bad("batch size %d is not valid: give 0 (sized) or 1 to %d", in.BatchSize, maxBatchRecords)
	}
	if in.BatchingWindow < 0 || in.BatchingWindow > maxBatchingWindow*time.Second {
		bad("batching window %s is not valid: give 0s to 300s", in.BatchingWindow)
	}
	if in.ParallelizationFactor < 0 || in.ParallelizationFactor > maxFactor {
		bad("parallelization factor %d is not valid: give 0 (sized) or 1 to 10", in.ParallelizationFactor)
	}
	if in.EngineConcurrency < 0 || in.EngineConcurrency > 1024 {
		bad("engine concurrency %d is not valid: give 0 (chosen) or 1 to 1024", in.EngineConcurrency)
	}
	if in.Utilization <= 0 || in.Utilization > 1 {
		bad("utilization %g is not valid: give a fraction in (0, 1]", in.Utilization)
	}
	c := in.Costs
	if c.StoreConcurrency < 1 || c.DynamoDBLatency < 0 || c.CPUPerRecord < 0 || c.InvokeOverhead < 0 {
		bad("costs %+v are not valid: give non-negative times and a store concurrency of at least 1", c)
	}
	return errors.Join(errs...)
}

// Limit is one quota or hard limit and how much of it the plan uses at peak.
type Limit struct {
	Name        string  `json:"name"`
	Used        float64 `json:"used"`
	Limit       float64 `json:"limit"`
	Utilization float64 `json:"utilization"`
	// ScalesWithLoad: the use grows with the record rate at this
	// configuration (so BreaksAt is the rate where it is reached).
	ScalesWithLoad bool    `json:"scales_with_load"`
	BreaksAt       float64 `json:"breaks_at_records_per_second,omitempty"`
	Fix            string  `json:"fix"`
}

// Breakdown is the monthly cost per service, USD.
type Breakdown struct {
	Kinesis    float64 `json:"kinesis"`
	Lambda     float64 `json:"lambda"`
	DynamoDB   float64 `json:"dynamodb"`
	CloudWatch float64 `json:"cloudwatch"`
	SQSS3      float64 `json:"sqs_s3"`
}

func (b Breakdown) total() float64 {
	return b.Kinesis + b.Lambda + b.DynamoDB + b.CloudWatch + b.SQSS3
}

// Design is one sized pipeline.
type Design struct {
	Design                    string     `json:"design"`
	StreamMode                StreamMode `json:"stream_mode"`
	Shards                    int        `json:"shards"`
	ShardsBoundBy             string     `json:"shards_bound_by"`
	EnhancedFanOut            bool       `json:"enhanced_fan_out"`
	EnhancedFanOutReason      string     `json:"enhanced_fan_out_reason,omitempty"`
	BatchSize                 int        `json:"batch_size"`
	BatchingWindowSeconds     float64    `json:"batching_window_seconds"`
	ParallelizationFactor     int        `json:"parallelization_factor"`
	MemoryMB                  int        `json:"memory_mb"`
	Concurrency               int        `json:"concurrency"`
	AverageConcurrency        float64    `json:"average_concurrency"`
	ConcurrencyQuotaToRequest int        `json:"concurrency_quota_to_request,omitempty"`
	ShardQuotaToRequest       int        `json:"shard_quota_to_request,omitempty"`
	RecordsPerInvocation      float64    `json:"records_per_invocation"`
	InvocationMs              float64    `json:"invocation_ms"`
	InvocationsPerSecond      float64    `json:"invocations_per_second"`
	WritesPerRecord           float64    `json:"dynamodb_writes_per_record"`
	ReadsPerRecord            float64    `json:"dynamodb_reads_per_record"`
	NewWindowsPerSecond       float64    `json:"new_windows_per_second"`
	NewWindowsLimit           float64    `json:"new_windows_per_second_limit"` // what the stream item's partition takes beside the other writes on it
	FiredPerSecond            float64    `json:"fired_windows_per_second"`     // window results fired (each window once)
	DueWindowsPerFiring       float64    `json:"due_windows_per_firing"`       // windows the firing of a boundary reads
	EngineConcurrency         int        `json:"engine_concurrency"`           // eventtime.Config.Concurrency: windows written or fired at once
	BoundaryFiringSeconds     float64    `json:"boundary_firing_seconds"`      // the one firing of the windows ending at one boundary
	FiringAttempts            float64    `json:"firing_attempts_per_window"`   // per window length: every shard per boundary crossed, and the schedule
	LeaseFirings              float64    `json:"lease_firings_per_window"`     // of them, firings that take the lease (one fires each boundary, the others find nothing due)
	StreamItemWCU             float64    `json:"dynamodb_stream_item_wcu"`     // partition key "wm": stream item and shard items
	WatermarkRCU              float64    `json:"dynamodb_watermark_rcu"`       // partition key "wm": the batches' BatchGetItems, the firings' Queries and GetItems
	WCU                       float64    `json:"dynamodb_wcu"`
	FiringWCU                 float64    `json:"dynamodb_wcu_while_firing"` // while a boundary fires: the batches' writes and the firing's
	RCU                       float64    `json:"dynamodb_rcu"`
	Partitions                int        `json:"dynamodb_partitions"`
	ItemBytes                 float64    `json:"dynamodb_item_bytes"`
	KeepsUp                   bool       `json:"keeps_up"`
	IteratorAgeSeconds        float64    `json:"iterator_age_seconds"`           // -1: unbounded
	HotShardIteratorAge       float64    `json:"hot_shard_iterator_age_seconds"` // -1: unbounded
	SaturatesFirst            string     `json:"saturates_first"`
	Limits                    []Limit    `json:"limits"`
	Warnings                  []string   `json:"warnings"`
	MonthlyCostUSD            float64    `json:"monthly_cost_usd"`
	CostPerBillionUSD         float64    `json:"cost_per_billion_records_usd"`
	Breakdown                 Breakdown  `json:"breakdown_usd_per_month"`
}

// Result is the plan (top level) with the seed-style design beside it.
type Result struct {
	Design
	SeedStyle  Design `json:"seed_style"`
	Region     string `json:"region"`
	PricesAsOf string `json:"prices_as_of"`
	Input      struct {
		RecordsPerSecond     float64 `json:"records_per_second"`
		PeakRecordsPerSecond float64 `json:"peak_records_per_second"`
		RecordBytes          int     `json:"record_bytes"`
		Keys                 int     `json:"keys"`
		HotKeyShare          float64 `json:"hot_key_share"`
		Aggregation          int     `json:"aggregation"`
		WindowSeconds        float64 `json:"window_seconds"`
		TargetIteratorAge    float64 `json:"target_iterator_age_seconds"`
	} `json:"input"`
}

// Compute sizes the pipeline for in (defaults applied) and its seed-style
// counterpart.
func Compute(in Input) (Result, error) {
	in = in.WithDefaults()
	if err := in.Validate(); err != nil {
		return Result{}, err
	}
	var r Result
	r.Region, r.PricesAsOf = in.Prices.Region, in.Prices.AsOf
	r.Input.RecordsPerSecond, r.Input.PeakRecordsPerSecond = in.RecordsPerSecond, in.PeakRecordsPerSecond
	r.Input.RecordBytes, r.Input.Keys, r.Input.HotKeyShare = in.RecordBytes, in.Keys, hotShare(in)
	r.Input.Aggregation, r.Input.WindowSeconds = in.Aggregation, in.Window.Seconds()
	r.Input.TargetIteratorAge = in.TargetIteratorAge.Seconds()
	switch in.StreamMode {
	case Auto:
		a, b := in, in
		a.StreamMode, b.StreamMode = Provisioned, OnDemand
		pa, pb := size(a, false), size(b, false)
		r.Design = pa
		if pb.MonthlyCostUSD < pa.MonthlyCostUSD {
			r.Design = pb
		}
		in.StreamMode = r.Design.StreamMode
		r.Design.Warnings = append(r.Design.Warnings, fmt.Sprintf("auto: %s costs $%.0f/month, %s $%.0f/month",
			Provisioned, pa.MonthlyCostUSD, OnDemand, pb.MonthlyCostUSD))
	default:
		r.Design = size(in, false)
	}
	seed := in
	seed.Aggregation = 1 // the seed's producer put one record per Kinesis record
	seed.Shards, seed.ParallelizationFactor, seed.BatchSize = in.Shards, in.ParallelizationFactor, 0
	r.SeedStyle = size(seed, true)
	return r, nil
}

func hotShare(in Input) float64 {
	if in.HotKeyShare > 0 {
		return in.HotKeyShare
	}
	return 1 / float64(in.Keys)
}

// kinesisRecordBytes is one Kinesis record: the user records, with KPL's
// framing when aggregated.
func kinesisRecordBytes(in Input) float64 {
	return sizing.KinesisRecordBytes(float64(in.RecordBytes), float64(in.Aggregation))
}

// Shards returns the provisioned shards for a peak (sizing.Shards, the
// formula the construct's ExpectedLoad uses) and which bound decided.
func Shards(peakRecords, recordBytes, aggregation, utilization float64) (int, string) {
	n, bytesBound := sizing.Shards(peakRecords, recordBytes, aggregation, utilization)
	if bytesBound {
		return n, "bytes/s"
	}
	return n, "records/s"
}

// maxBatch is the largest batch (user records) one invocation can carry.
func maxBatch(in Input) int {
	return sizing.MaxBatch(kinesisRecordBytes(in)) * in.Aggregation
}

func size(in Input, seed bool) Design {
	d := Design{Design: "streamproc", StreamMode: in.StreamMode, MemoryMB: in.MemoryMB}
	peak, avg := in.PeakRecordsPerSecond, in.RecordsPerSecond
	agg := float64(in.Aggregation)
	krBytes := kinesisRecordBytes(in)
	if seed {
		d.Design = "seed-style"
	}

	// Shards. On-demand keeps capacity for twice the recent peak; its shard
	// count (which sets the mapping's concurrency) is estimated the same way.
	switch {
	case in.Shards > 0:
		d.Shards, d.ShardsBoundBy = in.Shards, "given"
	case in.StreamMode == OnDemand:
		d.Shards, d.ShardsBoundBy = Shards(2*peak, float64(in.RecordBytes), agg, 1)
		d.ShardsBoundBy += " (on-demand estimate: 2x peak)"
	default:
		d.Shards, d.ShardsBoundBy = Shards(peak, float64(in.RecordBytes), agg, in.Utilization)
	}
	shards := float64(d.Shards)

	// Enhanced fan-out: polling consumers share 5 reads/s and 2 MiB/s a shard.
	outPerShard := peak / agg * krBytes / shards * float64(in.Consumers)
	switch {
	case in.Consumers > 2:
		d.EnhancedFanOut, d.EnhancedFanOutReason = true, fmt.Sprintf("%d consumers share %d GetRecords/s per shard", in.Consumers, shardReadCalls)
	case outPerShard > shardReadBytes*in.Utilization:
		d.EnhancedFanOut, d.EnhancedFanOutReason = true, fmt.Sprintf("consumers read %.2f MiB/s per shard of the shared 2 MiB/s", outPerShard/(1<<20))
	}

	// Mapping settings.
	target := in.TargetIteratorAge.Seconds()
	switch {
	case seed:
		d.BatchSize, d.BatchingWindowSeconds = 100*in.Aggregation, 0 // Lambda's defaults
	default:
		d.BatchSize = maxBatch(in)
		if in.BatchSize > 0 {
			d.BatchSize = in.BatchSize * in.Aggregation
		}
		d.BatchingWindowSeconds = math.Min(maxBatchingWindow, math.Floor(target/2))
		if in.BatchingWindowSet {
			d.BatchingWindowSeconds = in.BatchingWindow.Seconds()
		}
	}
	N, B := float64(d.BatchSize), d.BatchingWindowSeconds
	// The engine's concurrency: the default, doubled while the batch that
	// fires a window boundary keeps the iterator age over the target or
	// the firing takes longer than the window (given: kept).
	conc := in.EngineConcurrency
	if conc == 0 {
		conc = in.Costs.StoreConcurrency
	}
	var (
		m  model
		st laneState
	)
	for {
		m = newModel(in, seed, d.Shards, conc)
		st = m.mapping(in, &d, N, B, peak, shards, target)
		if seed || in.EngineConcurrency > 0 || conc >= maxEngineConcurrency ||
			(st.keepsUp && st.period+st.fireDur <= target && st.boundary <= m.window) {
			break
		}
		conc = min(2*conc, maxEngineConcurrency)
	}
	if !seed {
		d.EngineConcurrency = conc
	}
	lanes := shards * float64(d.ParallelizationFactor)
	d.Concurrency = int(lanes)
	d.BatchSize /= in.Aggregation // report Kinesis records, as the mapping takes them
	d.KeepsUp, d.IteratorAgeSeconds = st.keepsUp, st.age
	d.RecordsPerInvocation, d.InvocationMs = st.n, st.dur*1000

	// The busiest key's lane carries its share on top of a normal lane.
	hot := hotShare(in) * peak
	hotLane := m.lane(peak/lanes+hot, float64(in.Keys)/lanes, N, B)
	d.HotShardIteratorAge = hotLane.age

	// Averages (for cost) come from the same lane model at the average rate.
	av := m.lane(avg/lanes, float64(in.Keys)/lanes, N, B)
	d.InvocationsPerSecond = lanes / av.period
	d.AverageConcurrency = lanes * av.dur / av.period
	d.WritesPerRecord = av.writes / av.n
	d.ReadsPerRecord = av.reads / av.n
	d.NewWindowsPerSecond = lanes * st.newWindows / st.period
	d.DueWindowsPerFiring = st.due + st.itemsPerWindow*lanes
	d.FiredPerSecond = lanes * st.fired / st.period
	d.BoundaryFiringSeconds = st.boundary
	d.FiringAttempts, d.LeaseFirings = st.attempts+st.leaseFirings, st.leaseFirings
	if seed {
		d.DueWindowsPerFiring, d.FiringAttempts, d.LeaseFirings = 0, 0, 0
	}
	d.StreamItemWCU = lanes * st.calls.WatermarkWCU / st.period
	d.WatermarkRCU = lanes * st.calls.WatermarkRCU / st.period
	// The stream item's partition takes 1,000 WCU/s: two per new window
	// beside the batches' shard items, the failed lease writes and the
	// lease holders' writes.
	d.NewWindowsLimit = math.Max(0, (partitionWCU-(d.StreamItemWCU-2*d.NewWindowsPerSecond))/2)
	d.ItemBytes = av.itemBytes
	d.WCU = lanes * st.wcu / st.period
	d.RCU = lanes * st.rcu / st.period
	// Partitions with the same headroom as shards (a catch-up writes faster
	// than the steady state).
	// While a boundary fires, its writes come on top of the batches'.
	d.FiringWCU = d.WCU
	if !seed && st.boundary > 0 {
		d.FiringWCU = lanes*st.processWCU/st.period + st.boundaryWCU/st.boundary
	}
	d.Partitions = max(1, int(math.Ceil(math.Max(math.Max(d.WCU, d.FiringWCU)/partitionWCU, d.RCU/partitionRCU)/in.Utilization)))

	if d.Concurrency > accountConcurrency {
		d.ConcurrencyQuotaToRequest = roundUp(float64(d.Concurrency)*1.2, 1000)
	}
	if q := shardQuota(in.Region); in.StreamMode != OnDemand && d.Shards > q {
		d.ShardQuotaToRequest = roundUp(shards*1.2, 100)
	}

	d.Limits = limits(in, d, m, N)
	sort.SliceStable(d.Limits, func(i, j int) bool { return d.Limits[i].Utilization > d.Limits[j].Utilization })
	if len(d.Limits) > 0 {
		l := d.Limits[0]
		d.SaturatesFirst = fmt.Sprintf("%s (%.0f%% at peak)", l.Name, 100*l.Utilization)
	}
	d.Warnings = warnings(in, d, hot)

	// Cost per month at the average rate.
	d.Breakdown = MonthlyCost(in, d, Usage{
		InvocationsPerSecond: d.InvocationsPerSecond,
		GBSecondsPerSecond:   d.InvocationsPerSecond * av.dur * float64(in.MemoryMB) / 1024,
		WCUPerSecond:         lanes * av.wcu / av.period,
		RCUPerSecond:         lanes * av.rcu / av.period,
		// A month's new items, on average half of them stored over the month
		// (items are kept: a TTL would bound it).
		StoredGB: av.itemsPerWindow * lanes / in.Window.Seconds() * secondsPerMonth * av.finalItemBytes / gib / 2,
	})
	d.MonthlyCostUSD = d.Breakdown.total()
	d.CostPerBillionUSD = d.MonthlyCostUSD / (avg * secondsPerMonth / 1e9)
	return d
}

// mapping sets d's ParallelizationFactor (given, or the smallest that
// keeps up) and returns the steady state of a lane at peak.
func (m model) mapping(in Input, d *Design, N, B, peak, shards, target float64) laneState {
	choose := func(f int) laneState {
		return m.lane(peak/(shards*float64(f)), float64(in.Keys)/(shards*float64(f)), N, B)
	}
	if in.ParallelizationFactor > 0 {
		d.ParallelizationFactor = in.ParallelizationFactor
		return choose(d.ParallelizationFactor)
	}
	// The smallest factor whose full-batch lanes are at most 70 % busy
	// (sizing.Factor, as the construct sizes it), then more while the
	// steady state misses the target iterator age (without the batch that
	// fires a window boundary: more lanes do not shorten it; the engine's
	// concurrency does).
	var st laneState
	f, _ := sizing.Factor(peak, d.Shards, func(lanes int) float64 { return m.capacity(float64(in.Keys)/float64(lanes), N) })
	for ; f <= maxFactor; f++ {
		d.ParallelizationFactor, st = f, choose(f)
		if st.keepsUp && st.busy <= sizing.MaxBusy && st.period+st.dur <= target {
			break
		}
	}
	return st
}

// Usage is what a pipeline consumes per second on average (the simulation
// measures it, the planner predicts it).
type Usage struct {
	InvocationsPerSecond float64
	GBSecondsPerSecond   float64
	WCUPerSecond         float64
	RCUPerSecond         float64
	StoredGB             float64 // average DynamoDB storage over the month
}

// MonthlyCost prices a month of usage for the stream d describes (its mode,
// shards and enhanced fan-out) at in's average rate and prices.
func MonthlyCost(in Input, d Design, u Usage) Breakdown {
	in = in.WithDefaults()
	p := in.Prices
	secs := float64(secondsPerMonth)
	inv := u.InvocationsPerSecond * secs
	var b Breakdown
	b.Kinesis = kinesisCost(in, d)
	b.Lambda = inv*p.LambdaRequests.USD/1e6 + u.GBSecondsPerSecond*secs*p.LambdaGBSecondArm.USD
	b.DynamoDB = (u.WCUPerSecond*p.DynamoDBWriteRequestUnits.USD+u.RCUPerSecond*p.DynamoDBReadRequestUnits.USD)*secs/1e6 +
		u.StoredGB*p.DynamoDBStorageGBMonth.USD
	b.CloudWatch = float64(in.Costs.Metrics)*p.CloudWatchMetricMonth.USD +
		float64(in.Costs.Alarms)*p.CloudWatchAlarmMonth.USD +
		inv*float64(in.Costs.LogBytesPerInvocation)/gib*p.CloudWatchLogsGB.USD
	// Quarantined records go to SQS in batches of 10 (one request each).
	b.SQSS3 = in.RecordsPerSecond * in.InvalidShare * secs / 10 * p.SQSRequests.USD / 1e6
	return b
}

// Total is the sum of the services.
func (b Breakdown) Total() float64 { return b.total() }

func kinesisCost(in Input, d Design) float64 {
	p := in.Prices
	secs := float64(secondsPerMonth)
	krPerSec := in.RecordsPerSecond / float64(in.Aggregation)
	krBytes := kinesisRecordBytes(in)
	bytesPerMonth := krPerSec * krBytes * secs
	var c float64
	if d.StreamMode == OnDemand {
		billedIn := krPerSec * math.Ceil(krBytes/onDemandRoundUp) * onDemandRoundUp * secs
		c = hoursPerMonth*p.KinesisOnDemandStreamHour.USD +
			billedIn/gib*p.KinesisOnDemandInGB.USD +
			bytesPerMonth*float64(in.Consumers)/gib*p.KinesisOnDemandOutGB.USD
	} else {
		units := krPerSec * math.Ceil(krBytes/putPayloadUnit) * secs
		c = float64(d.Shards)*hoursPerMonth*p.KinesisShardHour.USD + units/1e6*p.KinesisPutPayloadUnit.USD
		if in.Retention > 24*time.Hour {
			c += float64(d.Shards) * hoursPerMonth * p.KinesisExtendedRetention.USD
		}
	}
	if long := in.Retention - 7*24*time.Hour; long > 0 {
		c += krPerSec * krBytes * long.Seconds() / gib * p.KinesisLongTermRetention.USD
	}
	if d.EnhancedFanOut {
		c += float64(in.Consumers) * (float64(d.Shards)*hoursPerMonth*p.KinesisEFOShardHour.USD +
			bytesPerMonth/gib*p.KinesisEFORetrievalGB.USD)
	}
	return c
}

func limits(in Input, d Design, m model, N float64) []Limit {
	peak := in.PeakRecordsPerSecond
	shards := float64(d.Shards)
	kr := peak / float64(in.Aggregation)
	krBytes := kinesisRecordBytes(in)
	hot := hotShare(in) * peak
	var ls []Limit
	add := func(name string, used, limit float64, scales bool, fix string) {
		l := Limit{Name: name, Used: used, Limit: limit, Utilization: used / limit, ScalesWithLoad: scales, Fix: fix}
		if scales && used > 0 {
			l.BreaksAt = peak * limit / used
		}
		ls = append(ls, l)
	}
	if d.StreamMode == OnDemand {
		add("on-demand stream write bytes/s", kr*krBytes, onDemandMaxBytes, true, "request a higher on-demand stream write quota, or use provisioned mode")
		add("on-demand stream write records/s", kr, onDemandMaxRecs, true, "request a higher on-demand stream quota, or aggregate records (KPL)")
	} else {
		add("kinesis shard write records/s", kr/shards, shardWriteRecords, true, "add shards (UpdateShardCount) or aggregate records (KPL)")
		add("kinesis shard write bytes/s", kr*krBytes/shards, shardWriteBytes, true, "add shards")
		add("kinesis open-shard quota", shards, float64(shardQuota(in.Region)), false,
			fmt.Sprintf("request the Kinesis shard quota increase to %d", roundUp(shards*1.2, 100)))
	}
	// The shard holding the busiest key: a key cannot be spread over shards.
	hotKR := (kr*(1-hotShare(in)))/shards + hot/float64(in.Aggregation)
	add("busiest key's shard records/s", hotKR, shardWriteRecords, true, "split the hot key (salt its partition key) or aggregate it (KPL)")
	add("lambda concurrent executions (account)", float64(d.Concurrency), accountConcurrency, false,
		fmt.Sprintf("request the Lambda concurrency quota increase to %d", roundUp(float64(d.Concurrency)*1.2, 1000)))
	lanes := shards * float64(d.ParallelizationFactor)
	capLane := m.capacity(float64(in.Keys)/lanes, N)
	add("mapping lane throughput (function duration)", peak/lanes, capLane, true, "raise ParallelizationFactor, batch size or memory")
	add("busiest key's lane throughput", peak/lanes+hot, capLane, true, "raise ParallelizationFactor or split the hot key")
	add("dynamodb table write units/s (default quota)", d.WCU, tableQuotaWRU, true, "request the DynamoDB table throughput quota increase and pre-warm the table")
	add("dynamodb table read units/s (default quota)", d.RCU, tableQuotaRRU, true, "request the DynamoDB table throughput quota increase")
	if !m.seed {
		// A boundary's firing writes at the engine's concurrency whatever
		// the load: more windows make it longer, not faster.
		add("dynamodb table write units/s while a boundary fires", d.FiringWCU, tableQuotaWRU, false,
			"request the DynamoDB table throughput quota increase, or a lower engine concurrency (a longer firing)")
	}
	if !m.seed {
		add("busiest key's window item (readings)", hot*in.Window.Seconds(), float64(m.maxReadings()), true,
			"shorten the window or split the hot key: past this the engine refuses readings (quarantined, ErrWindowFull)")
		// Every new window takes two writes on the table's one stream item;
		// it shares partition key "wm" with the shard items and the lease.
		add("stream item write units/s (new windows)", d.StreamItemWCU, partitionWCU, false, newWindowsFix)
		add("firing one window boundary (s) vs the window", d.BoundaryFiringSeconds, in.Window.Seconds(), false, firingFix)
		add("watermark items' read units/s (partition wm)", d.WatermarkRCU, partitionRCU, false,
			"fewer shards (KPL aggregation) or fewer invocations/s (a longer batching window, larger batches)")
	}
	return ls
}

func warnings(in Input, d Design, hot float64) []string {
	var w []string
	if !d.KeepsUp {
		w = append(w, "the mapping cannot keep up at peak: the iterator age grows without bound")
	}
	if d.IteratorAgeSeconds > in.TargetIteratorAge.Seconds() {
		w = append(w, fmt.Sprintf("predicted iterator age %.1fs is over the target %s", d.IteratorAgeSeconds, in.TargetIteratorAge))
	}
	if hot/float64(in.Aggregation) > shardWriteRecords {
		w = append(w, fmt.Sprintf("hot key: the busiest key sends %.0f records/s, over one shard's 1,000; Kinesis throttles it whatever the shard count", hot))
	}
	for _, l := range d.Limits {
		if l.Utilization >= 1 && l.ScalesWithLoad { // quotas have their own lines below
			w = append(w, fmt.Sprintf("%s exceeded (%.0f of %.0f): %s", l.Name, l.Used, l.Limit, l.Fix))
		}
	}
	if d.StreamItemWCU > partitionWCU {
		w = append(w, fmt.Sprintf("%.0f new windows/s (about active keys / window) is over the %.0f a state table's stream item takes at this plan's batch rate (two writes per new window beside the shard items' and the firing lease's writes on partition \"wm\", one partition's 1,000 WCU/s): DynamoDB throttles it; %s",
			d.NewWindowsPerSecond, d.NewWindowsLimit, newWindowsFix))
	}
	if !seedDesign(d) {
		windows := d.DueWindowsPerFiring
		switch {
		case d.BoundaryFiringSeconds > in.Window.Seconds() ||
			(d.KeepsUp && d.IteratorAgeSeconds > in.TargetIteratorAge.Seconds() && d.IteratorAgeSeconds-d.BoundaryFiringSeconds <= in.TargetIteratorAge.Seconds()):
			w = append(w, fmt.Sprintf("one firing of the %.0f windows ending at a window boundary takes %.1fs at engine concurrency %d (about 3 writes a window, %d at a time): %s",
				windows, d.BoundaryFiringSeconds, d.EngineConcurrency, d.EngineConcurrency, firingFix))
		case d.EngineConcurrency > in.Costs.StoreConcurrency && in.EngineConcurrency == 0:
			w = append(w, fmt.Sprintf("set the engine's Config.Concurrency to %d (default %d): one firing of the %.0f windows ending at a window boundary then takes %.1fs, within the window and the target iterator age",
				d.EngineConcurrency, in.Costs.StoreConcurrency, windows, d.BoundaryFiringSeconds))
		}
	}
	if !seedDesign(d) && d.FiringWCU > tableQuotaWRU {
		w = append(w, fmt.Sprintf("while a window boundary fires the table takes %.0f write units/s (the batches' and the firing's, %d windows at a time), over the default per-table quota %d: request the DynamoDB table throughput quota increase (and the warm throughput below), or a lower engine concurrency if the firing may take longer",
			d.FiringWCU, d.EngineConcurrency, tableQuotaWRU))
	}
	if d.WatermarkRCU > partitionRCU {
		w = append(w, fmt.Sprintf("the shard items on partition \"wm\" take %.0f RCU/s (every batch reads the stream item and its shard's, every firing Queries all %d shard items twice), over one partition's 3,000 (DynamoDB may split the collection for heat, a single item never): fewer shards (KPL aggregation) or fewer invocations/s",
			d.WatermarkRCU, d.Shards))
	}
	if math.Max(d.WCU, d.FiringWCU) > newTableWRU {
		w = append(w, fmt.Sprintf("a new on-demand table serves about %d write units/s at once: set its warm throughput to %.0f WCU (%d partitions) before the load arrives", newTableWRU, float64(d.Partitions*partitionWCU), d.Partitions))
	}
	if d.ConcurrencyQuotaToRequest > 0 {
		w = append(w, fmt.Sprintf("concurrency %d is over the default account limit %d: request %d (Service Quotas, Lambda concurrent executions) and reserve %d for the function",
			d.Concurrency, accountConcurrency, d.ConcurrencyQuotaToRequest, d.Concurrency))
	}
	if d.ShardQuotaToRequest > 0 {
		w = append(w, fmt.Sprintf("%d shards is over the default %s shard quota %d: request %d", d.Shards, in.Region, shardQuota(in.Region), d.ShardQuotaToRequest))
	}
	return w
}

func seedDesign(d Design) bool { return d.Design == "seed-style" }

const (
	newWindowsFix = "use longer windows, or split the keys over several pipelines (one state table each)"
	firingFix     = "raise the engine's Config.Concurrency (--engine-concurrency 64, 128), or split the keys over several pipelines (one state table each)"
)

func roundUp(v float64, step int) int {
	return int(math.Ceil(v/float64(step))) * step
}

// Table renders the result as a readable two-design table.
func (r Result) Table() string {
	var b strings.Builder
	row := func(name string, a, s any) { fmt.Fprintf(&b, "%-38s %22v %22v\n", name, a, s) }
	f0 := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	f2 := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	age := func(v float64) string {
		if v < 0 {
			return "unbounded"
		}
		return f2(v)
	}
	usd := func(v float64) string { return fmt.Sprintf("$%.2f", v) }
	fmt.Fprintf(&b, "load: %.0f records/s average, %.0f peak, %d B, %d keys (busiest %.3g%%), aggregation %d; prices %s as of %s\n\n",
		r.Input.RecordsPerSecond, r.Input.PeakRecordsPerSecond, r.Input.RecordBytes, r.Input.Keys, 100*r.Input.HotKeyShare,
		r.Input.Aggregation, r.Region, r.PricesAsOf)
	a, s := r.Design, r.SeedStyle
	row("", a.Design, s.Design)
	row("stream mode", a.StreamMode, s.StreamMode)
	row("shards", a.Shards, s.Shards)
	row("enhanced fan-out", a.EnhancedFanOut, s.EnhancedFanOut)
	row("batch size (Kinesis records)", a.BatchSize, s.BatchSize)
	row("batching window s", a.BatchingWindowSeconds, s.BatchingWindowSeconds)
	row("parallelization factor", a.ParallelizationFactor, s.ParallelizationFactor)
	row("memory MB", a.MemoryMB, s.MemoryMB)
	row("concurrency (shards x factor)", a.Concurrency, s.Concurrency)
	row("average concurrency", f2(a.AverageConcurrency), f2(s.AverageConcurrency))
	row("records per invocation (peak)", f0(a.RecordsPerInvocation), f0(s.RecordsPerInvocation))
	row("invocation ms (peak)", f2(a.InvocationMs), f2(s.InvocationMs))
	row("invocations/s (average)", f0(a.InvocationsPerSecond), f0(s.InvocationsPerSecond))
	row("dynamodb writes per record", fmt.Sprintf("%.4f", a.WritesPerRecord), fmt.Sprintf("%.4f", s.WritesPerRecord))
	row("dynamodb reads per record", fmt.Sprintf("%.4f", a.ReadsPerRecord), fmt.Sprintf("%.4f", s.ReadsPerRecord))
	row("new windows/s (peak) / stream item limit", f0(a.NewWindowsPerSecond)+" / "+f0(a.NewWindowsLimit), "-")
	row("windows a boundary's firing reads", f0(a.DueWindowsPerFiring), "-")
	row("engine concurrency", a.EngineConcurrency, "-")
	row("firing a window boundary s", f2(a.BoundaryFiringSeconds), "-")
	row("firing attempts / lease firings per window", f0(a.FiringAttempts)+" / "+f2(a.LeaseFirings), "-")
	row("stream item WCU, wm RCU (peak)", f0(a.StreamItemWCU)+", "+f0(a.WatermarkRCU), "-")
	row("dynamodb WCU / RCU (peak)", f0(a.WCU)+" / "+f0(a.RCU), f0(s.WCU)+" / "+f0(s.RCU))
	row("dynamodb WCU while a boundary fires", f0(a.FiringWCU), f0(s.FiringWCU))
	row("dynamodb partitions", a.Partitions, s.Partitions)
	row("keeps up at peak", a.KeepsUp, s.KeepsUp)
	row("iterator age s (peak, busiest shard)", age(a.IteratorAgeSeconds)+", "+age(a.HotShardIteratorAge), age(s.IteratorAgeSeconds)+", "+age(s.HotShardIteratorAge))
	row("kinesis $/month", usd(a.Breakdown.Kinesis), usd(s.Breakdown.Kinesis))
	row("lambda $/month", usd(a.Breakdown.Lambda), usd(s.Breakdown.Lambda))
	row("dynamodb $/month", usd(a.Breakdown.DynamoDB), usd(s.Breakdown.DynamoDB))
	row("cloudwatch $/month", usd(a.Breakdown.CloudWatch), usd(s.Breakdown.CloudWatch))
	row("sqs + s3 $/month", usd(a.Breakdown.SQSS3), usd(s.Breakdown.SQSS3))
	row("total $/month", usd(a.MonthlyCostUSD), usd(s.MonthlyCostUSD))
	row("$ per billion records", usd(a.CostPerBillionUSD), usd(s.CostPerBillionUSD))
	for _, d := range []Design{a, s} {
		fmt.Fprintf(&b, "\n%s — saturates first: %s\n", d.Design, d.SaturatesFirst)
		for _, l := range d.Limits {
			at := ""
			if l.BreaksAt > 0 {
				at = fmt.Sprintf(", reached at %.0f records/s", l.BreaksAt)
			}
			fmt.Fprintf(&b, "  %-46s %5.0f%%%s\n", l.Name, 100*l.Utilization, at)
		}
		for _, w := range d.Warnings {
			fmt.Fprintf(&b, "  ! %s\n", w)
		}
	}
	return b.String()
}
