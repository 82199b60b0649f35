// Package redrive replays what a streamproc pipeline's failure destinations
// hold, behind `streamctl redrive`: the DLQ (Run) or the failed-batch bucket
// of an S3 on-failure destination (RunS3).
//
// From S3 (RunS3), each object (contract.FailedBatchObject) carries the failed
// batch's records, so no stream is read: the records are replayed with their
// original shard, sequence numbers, partition keys and arrival times even
// after the stream's retention, and an object is deleted (or tagged, TagDone)
// only after every record in it was applied. A record whose event alone is
// over Lambda's invoke limit (InvokeLimit) is never sent: it is reported by id
// (KeptTooLarge) and its object kept.
//
// The DLQ holds two kinds of message:
//
//   - The event source mapping's on-failure message (contract.OnFailureMessage):
//     only a KinesisBatchInfo — shard, start and end sequence numbers, batch
//     size, stream ARN — not the records. Redrive reads the range back from the
//     stream (GetShardIterator AT_SEQUENCE_NUMBER, GetRecords until the end
//     sequence number) and replays the records through the processor function
//     with a synchronous invoke, in a Kinesis-shaped event with their ORIGINAL
//     shard, sequence numbers, partition keys and arrival times, so the
//     processor's exactly-once scheme recognises records it already applied.
//     Batch item failures are retried from the lowest failed sequence number,
//     as the mapping does.
//   - Records the processor quarantined (contract.QuarantinedRecord, marked with
//     the message attribute contract.AttrKind = contract.KindQuarantined),
//     possibly split into parts: redrive reassembles and checks them, lists
//     them with their reasons, and on request reprocesses them the same way or
//     discards them (discarding also deletes the parts of a record that cannot
//     be reassembled: parts missing or corrupt).
//
// Rules: a message is deleted only after every record it stands for was
// applied (or, for quarantined records, explicitly discarded). Anything in
// doubt — records expired from the stream, a range that does not match the
// message (unless Config.ReplayRange allows a range holding more records than
// the batch), a function that keeps failing, parts missing, a checksum mismatch,
// a message of unknown shape — keeps the message and is reported. Messages
// are held invisible while redrive works (their visibility is extended as
// needed) and the ones kept are made visible again at the end.
package redrive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/streamproc/streamproc/functions/contract"
)

// SQSAPI is the part of the SQS client redrive uses.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// QuarantineAction is what to do with quarantined records.
type QuarantineAction int

const (
	// List reports quarantined records and leaves them in the queue.
	List QuarantineAction = iota
	// Reprocess replays them through the function; their messages are deleted
	// once the function accepted them. (If the cause is not fixed, the
	// processor quarantines them again as new messages.)
	Reprocess
	// Discard deletes their messages without replaying them.
	Discard
)

