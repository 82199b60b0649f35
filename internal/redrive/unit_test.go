package redrive_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/redrive"
)

// memKinesis serves one shard of n records with sequence numbers 1000..1000+n-1.
type memKinesis struct{ n int }

func (k memKinesis) GetShardIterator(_ context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	return &kinesis.GetShardIteratorOutput{ShardIterator: in.StartingSequenceNumber}, nil
}

func (k memKinesis) GetRecords(_ context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	from, err := strconv.Atoi(aws.ToString(in.ShardIterator))
	if err != nil {
		return nil, err
	}
	out := &kinesis.GetRecordsOutput{MillisBehindLatest: aws.Int64(0)}
	for s := from; s < 1000+k.n && len(out.Records) < 3; s++ { // small pages
		out.Records = append(out.Records, types.Record{SequenceNumber: aws.String(fmt.Sprint(s)), PartitionKey: aws.String("k"),
			Data: []byte(strings.Repeat("x", 100)), ApproximateArrivalTimestamp: aws.Time(time.Unix(1764065223, 0))})
	}
	if len(out.Records) > 0 {
		out.NextShardIterator = aws.String(fmt.Sprint(from + len(out.Records)))
		out.MillisBehindLatest = aws.Int64(1)
	} else {
		out.NextShardIterator = in.ShardIterator
	}
	return out, nil
}

// scriptedLambda answers each invoke with the next of answers (the last one
// repeats) and records the sequence numbers of each event.
type scriptedLambda struct {
	answers []func(ev events.KinesisEvent) *lambda.InvokeOutput
	events  [][]string
	sizes   []int
}

func (l *scriptedLambda) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	var ev events.KinesisEvent
	if err := json.Unmarshal(in.Payload, &ev); err != nil {
		return nil, err
	}
	var seqs []string
	for _, r := range ev.Records {
		seqs = append(seqs, r.Kinesis.SequenceNumber)
	}
	l.events = append(l.events, seqs)
	l.sizes = append(l.sizes, len(in.Payload))
	a := l.answers[min(len(l.events)-1, len(l.answers)-1)]
	return a(ev), nil
}

func ok() func(events.KinesisEvent) *lambda.InvokeOutput {
	return func(events.KinesisEvent) *lambda.InvokeOutput {
		return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte("null")}
	}
}

func answer(body string) func(events.KinesisEvent) *lambda.InvokeOutput {
	return func(events.KinesisEvent) *lambda.InvokeOutput {
		return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(body)}
	}
}

func runOne(t *testing.T, n, size int, l *scriptedLambda, cfg func(*redrive.Config)) (redrive.Report, int) {
	t.Helper()
	fake, sq, url := dlq(t)
	send(t, sq, url, onFailure("shardId-000000000000", "1000", fmt.Sprint(1000+n-1), size), nil)
	c := fastCfg(url)
	if cfg != nil {
		cfg(&c)
	}
	rep, err := redrive.New(sq, memKinesis{n: n + 5}, l, c).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep, len(fake.Peek("dlq"))
}

func TestReplayAnswers(t *testing.T) {
	cases := []struct {
		name    string
		answers []func(events.KinesisEvent) *lambda.InvokeOutput
		outcome redrive.Outcome
		invokes int
		left    int
	}{
		{"null answer is success", []func(events.KinesisEvent) *lambda.InvokeOutput{ok()}, redrive.Replayed, 1, 0},
		{"empty failures is success", []func(events.KinesisEvent) *lambda.InvokeOutput{answer(`{"batchItemFailures":[]}`)}, redrive.Replayed, 1, 0},
		{"partial failure then success", []func(events.KinesisEvent) *lambda.InvokeOutput{
			answer(`{"batchItemFailures":[{"itemIdentifier":"1004"},{"itemIdentifier":"1002"}]}`), ok()}, redrive.Replayed, 2, 0},
		{"unknown identifier fails the whole event", []func(events.KinesisEvent) *lambda.InvokeOutput{
			answer(`{"batchItemFailures":[{"itemIdentifier":"77"}]}`)}, redrive.KeptFailed, 3, 1},
		{"function error", []func(events.KinesisEvent) *lambda.InvokeOutput{func(events.KinesisEvent) *lambda.InvokeOutput {
			return &lambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String("Unhandled"), Payload: []byte(`{"errorMessage":"boom"}`)}
		}}, redrive.KeptFailed, 3, 1},
		{"garbage answer is a doubt", []func(events.KinesisEvent) *lambda.InvokeOutput{answer(`"ok"`)}, redrive.KeptFailed, 3, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := &scriptedLambda{answers: c.answers}
			rep, left := runOne(t, 8, 8, l, func(cfg *redrive.Config) { cfg.Retries = 2 })
			if r := rep.Results[0]; r.Outcome != c.outcome || len(l.events) != c.invokes || left != c.left {
				t.Fatalf("outcome %s (%s), %d invokes, %d messages left; want %s, %d, %d", r.Outcome, r.Detail, len(l.events), left, c.outcome, c.invokes, c.left)
			}
		})
	}
	// After a partial failure the retry starts at the lowest failed sequence number.
	l := &scriptedLambda{answers: []func(events.KinesisEvent) *lambda.InvokeOutput{
		answer(`{"batchItemFailures":[{"itemIdentifier":"1004"},{"itemIdentifier":"1002"}]}`), ok()}}
	runOne(t, 8, 8, l, nil)
	if got := strings.Join(l.events[1], ","); got != "1002,1003,1004,1005,1006,1007" {
		t.Fatalf("retry sent %s", got)
	}
}

