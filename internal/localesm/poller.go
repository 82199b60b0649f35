package localesm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc/internal/ctxsleep"
)

// KinesisAPI is the part of the Kinesis API the poller uses.
type KinesisAPI interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

// Options are the poller's collaborators.
type Options struct {
	Kinesis KinesisAPI
	Invoker Invoker
	// Destination receives on-failure messages; nil drops discarded records
	// (counted), as a mapping without DestinationConfig does.
	Destination Destination
	// Logger receives one line per decision at debug level and problems at
	// warn level. Default: discard.
	Logger *slog.Logger
	// Now is the clock (tests). Default: time.Now.
	Now func() time.Time
}

// Poller is a local Lambda event source mapping for one Kinesis stream.
type Poller struct {
	cfg               Config
	kin               KinesisAPI
	inv               Invoker
	dest              Destination
	filters           filterSet
	log               *slog.Logger
	now               func() time.Time
	invokeIdentityARN string

	c        counters
	mu       sync.Mutex
	shards   []*shardState
	started  atomic.Bool
	backoffs []time.Duration
}

type shardState struct {
	id      string
	parents []string // parent and adjacent parent, read to their end first
	// initial: open or closed when the poller started (read from the
	// mapping's starting position); shards that appear later are children of
	// a reshard and are read from their start.
	initial  bool
	caughtUp atomic.Bool
	ended    atomic.Bool // the shard is closed and was read to its end
	// caughtUpAt is when (Unix ns) the latest GetRecords that reached the
	// shard's latest record started: every record that arrived before it
	// has been read and handed to the shard's batches.
	caughtUpAt atomic.Int64
	done       chan struct{} // closed when ended and every record of it settled
}

// New checks cfg and returns a poller; Run starts it.
func New(cfg Config, opts Options) (*Poller, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Kinesis == nil || opts.Invoker == nil {
		return nil, errors.New("localesm: Options.Kinesis and Options.Invoker are required")
	}
	fs, err := compileFilters(cfg.Filters)
	if err != nil {
		return nil, err
	}
	p := &Poller{
		cfg: cfg, kin: opts.Kinesis, inv: opts.Invoker, dest: opts.Destination, filters: fs,
		log: opts.Logger, now: opts.Now,
		invokeIdentityARN: "arn:aws:iam::000000000000:role/local-event-source-mapping",
		backoffs:          []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second},
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p, nil
}

// Config returns the effective configuration (defaults applied).
func (p *Poller) Config() Config { return p.cfg }

// Stats returns a snapshot of the counters.
func (p *Poller) Stats() Stats { return p.c.snapshot() }

// Run polls the stream until ctx ends, one reader per shard and
// ParallelizationFactor concurrent batches per shard. It follows resharding
// as Lambda does: it lists the shards again every ReshardInterval, and a
// child shard is read only after its parents have been read to their end
// and every record of them settled. It returns nil when ctx was cancelled,
// or the error that stopped it.
func (p *Poller) Run(ctx context.Context) error {
	list, err := p.listShards(ctx)
	if err != nil {
		return err
	}
	open := 0
	for _, s := range list {
		if s.SequenceNumberRange == nil || s.SequenceNumberRange.EndingSequenceNumber == nil {
			open++
		}
	}
	if open == 0 {
		return fmt.Errorf("localesm: stream %s has no open shards", p.cfg.StreamName)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	known := map[string]bool{}
	start := func(s types.Shard, initial bool) {
		id := aws.ToString(s.ShardId)
		if known[id] {
			return
		}
		known[id] = true
		sh := &shardState{id: id, initial: initial, done: make(chan struct{})}
		for _, parent := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if parent != nil {
				sh.parents = append(sh.parents, *parent)
			}
		}
		p.mu.Lock()
		p.shards = append(p.shards, sh)
		p.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.runShard(ctx, sh); err != nil && ctx.Err() == nil {
				select {
				case errc <- err:
				default:
				}
				cancel()
			}
		}()
	}
	for _, s := range list {
		start(s, true)
	}
	p.started.Store(true)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(p.cfg.ReshardInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			list, err := p.listShards(ctx)
			if err != nil {
				if ctx.Err() == nil {
					p.log.Warn("ListShards failed; resharding is checked again later", "err", err)
				}
				continue
			}
			for _, s := range list {
				start(s, false)
			}
		}
	}()
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