// Config configures a redrive. Zero values mean the defaults.
type Config struct {
	// QueueURL is the DLQ.
	QueueURL string
	// Function overrides the function to invoke (name, ARN or partial ARN).
	// Default: the functionArn of each on-failure message, the functionName of
	// each quarantined record
	Function string
	// Stream overrides the stream to read batch ranges from (name).
	// Default: the name in the message's streamArn
	Stream string
	// Region is the region of the Kinesis client. A batch whose stream ARN
	// is in another region is kept with a message saying so (the client would
	// read a different stream, or none).
	// Default: "" (not checked)
	Region string
	// DryRun reads and reports, and changes nothing: no invoke, no delete.
	DryRun bool
	// Quarantined says what to do with quarantined records.
	// Default: List
	Quarantined QuarantineAction
	// Match limits quarantined records to those whose record id or reason
	// contains it.
	// Default: "" (all)
	Match string
	// ReplayRange replays a batch whose start..end range holds MORE records
	// than the message's batchSize: the whole range, records of other
	// partition keys (ParallelizationFactor > 1) and records the mapping's
	// filters dropped included. Safe only for an idempotent processor
	// (streamproc's applies each event id once); with filters it also sends
	// records the filters would have kept from the function.
	// Default: false (such a batch is kept with kept-error)
	ReplayRange bool
	// Bucket and Prefix locate failed-batch objects (an S3 on-failure
	// destination) for RunS3.
	Bucket, Prefix string
	// TagDone tags an object whose records were all applied with
	// TagRedriven instead of deleting it; later runs skip tagged objects.
	// Default: false (the object is deleted)
	TagDone bool
	// SkipBatches and SkipQuarantined leave one kind of message alone.
	SkipBatches, SkipQuarantined bool
	// MaxMessages bounds how many messages one run takes from the queue
	// (objects from the bucket).
	// Default: 1000
	MaxMessages int
	// Visibility is how long received messages stay hidden from other
	// consumers; it is extended while redrive still works on them.
	// Default: 5m
	Visibility time.Duration
	// Retries is how many times records that failed are invoked again.
	// Default: 3
	Retries int
	// RetryDelay is the first pause before a retry; it doubles each time.
	// Default: 1s
	RetryDelay time.Duration
	// MaxPayloadBytes bounds one invoke's event.
	// Default: 5 MiB (Lambda's synchronous limit is 6 MB)
	MaxPayloadBytes int
	// ReadPause is the wait between empty GetRecords calls behind the tip.
	// Default: 200ms
	ReadPause time.Duration
	// WaitTime is the long poll of each ReceiveMessage; an empty answer ends
	// the receiving.
	// Default: 2s
	WaitTime time.Duration
	// Progress, if set, is called after each message group is handled.
	Progress func(done, total int)
}