func TestReplayChunksToThePayloadLimit(t *testing.T) {
	l := &scriptedLambda{answers: []func(events.KinesisEvent) *lambda.InvokeOutput{ok()}}
	rep, left := runOne(t, 40, 40, l, func(c *redrive.Config) { c.MaxPayloadBytes = 2000 })
	if rep.Results[0].Outcome != redrive.Replayed || left != 0 {
		t.Fatalf("%+v", rep.Results[0])
	}
	total := 0
	for i, ev := range l.events {
		total += len(ev)
		if l.sizes[i] > 2000 {
			t.Fatalf("event %d is %d bytes, over the 2000-byte limit", i, l.sizes[i])
		}
	}
	if total != 40 || len(l.events) < 4 {
		t.Fatalf("%d records in %d events", total, len(l.events))
	}
}

func TestStreamNameFromARN(t *testing.T) {
	name, region, err := redrive.StreamNameFromARN("arn:aws:kinesis:eu-west-1:123456789012:stream/orders")
	if err != nil || name != "orders" || region != "eu-west-1" {
		t.Fatalf("%q %q %v", name, region, err)
	}
	for _, bad := range []string{"", "orders", "arn:aws:sqs:eu-west-1:1:q", "arn:aws:kinesis:eu-west-1:1:stream/"} {
		if _, _, err := redrive.StreamNameFromARN(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if contract.CompareSequenceNumbers("9", "10") >= 0 || contract.CompareSequenceNumbers("49601189658422359378836298521827638475320189012309704722", "49601189658422359378836298522902373528957594348623495186") >= 0 {
		t.Fatal("CompareSeq")
	}
}

func TestRegionMismatchIsKept(t *testing.T) {
	l := &scriptedLambda{answers: []func(events.KinesisEvent) *lambda.InvokeOutput{ok()}}
	rep, left := runOne(t, 3, 3, l, func(c *redrive.Config) { c.Region = "eu-west-1" })
	if r := rep.Results[0]; r.Outcome != redrive.KeptError || !strings.Contains(r.Detail, "--region us-east-1") || left != 1 || len(l.events) != 0 {
		t.Fatalf("%+v", r)
	}
}

// A range holding more records than batchSize (ParallelizationFactor > 1 or
// filters on the mapping) is kept unless ReplayRange asks for the whole range;
// a range holding fewer is kept either way.
func TestReplayRange(t *testing.T) {
	l := &scriptedLambda{answers: []func(events.KinesisEvent) *lambda.InvokeOutput{ok()}}
	rep, left := runOne(t, 8, 5, l, nil)
	r := rep.Results[0]
	if r.Outcome != redrive.KeptError || left != 1 || len(l.events) != 0 || r.Records != 8 ||
		!strings.Contains(r.Detail, "holds 8 records for batchSize 5") || !strings.Contains(r.Detail, "ParallelizationFactor > 1 or filters") ||
		!strings.Contains(r.Detail, "--replay-range replays the whole range") {
		t.Fatalf("without --replay-range: %+v, %d left, %d invokes", r, left, len(l.events))
	}

	l = &scriptedLambda{answers: []func(events.KinesisEvent) *lambda.InvokeOutput{ok()}}
	rep, left = runOne(t, 8, 5, l, func(c *redrive.Config) { c.ReplayRange = true })
	r = rep.Results[0]
	if r.Outcome != redrive.Replayed || left != 0 || r.Records != 8 || rep.Replayed != 8 || !strings.Contains(r.Detail, "--replay-range") {
		t.Fatalf("with --replay-range: %+v, %d left", r, left)
	}
	if got := strings.Join(l.events[0], ","); len(l.events) != 1 || got != "1000,1001,1002,1003,1004,1005,1006,1007" {
		t.Fatalf("replayed %v, want the whole range in one event", l.events)
	}

	l = &scriptedLambda{answers: []func(events.KinesisEvent) *lambda.InvokeOutput{ok()}}
	rep, left = runOne(t, 8, 5, l, func(c *redrive.Config) { c.ReplayRange = true; c.DryRun = true })
	if r := rep.Results[0]; r.Outcome != redrive.WouldReplay || left != 1 || len(l.events) != 0 {
		t.Fatalf("dry run with --replay-range: %+v, %d left", r, left)
	}

	l = &scriptedLambda{answers: []func(events.KinesisEvent) *lambda.InvokeOutput{ok()}}
	rep, left = runOne(t, 3, 5, l, func(c *redrive.Config) { c.ReplayRange = true })
	if r := rep.Results[0]; r.Outcome != redrive.KeptError || left != 1 || len(l.events) != 0 || !strings.Contains(r.Detail, "holds 3 records for batchSize 5") {
		t.Fatalf("fewer records than batchSize must stay kept: %+v, %d left", r, left)
	}
}

// slowSQS makes every receive slow, can make the first message received
// visible again before the next receive (as if its visibility had run out),
// and records visibility extensions made while receiving.
type slowSQS struct {
	*sqs.Client
	url             string
	delay           time.Duration
	expireFirst     bool
	receives        int
	first           *string
	receiving       atomic.Bool
	extendedWhileRx atomic.Int32
}

func (s *slowSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	s.receiving.Store(true)
	time.Sleep(s.delay)
	s.receives++
	if s.expireFirst && s.receives == 2 && s.first != nil {
		if _, err := s.Client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &s.url, ReceiptHandle: s.first, VisibilityTimeout: 0}); err != nil {
			return nil, err
		}
	}
	out, err := s.Client.ReceiveMessage(ctx, in, optFns...)
	if err == nil && s.first == nil && len(out.Messages) > 0 {
		s.first = out.Messages[0].ReceiptHandle
	}
	if err != nil || len(out.Messages) == 0 {
		s.receiving.Store(false)
	}
	return out, err
}