func (p *Poller) listShards(ctx context.Context) ([]types.Shard, error) {
	var shards []types.Shard
	var next *string
	for {
		in := &kinesis.ListShardsInput{}
		if next != nil {
			in.NextToken = next
		} else {
			in.StreamName = aws.String(p.cfg.StreamName)
		}
		out, err := p.kin.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("localesm: list shards of %s: %w", p.cfg.StreamName, err)
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			return shards, nil
		}
		next = out.NextToken
	}
}

func (p *Poller) shardDone(id string) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, sh := range p.shards {
		if sh.id == id {
			return sh.done
		}
	}
	return nil // not listed (expired): nothing to wait for
}

// runShard waits for the shard's parents, then reads it with its
// concurrent batches until it ends (closed and drained) or ctx ends.
func (p *Poller) runShard(ctx context.Context, sh *shardState) error {
	for _, parent := range sh.parents {
		if d := p.shardDone(parent); d != nil {
			select {
			case <-d:
			case <-ctx.Done():
				return nil
			}
		}
	}
	parts := make([]chan []*Record, p.cfg.ParallelizationFactor)
	var lanes sync.WaitGroup
	for i := range parts {
		parts[i] = make(chan []*Record, 4)
		lanes.Add(1)
		go func(ch chan []*Record) {
			defer lanes.Done()
			if p.cfg.TumblingWindow > 0 {
				p.runWindowed(ctx, sh, ch) // one partition: validated
				return
			}
			p.runPartition(ctx, ch)
		}(parts[i])
	}
	err := p.readShard(ctx, sh, parts)
	for _, ch := range parts {
		close(ch)
	}
	lanes.Wait()
	if sh.ended.Load() && ctx.Err() == nil {
		p.log.Debug("shard read to its end and settled", "shard", sh.id)
		close(sh.done)
	}
	return err
}

// Idle reports whether every shard has been read to its end, every record
// read has been acknowledged or discarded, and (with tumbling windows) every
// window was closed by its final invocation.
func (p *Poller) Idle() bool {
	if !p.started.Load() || p.c.pending.Load() != 0 || p.c.openWindows.Load() != 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, sh := range p.shards {
		if !sh.caughtUp.Load() {
			return false
		}
	}
	return true
}

// WaitIdle waits until the poller has been Idle, with nothing new read, for
// quiet (use at least two poll intervals).
func (p *Poller) WaitIdle(ctx context.Context, quiet time.Duration) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var since time.Time
	var polled int64 = -1
	for {
		s := p.c.polled.Load()
		if p.Idle() && s == polled {
			if since.IsZero() {
				since = time.Now()
			} else if time.Since(since) >= quiet {
				return nil
			}
		} else {
			since = time.Time{}
		}
		polled = s
		select {
		case <-ctx.Done():
			return fmt.Errorf("localesm: not idle (%+v): %w", p.Stats(), ctx.Err())
		case <-tick.C:
		}
	}
}

func (p *Poller) iterator(ctx context.Context, sh *shardState, afterSeq string) (*string, error) {
	shardID := sh.id
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(p.cfg.StreamName), ShardId: aws.String(shardID)}
	switch {
	case afterSeq != "":
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = aws.String(afterSeq)
	case !sh.initial:
		// A child of a reshard is read from its start, whatever the
		// mapping's starting position.
		in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
	case p.cfg.StartingPosition == Latest:
		in.ShardIteratorType = types.ShardIteratorTypeLatest
	case p.cfg.StartingPosition == AtTimestamp:
		in.ShardIteratorType = types.ShardIteratorTypeAtTimestamp
		in.Timestamp = aws.Time(p.cfg.StartingPositionTimestamp)
	default:
		in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
	}
	for attempt := 0; ; attempt++ {
		out, err := p.kin.GetShardIterator(ctx, in)
		if err == nil {
			return out.ShardIterator, nil
		}
		if ctx.Err() != nil || attempt >= 20 {
			return nil, fmt.Errorf("localesm: get shard iterator for %s: %w", shardID, err)
		}
		if ctxsleep.Sleep(ctx, p.backoff(attempt)) != nil {
			return nil, ctx.Err()
		}
	}
}