func (c Config) withDefaults() Config {
	if c.MaxMessages <= 0 {
		c.MaxMessages = 1000
	}
	if c.Visibility <= 0 {
		c.Visibility = 5 * time.Minute
	}
	if c.Retries < 0 {
		c.Retries = 0
	} else if c.Retries == 0 {
		c.Retries = 3
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
	if c.MaxPayloadBytes <= 0 {
		c.MaxPayloadBytes = 5 << 20
	}
	if c.ReadPause <= 0 {
		c.ReadPause = 200 * time.Millisecond
	}
	if c.WaitTime <= 0 {
		c.WaitTime = 2 * time.Second
	}
	return c
}

// Outcome of one message (or one quarantined record's messages).
type Outcome string

const (
	Replayed           Outcome = "replayed"             // every record applied; message deleted
	Reprocessed        Outcome = "reprocessed"          // quarantined record replayed; messages deleted
	Discarded          Outcome = "discarded"            // quarantined record's messages deleted on request
	Listed             Outcome = "listed"               // quarantined record shown, left in the queue
	WouldReplay        Outcome = "would-replay"         // dry run: the records are readable and would be replayed
	KeptExpired        Outcome = "kept-expired"         // records cannot be read back (retention, reshard): message kept
	KeptFailed         Outcome = "kept-failed"          // the function did not apply every record: message kept
	KeptIncomplete     Outcome = "kept-incomplete"      // quarantined parts missing or corrupt: messages kept
	KeptUnknown        Outcome = "kept-unknown"         // not a message redrive understands: kept
	KeptError          Outcome = "kept-error"           // an error reading or invoking: message kept
	ReplayedNotDeleted Outcome = "replayed-not-deleted" // applied, but the delete failed: the message will come back (replaying again is safe)
)

// Problem reports whether the outcome leaves a problem for the operator.
func (o Outcome) Problem() bool {
	switch o {
	case KeptExpired, KeptFailed, KeptIncomplete, KeptUnknown, KeptError, ReplayedNotDeleted, KeptTooLarge:
		return true
	}
	return false
}

// Result is what happened to one batch-info message or one quarantined record.
type Result struct {
	Kind       string   `json:"kind"` // "batch", "quarantined", "object" (S3) or "unknown"
	Outcome    Outcome  `json:"outcome"`
	Detail     string   `json:"detail,omitempty"`
	MessageIDs []string `json:"messageIds"`
	// Batch info.
	StreamARN  string   `json:"streamArn,omitempty"`
	ShardID    string   `json:"shardId,omitempty"`
	Start      string   `json:"startSequenceNumber,omitempty"`
	End        string   `json:"endSequenceNumber,omitempty"`
	BatchSize  int      `json:"batchSize,omitempty"`
	Records    int      `json:"records,omitempty"` // records read back (and replayed unless kept)
	Condition  string   `json:"condition,omitempty"`
	FailedSeqs []string `json:"failedSequenceNumbers,omitempty"`
	// Quarantined record.
	RecordID      string    `json:"recordId,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	Size          int       `json:"size,omitempty"`
	QuarantinedAt time.Time `json:"quarantinedAt,omitzero"`
	Preview       string    `json:"preview,omitempty"`
	// Failed-batch object (S3).
	Key      string           `json:"key,omitempty"`
	TooLarge []TooLargeRecord `json:"tooLarge,omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	Received int      `json:"messagesReceived"`
	Deleted  int      `json:"messagesDeleted"`
	Tagged   int      `json:"objectsTagged,omitempty"` // RunS3 with TagDone
	Invokes  int64    `json:"invokes"`
	Replayed int      `json:"recordsReplayed"`
	Results  []Result `json:"results"`
	DryRun   bool     `json:"dryRun"`
}

// Count returns how many results have outcome o.
func (r Report) Count(o Outcome) int {
	n := 0
	for _, x := range r.Results {
		if x.Outcome == o {
			n++
		}
	}
	return n
}

// Problems is the number of results that need the operator's attention.
func (r Report) Problems() int {
	n := 0
	for _, x := range r.Results {
		if x.Outcome.Problem() {
			n++
		}
	}
	return n
}

// Redriver runs redrives.
type Redriver struct {
	s3      S3API
	sqs     SQSAPI
	kinesis KinesisAPI
	lambda  LambdaAPI
	cfg     Config
	stats   struct{ invokes atomic.Int64 }
}

// New returns a Redriver using the given clients.
func New(sq SQSAPI, kc KinesisAPI, lc LambdaAPI, cfg Config) *Redriver {
	return &Redriver{sqs: sq, kinesis: kc, lambda: lc, cfg: cfg.withDefaults()}
}

// held is a received message redrive is working on.
type held struct {
	msg  sqstypes.Message
	done atomic.Bool // deleted
}

// Run takes up to MaxMessages messages from the queue, handles them and
// returns the report. The error is for failures of the run itself (the queue
// cannot be read); per-message problems are in the report.
func (r *Redriver) Run(ctx context.Context) (Report, error) {
	rep := Report{DryRun: r.cfg.DryRun}
	// Visibility is extended from the first receive on: with many messages
	// the receiving alone can outlast --visibility.
	holder := r.hold()
	defer holder.release(context.WithoutCancel(ctx))
	msgs, err := r.receiveAll(ctx, holder)
	rep.Received = len(msgs)
	if err != nil && len(msgs) == 0 {
		return rep, err
	}

	var batches []batchMsg
	quarantined := map[string][]quarantinePart{}
	var order []string
	for _, h := range msgs {
		kind, b, q, reason := classify(h.msg)
		switch kind {
		case "batch":
			if !r.cfg.SkipBatches {
				batches = append(batches, batchMsg{held: h, info: b})
			}
		case "quarantined":
			if r.cfg.SkipQuarantined {
				continue
			}
			if _, seen := quarantined[q.RecordID]; !seen {
				order = append(order, q.RecordID)
			}
			quarantined[q.RecordID] = append(quarantined[q.RecordID], quarantinePart{held: h, rec: q})
		default:
			rep.Results = append(rep.Results, Result{Kind: "unknown", Outcome: KeptUnknown, MessageIDs: []string{aws.ToString(h.msg.MessageId)},
				Detail: reason, Preview: truncate(aws.ToString(h.msg.Body), 200)})
		}
	}
	// Oldest first within each shard, so replays follow the stream's order.
	sort.SliceStable(batches, func(i, j int) bool {
		a, b := batches[i].info.KinesisBatchInfo, batches[j].info.KinesisBatchInfo
		if a.StreamARN != b.StreamARN {
			return a.StreamARN < b.StreamARN
		}
		if a.ShardID != b.ShardID {
			return a.ShardID < b.ShardID
		}
		return contract.CompareSequenceNumbers(a.StartSequenceNumber, b.StartSequenceNumber) < 0
	})
	total := len(batches) + len(order)
	done := 0
	for _, b := range batches {
		if ctx.Err() != nil {
			break
		}
		res := r.handleBatch(ctx, b)
		if res.Outcome == Replayed {
			rep.Replayed += res.Records
		}
		rep.Results = append(rep.Results, res)
		done++
		r.progress(done, total)
	}
	for _, id := range order {
		if ctx.Err() != nil {
			break
		}
		res := r.handleQuarantined(ctx, quarantined[id])
		if res.Outcome == Reprocessed {
			rep.Replayed++
		}
		rep.Results = append(rep.Results, res)
		done++
		r.progress(done, total)
	}
	rep.Invokes = r.stats.invokes.Load()
	for _, h := range msgs {
		if h.done.Load() {
			rep.Deleted++
		}
	}
	if ctx.Err() != nil {
		return rep, fmt.Errorf("interrupted after %d of %d: the messages not handled stay in the queue", done, total)
	}
	return rep, err
}

func (r *Redriver) progress(done, total int) {
	if r.cfg.Progress != nil {
		r.cfg.Progress(done, total)
	}
}

// receiveAll receives until the queue answers empty or MaxMessages, into h
// (which keeps them hidden meanwhile), and returns what h holds.
func (r *Redriver) receiveAll(ctx context.Context, h *holder) ([]*held, error) {
	for n := h.count(); n < r.cfg.MaxMessages; n = h.count() {
		resp, err := r.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(r.cfg.QueueURL),
			MaxNumberOfMessages:         int32(min(10, r.cfg.MaxMessages-n)),
			VisibilityTimeout:           int32(r.cfg.Visibility / time.Second),
			WaitTimeSeconds:             int32(r.cfg.WaitTime / time.Second),
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount, sqstypes.MessageSystemAttributeNameSentTimestamp},
		})
		if err != nil {
			return h.all(), fmt.Errorf("receiving from %s: %w", r.cfg.QueueURL, err)
		}
		if len(resp.Messages) == 0 {
			break
		}
		for _, m := range resp.Messages {
			h.add(m)
		}
	}
	return h.all(), nil
}

