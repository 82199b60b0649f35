// Package producer sends records to a Kinesis data stream with PutRecords,
// fast and honestly: batches within the API limits, per-record failures
// (throttling) retried with exponential backoff and full jitter until sent or
// a clear error, and a count of every record whose fate is uncertain.
//
// It also has the load generator behind `streamctl put` (Generator), which the
// end-to-end tests reuse: seeded, deterministic sensor readings with known
// event ids and chosen fractions of out-of-order, duplicate and invalid
// records, so a test can compute the expected aggregates on its own.
//
// # Exactly what is retried
//
// PutRecords answers per record. A record with an ErrorCode was not written,
// so re-sending it cannot duplicate it: those are retried (throttling and
// internal failures) or failed at once (anything else). When the whole call
// fails, a 4xx answer (throttling, limit exceeded) means nothing was written
// and everything is retried; a 5xx answer, a timeout or a broken connection
// after the request was sent is ambiguous — some records may be in the
// stream — so they are retried and counted in Stats.Ambiguous: those, and only
// those, may appear twice. The SDK's own retryer is switched off for PutRecords
// so that no retry happens without being counted.
package producer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/streamproc/streamproc/internal/ctxsleep"
)

// Kinesis API limits for PutRecords.
const (
	MaxBatchRecords = 500
	MaxBatchBytes   = 5 << 20 // 5 MiB per request, data plus partition keys
	MaxRecordBytes  = 1 << 20 // 1 MiB per record, data plus partition key (a stream's default MaxRecordSizeInKiB)
	// MaxRecordBytesLimit is the largest record a stream can be set to take
	// (MaxRecordSizeInKiB 10240); PutRecords then takes 10 MiB per request.
	MaxRecordBytesLimit = 10 << 20
	MaxPartitionKeyLen  = 256
)

// Entry is one record to put.
type Entry struct {
	PartitionKey string
	Data         []byte

	// packed is the number of user records a KPL aggregated entry carries
	// (see aggregate.go); 0 for a plain entry.
	packed int64
}

// users is the number of records of the source e stands for.
func (e Entry) users() int64 { return max(e.packed, 1) }

func users(es []Entry) int64 {
	var n int64
	for _, e := range es {
		n += e.users()
	}
	return n
}

func (e Entry) size() int { return len(e.Data) + len(e.PartitionKey) }

// check validates e against the per-record limits; maxBytes is the
// stream's record size limit.
func (e Entry) check(maxBytes int) error {
	if n := utf8.RuneCountInString(e.PartitionKey); n < 1 || n > MaxPartitionKeyLen {
		return fmt.Errorf("partition key %q has %d characters: it must have 1 to %d", truncate(e.PartitionKey, 40), n, MaxPartitionKeyLen)
	}
	if e.size() > maxBytes {
		return fmt.Errorf("record of %d bytes (data plus partition key) is over the stream's %d KiB (%s) record limit (MaxRecordSizeInKiB)", e.size(), maxBytes>>10, mib(maxBytes))
	}
	return nil
}

// Source yields the entries to send. Next returns io.EOF after the last one.
// Run calls Next from one goroutine.
type Source interface {
	Next() (Entry, error)
}

// API is the part of the Kinesis client the producer uses.
type API interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// Config configures a Producer. Zero values mean the defaults.
type Config struct {
	// Stream is the stream name or ARN.
	Stream string
	// Count stops after this many records have been taken from the source.
	// Default: 0 (until the source ends)
	Count int64
	// Duration stops taking records after this long.
	// Default: 0 (until the source ends)
	Duration time.Duration
	// Rate paces the source to this many records per second.
	// Default: 0 (as fast as the stream accepts)
	Rate float64
	// Concurrency is the number of PutRecords calls in flight.
	// Default: 4
	Concurrency int
	// MaxBatchRecords and MaxBatchBytes bound one PutRecords call (a record
	// larger than MaxBatchBytes goes alone).
	// Default: 500 records, 5 MiB (the API limits)
	MaxBatchRecords, MaxBatchBytes int
	// MaxRecordBytes is the stream's record size limit (MaxRecordSizeInKiB
	// x 1024, up to MaxRecordBytesLimit); larger records are rejected before
	// sending.
	// Default: MaxRecordBytes (1 MiB, a stream's default)
	MaxRecordBytes int
	// Linger is the longest a record waits for its batch to fill.
	// Default: 100ms
	Linger time.Duration
	// RetryBase and RetryMax shape the backoff: attempt n sleeps a random
	// time in [0, min(RetryMax, RetryBase*2^n)) ("full jitter").
	// Default: 50ms and 5s
	RetryBase, RetryMax time.Duration
	// RetryTimeout gives up on records still failing this long after their
	// first failure; they are counted as failed.
	// Default: 2m
	RetryTimeout time.Duration
	// DrainTimeout is how long in-flight batches may take to finish after the
	// context is cancelled, before they are abandoned.
	// Default: 10s
	DrainTimeout time.Duration
	// Aggregate packs up to this many records into one Kinesis record with
	// the KPL aggregation format (see aggregate.go); 0 or 1 sends every
	// record as its own Kinesis record. Count, Rate and the Stats count the
	// records of the source, except KinesisRecords.
	// Default: 0 (no aggregation)
	Aggregate int
}