// minGetRecordsGap keeps one shard within Kinesis's 5 GetRecords calls per
// second.
const minGetRecordsGap = 200 * time.Millisecond

func (p *Poller) readShard(ctx context.Context, sh *shardState, parts []chan []*Record) error {
	iter, err := p.iterator(ctx, sh, "")
	if err != nil {
		return err
	}
	lastSeq := ""
	var last time.Time
	failures := 0
	for ctx.Err() == nil {
		if gap := time.Since(last); gap < minGetRecordsGap {
			_ = ctxsleep.Sleep(ctx, minGetRecordsGap-gap)
		}
		last = time.Now()
		out, err := p.kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
		p.c.getRecordsCalls.Add(1)
		p.c.getRecordsNanos.Add(int64(time.Since(last)))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var expired *types.ExpiredIteratorException
			if errors.As(err, &expired) {
				if iter, err = p.iterator(ctx, sh, lastSeq); err != nil {
					return err
				}
				continue
			}
			failures++
			p.log.Warn("GetRecords failed; backing off", "shard", sh.id, "err", err)
			_ = ctxsleep.Sleep(ctx, p.backoff(failures))
			continue
		}
		failures = 0
		behind := aws.ToInt64(out.MillisBehindLatest)
		maxInto(&p.c.behindMax, behind)
		if n := len(out.Records); n > 0 {
			chunks := make([][]*Record, len(parts))
			delivered := 0
			for _, kr := range out.Records {
				r := &Record{
					ShardID: sh.id, SequenceNumber: aws.ToString(kr.SequenceNumber),
					PartitionKey: aws.ToString(kr.PartitionKey), Data: kr.Data,
					Arrival: aws.ToTime(kr.ApproximateArrivalTimestamp),
				}
				lastSeq = r.SequenceNumber
				if !p.filters.pass(r) {
					p.c.filtered.Add(1)
					continue
				}
				p.measure(r)
				i := partitionOf(r.PartitionKey, len(parts))
				chunks[i] = append(chunks[i], r)
				delivered++
			}
			// pending before polled: Idle never sees records in neither.
			p.c.pending.Add(int64(delivered))
			p.c.polled.Add(int64(n))
			sh.caughtUp.Store(false)
			for i, ch := range chunks {
				if len(ch) == 0 {
					continue
				}
				select {
				case parts[i] <- ch: // blocks while the partition is busy: backpressure
				case <-ctx.Done():
					return nil
				}
			}
		}
		if behind == 0 {
			sh.caughtUpAt.Store(last.UnixNano()) // last: when this read started
		}
		if out.NextShardIterator == nil {
			p.log.Debug("shard closed and read to its end", "shard", sh.id)
			sh.ended.Store(true)
			sh.caughtUp.Store(true)
			return nil
		}
		iter = out.NextShardIterator
		if len(out.Records) == 0 {
			sh.caughtUp.Store(behind == 0)
			// Lambda polls each shard at a base rate of once per second.
			_ = ctxsleep.Sleep(ctx, p.cfg.PollInterval)
		}
	}
	return nil
}