type batchMsg struct {
	held *held
	info contract.OnFailureMessage
}

type quarantinePart struct {
	held *held
	rec  contract.QuarantinedRecord
}

// classify tells the kind of a DLQ message.
func classify(m sqstypes.Message) (kind string, b contract.OnFailureMessage, q contract.QuarantinedRecord, reason string) {
	body := aws.ToString(m.Body)
	if a, ok := m.MessageAttributes[contract.AttrKind]; ok {
		if aws.ToString(a.StringValue) != contract.KindQuarantined {
			return "unknown", b, q, fmt.Sprintf("message attribute %s=%q is not a kind redrive knows", contract.AttrKind, aws.ToString(a.StringValue))
		}
		if err := json.Unmarshal([]byte(body), &q); err != nil {
			return "unknown", b, q, "quarantine message whose body is not a QuarantinedRecord: " + err.Error()
		}
		if q.RecordID == "" || q.Parts < 1 || q.Part < 1 || q.Part > q.Parts {
			return "unknown", b, q, fmt.Sprintf("quarantine message with recordId %q part %d of %d", q.RecordID, q.Part, q.Parts)
		}
		return "quarantined", b, q, ""
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		return "unknown", b, q, "body is neither an on-failure message nor a quarantined record: " + err.Error()
	}
	k := b.KinesisBatchInfo
	if k.ShardID == "" || k.StartSequenceNumber == "" || k.EndSequenceNumber == "" || k.StreamARN == "" {
		return "unknown", b, q, "on-failure message without a complete KinesisBatchInfo (shardId, start/end sequence numbers, streamArn)"
	}
	return "batch", b, q, ""
}