func (s *slowSQS) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	if s.receiving.Load() && len(in.Entries) > 0 && in.Entries[0].VisibilityTimeout > 0 {
		s.extendedWhileRx.Add(1)
	}
	return s.Client.ChangeMessageVisibilityBatch(ctx, in, optFns...)
}

func quarantinedMsg(t *testing.T, sq *sqs.Client, url, id string) {
	t.Helper()
	sum := sha256.Sum256([]byte("abc"))
	b, _ := json.Marshal(contract.QuarantinedRecord{RecordID: id, Reason: "not JSON", ShardID: "shardId-000000000000", SequenceNumber: "1",
		Part: 1, Parts: 1, Size: 3, DataSHA256: hex.EncodeToString(sum[:]), Data: []byte("abc")})
	send(t, sq, url, string(b), map[string]sqstypes.MessageAttributeValue{
		contract.AttrKind: {DataType: aws.String("String"), StringValue: aws.String(contract.KindQuarantined)}})
}

// A message received twice is handled once, with the newest receipt handle
// (the first one no longer deletes it).
func TestReceivedTwiceKeepsTheNewestReceiptHandle(t *testing.T) {
	fake, sq, url := dlq(t)
	quarantinedMsg(t, sq, url, "shardId-000000000000/1")
	s := &slowSQS{Client: sq, url: url, expireFirst: true}
	cfg := fastCfg(url)
	cfg.Quarantined = redrive.Discard
	rep, err := redrive.New(s, memKinesis{}, nil, cfg).Run(context.Background())
	if err != nil || rep.Received != 1 || rep.Count(redrive.Discarded) != 1 || rep.Deleted != 1 || len(fake.Peek("dlq")) != 0 {
		t.Fatalf("%+v %v (%d receives)", rep, err, s.receives)
	}
	if s.receives < 3 {
		t.Fatalf("the message was not received twice (%d receives)", s.receives)
	}
}

// Visibility is extended while messages are still being received.
func TestVisibilityIsExtendedWhileReceiving(t *testing.T) {
	_, sq, url := dlq(t)
	for i := range 3 {
		quarantinedMsg(t, sq, url, fmt.Sprintf("shardId-000000000000/%d", i))
	}
	s := &slowSQS{Client: sq, url: url, delay: 700 * time.Millisecond}
	cfg := fastCfg(url)
	cfg.Visibility = time.Second
	rep, err := redrive.New(s, memKinesis{}, nil, cfg).Run(context.Background())
	if err != nil || rep.Received != 3 {
		t.Fatalf("%+v %v", rep, err)
	}
	if s.extendedWhileRx.Load() == 0 {
		t.Fatal("no visibility extension while receiving")
	}
}
