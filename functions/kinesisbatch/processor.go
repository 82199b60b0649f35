package kinesisbatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/backoff"
	"github.com/streamproc/streamproc/internal/ctxsleep"
)

// Config configures a Processor. The zero value works: no quarantine (so
// permanent failures are reported, never dropped), JSON logs and EMF on
// stdout, the default retry policy.
type Config struct {
	// Quarantine stores permanently failed records.
	// Default: none; permanent failures are reported as batch item failures.
	Quarantine Quarantine
	// Classify decides what a record error means.
	// Default: DefaultClassify.
	Classify func(error) Class
	// Retry bounds retries of transient failures within an invocation.
	// Default: see RetryPolicy.
	Retry RetryPolicy
	// Logger receives the invocation summary and one line per failed or
	// quarantined record (at most MaxRecordLogs).
	// Default: NewLogger(os.Stdout).
	Logger *slog.Logger
	// MaxRecordLogs caps per-record log lines per invocation.
	// Default: 50.
	MaxRecordLogs int
	// MetricsNamespace is the EMF namespace.
	// Default: $STREAMPROC_METRICS_NAMESPACE, else "StreamProc".
	MetricsNamespace string
	// FunctionName is the value of the FunctionName dimension.
	// Default: $AWS_LAMBDA_FUNCTION_NAME.
	FunctionName string
	// MetricsOutput receives one EMF JSON line per invocation.
	// Default: os.Stdout.
	MetricsOutput io.Writer
	// DisableMetrics turns the EMF output off.
	// Default: false.
	DisableMetrics bool
	// Ordering holds records back after a failure so that records of one
	// partition key (or of the shard) are never applied out of order; see
	// Ordering's values.
	// Default: OrderNone (every record is tried; fastest).
	Ordering Ordering
	// DisableDeaggregation hands KPL aggregated records to the handler as
	// they are, instead of one Record per user record. Set it only if the
	// stream carries a binary format whose payloads may begin with the KPL
	// magic F3 89 9A C2 and no KPL producer writes to it.
	// Default: false (KPL records are deaggregated).
	DisableDeaggregation bool

	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	rand  func(n int64) int64
	// responseMargin is the package's responseMargin; tests scale it up.
	responseMargin time.Duration
}

// RetryPolicy bounds in-invocation retries of transient failures. Between
// attempts the Processor sleeps a random duration in [0, min(MaxDelay,
// BaseDelay*2^(attempt-1))] (full jitter) and starts another attempt only if
// the sleep plus the duration of the previous attempt fits before the
// handler deadline (the invocation deadline minus SafetyMargin).
type RetryPolicy struct {
	// MaxAttempts counts the first attempt; 1 disables retries.
	// Default: 5.
	MaxAttempts int
	// BaseDelay is the backoff before the second attempt.
	// Default: 100ms.
	BaseDelay time.Duration
	// MaxDelay caps one backoff.
	// Default: 2s.
	MaxDelay time.Duration
	// SafetyMargin is kept free before the invocation deadline for the
	// quarantine writes and the response; the handler's context ends this
	// much earlier than the invocation. The quarantine writes' context ends
	// 150ms before the invocation deadline, which is kept for the response.
	// Default: 10% of the time left when the invocation starts, between 200ms and 3s.
	SafetyMargin time.Duration
}

// Processor runs a BatchHandler over Kinesis events. It implements
// lambda.Handler; one Processor may serve concurrent invocations.
type Processor struct {
	h   BatchHandler
	cfg Config
	// dec serves one invocation at a time (Lambda's default) and keeps its
	// buffers and record template for good; concurrent invocations (Lambda
	// Managed Instances) take Decoders from the pool.
	dec      Decoder
	decBusy  atomic.Bool
	decoders sync.Pool
}