func (r *Redriver) handleBatch(ctx context.Context, b batchMsg) Result {
	k := b.info.KinesisBatchInfo
	res := Result{Kind: "batch", MessageIDs: []string{aws.ToString(b.held.msg.MessageId)}, StreamARN: k.StreamARN, ShardID: k.ShardID,
		Start: k.StartSequenceNumber, End: k.EndSequenceNumber, BatchSize: k.BatchSize, Condition: b.info.RequestContext.Condition}
	name, region, err := StreamNameFromARN(k.StreamARN)
	if err != nil {
		res.Outcome, res.Detail = KeptUnknown, err.Error()
		return res
	}
	if r.cfg.Stream != "" {
		name = r.cfg.Stream
	} else if r.cfg.Region != "" && region != "" && region != r.cfg.Region {
		res.Outcome, res.Detail = KeptError, fmt.Sprintf("the stream is in region %s but redrive runs against %s: run again with --region %s", region, r.cfg.Region, region)
		return res
	}
	recs, err := readRange(ctx, r.kinesis, name, k.ShardID, k.StartSequenceNumber, k.EndSequenceNumber, r.cfg.ReadPause)
	var unreadable *UnreadableError
	switch {
	case errors.As(err, &unreadable):
		res.Outcome, res.Detail = KeptExpired, unreadable.Reason
		return res
	case err != nil:
		res.Outcome, res.Detail = KeptError, err.Error()
		return res
	}
	res.Records = len(recs)
	rangeNote := ""
	switch {
	case k.BatchSize <= 0 || len(recs) == k.BatchSize:
	case len(recs) > k.BatchSize && r.cfg.ReplayRange:
		rangeNote = fmt.Sprintf(" (the whole range, --replay-range: it holds %d records for batchSize %d)", len(recs), k.BatchSize)
	case len(recs) > k.BatchSize:
		res.Outcome = KeptError
		res.Detail = fmt.Sprintf("the range holds %d records for batchSize %d, likely ParallelizationFactor > 1 or filters on the mapping "+
			"(the range also holds other partition keys' or filtered-out records): not replaying on a doubt; "+
			"--replay-range replays the whole range (safe for idempotent processors; with filters it also sends the records they dropped)", len(recs), k.BatchSize)
		return res
	default:
		res.Outcome = KeptError
		res.Detail = fmt.Sprintf("the range holds %d records for batchSize %d: fewer than the batch (trimmed or expired?): not replaying on a doubt", len(recs), k.BatchSize)
		return res
	}
	function := r.cfg.Function
	if function == "" {
		function = b.info.RequestContext.FunctionARN
	}
	if function == "" {
		res.Outcome, res.Detail = KeptError, "the message names no function (requestContext.functionArn): give one with --function"
		return res
	}
	if r.cfg.DryRun {
		res.Outcome = WouldReplay
		res.Detail = fmt.Sprintf("%d records readable; would invoke %s%s", len(recs), function, rangeNote)
		return res
	}
	replay := make([]Record, len(recs))
	for i, kr := range recs {
		replay[i] = Record{StreamARN: k.StreamARN, Region: region, ShardID: k.ShardID, SequenceNumber: aws.ToString(kr.SequenceNumber),
			PartitionKey: aws.ToString(kr.PartitionKey), Arrival: aws.ToTime(kr.ApproximateArrivalTimestamp),
			EncryptionType: string(kr.EncryptionType), Data: kr.Data}
	}
	if err := r.replay(ctx, function, replay); err != nil {
		var ie *invokeError
		if errors.As(err, &ie) {
			res.Outcome, res.Detail, res.FailedSeqs = KeptFailed, ie.Reason, ie.Failed
		} else {
			res.Outcome, res.Detail = KeptError, err.Error()
		}
		return res
	}
	res.Outcome = Replayed
	res.Detail = fmt.Sprintf("%d records applied by %s%s", len(recs), function, rangeNote)
	if err := r.delete(ctx, b.held); err != nil {
		res.Outcome = ReplayedNotDeleted
		res.Detail += "; deleting the message failed: " + err.Error()
	}
	return res
}

