package kinesisbatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/backoff"
	"github.com/streamproc/streamproc/internal/ctxsleep"
)

// A Quarantine keeps records that failed permanently so that nothing is
// lost when they are acknowledged.
type Quarantine interface {
	// Put stores each failure's record with its reason. It returns one
	// error per failure, in order: nil means the store accepted the whole
	// payload and the record may be acknowledged.
	Put(ctx context.Context, failures []Failure) []error
}

// SQSSender is the part of the SQS API the quarantine uses: SendMessageBatch,
// with the toolkit's own types so that the package does not link an AWS SDK.
// [NewSQSClient] implements it over an awsjson.Client; a team that already
// holds an aws-sdk-go-v2 *sqs.Client can wrap it in a few lines (see the
// SQSSender example).
type SQSSender interface {
	// SendMessageBatch sends up to 10 messages to one queue. An error means
	// the call as a whole failed (nothing may be assumed about its
	// entries); otherwise every entry is in Successful or Failed.
	SendMessageBatch(ctx context.Context, in *SendMessageBatchInput) (*SendMessageBatchOutput, error)
}

// SendMessageBatchInput is SQS's SendMessageBatch request, reduced to what
// the quarantine sends. Field names are SQS's.
type SendMessageBatchInput struct {
	QueueUrl string
	Entries  []SendMessageBatchRequestEntry
}

// SendMessageBatchRequestEntry is one message of a SendMessageBatchInput.
type SendMessageBatchRequestEntry struct {
	// Id identifies the entry in the answer; unique within the call.
	Id          string
	MessageBody string
	// MessageAttributes are String message attributes (SQS DataType
	// "String"), by name.
	MessageAttributes map[string]string
}

// SendMessageBatchOutput is SQS's SendMessageBatch answer.
type SendMessageBatchOutput struct {
	Successful []SendMessageBatchResultEntry
	Failed     []BatchResultErrorEntry
}

// SendMessageBatchResultEntry is an entry SQS accepted.
type SendMessageBatchResultEntry struct {
	Id        string
	MessageId string
}

// BatchResultErrorEntry is an entry SQS refused. SenderFault reports that
// the request was wrong (retrying the same entry cannot succeed).
type BatchResultErrorEntry struct {
	Id          string
	Code        string
	Message     string
	SenderFault bool
}

// SQSQuarantine writes quarantined records to an SQS queue as
// contract.QuarantinedRecord JSON bodies with the message attribute
// contract.AttrKind = contract.KindQuarantined. A payload larger than
// contract.QuarantineChunk(MaxMessageBytes) is split into Parts messages that share
// RecordID and carry DataSHA256 of the whole payload. A record counts as
// stored only when SQS accepted every one of its parts.
//
// Messages are sent with SendMessageBatch, at most 10 per call and at most
// MaxBatchBytes of bodies per call. Entries SQS fails (or calls that fail)
// are retried up to MaxAttempts times with a short jittered backoff while ctx allows.
// A record whose parts were only partly accepted is reported as failed; when
// Lambda redelivers it the parts are written again, so readers must
// deduplicate parts by (RecordID, Part).
type SQSQuarantine struct {
	Client   SQSSender
	QueueURL string
	// FunctionName is written into every message.
	// Default: "" (the field is omitted).
	FunctionName string
	// MaxAttempts per message.
	// Default: 3.
	MaxAttempts int
	// MaxMessageBytes is the queue's MaximumMessageSize: 1 MiB or more
	// sizes parts at contract.MaxQuarantineChunkLarge, less at
	// contract.MaxQuarantineChunk (contract.QuarantineChunk).
	// Default: 0 (the classic 256 KiB; ConfigFromEnv reads
	// contract.EnvQuarantineMaxMessageBytes)
	MaxMessageBytes int
	// MaxBatchBytes caps the body bytes of one SendMessageBatch call.
	// Default: 240 KiB (the batch limit of a queue with the classic 256 KiB
	// maximum, less room for attributes); 1000 KiB when MaxMessageBytes is
	// 1 MiB or more (SendMessageBatch takes 1 MiB in all)
	MaxBatchBytes int
	// MaxReasonBytes truncates the reason text.
	// Default: 4096.
	MaxReasonBytes int
	// Now stamps QuarantinedAt.
	// Default: time.Now.
	Now func() time.Time
	// Kind is the contract.AttrKind attribute of every message
	// (contract.KindLate for the event-time engine's late output).
	// Default: contract.KindQuarantined.
	Kind string
}

// NewSQSQuarantine returns an SQSQuarantine with defaults.
func NewSQSQuarantine(client SQSSender, queueURL, functionName string) *SQSQuarantine {
	return &SQSQuarantine{Client: client, QueueURL: queueURL, FunctionName: functionName}
}

type qmsg struct {
	owner int // index into failures
	id    string
	body  string
}