func (c Config) withDefaults() Config {
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.MaxBatchRecords <= 0 || c.MaxBatchRecords > MaxBatchRecords {
		c.MaxBatchRecords = MaxBatchRecords
	}
	if c.MaxBatchBytes <= 0 || c.MaxBatchBytes > MaxBatchBytes {
		c.MaxBatchBytes = MaxBatchBytes
	}
	if c.MaxRecordBytes <= 0 {
		c.MaxRecordBytes = MaxRecordBytes
	}
	c.MaxRecordBytes = min(c.MaxRecordBytes, MaxRecordBytesLimit)
	if c.Linger <= 0 {
		c.Linger = 100 * time.Millisecond
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 50 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 5 * time.Second
	}
	if c.RetryTimeout <= 0 {
		c.RetryTimeout = 2 * time.Minute
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Second
	}
	return c
}

// Stats are running totals. Every record taken from the source ends in
// exactly one of Sent and Failed; until then it is in flight.
type Stats struct {
	Read             int64 // taken from the source
	Sent             int64 // acknowledged by Kinesis (each counted once)
	Failed           int64 // given up: rejected locally, a non-retryable error, retries exhausted, or interrupted
	Retried          int64 // record re-sends (a record retried three times counts three)
	Ambiguous        int64 // record re-sends after an ambiguous answer: these may be duplicates in the stream
	ThrottledRecords int64 // per-record ProvisionedThroughputExceeded answers
	ThrottledCalls   int64 // calls with any throttling (per record or the whole call)
	Calls            int64 // PutRecords calls made
	Bytes            int64 // data plus partition key bytes acknowledged
	// KinesisRecords is the Kinesis records acknowledged: Sent without
	// aggregation, fewer with Config.Aggregate.
	KinesisRecords int64
}

// InFlight is the number of records taken but neither sent nor failed yet.
func (s Stats) InFlight() int64 { return s.Read - s.Sent - s.Failed }

// Report is the outcome of Run.
type Report struct {
	Stats
	Elapsed       time.Duration
	RecordsPerSec float64
	MBPerSec      float64          // 10^6 bytes per second of acknowledged data
	PerShard      map[string]int64 // records acknowledged per shard id
	Errors        []string         // the first distinct failure reasons, at most 10
	Interrupted   bool             // the context ended before the source did
}

// Producer sends entries with PutRecords. Use one per Run.
type Producer struct {
	api API
	cfg Config

	read, sent, failed, retried, ambiguous      atomic.Int64
	throttledRecords, throttledCalls, calls, by atomic.Int64
	kinesisRecords                              atomic.Int64

	mu       sync.Mutex
	perShard map[string]int64
	errs     []string
	fatal    error
	stop     context.CancelFunc
	sleep    func(context.Context, time.Duration) error
	jitter   func(int64) int64
}

// New returns a producer that sends through api.
func New(api API, cfg Config) *Producer {
	return &Producer{api: api, cfg: cfg.withDefaults(), perShard: map[string]int64{}, sleep: ctxsleep.Sleep, jitter: rand.Int64N}
}

// Stats returns the running totals; safe to call while Run runs.
func (p *Producer) Stats() Stats {
	return Stats{
		Read: p.read.Load(), Sent: p.sent.Load(), Failed: p.failed.Load(), Retried: p.retried.Load(),
		Ambiguous: p.ambiguous.Load(), ThrottledRecords: p.throttledRecords.Load(), ThrottledCalls: p.throttledCalls.Load(),
		Calls: p.calls.Load(), Bytes: p.by.Load(), KinesisRecords: p.kinesisRecords.Load(),
	}
}