// assemble puts a quarantined record's parts back together and checks them.
func assemble(parts []quarantinePart) (contract.QuarantinedRecord, []byte, error) {
	sort.Slice(parts, func(i, j int) bool { return parts[i].rec.Part < parts[j].rec.Part })
	first := parts[0].rec
	byPart := map[int]contract.QuarantinedRecord{}
	for _, p := range parts {
		if p.rec.Parts != first.Parts {
			return first, nil, fmt.Errorf("parts disagree on the number of parts (%d and %d)", first.Parts, p.rec.Parts)
		}
		byPart[p.rec.Part] = p.rec // a part received twice is the same part
	}
	if len(byPart) != first.Parts {
		var missing []string
		for i := 1; i <= first.Parts; i++ {
			if _, ok := byPart[i]; !ok {
				missing = append(missing, fmt.Sprint(i))
			}
		}
		return first, nil, fmt.Errorf("%d of %d parts received; missing part(s) %s (still in flight elsewhere, or beyond --max-messages)", len(byPart), first.Parts, strings.Join(missing, ", "))
	}
	data := make([]byte, 0, first.Size)
	for i := 1; i <= first.Parts; i++ {
		p := byPart[i]
		if p.Offset != len(data) {
			return first, nil, fmt.Errorf("part %d starts at offset %d, expected %d", i, p.Offset, len(data))
		}
		data = append(data, p.Data...)
	}
	if len(data) != first.Size {
		return first, nil, fmt.Errorf("reassembled %d bytes, the record says %d", len(data), first.Size)
	}
	sum := sha256.Sum256(data)
	if first.DataSHA256 != "" && !strings.EqualFold(hex.EncodeToString(sum[:]), first.DataSHA256) {
		return first, nil, fmt.Errorf("SHA-256 of the reassembled payload %s does not match dataSha256 %s", hex.EncodeToString(sum[:]), first.DataSHA256)
	}
	return first, data, nil
}

func (r *Redriver) handleQuarantined(ctx context.Context, parts []quarantinePart) Result {
	var ids []string
	for _, p := range parts {
		ids = append(ids, aws.ToString(p.held.msg.MessageId))
	}
	q, data, err := assemble(parts)
	res := Result{Kind: "quarantined", MessageIDs: ids, RecordID: q.RecordID, Reason: q.Reason, StreamARN: q.EventSourceARN,
		ShardID: q.ShardID, Start: q.SequenceNumber, Size: q.Size, QuarantinedAt: q.QuarantinedAt}
	matches := r.cfg.Match == "" || strings.Contains(q.RecordID, r.cfg.Match) || strings.Contains(q.Reason, r.cfg.Match)
	if err != nil {
		res.Outcome, res.Detail = KeptIncomplete, err.Error()
		if r.cfg.Quarantined != Discard || !matches {
			return res
		}
		// The operator asked to discard: parts that can never be reassembled
		// (missing or corrupt) would otherwise stay in the queue for ever.
		if r.cfg.DryRun {
			res.Detail += fmt.Sprintf("; dry run: --discard would delete its %d message(s) anyway", len(parts))
			return res
		}
		for i, p := range parts {
			if derr := r.delete(ctx, p.held); derr != nil {
				res.Outcome, res.Detail = KeptError, fmt.Sprintf("%s; discarding: deleted %d of %d message(s), then: %v", err, i, len(parts), derr)
				return res
			}
		}
		res.Outcome, res.Detail = Discarded, fmt.Sprintf("discarded although it cannot be reassembled (%s): deleted %d message(s)", err, len(parts))
		return res
	}
	res.Preview = truncate(string(data), 120)
	if !matches {
		res.Outcome, res.Detail = Listed, "does not match --match; left alone"
		return res
	}
	switch {
	case r.cfg.Quarantined == List:
		res.Outcome = Listed
		return res
	case r.cfg.DryRun && r.cfg.Quarantined == Discard:
		res.Outcome, res.Detail = Listed, "dry run: would discard"
		return res
	case r.cfg.DryRun:
		res.Outcome, res.Detail = Listed, "dry run: would reprocess"
		return res
	case r.cfg.Quarantined == Discard:
		for _, p := range parts {
			if err := r.delete(ctx, p.held); err != nil {
				res.Outcome, res.Detail = KeptError, "deleting: "+err.Error()
				return res
			}
		}
		res.Outcome = Discarded
		return res
	}
	function := r.cfg.Function
	if function == "" {
		function = q.FunctionName
	}
	if function == "" {
		res.Outcome, res.Detail = KeptError, "the record names no function (functionName): give one with --function"
		return res
	}
	_, region, _ := StreamNameFromARN(q.EventSourceARN)
	rec := Record{StreamARN: q.EventSourceARN, Region: region, ShardID: q.ShardID, SequenceNumber: q.SequenceNumber,
		PartitionKey: q.PartitionKey, Arrival: q.ApproximateArrivalTimestamp, Data: data}
	if err := r.replay(ctx, function, []Record{rec}); err != nil {
		var ie *invokeError
		if errors.As(err, &ie) {
			res.Outcome, res.Detail = KeptFailed, ie.Reason
		} else {
			res.Outcome, res.Detail = KeptError, err.Error()
		}
		return res
	}
	res.Outcome = Reprocessed
	res.Detail = "accepted by " + function + " (if the cause is not fixed, the processor quarantined it again as a new message)"
	for _, p := range parts {
		if err := r.delete(ctx, p.held); err != nil {
			res.Outcome = ReplayedNotDeleted
			res.Detail += "; deleting a message failed: " + err.Error()
			break
		}
	}
	return res
}

