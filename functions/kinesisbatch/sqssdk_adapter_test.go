package kinesisbatch_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/functions/kinesisbatch"
	"github.com/streamproc/streamproc/internal/sqsfake"
)

// TestSDKAdapter runs the ExampleSQSSender adapter, with the SDK's client,
// against sqsfake, so the example stays correct.
func TestSDKAdapter(t *testing.T) {
	srv, err := sqsfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ctx := context.Background()
	client := srv.NewClient(func(o *sqs.Options) { o.RetryMaxAttempts = 1 })
	if _, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("dlq")}); err != nil {
		t.Fatal(err)
	}
	q := kinesisbatch.NewSQSQuarantine(sdkSQS{c: client}, srv.QueueURL("dlq"), "fn")
	rec := func(seq string) *kinesisbatch.Record {
		return &kinesisbatch.Record{Data: []byte("x"), SequenceNumber: seq, EventID: "shardId-000000000001:" + seq,
			EventSourceARN: "arn:aws:kinesis:us-east-1:000000000000:stream/s", ApproximateArrivalTimestamp: time.Unix(1764065251, 0)}
	}
	srv.FailNextEntries("SendMessageBatch", 1, sqsfake.Failure{Status: 400, Type: "com.amazonaws.sqs#InvalidMessageContents",
		QueryCode: "InvalidMessageContents", Sender: true, Message: "refused"})
	errs := q.Put(ctx, []kinesisbatch.Failure{{Record: rec("1"), Err: errors.New("bad")}, {Record: rec("2"), Err: errors.New("bad")}})
	if errs[0] == nil || errs[1] != nil {
		t.Fatalf("errors %v", errs)
	}
	msgs := srv.Peek("dlq")
	if len(msgs) != 1 || *msgs[0].MessageAttributes[contract.AttrKind].StringValue != contract.KindQuarantined {
		t.Fatalf("messages %+v", msgs)
	}
}