// New returns a Processor running h. cfg is copied; defaults are resolved on
// the copy.
func New(h BatchHandler, cfg Config) *Processor {
	if h == nil {
		panic("kinesisbatch: New with a nil BatchHandler")
	}
	if cfg.Classify == nil {
		cfg.Classify = DefaultClassify
	}
	if cfg.Retry.MaxAttempts <= 0 {
		cfg.Retry.MaxAttempts = 5
	}
	if cfg.Retry.BaseDelay <= 0 {
		cfg.Retry.BaseDelay = 100 * time.Millisecond
	}
	if cfg.Retry.MaxDelay <= 0 {
		cfg.Retry.MaxDelay = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = NewLogger(os.Stdout)
	}
	if cfg.MaxRecordLogs <= 0 {
		cfg.MaxRecordLogs = 50
	}
	if cfg.MetricsNamespace == "" {
		cfg.MetricsNamespace = os.Getenv(contract.EnvMetricsNamespace)
		if cfg.MetricsNamespace == "" {
			cfg.MetricsNamespace = contract.DefaultMetricsNamespace
		}
	}
	if cfg.FunctionName == "" {
		cfg.FunctionName = os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	}
	if cfg.MetricsOutput == nil {
		cfg.MetricsOutput = os.Stdout
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.sleep == nil {
		cfg.sleep = ctxsleep.Sleep
	}
	if cfg.rand == nil {
		cfg.rand = rand.Int64N
	}
	if cfg.responseMargin <= 0 {
		cfg.responseMargin = responseMargin
	}
	p := &Processor{h: h, cfg: cfg}
	p.decoders.New = func() any { return new(Decoder) }
	return p
}

// responseMargin is kept free after the quarantine writes, before the
// invocation deadline, to log, emit metrics and return the response.
const responseMargin = 150 * time.Millisecond

// quarantineContext bounds the quarantine writes to the invocation deadline
// minus margin (responseMargin outside tests): a slow quarantine (client
// retries, throttled SQS) then turns its records into batch item failures
// instead of timing out the invocation, which would fail and retry the whole
// batch. Without an invocation deadline (tests, local runs) ctx is used as is.
func quarantineContext(ctx context.Context, margin time.Duration) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, deadline.Add(-margin))
}

// Invoke implements lambda.Handler: it decodes the raw payload with a
// Decoder, processes the records and returns the JSON of
// events.KinesisEventResponse. It returns an error only if the payload is not
// a Kinesis event (malformed, or a record without a sequence number, or from
// another event source), so that Lambda retries the batch.
//
// The records' Data alias a buffer the next invocation reuses: a handler
// must not keep them, or hand them to goroutines that outlive it, without
// copying. Their strings may be kept.
func (p *Processor) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	start := p.cfg.now()
	var d *Decoder
	if p.decBusy.CompareAndSwap(false, true) {
		d = &p.dec
		defer p.decBusy.Store(false)
	} else {
		d = p.decoders.Get().(*Decoder)
		defer p.decoders.Put(d)
	}
	recs, err := d.Decode(payload)
	if err == nil {
		err = checkEnvelope(recs)
	}
	if err != nil {
		p.cfg.Logger.ErrorContext(ctx, "payload is not a Kinesis event", "error", err.Error(), "payloadBytes", len(payload))
		return nil, err
	}
	dg := &d.agg
	if !d.sawKPL {
		dg = nil // no record starts with the KPL magic: nothing to deaggregate
	}
	res := p.process(ctx, recs, dg, start)
	return json.Marshal(res.Response)
}

// checkEnvelope rejects events whose records cannot be reported.
func checkEnvelope(recs []Record) error {
	for i := range recs {
		r := &recs[i]
		if r.SequenceNumber == "" {
			return fmt.Errorf("kinesisbatch: record %d has no kinesis.sequenceNumber: not a Kinesis event", i)
		}
		if r.EventSource != "" && r.EventSource != "aws:kinesis" {
			return fmt.Errorf("kinesisbatch: record %d has eventSource %q: not a Kinesis event", i, r.EventSource)
		}
	}
	return nil
}

