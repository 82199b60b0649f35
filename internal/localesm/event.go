package localesm

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/batchresponse"
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

// judge applies Lambda's partial batch response rules
// (batchresponse.Parse) to a successful invocation; an answer that is
// JSON but not an object counts as success. Without ReportBatchItemFailures
// the response is ignored.
func judge(batch []*Record, body []byte, reportItemFailures bool) outcome {
	if !reportItemFailures {
		return outcome{ok: true}
	}
	seqs := make([]string, len(batch))
	for i, r := range batch {
		seqs[i] = r.SequenceNumber
	}
	lowest, failed, err := batchresponse.Parse(body, seqs)
	switch {
	case errors.Is(err, batchresponse.ErrNotAnObject):
		return outcome{ok: true} // not a batch response at all: Lambda ignores it
	case err != nil:
		return outcome{checkpoint: -1, reason: err.Error()}
	case lowest < 0:
		return outcome{ok: true}
	}
	return outcome{checkpoint: lowest, reason: fmt.Sprintf("%d batch item failure(s), lowest %s", len(failed), seqs[lowest])}
}