// Run takes entries from src (within Count and Duration, paced to Rate),
// sends them, and returns when every entry taken is sent or failed. It
// returns an error when the run could not go on (a non-retryable error such as
// a missing stream, or the source failing); records that failed individually
// are in the report, not the error. Cancelling ctx stops taking records;
// batches already formed get DrainTimeout to finish.
func (p *Producer) Run(ctx context.Context, src Source) (Report, error) {
	start := time.Now()
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	p.stop = stopReading

	// Sends outlive ctx by DrainTimeout, so a Ctrl-C does not cut requests
	// in half (which would make their records ambiguous).
	sendCtx, cancelSend := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSend()
	go func() {
		select {
		case <-ctx.Done():
			t := time.NewTimer(p.cfg.DrainTimeout)
			defer t.Stop()
			select {
			case <-t.C:
				cancelSend()
			case <-sendCtx.Done():
			}
		case <-sendCtx.Done():
		}
	}()

	entries := make(chan Entry, 4*p.cfg.MaxBatchRecords)
	var srcErr error
	go func() {
		defer close(entries)
		srcErr = p.readSource(readCtx, src, start, entries)
	}()

	batches := make(chan []Entry, p.cfg.Concurrency)
	var wg sync.WaitGroup
	for range p.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				p.send(sendCtx, b)
			}
		}()
	}
	var toBatch <-chan Entry = entries
	if p.cfg.Aggregate > 1 {
		toBatch = p.aggregate(entries)
	}
	p.batch(readCtx, toBatch, batches)
	close(batches)
	wg.Wait()
	cancelSend()

	elapsed := time.Since(start)
	rep := Report{Stats: p.Stats(), Elapsed: elapsed, Interrupted: ctx.Err() != nil}
	if secs := elapsed.Seconds(); secs > 0 {
		rep.RecordsPerSec = float64(rep.Sent) / secs
		rep.MBPerSec = float64(rep.Bytes) / 1e6 / secs
	}
	p.mu.Lock()
	rep.PerShard = p.perShard
	rep.Errors = append([]string(nil), p.errs...)
	fatal := p.fatal
	p.mu.Unlock()
	if fatal != nil {
		return rep, fatal
	}
	if srcErr != nil {
		return rep, srcErr
	}
	return rep, nil
}

// readSource moves entries from src to out, enforcing Count, Duration and Rate.
func (p *Producer) readSource(ctx context.Context, src Source, start time.Time, out chan<- Entry) error {
	var deadline time.Time
	if p.cfg.Duration > 0 {
		deadline = start.Add(p.cfg.Duration)
	}
	var n int64
	for {
		if p.cfg.Count > 0 && n >= p.cfg.Count {
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if p.cfg.Rate > 0 {
			due := start.Add(time.Duration(float64(n) / p.cfg.Rate * float64(time.Second)))
			if !deadline.IsZero() && !due.Before(deadline) {
				return nil
			}
			if d := time.Until(due); d > 0 {
				if p.sleep(ctx, d) != nil {
					return nil
				}
			}
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return nil
		}
		e, err := src.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading records: %w", err)
		}
		n++
		p.read.Add(1)
		if err := e.check(p.cfg.MaxRecordBytes); err != nil {
			p.fail(1, "rejected before sending: "+err.Error())
			continue
		}
		select {
		case out <- e:
		case <-ctx.Done():
			p.fail(1, "interrupted before sending")
			return nil
		}
	}
}

// batch groups entries into PutRecords batches: full (records or bytes) or
// after Linger, whichever comes first. Once ctx ends it waits only briefly
// for the source to finish: a source blocked on an idle pipe is abandoned.
func (p *Producer) batch(ctx context.Context, in <-chan Entry, out chan<- []Entry) {
	var cur []Entry
	size := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	done := ctx.Done()
	var grace <-chan time.Time
	flush := func() {
		if len(cur) > 0 {
			out <- cur
			cur, size = nil, 0
		}
		timer.Stop()
	}
	for {
		select {
		case e, ok := <-in:
			if !ok {
				flush()
				return
			}
			if len(cur) == p.cfg.MaxBatchRecords || size+e.size() > p.cfg.MaxBatchBytes {
				flush()
			}
			if len(cur) == 0 {
				cur = make([]Entry, 0, min(p.cfg.MaxBatchRecords, 64+len(in)))
				timer.Reset(p.cfg.Linger)
			}
			cur = append(cur, e)
			size += e.size()
		case <-timer.C:
			flush()
		case <-done:
			done = nil
			grace = time.After(200 * time.Millisecond)
		case <-grace:
			flush()
			return
		}
	}
}

// errClass says what a failed PutRecords call means for its records.
type errClass int

const (
	notWritten errClass = iota // definitely not written (4xx, connection refused): retry
	throttled                  // not written because of throttling: retry
	ambiguous                  // may have been written: retry, count as ambiguous
	fatal                      // retrying cannot help: stop the run
)

var throttleCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"LimitExceededException":                 true,
	"ThrottlingException":                    true,
	"KMSThrottlingException":                 true,
	"RequestLimitExceeded":                   true,
}

var retryableRecordCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"InternalFailure":                        true,
	"ServiceUnavailable":                     true,
	"KMSThrottlingException":                 true,
}