// HandleEvent processes an event decoded by encoding/json, for use with
// lambda.Start(p.HandleEvent) or in tests. Invoke is faster.
func (p *Processor) HandleEvent(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	start := p.cfg.now()
	recs := RecordsFromEvent(ev)
	if err := checkEnvelope(recs); err != nil {
		p.cfg.Logger.ErrorContext(ctx, "payload is not a Kinesis event", "error", err.Error())
		return events.KinesisEventResponse{}, err
	}
	return p.process(ctx, recs, new(Deaggregator), start).Response, nil
}

// Process runs the handler over records and returns the outcome. It sets
// each record's Index to its position in records. KPL aggregated records
// are deaggregated as Invoke does; the Failures then point into a new slice.
// It never fails as a whole.
func (p *Processor) Process(ctx context.Context, records []Record) Result {
	for i := range records {
		records[i].Index = i
	}
	return p.process(ctx, records, new(Deaggregator), p.cfg.now())
}

// Result is the outcome of processing one event.
type Result struct {
	// Response lists the failed records' sequence numbers in event order,
	// each once (never nil, so it marshals as an empty list on success).
	Response events.KinesisEventResponse
	// Counts, as emitted in the metrics. They count the records the handler
	// sees: the user records of KPL aggregated Kinesis records.
	Received, Succeeded, Quarantined, Retried, Failed int
	// Failures describes every record that did not succeed, in event order.
	Failures []Failure
	// Attempts is the number of handler attempts made.
	Attempts int
	// Duration is the wall time of the processing.
	Duration time.Duration
}

// Failure is a record that did not succeed and why.
type Failure struct {
	Record *Record
	Err    error
	Class  Class
	// Quarantined reports that the record was written to the quarantine and
	// acknowledged; otherwise it is in the batch item failures.
	Quarantined bool
	// Attempts is how many times the handler tried the record.
	Attempts int
}

var errNoQuarantine = errors.New("no quarantine configured")

// invocation is the state of one process call, shared by its steps.
type invocation struct {
	p     *Processor
	ctx   context.Context // the invocation's context, with the metrics
	start time.Time
	recs  []Record
	// errs is the last error per record (nil = success), attempts the
	// handler attempts per record; both indexed by Record.Index.
	errs     []error
	attempts []int32
	// qerrs holds, by Record.Index, why a permanent failure is not in the
	// quarantine.
	qerrs map[int]error
	m     *Metrics
	res   Result
}

// process runs the handler over recs: deaggregate the KPL records (unless
// dg is nil: the Decoder saw none), run the attempts, quarantine the permanent failures, report the outcome (response,
// logs), emit the metrics and the summary.
func (p *Processor) process(ctx context.Context, recs []Record, dg *Deaggregator, start time.Time) Result {
	var bad []error
	if dg != nil && !p.cfg.DisableDeaggregation {
		recs, bad = dg.Expand(recs)
	}
	m := NewMetrics()
	inv := &invocation{
		p: p, ctx: ContextWithMetrics(ctx, m), start: start, recs: recs, m: m,
		errs: make([]error, len(recs)), attempts: make([]int32, len(recs)),
		res: Result{Received: len(recs), Response: events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{}}},
	}
	m.Add(contract.MetricRecordsReceived, UnitCount, float64(len(recs)))
	// Records that could not be deaggregated fail before the handler.
	copy(inv.errs, bad)
	inv.runAttempts()
	inv.quarantine()
	inv.report()
	inv.emit()
	return inv.res
}

// classify is cfg.Classify, except that a record held back in ordered mode
// is always transient: it was not tried.
func (p *Processor) classify(err error) Class {
	if errors.Is(err, ErrHeldBack) {
		return ClassTransient
	}
	return p.cfg.Classify(err)
}

// handlerContext returns the context the handler runs under: it ends
// SafetyMargin before the invocation deadline, if there is one.
func (inv *invocation) handlerContext() (ctx context.Context, deadline time.Time, cancel context.CancelFunc) {
	deadline, ok := inv.ctx.Deadline()
	if !ok {
		return inv.ctx, time.Time{}, func() {}
	}
	margin := inv.p.cfg.Retry.SafetyMargin
	if margin <= 0 {
		margin = min(max(deadline.Sub(inv.start)/10, 200*time.Millisecond), 3*time.Second)
	}
	hdeadline := deadline.Add(-margin)
	ctx, cancel = context.WithDeadline(inv.ctx, hdeadline)
	return ctx, hdeadline, cancel
}

