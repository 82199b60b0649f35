package streamprocessor

import (
	"math"

	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/constructs/streamprocessor/sizing"
)

// ExpectedLoad is the load a StreamProcessor must carry. With it, ShardCount
// and ParallelizationFactor left unset are sized for the peak, and synthesis
// fails when a value that is set (ShardCount, ParallelizationFactor with
// BatchSize, ReservedConcurrentExecutions) cannot carry it, naming the value
// to set. The formulas are those of `streamctl plan` (package sizing):
// shards filled to Utilization of 1,000 records/s and 1 MiB/s each; a
// ParallelizationFactor whose concurrent batches are at most 70 % busy at
// the peak with full batches. With an existing or on-demand stream the
// shard count is not the construct's: only the load's own values are
// checked. `streamctl plan` also prices the load and checks what this does
// not (DynamoDB, account quotas, hot keys).
type ExpectedLoad struct {
	// Average user records per second into the stream. Required.
	RecordsPerSecond *float64
	// The peak records per second the pipeline must keep up with.
	// Default: RecordsPerSecond.
	PeakRecordsPerSecond *float64
	// Bytes per user record.
	// Default: 1024.
	RecordBytes *float64
	// User records per Kinesis record when the producer aggregates (KPL).
	// Default: 1.
	RecordsPerKinesisRecord *float64
	// The function's time per record, milliseconds (measure it: the
	// function's Duration metric over the records per batch).
	// Default: 0.1.
	FunctionMillisPerRecord *float64
	// The function's fixed time per invocation, milliseconds.
	// Default: 50.
	FunctionMillisPerInvocation *float64
	// Share of each shard's write limits to fill at the peak (0 to 1).
	// Default: 0.8.
	Utilization *float64
}

// Defaults of ExpectedLoad.
const (
	DefaultExpectedRecordBytes          = 1024
	DefaultFunctionMillisPerRecord      = 0.1
	DefaultFunctionMillisPerInvocation  = 50
	DefaultExpectedLoadUtilization      = sizing.DefaultUtilization
	defaultRecordsPerKinesisRecordValue = 1
)

// load is an ExpectedLoad with its defaults applied, or ok false when it is
// unset, incomplete or holds unresolved tokens (nothing is sized or checked).
type load struct {
	avg, peak, bytes, agg, perRecord, perInvocation, util float64
}

func resolveLoad(e *ExpectedLoad) (load, bool) {
	if e == nil {
		return load{}, false
	}
	var c checker
	l := load{bytes: DefaultExpectedRecordBytes, agg: defaultRecordsPerKinesisRecordValue,
		perRecord: DefaultFunctionMillisPerRecord / 1000.0, perInvocation: DefaultFunctionMillisPerInvocation / 1000.0,
		util: DefaultExpectedLoadUtilization}
	var ok bool
	if l.avg, ok = c.num(e.RecordsPerSecond); !ok {
		return load{}, false
	}
	l.peak = l.avg
	set := func(p *float64, dst *float64, scale float64) bool {
		if p == nil {
			return true
		}
		v, known := c.num(p)
		if known {
			*dst = v * scale
		}
		return known
	}
	if !set(e.PeakRecordsPerSecond, &l.peak, 1) || !set(e.RecordBytes, &l.bytes, 1) || !set(e.RecordsPerKinesisRecord, &l.agg, 1) ||
		!set(e.FunctionMillisPerRecord, &l.perRecord, 1.0/1000) || !set(e.FunctionMillisPerInvocation, &l.perInvocation, 1.0/1000) ||
		!set(e.Utilization, &l.util, 1) {
		return load{}, false
	}
	return l, true
}

func (l load) valid() bool {
	return l.avg > 0 && l.peak >= l.avg && l.bytes >= 1 && l.agg >= 1 && l.perRecord >= 0 && l.perInvocation >= 0 &&
		l.util > 0 && l.util <= 1 && !math.IsInf(l.peak, 0)
}

// laneCapacity is the user records/s one concurrent batch carries with full
// batches of batchSize Kinesis records.
func (l load) laneCapacity(batchSize float64) float64 {
	n := batchSize * l.agg
	return sizing.LaneCapacity(n, l.perRecord, l.perInvocation)
}

