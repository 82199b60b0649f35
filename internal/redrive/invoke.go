package redrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/batchresponse"

	"github.com/streamproc/streamproc/internal/ctxsleep"
)

// LambdaAPI is the part of the Lambda client redrive uses.
type LambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Record is one Kinesis record to replay, with the identity it had in the
// stream: shard, sequence number, partition key, arrival time.
type Record struct {
	StreamARN      string
	Region         string
	ShardID        string
	SequenceNumber string
	PartitionKey   string
	Arrival        time.Time
	EncryptionType string
	Data           []byte

	event []byte // eventRecord as JSON, once encoded (eventJSON)
}

// eventJSON is r's event record as JSON, encoded on first use: sizing,
// chunking and invoking all use these bytes.
func (r *Record) eventJSON() ([]byte, error) {
	if r.event == nil {
		b, err := json.Marshal(r.eventRecord())
		if err != nil {
			return nil, fmt.Errorf("record %s/%s: encoding it as an event: %w", r.ShardID, r.SequenceNumber, err)
		}
		r.event = b
	}
	return r.event, nil
}

// aloneBytes is the size of an event holding only r.
func (r *Record) aloneBytes() (int, error) {
	b, err := r.eventJSON()
	return len(b) + len(eventEnvelope), err
}

// eventRecord shapes r exactly as the event source mapping delivers it, so
// the processor's exactly-once scheme (keyed on shard and sequence number, and
// on the payload's event id) treats a replay as the same record.
func (r Record) eventRecord() events.KinesisEventRecord {
	return events.KinesisEventRecord{
		AwsRegion:      r.Region,
		EventID:        r.ShardID + ":" + r.SequenceNumber,
		EventName:      "aws:kinesis:record",
		EventSource:    "aws:kinesis",
		EventSourceArn: r.StreamARN,
		EventVersion:   "1.0",
		Kinesis: events.KinesisRecord{
			ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: r.Arrival},
			Data:                        r.Data,
			EncryptionType:              r.EncryptionType,
			PartitionKey:                r.PartitionKey,
			SequenceNumber:              r.SequenceNumber,
			KinesisSchemaVersion:        "1.0",
		},
	}
}

// eventEnvelope is what a Kinesis event adds around its records.
const eventEnvelope = `{"Records":[]}`

// chunks splits records (of one shard, in sequence order) into events whose
// JSON stays under maxBytes (Lambda's synchronous payload limit is 6 MB).
func chunks(recs []Record, maxBytes int) ([][]Record, error) {
	var out [][]Record
	var cur []Record
	size := len(eventEnvelope)
	for i := range recs {
		r := &recs[i]
		alone, err := r.aloneBytes()
		if err != nil {
			return nil, err
		}
		if alone > InvokeLimit {
			return nil, fmt.Errorf("record %s/%s is %d bytes as an event, over Lambda's %d-byte invoke limit", r.ShardID, r.SequenceNumber, alone, InvokeLimit)
		}
		n := alone - len(eventEnvelope) + 1 // with the comma before it
		if alone > maxBytes {
			// Over the chosen bound but within Lambda's limit: alone.
			if len(cur) > 0 {
				out = append(out, cur)
				cur, size = nil, len(eventEnvelope)
			}
			out = append(out, []Record{*r})
			continue
		}
		if len(cur) > 0 && size+n > maxBytes {
			out = append(out, cur)
			cur, size = nil, len(eventEnvelope)
		}
		cur = append(cur, *r)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}

// invokeError is a failed replay of some records.
type invokeError struct {
	Failed []string // sequence numbers not applied
	Reason string
}

func (e *invokeError) Error() string { return e.Reason }

// replay sends recs (one shard, in order) through the function in
// Kinesis-shaped events and retries what fails, the way the event source
// mapping does: from the lowest failed sequence number on. It returns nil
// only when every record was applied.
func (r *Redriver) replay(ctx context.Context, function string, recs []Record) error {
	sort.Slice(recs, func(i, j int) bool {
		return contract.CompareSequenceNumbers(recs[i].SequenceNumber, recs[j].SequenceNumber) < 0
	})
	parts, err := chunks(recs, r.cfg.MaxPayloadBytes)
	if err != nil {
		return &invokeError{Reason: err.Error(), Failed: seqs(recs)}
	}
	for i, part := range parts {
		pending := part
		var lastReason string
		for attempt := 0; ; attempt++ {
			failedFrom, reason, err := r.invokeOnce(ctx, function, pending)
			if err != nil {
				return err // context ended
			}
			if failedFrom < 0 {
				break
			}
			lastReason = reason
			pending = pending[failedFrom:]
			if attempt >= r.cfg.Retries {
				var notDone []string
				notDone = append(notDone, seqs(pending)...)
				for _, later := range parts[i+1:] {
					notDone = append(notDone, seqs(later)...)
				}
				return &invokeError{Failed: notDone, Reason: fmt.Sprintf("%d records still failing after %d attempts: %s", len(notDone), attempt+1, lastReason)}
			}
			if err := ctxsleep.Sleep(ctx, r.cfg.RetryDelay<<min(attempt, 6)); err != nil {
				return err
			}
		}
	}
	return nil
}

// invokeOnce invokes the function with one event. It returns -1 when every
// record was applied, otherwise the index from which records must be sent
// again and why. err is only for a cancelled context.
func (r *Redriver) invokeOnce(ctx context.Context, function string, recs []Record) (int, string, error) {
	// An events.KinesisEvent as encoding/json writes it, from the records'
	// encoded bytes.
	payload := append(make([]byte, 0, InvokeLimit/8), `{"Records":[`...)
	for i := range recs {
		b, err := recs[i].eventJSON()
		if err != nil {
			return 0, err.Error(), nil
		}
		if i > 0 {
			payload = append(payload, ',')
		}
		payload = append(payload, b...)
	}
	payload = append(payload, "]}"...)
	out, err := r.lambda.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(function),
		InvocationType: lambdatypes.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	r.stats.invokes.Add(1)
	if ctx.Err() != nil {
		return 0, "", ctx.Err()
	}
	if err != nil {
		return 0, "invoke " + function + ": " + err.Error(), nil
	}
	if out.FunctionError != nil {
		return 0, fmt.Sprintf("function error (%s): %s", aws.ToString(out.FunctionError), truncate(string(out.Payload), 300)), nil
	}
	lowest, failed, err := batchresponse.Parse(out.Payload, seqs(recs))
	switch {
	case errors.Is(err, batchresponse.ErrNotAnObject):
		// Stricter than the local poller: the message is kept unless the
		// function clearly said the records were handled.
		return 0, "the function's answer is not a KinesisEventResponse: " + truncate(string(out.Payload), 200), nil
	case err != nil:
		// As Lambda does, a bad answer fails the whole event.
		return 0, err.Error() + ": treating the whole event as failed", nil
	case lowest < 0:
		return -1, "", nil
	}
	return lowest, fmt.Sprintf("the function reported %d batch item failures (%s)", len(failed), strings.Join(firstN(failed, 3), ", ")), nil
}

func seqs(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.SequenceNumber
	}
	return out
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(append([]string(nil), s[:n]...), "...")
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
