package localesm

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamproc/streamproc/functions/contract"
)

// Destination receives the on-failure messages of discarded batches.
type Destination interface {
	Send(ctx context.Context, body []byte) error
}

// RecordDestination is a Destination that keeps the discarded records too, as
// an S3 on-failure destination does. The poller calls SendBatch instead of
// Send with the description and the event (KinesisEvent JSON) of the
// discarded records.
type RecordDestination interface {
	Destination
	SendBatch(ctx context.Context, msg contract.OnFailureMessage, event []byte) error
}

// S3PutAPI is the part of the S3 API the S3 destination uses.
type S3PutAPI interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// LocalMappingUUID is the mapping id in the keys an S3Destination writes
// when none is given.
const LocalMappingUUID = "00000000-0000-4000-8000-00000000e5a1"

// S3Destination writes a contract.FailedBatchObject per discarded batch to a
// bucket, as the mapping does for an S3 on-failure destination: the
// description with the whole event as an escaped JSON string in "payload",
// under aws/lambda/<MappingUUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>.
// https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
type S3Destination struct {
	Client S3PutAPI
	Bucket string
	// MappingUUID is the event source mapping's id in the object keys.
	// Default: LocalMappingUUID
	MappingUUID string
	// Now stamps the key. Default: time.Now.
	Now func() time.Time
}

// Send implements Destination for a description without records (not used by
// the poller, which calls SendBatch).
func (d S3Destination) Send(ctx context.Context, body []byte) error {
	var m contract.OnFailureMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return err
	}
	return d.put(ctx, m, body)
}

// SendBatch implements RecordDestination.
func (d S3Destination) SendBatch(ctx context.Context, msg contract.OnFailureMessage, event []byte) error {
	obj, err := contract.NewFailedBatchObject(msg, event)
	if err != nil {
		return err
	}
	body, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return d.put(ctx, msg, body)
}

func (d S3Destination) put(ctx context.Context, msg contract.OnFailureMessage, body []byte) error {
	id := d.MappingUUID
	if id == "" {
		id = LocalMappingUUID
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	key := contract.FailedBatchKey(id, msg.KinesisBatchInfo.ShardID, now(), newRequestID())
	_, err := d.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(d.Bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentType: aws.String("application/json")})
	return err
}

// SQSClient is the part of the SQS API the destination uses.
type SQSClient interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// SQSDestination sends on-failure messages to a queue, as the mapping does
// for an SQS on-failure destination.
type SQSDestination struct {
	Client   SQSClient
	QueueURL string
}

// Send implements Destination.
func (d SQSDestination) Send(ctx context.Context, body []byte) error {
	_, err := d.Client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(d.QueueURL), MessageBody: aws.String(string(body))})
	return err
}

// Conditions of an on-failure message.
const (
	ConditionRetryAttemptsExhausted = "RetryAttemptsExhausted"
	ConditionRecordAgeExceeded      = "RecordAgeExceeded"
)

func (p *Poller) onFailureBody(recs []*Record, condition string, b *inflight, now time.Time) ([]byte, error) {
	return json.Marshal(p.onFailureMessage(recs, condition, b, now))
}

func (p *Poller) onFailureMessage(recs []*Record, condition string, b *inflight, now time.Time) contract.OnFailureMessage {
	// The body Lambda sends to an SQS or SNS on-failure destination for a
	// Kinesis source:
	// https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
	var m contract.OnFailureMessage
	m.RequestContext.RequestID = b.lastRequestID
	if m.RequestContext.RequestID == "" {
		m.RequestContext.RequestID = newRequestID()
	}
	m.RequestContext.FunctionARN = p.cfg.FunctionARN
	m.RequestContext.Condition = condition
	m.RequestContext.ApproximateInvokeCount = b.invokes
	if b.invokes > 0 {
		m.ResponseContext.StatusCode = 200
	}
	m.ResponseContext.ExecutedVersion = "$LATEST"
	if b.lastFunctionError {
		m.ResponseContext.FunctionError = "Unhandled"
	}
	m.Version = "1.0"
	m.Timestamp = contract.Time{Time: now}
	first, last := recs[0], recs[len(recs)-1]
	m.KinesisBatchInfo.ShardID = first.ShardID
	m.KinesisBatchInfo.StartSequenceNumber = first.SequenceNumber
	m.KinesisBatchInfo.EndSequenceNumber = last.SequenceNumber
	m.KinesisBatchInfo.ApproximateArrivalOfFirstRecord = contract.Time{Time: first.Arrival}
	m.KinesisBatchInfo.ApproximateArrivalOfLastRecord = contract.Time{Time: last.Arrival}
	m.KinesisBatchInfo.BatchSize = len(recs)
	m.KinesisBatchInfo.StreamARN = p.cfg.StreamARN
	return m
}

// send delivers one discarded batch to the destination: the records too when
// it keeps them (RecordDestination).
func (p *Poller) send(ctx context.Context, recs []*Record, condition string, b *inflight) (func(context.Context) error, error) {
	m := p.onFailureMessage(recs, condition, b, p.now())
	if rd, ok := p.dest.(RecordDestination); ok {
		event, err := p.payload(recs)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return rd.SendBatch(ctx, m, event) }, nil
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error { return p.dest.Send(ctx, body) }, nil
}