func (r *Redriver) delete(ctx context.Context, h *held) error {
	_, err := r.sqs.DeleteMessage(context.WithoutCancel(ctx), &sqs.DeleteMessageInput{QueueUrl: aws.String(r.cfg.QueueURL), ReceiptHandle: h.msg.ReceiptHandle})
	if err == nil {
		h.done.Store(true)
	}
	return err
}

// holder keeps received messages invisible while redrive works and makes the
// ones not deleted visible again at the end.
type holder struct {
	r    *Redriver
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex // guards msgs, byID and each held's msg while receiving
	msgs []*held
	byID map[string]*held
}

// hold starts keeping the messages added to it invisible.
func (r *Redriver) hold() *holder {
	h := &holder{r: r, stop: make(chan struct{}), byID: map[string]*held{}}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(r.cfg.Visibility / 2)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				h.setVisibility(context.Background(), r.cfg.Visibility)
			case <-h.stop:
				return
			}
		}
	}()
	return h
}

// add holds a received message. A message received again (its visibility
// ran out before an extension reached it) keeps its place, with the NEWEST
// receipt handle: SQS accepts only the latest one for delete and visibility.
func (h *holder) add(m sqstypes.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := aws.ToString(m.MessageId)
	if x, ok := h.byID[id]; ok {
		x.msg = m
		return
	}
	x := &held{msg: m}
	h.byID[id] = x
	h.msgs = append(h.msgs, x)
}

func (h *holder) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.msgs)
}

func (h *holder) all() []*held {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*held(nil), h.msgs...)
}

func (h *holder) release(ctx context.Context) {
	close(h.stop)
	h.wg.Wait()
	h.setVisibility(ctx, 0)
}

// setVisibility changes the visibility of every message not yet deleted.
func (h *holder) setVisibility(ctx context.Context, d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var entries []sqstypes.ChangeMessageVisibilityBatchRequestEntry
	flush := func() {
		if len(entries) > 0 {
			// Best effort: a message whose visibility cannot be changed comes
			// back when its timeout ends anyway.
			_, _ = h.r.sqs.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(h.r.cfg.QueueURL), Entries: entries})
			entries = nil
		}
	}
	for i, m := range h.msgs {
		if m.done.Load() {
			continue
		}
		entries = append(entries, sqstypes.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(fmt.Sprintf("m%d", i)),
			ReceiptHandle: m.msg.ReceiptHandle, VisibilityTimeout: int32(d / time.Second)})
		if len(entries) == 10 {
			flush()
		}
	}
	flush()
}