// sizeForLoad fills ShardCount (new provisioned stream) and
// ParallelizationFactor when the user left them unset. It runs on the
// resolved copy, after the defaults.
func sizeForLoad(r *resolved) {
	p := &r.StreamProcessorProps
	l, ok := resolveLoad(p.ExpectedLoad)
	if !ok || !l.valid() {
		return
	}
	if r.newStream && !r.onDemand && !r.shardCountDeclared {
		n, _ := sizing.Shards(l.peak, l.bytes, l.agg, l.util)
		p.ShardCount = jsii.Number(float64(n))
	}
	var c checker
	shards, shardsKnown := c.num(p.ShardCount)
	batch, batchKnown := c.num(p.BatchSize)
	if !r.factorDeclared && r.newStream && !r.onDemand && shardsKnown && batchKnown && shards >= 1 && batch >= 1 {
		f, _ := sizing.Factor(l.peak, int(shards), func(int) float64 { return l.laneCapacity(batch) })
		p.ParallelizationFactor = jsii.Number(float64(f))
	}
}

// checkExpectedLoad: the load's own values, then whether the stream, the
// mapping and the reserved concurrency carry it.
func (v *checker) checkExpectedLoad(r *resolved) {
	p := &r.StreamProcessorProps
	e := p.ExpectedLoad
	if e == nil {
		return
	}
	if e.RecordsPerSecond == nil {
		v.addf("ExpectedLoad.RecordsPerSecond is not set: set the average records per second, or remove ExpectedLoad")
		return
	}
	l, ok := resolveLoad(e)
	if !ok {
		return // tokens: known at deploy time only
	}
	if !l.valid() {
		v.addf("ExpectedLoad (RecordsPerSecond %s, PeakRecordsPerSecond %s, RecordBytes %s, RecordsPerKinesisRecord %s, FunctionMillisPerRecord %s, FunctionMillisPerInvocation %s, Utilization %s) is invalid: use a positive rate, a peak at least the average, at least 1 byte and 1 record per Kinesis record, non-negative times and a utilization in (0, 1]",
			fmtNum(l.avg), fmtNum(l.peak), fmtNum(l.bytes), fmtNum(l.agg), fmtNum(l.perRecord*1000), fmtNum(l.perInvocation*1000), fmtNum(l.util))
		return
	}
	if !r.newStream || r.onDemand {
		return // the shard count is not ours to know
	}
	shards, ok := v.num(p.ShardCount)
	if !ok || shards < 1 {
		return
	}
	if cap := sizing.ShardCapacity(int(shards), l.bytes, l.agg, l.util); cap < l.peak {
		need, _ := sizing.Shards(l.peak, l.bytes, l.agg, l.util)
		v.addf("ShardCount %s carries %s records/s at %s%% of each shard's 1,000 records/s and 1 MiB/s, below ExpectedLoad's peak of %s records/s of %s bytes: set ShardCount to at least %d (or leave it unset to size it)",
			fmtNum(shards), fmtNum(math.Floor(cap)), fmtNum(100*l.util), fmtNum(l.peak), fmtNum(l.bytes), need)
	}
	factor, fk := v.num(p.ParallelizationFactor)
	batch, bk := v.num(p.BatchSize)
	if !fk || !bk || factor < 1 || batch < 1 {
		return
	}
	lanes := shards * factor
	perLane := l.peak / lanes
	if capLane := l.laneCapacity(batch); perLane > sizing.MaxBusy*capLane {
		f, fits := sizing.Factor(l.peak, int(shards), func(int) float64 { return capLane })
		fix := "set ParallelizationFactor to at least " + fmtNum(float64(f)) + " (or leave it unset to size it)"
		if !fits {
			need := math.Ceil(l.peak / (sizing.MaxBusy * capLane * sizing.MaxFactor))
			fix = "ParallelizationFactor 10 is not enough either: raise BatchSize (up to " + fmtNum(float64(sizing.MaxBatch(sizing.KinesisRecordBytes(l.bytes, l.agg)))) +
				" records fit a 6 MB invocation) or ShardCount to at least " + fmtNum(need)
		}
		v.addf("ParallelizationFactor %s with BatchSize %s carries %s records/s (%s concurrent batches of at most %s records/s each at %s%% busy, from FunctionMillisPerRecord %s and FunctionMillisPerInvocation %s), below ExpectedLoad's peak of %s: %s",
			fmtNum(factor), fmtNum(batch), fmtNum(math.Floor(sizing.MaxBusy*capLane*lanes)), fmtNum(lanes), fmtNum(math.Floor(sizing.MaxBusy*capLane)), fmtNum(sizing.MaxBusy*100),
			fmtNum(l.perRecord*1000), fmtNum(l.perInvocation*1000), fmtNum(l.peak), fix)
	}
	// A ReservedConcurrentExecutions below ShardCount x ParallelizationFactor
	// (sized or set) is reported by checkConcurrency with the value to set.
}
