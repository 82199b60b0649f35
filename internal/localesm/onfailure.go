package localesm

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamproc/streamproc/functions/contract"
)

// Destination receives the on-failure messages of discarded batches.
type Destination interface {
	Send(ctx context.Context, body []byte) error
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
	return json.Marshal(m)
}
