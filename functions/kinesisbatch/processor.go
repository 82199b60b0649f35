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
	res := p.process(ctx, recs, start)
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
	return p.process(ctx, recs, start).Response, nil
}

// Process runs the handler over records (Index must be each record's
// position in records) and returns the outcome. It never fails as a whole.
func (p *Processor) Process(ctx context.Context, records []Record) Result {
	for i := range records {
		records[i].Index = i
	}
	return p.process(ctx, records, p.cfg.now())
}

// Result is the outcome of processing one event.
type Result struct {
	// Response lists the failed records' sequence numbers in event order
	// (never nil, so it marshals as an empty list on success).
	Response events.KinesisEventResponse
	// Counts, as emitted in the metrics.
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

func (p *Processor) process(ctx context.Context, recs []Record, start time.Time) Result {
	cfg := &p.cfg
	m := NewMetrics()
	ctx = ContextWithMetrics(ctx, m)
	n := len(recs)
	res := Result{Received: n, Response: events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{}}}
	m.Add(contract.MetricRecordsReceived, UnitCount, float64(n))

	hctx := ctx
	deadline, hasDeadline := ctx.Deadline()
	var hdeadline time.Time
	if hasDeadline {
		margin := cfg.Retry.SafetyMargin
		if margin <= 0 {
			margin = min(max(deadline.Sub(start)/10, 200*time.Millisecond), 3*time.Second)
		}
		hdeadline = deadline.Add(-margin)
		var cancel context.CancelFunc
		hctx, cancel = context.WithDeadline(ctx, hdeadline)
		defer cancel()
	}

	errs := make([]error, n)      // last error per record, nil = success
	attempts := make([]int32, n)  // attempts per record
	pending := make([]*Record, n) // records of the next attempt
	for i := range recs {
		pending[i] = &recs[i]
	}
	b := &Batch{errs: make([]error, n)}
	for attempt := 1; len(pending) > 0; attempt++ {
		res.Attempts = attempt
		if attempt > 1 {
			res.Retried += len(pending)
		}
		clear(b.errs)
		b.Records, b.Attempt = pending, attempt
		began := cfg.now()
		p.runAttempt(hctx, b)
		took := cfg.now().Sub(began)
		next := pending[:0]
		for _, r := range b.Records {
			attempts[r.Index]++
			err := b.errs[r.Index]
			errs[r.Index] = err
			if err != nil && cfg.Classify(err) == ClassTransient {
				next = append(next, r)
			}
		}
		pending = next
		if len(pending) == 0 || attempt >= cfg.Retry.MaxAttempts || hctx.Err() != nil {
			break
		}
		// Full jitter, drawn with cfg.rand so that tests can fix it.
		delay := time.Duration(cfg.rand(int64(backoff.Ceiling(attempt, cfg.Retry.BaseDelay, cfg.Retry.MaxDelay)) + 1))
		if hasDeadline && cfg.now().Add(delay+took).After(hdeadline) {
			break
		}
		if cfg.sleep(hctx, delay) != nil {
			break
		}
	}

	// Permanent failures go to the quarantine.
	var toQuarantine []Failure
	for i := range recs {
		if err := errs[i]; err != nil && cfg.Classify(err) == ClassPermanent {
			toQuarantine = append(toQuarantine, Failure{Record: &recs[i], Err: err, Class: ClassPermanent, Attempts: int(attempts[i])})
		}
	}
	qerrs := make(map[int]error, len(toQuarantine))
	if len(toQuarantine) > 0 {
		var put []error
		if cfg.Quarantine != nil {
			qctx, cancel := quarantineContext(ctx, cfg.responseMargin)
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
				qerrs[f.Record.Index] = qerr
			}
		}
	}

	logged := 0
	for i := range recs {
		err := errs[i]
		if err == nil {
			res.Succeeded++
			continue
		}
		r := &recs[i]
		f := Failure{Record: r, Err: err, Class: cfg.Classify(err), Attempts: int(attempts[i])}
		msg := "record failed"
		attrs := []any{"sequenceNumber", r.SequenceNumber, "partitionKey", r.PartitionKey, "class", f.Class.String(), "attempts", f.Attempts, "error", err.Error()}
		if f.Class == ClassPermanent {
			if qerr, bad := qerrs[i]; bad {
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
			res.Response.BatchItemFailures = append(res.Response.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: r.SequenceNumber})
		}
		var pe *PanicError
		if errors.As(err, &pe) {
			attrs = append(attrs, "stack", string(pe.Stack))
		}
		res.Failures = append(res.Failures, f)
		if logged < cfg.MaxRecordLogs {
			logged++
			cfg.Logger.WarnContext(ctx, msg, attrs...)
		}
	}
	if res.Failed+res.Quarantined > logged {
		cfg.Logger.WarnContext(ctx, "more failed records not logged", "count", res.Failed+res.Quarantined-logged)
	}
	res.Duration = cfg.now().Sub(start)

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
	if n > 0 {
		summary = append(summary, "shardId", recs[0].ShardID(),
			"firstSequenceNumber", recs[0].SequenceNumber, "lastSequenceNumber", recs[n-1].SequenceNumber)
	}
	if res.Failed > 0 {
		summary = append(summary, "lowestFailedSequenceNumber", res.Response.BatchItemFailures[0].ItemIdentifier)
	}
	cfg.Logger.InfoContext(ctx, "batch processed", summary...)
	return res
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