// messages builds the contract.QuarantinedRecord bodies for one failure,
// split into parts of at most contract.QuarantineChunk(q.MaxMessageBytes) payload bytes.
func (q *SQSQuarantine) messages(f Failure, now time.Time) ([]string, error) {
	r := f.Record
	data := r.Data
	sum := sha256.Sum256(data)
	chunkSize := contract.QuarantineChunk(q.MaxMessageBytes)
	parts := (len(data) + chunkSize - 1) / chunkSize
	if parts == 0 {
		parts = 1
	}
	reason := "unknown"
	if f.Err != nil {
		reason = f.Err.Error()
	}
	maxReason := q.MaxReasonBytes
	if maxReason <= 0 {
		maxReason = 4096
	}
	if len(reason) > maxReason {
		reason = reason[:maxReason] + "…(truncated)"
	}
	bodies := make([]string, 0, parts)
	for part := 1; part <= parts; part++ {
		off := (part - 1) * chunkSize
		end := min(off+chunkSize, len(data))
		chunk := data[off:end]
		if chunk == nil {
			chunk = []byte{}
		}
		qr := contract.QuarantinedRecord{
			Version:                     contract.Version,
			RecordID:                    r.RecordID(),
			Reason:                      reason,
			EventSourceARN:              r.EventSourceARN,
			ShardID:                     r.ShardID(),
			SequenceNumber:              r.SequenceNumber,
			PartitionKey:                r.PartitionKey,
			ApproximateArrivalTimestamp: r.ApproximateArrivalTimestamp.UTC(),
			QuarantinedAt:               now.UTC(),
			FunctionName:                q.FunctionName,
			Part:                        part,
			Parts:                       parts,
			Offset:                      off,
			Size:                        len(data),
			DataSHA256:                  hex.EncodeToString(sum[:]),
			Data:                        chunk,
		}
		if r.Aggregated {
			sub := r.SubSequenceNumber
			qr.SubSequenceNumber = &sub
			qr.ExplicitHashKey = r.ExplicitHashKey
		}
		b, err := json.Marshal(qr)
		if err != nil {
			return nil, err
		}
		bodies = append(bodies, string(b))
	}
	return bodies, nil
}

// Put implements Quarantine.
func (q *SQSQuarantine) Put(ctx context.Context, failures []Failure) []error {
	errs := make([]error, len(failures))
	now := time.Now
	if q.Now != nil {
		now = q.Now
	}
	maxBytes := q.MaxBatchBytes
	if maxBytes <= 0 {
		maxBytes = 240 << 10
		if q.MaxMessageBytes >= 1<<20 {
			maxBytes = 1000 << 10
		}
	}
	attempts := q.MaxAttempts
	if attempts <= 0 {
		attempts = 3
	}
	kind := q.Kind
	if kind == "" {
		kind = contract.KindQuarantined
	}
	var msgs []qmsg
	for i, f := range failures {
		bodies, err := q.messages(f, now())
		if err != nil {
			errs[i] = fmt.Errorf("encoding quarantine message: %w", err)
			continue
		}
		for p, b := range bodies {
			msgs = append(msgs, qmsg{owner: i, id: "r" + strconv.Itoa(i) + "p" + strconv.Itoa(p+1), body: b})
		}
	}
	msgErr := make([]error, len(msgs))
	pending := make([]int, len(msgs))
	for i := range msgs {
		pending[i] = i
	}
	for attempt := 1; len(pending) > 0; attempt++ {
		var retry []int
		for len(pending) > 0 {
			// Pack up to 10 entries within the byte budget.
			n, size := 0, 0
			for n < len(pending) && n < 10 {
				s := len(msgs[pending[n]].body)
				if n > 0 && size+s > maxBytes {
					break
				}
				size += s
				n++
			}
			chunk := pending[:n]
			pending = pending[n:]
			entries := make([]SendMessageBatchRequestEntry, n)
			byID := make(map[string]int, n)
			for k, mi := range chunk {
				entries[k] = SendMessageBatchRequestEntry{
					Id:                msgs[mi].id,
					MessageBody:       msgs[mi].body,
					MessageAttributes: map[string]string{contract.AttrKind: kind},
				}
				byID[msgs[mi].id] = mi
			}
			out, err := q.Client.SendMessageBatch(ctx, &SendMessageBatchInput{QueueUrl: q.QueueURL, Entries: entries})
			if err == nil && out == nil {
				err = errors.New("no answer and no error from the SQS client")
			}
			if err != nil {
				for _, mi := range chunk {
					msgErr[mi] = fmt.Errorf("quarantine message not sent: %w", err)
					retry = append(retry, mi)
				}
				continue
			}
			ok := make(map[int]bool, n)
			for _, s := range out.Successful {
				if mi, found := byID[s.Id]; found {
					ok[mi] = true
				}
			}
			for _, f := range out.Failed {
				mi, found := byID[f.Id]
				if !found {
					continue
				}
				msgErr[mi] = fmt.Errorf("sqs rejected quarantine message %s: %s: %s", f.Id, f.Code, f.Message)
				if !f.SenderFault {
					retry = append(retry, mi)
				}
			}
			for _, mi := range chunk {
				if ok[mi] {
					msgErr[mi] = nil
				} else if msgErr[mi] == nil {
					msgErr[mi] = errors.New("sqs reported neither success nor failure for quarantine message " + msgs[mi].id)
				}
			}
		}
		if len(retry) == 0 || attempt >= attempts {
			break
		}
		// At most 50 ms, then 100 ms, then 200 ms: never past ctx, which
		// the Processor ends before the invocation deadline.
		if ctxsleep.Sleep(ctx, backoff.Jittered(attempt, 50*time.Millisecond, 200*time.Millisecond)) != nil {
			break
		}
		pending = retry
	}
	for mi, err := range msgErr {
		if err != nil && errs[msgs[mi].owner] == nil {
			errs[msgs[mi].owner] = err
		}
	}
	return errs
}
