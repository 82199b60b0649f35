package redrive_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/functions/kinesisbatch"
	"github.com/streamproc/streamproc/functions/kinesisbatch/kpl"
	"github.com/streamproc/streamproc/internal/redrive"
)

// kplKinesis serves one shard of n KPL aggregated records, sequence numbers
// 1000..1000+n-1, each holding per user records "u<seq>-<i>" under
// partition keys "k<i%3>".
type kplKinesis struct{ n, per int }

func (k kplKinesis) GetShardIterator(_ context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	return &kinesis.GetShardIteratorOutput{ShardIterator: in.StartingSequenceNumber}, nil
}

func (k kplKinesis) GetRecords(_ context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	from, err := strconv.Atoi(aws.ToString(in.ShardIterator))
	if err != nil {
		return nil, err
	}
	out := &kinesis.GetRecordsOutput{MillisBehindLatest: aws.Int64(0), NextShardIterator: in.ShardIterator}
	for s := from; s < 1000+k.n && len(out.Records) < 4; s++ {
		var a kpl.Aggregator
		for i := range k.per {
			_ = a.Add(fmt.Sprintf("k%d", i%3), "", fmt.Appendf(nil, "u%d-%d", s, i))
		}
		data, _ := a.Encode(nil)
		out.Records = append(out.Records, types.Record{SequenceNumber: aws.String(fmt.Sprint(s)), PartitionKey: aws.String("k0"),
			Data: data, ApproximateArrivalTimestamp: aws.Time(time.Unix(1764065223, 0))})
	}
	if len(out.Records) > 0 {
		out.NextShardIterator = aws.String(fmt.Sprint(from + len(out.Records)))
		out.MillisBehindLatest = aws.Int64(1)
	}
	return out, nil
}

// toolkitLambda invokes a real kinesisbatch.Processor in process: the
// function redrive talks to deaggregates as a deployed one does.
type toolkitLambda struct {
	p       *kinesisbatch.Processor
	mu      sync.Mutex
	applied map[string]int // by RecordID
	seen    []string       // "RecordID pk data" per delivery
	fail    map[string]int // user payload -> failures left
}

func newToolkitLambda(fail map[string]int) *toolkitLambda {
	l := &toolkitLambda{applied: map[string]int{}, fail: fail}
	l.p = kinesisbatch.New(kinesisbatch.RecordFunc(func(ctx context.Context, r *kinesisbatch.Record) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.seen = append(l.seen, r.RecordID()+" "+r.PartitionKey+" "+string(r.Data))
		if l.fail[string(r.Data)] > 0 {
			l.fail[string(r.Data)]--
			return errors.New("throttled")
		}
		l.applied[r.RecordID()]++
		return nil
	}), kinesisbatch.Config{Retry: kinesisbatch.RetryPolicy{MaxAttempts: 1}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DisableMetrics: true})
	return l
}

func (l *toolkitLambda) Invoke(ctx context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	out, err := l.p.Invoke(ctx, in.Payload)
	if err != nil {
		return &lambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String("Unhandled"), Payload: []byte(`{"errorMessage":"` + err.Error() + `"}`)}, nil
	}
	return &lambda.InvokeOutput{StatusCode: 200, Payload: out}, nil
}

// TestRedriveAggregatedBatch: a failed batch of KPL aggregated records is
// re-read from the stream as it is and replayed; the function deaggregates,
// reports the Kinesis sequence number of a failing user record, redrive
// retries from it, and every user record ends up applied.
func TestRedriveAggregatedBatch(t *testing.T) {
	fake, sq, url := dlq(t)
	send(t, sq, url, onFailure("shardId-000000000000", "1000", "1009", 10), nil)
	l := newToolkitLambda(map[string]int{"u1004-2": 1})
	rep, err := redrive.New(sq, kplKinesis{n: 15, per: 5}, l, fastCfg(url)).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[0]; r.Outcome != redrive.Replayed || r.Records != 10 {
		t.Fatalf("outcome %s (%s), %d records; want replayed, 10 Kinesis records", r.Outcome, r.Detail, r.Records)
	}
	if len(l.applied) != 50 {
		t.Fatalf("%d distinct user records applied, want 50", len(l.applied))
	}
	for id := range l.applied {
		if !strings.HasPrefix(id, "shardId-000000000000/10") || strings.Count(id, "/") != 2 {
			t.Fatalf("user record id %q: want shardId/sequence/subsequence", id)
		}
	}
	// The retry started at the failed user record's Kinesis record: its
	// earlier siblings came again (same ids), the records before it did not.
	if l.applied["shardId-000000000000/1004/0"] != 2 || l.applied["shardId-000000000000/1003/0"] != 1 || l.applied["shardId-000000000000/1009/4"] != 2 {
		t.Fatalf("deliveries: 1004/0 %d, 1003/0 %d, 1009/4 %d", l.applied["shardId-000000000000/1004/0"], l.applied["shardId-000000000000/1003/0"], l.applied["shardId-000000000000/1009/4"])
	}
	if left := len(fake.Peek("dlq")); left != 0 {
		t.Fatalf("%d messages left in the DLQ", left)
	}
}

// TestRedriveQuarantinedUserRecord: a quarantined KPL user record is
// reprocessed with its own partition key and payload under its Kinesis
// record's sequence number (as a plain record: the function's id for it is
// then "<shard>/<sequence>").
func TestRedriveQuarantinedUserRecord(t *testing.T) {
	_, sq, url := dlq(t)
	sub := uint64(3)
	body, _ := json.Marshal(contract.QuarantinedRecord{Version: contract.Version, RecordID: "shardId-000000000000/1001/3", Reason: "bad reading",
		ShardID: "shardId-000000000000", SequenceNumber: "1001", PartitionKey: "k0", SubSequenceNumber: &sub,
		EventSourceARN: streamARN, Part: 1, Parts: 1, Size: 7, DataSHA256: sha256Hex("u1001-3"), Data: []byte("u1001-3")})
	send(t, sq, url, string(body), map[string]sqstypes.MessageAttributeValue{
		contract.AttrKind: {DataType: aws.String("String"), StringValue: aws.String(contract.KindQuarantined)}})
	l := newToolkitLambda(nil)
	cfg := fastCfg(url)
	cfg.Quarantined = redrive.Reprocess
	rep, err := redrive.New(sq, kplKinesis{n: 5, per: 5}, l, cfg).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[0]; r.Outcome != redrive.Reprocessed || r.RecordID != "shardId-000000000000/1001/3" {
		t.Fatalf("outcome %s (%s) for %s", r.Outcome, r.Detail, r.RecordID)
	}
	if len(l.seen) != 1 || l.seen[0] != "shardId-000000000000/1001 k0 u1001-3" {
		t.Fatalf("function saw %q", l.seen)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