// partitionOf keeps every record of a partition key in one of the shard's
// concurrent batches, so records with the same key stay in order.
func partitionOf(key string, n int) int {
	if n == 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

func (p *Poller) runPartition(ctx context.Context, ch <-chan []*Record) {
	var carry []*Record
	for {
		batch := p.nextBatch(ctx, ch, &carry)
		if batch == nil {
			return
		}
		p.deliver(ctx, batch)
		if ctx.Err() != nil {
			return
		}
	}
}

// nextBatch gathers a batch: it is sent when it holds BatchSize records, when
// the next record would take the payload past 6 MB, or when the batching
// window (counted from the first record) has passed; with no window, as soon
// as the records read so far are in.
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html#invocation-eventsourcemapping-batching
func (p *Poller) nextBatch(ctx context.Context, ch <-chan []*Record, carry *[]*Record) []*Record {
	buf := *carry
	if len(buf) == 0 {
		select {
		case chunk, ok := <-ch:
			if !ok {
				return nil // the shard ended and everything read was delivered
			}
			buf = chunk
		case <-ctx.Done():
			return nil
		}
	}
	size := p.envelope()
	for _, r := range buf {
		size += r.size
	}
	var window <-chan time.Time
	if p.cfg.BatchingWindow > 0 {
		t := time.NewTimer(p.cfg.BatchingWindow)
		defer t.Stop()
		window = t.C
	}
gather:
	for len(buf) < p.cfg.BatchSize && size < MaxPayloadBytes {
		if window == nil {
			select {
			case chunk, ok := <-ch:
				if !ok {
					break gather
				}
				buf = append(buf, chunk...)
				for _, r := range chunk {
					size += r.size
				}
			default:
				break gather
			}
			continue
		}
		select {
		case chunk, ok := <-ch:
			if !ok {
				break gather
			}
			buf = append(buf, chunk...)
			for _, r := range chunk {
				size += r.size
			}
		case <-window:
			break gather
		case <-ctx.Done():
			return nil
		}
	}
	n, total := 0, p.envelope()
	for n < len(buf) && n < p.cfg.BatchSize {
		if n > 0 && total+buf[n].size > MaxPayloadBytes {
			break
		}
		total += buf[n].size
		n++
	}
	*carry = buf[n:]
	return buf[:n:n]
}

// inflight is a batch (or a part of one) being delivered.
type inflight struct {
	recs              []*Record
	retries           int
	invokes           int
	lastRequestID     string
	lastFunctionError bool
}

// deliver invokes the function with a batch until every record of it is
// acknowledged or discarded, applying the mapping's error handling:
//   - a function error (returned error, timeout, crashed runtime) fails the
//     whole batch; with BisectBatchOnFunctionError the batch is split in two
//     halves retried separately, first half first, and the split does not
//     count as a retry;
//   - with ReportBatchItemFailures, the records before the lowest failed
//     sequence number are acknowledged and the rest retried;
//   - a batch is retried MaximumRetryAttempts times (-1: until its records
//     are older than MaximumRecordAge, or forever), then described to the
//     on-failure destination and discarded;
//   - records older than MaximumRecordAge are discarded before an invocation.
//
// https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
func (p *Poller) deliver(ctx context.Context, batch []*Record) { p.deliverIn(ctx, batch, nil) }

// deliverIn is deliver; with a window w (tumbling windows) each invocation
// carries the window's state and a valid response replaces it.
func (p *Poller) deliverIn(ctx context.Context, batch []*Record, w *window) {
	queue := []*inflight{{recs: batch}}
	for len(queue) > 0 {
		if ctx.Err() != nil {
			return
		}
		b := queue[0]
		if age := p.cfg.MaximumRecordAge; age > 0 {
			now := p.now()
			cut := 0
			for cut < len(b.recs) && now.Sub(b.recs[cut].Arrival) > age {
				cut++
			}
			if cut > 0 {
				p.discard(ctx, b.recs[:cut], ConditionRecordAgeExceeded, b)
				b.recs = b.recs[cut:]
				if len(b.recs) == 0 {
					queue = queue[1:]
					continue
				}
			}
		}
		var payload []byte
		var err error
		if w != nil {
			payload, err = p.windowPayload(b.recs, w, false, false)
		} else {
			payload, err = p.payload(b.recs)
		}
		if err != nil {
			p.log.Error("cannot encode the event", "err", err)
			return
		}
		last := b.recs[len(b.recs)-1]
		ageNow := p.now().Sub(last.Arrival)
		p.c.iterAgeLast.Store(int64(ageNow))
		maxInto(&p.c.iterAgeMax, int64(ageNow))
		p.c.invocations.Add(1)
		p.c.invokedRecords.Add(int64(len(b.recs)))
		b.invokes++
		b.lastRequestID = newRequestID()
		start := time.Now()
		var body []byte
		if len(payload) > MaxPayloadBytes {
			// Only a batch of one record can be over the limit (batches are
			// cut at it): Lambda refuses the invocation
			// (RequestEntityTooLarge). It fails like a function error,
			// without reaching the function, until the retries or the
			// record's age run out and the record goes to the on-failure
			// destination.
			err = &FunctionError{Type: "RequestEntityTooLarge", Message: fmt.Sprintf("the event is %d bytes, over Lambda's %d-byte invoke limit", len(payload), MaxPayloadBytes)}
			p.c.tooLarge.Add(1)
		} else {
			body, err = p.inv.Invoke(ctx, payload)
		}
		p.c.invokeNanos.Add(int64(time.Since(start)))
		var oc outcome
		var fe *FunctionError
		switch {
		case err == nil:
			oc = judge(b.recs, body, p.cfg.ReportBatchItemFailures)
			b.lastFunctionError = false
			if w != nil {
				p.windowResponse(ctx, w, body, &oc)
			}
		case errors.As(err, &fe):
			oc = outcome{checkpoint: -1, funcErr: fe, reason: fe.Error()}
			b.lastFunctionError = true
			p.c.failed.Add(1)
			if fe.Timeout() {
				p.c.timeouts.Add(1)
			}
		default:
			if ctx.Err() != nil {
				return
			}
			// Not invoked at all: retried until the records expire, without
			// counting against MaximumRetryAttempts.
			b.invokes--
			p.log.Warn("invoke failed before the function ran; retrying", "err", err)
			_ = ctxsleep.Sleep(ctx, time.Second)
			continue
		}
		p.log.Debug("invoked", "shard", last.ShardID, "first", b.recs[0].SequenceNumber, "last", last.SequenceNumber,
			"records", len(b.recs), "ok", oc.ok, "reason", oc.reason, "took", time.Since(start))
		if oc.ok {
			p.acknowledge(b.recs)
			queue = queue[1:]
			continue
		}
		if oc.funcErr != nil && p.cfg.BisectBatchOnFunctionError && len(b.recs) > 1 {
			half := len(b.recs) / 2
			p.c.bisections.Add(1)
			left := &inflight{recs: b.recs[:half], retries: b.retries, invokes: b.invokes, lastRequestID: b.lastRequestID, lastFunctionError: true}
			right := &inflight{recs: b.recs[half:], retries: b.retries, invokes: b.invokes, lastRequestID: b.lastRequestID, lastFunctionError: true}
			queue = append([]*inflight{left, right}, queue[1:]...)
			continue
		}
		if oc.funcErr == nil {
			p.c.partial.Add(1)
		}
		if oc.checkpoint > 0 {
			p.acknowledge(b.recs[:oc.checkpoint])
			b.recs = b.recs[oc.checkpoint:]
		}
		if n := p.cfg.maxRetries(); n >= 0 && b.retries >= n {
			p.discard(ctx, b.recs, ConditionRetryAttemptsExhausted, b)
			queue = queue[1:]
			continue
		}
		b.retries++
		p.c.retries.Add(1)
		_ = ctxsleep.Sleep(ctx, p.backoff(b.retries))
	}
}

func (p *Poller) acknowledge(recs []*Record) {
	p.c.acked.Add(int64(len(recs)))
	p.c.pending.Add(-int64(len(recs)))
}

// discard drops records and, when there is a destination, describes them in
// one on-failure message. Sending is retried until it succeeds or the poller
// stops: a discarded batch is never lost silently.
func (p *Poller) discard(ctx context.Context, recs []*Record, condition string, b *inflight) {
	defer func() {
		p.c.dropped.Add(int64(len(recs)))
		p.c.pending.Add(-int64(len(recs)))
	}()
	p.log.Info("discarding records", "condition", condition, "shard", recs[0].ShardID,
		"start", recs[0].SequenceNumber, "end", recs[len(recs)-1].SequenceNumber, "records", len(recs), "invokes", b.invokes)
	if p.dest == nil {
		return
	}
	send, err := p.send(ctx, recs, condition, b)
	if err != nil {
		p.log.Error("cannot encode the on-failure message", "err", err)
		return
	}
	for attempt := 0; ; attempt++ {
		err := send(ctx)
		if err == nil {
			p.c.ofMessages.Add(1)
			p.c.ofRecords.Add(int64(len(recs)))
			p.c.ofUserRecords.Add(int64(userRecords(recs)))
			return
		}
		if ctx.Err() != nil {
			return
		}
		p.log.Warn("on-failure destination refused the message; retrying", "err", err)
		_ = ctxsleep.Sleep(ctx, p.backoff(attempt))
	}
}

func (p *Poller) backoff(attempt int) time.Duration {
	if attempt < 0 {
		attempt = 0
	}
	if attempt >= len(p.backoffs) {
		attempt = len(p.backoffs) - 1
	}
	return p.backoffs[attempt]
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