// runAttempts runs the handler on every record that has not failed yet,
// then again on the transient failures while the retry policy and the
// deadline allow, sleeping a jittered backoff between attempts.
func (inv *invocation) runAttempts() {
	cfg := &inv.p.cfg
	hctx, hdeadline, cancel := inv.handlerContext()
	defer cancel()
	pending := make([]*Record, 0, len(inv.recs)) // records of the next attempt
	for i := range inv.recs {
		if inv.errs[i] == nil {
			pending = append(pending, &inv.recs[i])
		}
	}
	b := &Batch{errs: make([]error, len(inv.recs)), order: cfg.Ordering, classify: inv.p.classify}
	for attempt := 1; len(pending) > 0; attempt++ {
		inv.res.Attempts = attempt
		if attempt > 1 {
			inv.res.Retried += len(pending)
		}
		b.reset(pending, attempt)
		began := cfg.now()
		inv.p.runAttempt(hctx, b)
		took := cfg.now().Sub(began)
		next := pending[:0]
		for _, r := range b.Records {
			inv.attempts[r.Index]++
			err := b.errs[r.Index]
			inv.errs[r.Index] = err
			if err != nil && inv.p.classify(err) == ClassTransient {
				next = append(next, r)
			}
		}
		pending = next
		if len(pending) == 0 || attempt >= cfg.Retry.MaxAttempts || hctx.Err() != nil {
			return
		}
		// Full jitter, drawn with cfg.rand so that tests can fix it.
		delay := time.Duration(cfg.rand(int64(backoff.Ceiling(attempt, cfg.Retry.BaseDelay, cfg.Retry.MaxDelay)) + 1))
		if !hdeadline.IsZero() && cfg.now().Add(delay+took).After(hdeadline) {
			return
		}
		if cfg.sleep(hctx, delay) != nil {
			return
		}
	}
}

// quarantine writes the permanent failures to the quarantine and keeps, in
// inv.qerrs, why the ones it did not accept are not there.
func (inv *invocation) quarantine() {
	cfg := &inv.p.cfg
	var toQuarantine []Failure
	for i := range inv.recs {
		if err := inv.errs[i]; err != nil && inv.p.classify(err) == ClassPermanent {
			toQuarantine = append(toQuarantine, Failure{Record: &inv.recs[i], Err: err, Class: ClassPermanent, Attempts: int(inv.attempts[i])})
		}
	}
	if len(toQuarantine) == 0 {
		return // inv.qerrs stays nil: a batch without permanent failures allocates no map
	}
	inv.qerrs = make(map[int]error, len(toQuarantine))
	var put []error
	if cfg.Quarantine != nil {
		qctx, cancel := quarantineContext(inv.ctx, cfg.responseMargin)
		put = cfg.Quarantine.Put(qctx, toQuarantine)
		cancel()
	}
	for k, f := range toQuarantine {
		var qerr error = errNoQuarantine
		if cfg.Quarantine != nil {
			qerr = nil
			if k < len(put) {
				qerr = put[k]
			} else {
				qerr = errors.New("quarantine returned no result")
			}
		}
		if qerr != nil {
			inv.qerrs[f.Record.Index] = qerr
		}
	}
}

