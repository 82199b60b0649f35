package localesm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc/internal/contract"
)

// Record is one Kinesis record as the poller read it.
type Record struct {
	ShardID        string
	SequenceNumber string
	PartitionKey   string
	Data           []byte
	Arrival        time.Time

	size int // bytes this record adds to the invocation payload
}

// seqLess reports whether sequence number a is before b.
func seqLess(a, b string) bool { return contract.CompareSequenceNumbers(a, b) < 0 }

func (p *Poller) eventRecord(r *Record) events.KinesisEventRecord {
	return events.KinesisEventRecord{
		AwsRegion:         p.cfg.Region,
		EventID:           r.ShardID + ":" + r.SequenceNumber,
		EventName:         "aws:kinesis:record",
		EventSource:       "aws:kinesis",
		EventSourceArn:    p.cfg.StreamARN,
		EventVersion:      "1.0",
		InvokeIdentityArn: p.invokeIdentityARN,
		Kinesis: events.KinesisRecord{
			ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: r.Arrival},
			Data:                        r.Data,
			PartitionKey:                r.PartitionKey,
			SequenceNumber:              r.SequenceNumber,
			KinesisSchemaVersion:        "1.0",
		},
	}
}

// eventOverhead is the size of the event envelope {"Records":[]} without records.
const eventOverhead = len(`{"Records":[]}`)

// measure sets r.size: its share of the invocation payload (the record's
// JSON plus a separating comma).
func (p *Poller) measure(r *Record) {
	b, _ := json.Marshal(p.eventRecord(r))
	r.size = len(b) + 1
}

// payload builds the invocation payload for a batch.
func (p *Poller) payload(batch []*Record) ([]byte, error) {
	ev := events.KinesisEvent{Records: make([]events.KinesisEventRecord, len(batch))}
	for i, r := range batch {
		ev.Records[i] = p.eventRecord(r)
	}
	return json.Marshal(ev)
}

// outcome of one invocation as the event source mapping sees it.
type outcome struct {
	ok bool
	// checkpoint is the index in the batch of the lowest failed record
	// reported by a partial batch response; -1 when the whole batch failed.
	checkpoint int
	funcErr    *FunctionError
	reason     string
}

// judge applies the partial batch response rules to a successful invocation.
// https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html
//   - success: empty or null response, or an empty or null batchItemFailures list;
//   - complete failure: an itemIdentifier that is null, empty, or not a
//     sequence number of the batch;
//   - otherwise Lambda checkpoints at the lowest failed sequence number and
//     retries from there.
//
// Without ReportBatchItemFailures the response is ignored.
func judge(batch []*Record, body []byte, reportItemFailures bool) outcome {
	if !reportItemFailures {
		return outcome{ok: true}
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return outcome{ok: true}
	}
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(trimmed, &resp); err != nil {
		if json.Valid(trimmed) {
			// Not an object (a string, a number): not a batch response at all.
			return outcome{ok: true}
		}
		return outcome{checkpoint: -1, reason: fmt.Sprintf("response is not valid JSON: %v", err)}
	}
	if len(resp.BatchItemFailures) == 0 {
		return outcome{ok: true}
	}
	index := make(map[string]int, len(batch))
	for i, r := range batch {
		index[r.SequenceNumber] = i
	}
	lowest := -1
	for _, f := range resp.BatchItemFailures {
		if f.ItemIdentifier == nil || *f.ItemIdentifier == "" {
			return outcome{checkpoint: -1, reason: "batchItemFailures has a null or empty itemIdentifier"}
		}
		i, ok := index[*f.ItemIdentifier]
		if !ok {
			return outcome{checkpoint: -1, reason: fmt.Sprintf("itemIdentifier %q is not a sequence number of the batch", *f.ItemIdentifier)}
		}
		if lowest == -1 || i < lowest {
			lowest = i
		}
	}
	return outcome{checkpoint: lowest, reason: fmt.Sprintf("%d batch item failure(s), lowest %s", len(resp.BatchItemFailures), batch[lowest].SequenceNumber)}
}