func classify(err error) errClass {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if throttleCodes[ae.ErrorCode()] {
			return throttled
		}
		if ae.ErrorCode() == "ResourceInUseException" { // stream updating: it will come back
			return notWritten
		}
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		if s := re.HTTPStatusCode(); s >= 500 {
			return ambiguous
		} else if s >= 400 {
			return fatal
		}
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return notWritten
	}
	if ae != nil && ae.ErrorFault() == smithy.FaultClient {
		return fatal
	}
	return ambiguous
}

// send puts one batch until every record is sent or failed.
func (p *Producer) send(ctx context.Context, batch []Entry) {
	pending := batch
	var firstFailure time.Time
	lastErr := ""
	for attempt := 0; len(pending) > 0; attempt++ {
		if ctx.Err() != nil || p.stopped() {
			p.fail(users(pending), "not sent: the run was stopped ("+orDefault(lastErr, "interrupted")+")")
			return
		}
		in := &kinesis.PutRecordsInput{Records: make([]types.PutRecordsRequestEntry, len(pending))}
		if isARN(p.cfg.Stream) {
			in.StreamARN = aws.String(p.cfg.Stream)
		} else {
			in.StreamName = aws.String(p.cfg.Stream)
		}
		for i, e := range pending {
			in.Records[i] = types.PutRecordsRequestEntry{Data: e.Data, PartitionKey: aws.String(e.PartitionKey)}
		}
		p.calls.Add(1)
		out, err := p.api.PutRecords(ctx, in, func(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} })
		switch {
		case err != nil:
			lastErr = err.Error()
			switch classify(err) {
			case fatal:
				p.fail(users(pending), err.Error())
				p.setFatal(fmt.Errorf("PutRecords to %s: %w", p.cfg.Stream, err))
				return
			case throttled:
				p.throttledCalls.Add(1)
			case ambiguous:
				if ctx.Err() != nil {
					p.fail(users(pending), "interrupted while sending: these records may or may not be in the stream")
					p.ambiguous.Add(users(pending))
					return
				}
				p.ambiguous.Add(users(pending))
			}
		case len(out.Records) != len(pending):
			lastErr = fmt.Sprintf("PutRecords answered %d results for %d records", len(out.Records), len(pending))
			p.ambiguous.Add(users(pending))
		default:
			var next []Entry
			anyThrottled := false
			for i, r := range out.Records {
				e := pending[i]
				if r.ErrorCode == nil {
					p.sent.Add(e.users())
					p.kinesisRecords.Add(1)
					p.by.Add(int64(e.size()))
					p.countShard(aws.ToString(r.ShardId), e.users())
					continue
				}
				code := aws.ToString(r.ErrorCode)
				lastErr = code + ": " + aws.ToString(r.ErrorMessage)
				if code == "ProvisionedThroughputExceededException" {
					p.throttledRecords.Add(1)
					anyThrottled = true
				}
				if retryableRecordCodes[code] {
					next = append(next, e)
				} else {
					p.fail(e.users(), lastErr)
				}
			}
			if anyThrottled {
				p.throttledCalls.Add(1)
			}
			pending = next
		}
		if len(pending) == 0 {
			return
		}
		if firstFailure.IsZero() {
			firstFailure = time.Now()
		} else if time.Since(firstFailure) > p.cfg.RetryTimeout {
			p.fail(users(pending), fmt.Sprintf("gave up after retrying for %s: %s", p.cfg.RetryTimeout, lastErr))
			return
		}
		p.retried.Add(users(pending))
		if err := p.sleep(ctx, p.backoff(attempt)); err != nil {
			p.fail(users(pending), "interrupted while waiting to retry: "+lastErr)
			return
		}
	}
}

func (p *Producer) backoff(attempt int) time.Duration {
	ceil := p.cfg.RetryMax
	if attempt < 30 {
		if d := p.cfg.RetryBase << attempt; d > 0 && d < ceil {
			ceil = d
		}
	}
	return time.Duration(p.jitter(int64(ceil)))
}

func (p *Producer) countShard(id string, n int64) {
	p.mu.Lock()
	p.perShard[id] += n
	p.mu.Unlock()
}

func (p *Producer) fail(n int64, reason string) {
	p.failed.Add(n)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs) >= 10 {
		return
	}
	for _, e := range p.errs {
		if e == reason {
			return
		}
	}
	p.errs = append(p.errs, reason)
}

func (p *Producer) setFatal(err error) {
	p.mu.Lock()
	if p.fatal == nil {
		p.fatal = err
	}
	p.mu.Unlock()
	p.stop()
}

func (p *Producer) stopped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fatal != nil
}

func isARN(s string) bool { return len(s) > 4 && s[:4] == "arn:" }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// SortedShards returns the shard ids of a PerShard map in order.
func SortedShards(m map[string]int64) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// mib writes a byte count as whole or fractional MiB ("1 MiB", "4.5 MiB").
func mib(n int) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', -1, 64) + " MiB"
}