// report counts the outcomes, builds the batch response and logs the failed
// and quarantined records (at most MaxRecordLogs). The response names each
// failed Kinesis sequence number once: the user records of a KPL aggregated
// record share theirs, and one failed user record fails them all.
func (inv *invocation) report() {
	cfg := &inv.p.cfg
	res := &inv.res
	logged := 0
	for i := range inv.recs {
		err := inv.errs[i]
		if err == nil {
			res.Succeeded++
			continue
		}
		r := &inv.recs[i]
		f := Failure{Record: r, Err: err, Class: inv.p.classify(err), Attempts: int(inv.attempts[i])}
		msg := "record failed"
		attrs := []any{"sequenceNumber", r.SequenceNumber, "partitionKey", r.PartitionKey, "class", f.Class.String(), "attempts", f.Attempts, "error", err.Error()}
		if r.Aggregated {
			attrs = append(attrs, "subSequenceNumber", r.SubSequenceNumber)
		}
		if f.Class == ClassPermanent {
			if qerr, bad := inv.qerrs[i]; bad {
				msg = "record not quarantined, reported as failed"
				attrs = append(attrs, "quarantineError", qerr.Error())
			} else {
				f.Quarantined = true
				msg = "record quarantined"
			}
		}
		if f.Quarantined {
			res.Quarantined++
		} else {
			res.Failed++
			items := res.Response.BatchItemFailures
			if n := len(items); n == 0 || items[n-1].ItemIdentifier != r.SequenceNumber {
				res.Response.BatchItemFailures = append(items, events.KinesisBatchItemFailure{ItemIdentifier: r.SequenceNumber})
			}
		}
		var pe *PanicError
		if errors.As(err, &pe) {
			attrs = append(attrs, "stack", string(pe.Stack))
		}
		res.Failures = append(res.Failures, f)
		if logged < cfg.MaxRecordLogs {
			logged++
			cfg.Logger.WarnContext(inv.ctx, msg, attrs...)
		}
	}
	if res.Failed+res.Quarantined > logged {
		cfg.Logger.WarnContext(inv.ctx, "more failed records not logged", "count", res.Failed+res.Quarantined-logged)
	}
	res.Duration = cfg.now().Sub(inv.start)
}

// emit writes the EMF metrics and logs the invocation summary.
func (inv *invocation) emit() {
	cfg := &inv.p.cfg
	res, m, ctx, recs := &inv.res, inv.m, inv.ctx, inv.recs
	m.Add(contract.MetricRecordsSucceeded, UnitCount, float64(res.Succeeded))
	m.Add(contract.MetricRecordsQuarantined, UnitCount, float64(res.Quarantined))
	m.Add(contract.MetricRecordsRetried, UnitCount, float64(res.Retried))
	m.Add(contract.MetricRecordsFailed, UnitCount, float64(res.Failed))
	m.Add(contract.MetricBatchDuration, UnitMilliseconds, float64(res.Duration.Microseconds())/1000)
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		m.SetProperty("requestId", lc.AwsRequestID)
	}
	if !cfg.DisableMetrics {
		if err := m.WriteEMF(cfg.MetricsOutput, cfg.MetricsNamespace, cfg.FunctionName, cfg.now()); err != nil {
			cfg.Logger.ErrorContext(ctx, "writing EMF metrics", "error", err.Error())
		}
	}
	summary := []any{
		"received", res.Received, "succeeded", res.Succeeded, "quarantined", res.Quarantined,
		"retried", res.Retried, "failed", res.Failed, "attempts", res.Attempts,
		"durationMs", float64(res.Duration.Microseconds()) / 1000,
	}
	if n := len(recs); n > 0 {
		summary = append(summary, "shardId", recs[0].ShardID(),
			"firstSequenceNumber", recs[0].SequenceNumber, "lastSequenceNumber", recs[n-1].SequenceNumber)
	}
	if res.Failed > 0 {
		summary = append(summary, "lowestFailedSequenceNumber", res.Response.BatchItemFailures[0].ItemIdentifier)
	}
	cfg.Logger.InfoContext(ctx, "batch processed", summary...)
}

// runAttempt calls the handler with panic isolation: a panic or a returned
// error fails every record of the attempt not failed already.
func (p *Processor) runAttempt(ctx context.Context, b *Batch) {
	err := func() (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = newPanicError(v)
			}
		}()
		return p.h.HandleBatch(ctx, b)
	}()
	if err != nil {
		for _, r := range b.Records {
			b.Fail(r, err)
		}
	}
}
