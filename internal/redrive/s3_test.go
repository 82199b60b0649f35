package redrive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/redrive"
)

const esmUUID = "14e0db71-5d35-4eb5-b481-8945cf9d10c2"

// s3env is an S3 server (gofakes3 on loopback) with one bucket.
func s3env(t *testing.T) *s3.Client {
	t.Helper()
	srv, err := emulator.StartS3("failed")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true, Credentials: creds})
}

// putBatch writes a failed-batch object as the mapping does, with records
// seq first..first+n-1 of shard, data sizes from size(i).
func putBatch(t *testing.T, sc *s3.Client, shard string, first, n int, at time.Time, size func(i int) int) string {
	t.Helper()
	var ev contract.KinesisEvent
	for i := range n {
		seq := fmt.Sprint(first + i)
		ev.Records = append(ev.Records, contract.KinesisEventRecord{EventID: shard + ":" + seq, EventSourceARN: streamARN, AWSRegion: "us-east-1",
			EventName: "aws:kinesis:record", EventSource: "aws:kinesis", EventVersion: "1.0",
			Kinesis: contract.KinesisRecord{SequenceNumber: seq, PartitionKey: "pk-" + seq, Data: bytes.Repeat([]byte{'a' + byte(i%26)}, size(i)),
				ApproximateArrivalTimestamp: contract.EpochSeconds{Time: time.UnixMilli(1764065223123 + int64(i))}, KinesisSchemaVersion: "1.0"}})
	}
	evJSON, _ := json.Marshal(ev)
	var m contract.OnFailureMessage
	m.RequestContext.FunctionARN, m.RequestContext.Condition, m.RequestContext.ApproximateInvokeCount = fnARN, "RecordAgeExceeded", 3
	m.Version, m.Timestamp = "1.0", contract.Time{Time: at}
	m.KinesisBatchInfo = contract.KinesisBatchInfo{ShardID: shard, StartSequenceNumber: fmt.Sprint(first), EndSequenceNumber: fmt.Sprint(first + n - 1),
		BatchSize: n, StreamARN: streamARN}
	obj, err := contract.NewFailedBatchObject(m, evJSON)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(obj)
	key := contract.FailedBatchKey(esmUUID, shard, at, fmt.Sprintf("00000000-0000-4000-8000-%012d", first))
	if _, err := sc.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("failed"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	return key
}

func keys(t *testing.T, sc *s3.Client) []string {
	t.Helper()
	out, err := sc.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("failed")})
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for _, o := range out.Contents {
		ks = append(ks, aws.ToString(o.Key))
	}
	return ks
}

func s3cfg() redrive.Config {
	return redrive.Config{Bucket: "failed", Prefix: "aws/lambda/", RetryDelay: time.Millisecond, Retries: 2}
}

func small(int) int { return 100 }

// Records are replayed from the objects with their original identity; an
// object is deleted only when every record of it was applied.
func TestRedriveS3ReplaysRecordsAndDeletesObjects(t *testing.T) {
	sc := s3env(t)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	putBatch(t, sc, "shardId-000000000001", 2000, 3, at, small)
	putBatch(t, sc, "shardId-000000000000", 1000, 5, at, small)
	putBatch(t, sc, "shardId-000000000000", 1005, 2, at.Add(time.Minute), small)
	var got []events.KinesisEvent
	l := &scriptedLambda{answers: []func(events.KinesisEvent) *lambda.InvokeOutput{func(ev events.KinesisEvent) *lambda.InvokeOutput {
		got = append(got, ev)
		return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{"batchItemFailures":[]}`)}
	}}}
	var progress []string
	cfg := s3cfg()
	cfg.Progress = func(d, n int) { progress = append(progress, fmt.Sprintf("%d/%d", d, n)) }
	rep, err := redrive.NewS3(sc, l, cfg).RunS3(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Received != 3 || rep.Count(redrive.Replayed) != 3 || rep.Replayed != 10 || rep.Deleted != 3 || rep.Problems() != 0 {
		t.Fatalf("report %+v", rep)
	}
	if left := keys(t, sc); len(left) != 0 {
		t.Fatalf("objects left: %v", left)
	}
	if strings.Join(progress, " ") != "1/3 2/3 3/3" {
		t.Errorf("progress %v", progress)
	}
	// Shard 0 first (key order), oldest object first; original identity.
	if len(got) != 3 || got[0].Records[0].Kinesis.SequenceNumber != "1000" || got[1].Records[0].Kinesis.SequenceNumber != "1005" {
		t.Fatalf("invoke order: %v", l.events)
	}
	r := got[0].Records[2]
	if r.EventID != "shardId-000000000000:1002" || r.EventSourceArn != streamARN || r.Kinesis.PartitionKey != "pk-1002" ||
		!bytes.Equal(r.Kinesis.Data, bytes.Repeat([]byte{'c'}, 100)) || r.Kinesis.ApproximateArrivalTimestamp.UnixMilli() != 1764065223125 {
		t.Fatalf("replayed record %+v", r)
	}
}

func TestRedriveS3KeepsWhatFails(t *testing.T) {
	sc := s3env(t)
	key := putBatch(t, sc, "shardId-000000000000", 1000, 4, time.Now(), small)
	// 1002 fails every time: 1000-1001 are applied, the object stays.
	l := &scriptedLambda{answers: []func(events.KinesisEvent) *lambda.InvokeOutput{answer(`{"batchItemFailures":[{"itemIdentifier":"1002"}]}`)}}
	rep, err := redrive.NewS3(sc, l, s3cfg()).RunS3(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count(redrive.KeptFailed) != 1 || rep.Problems() != 1 || rep.Deleted != 0 {
		t.Fatalf("report %+v", rep)
	}
	if res := rep.Results[0]; res.Key != key || strings.Join(res.FailedSeqs, ",") != "1002,1003" {
		t.Fatalf("result %+v", res)
	}
	if left := keys(t, sc); len(left) != 1 {
		t.Fatalf("objects left: %v", left)
	}
	// A function error keeps it too.
	l = &scriptedLambda{answers: []func(events.KinesisEvent) *lambda.InvokeOutput{func(events.KinesisEvent) *lambda.InvokeOutput {
		return &lambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String("Unhandled"), Payload: []byte(`{"errorMessage":"boom"}`)}
	}}}
	rep, _ = redrive.NewS3(sc, l, s3cfg()).RunS3(context.Background())
	if rep.Count(redrive.KeptFailed) != 1 || len(keys(t, sc)) != 1 {
		t.Fatalf("function error: %+v", rep)
	}
}

// A record over the invoke limit is never sent: the others are applied, the
// object is kept and the record named.
func TestRedriveS3KeepsRecordsOverTheInvokeLimit(t *testing.T) {
	sc := s3env(t)
	key := putBatch(t, sc, "shardId-000000000000", 1000, 3, time.Now(), func(i int) int {
		if i == 1 {
			return 7 << 20 // 7 MiB of data: over 6 MB as an event
		}
		return 100
	})
	l := &scriptedLambda{answers: []func(events.KinesisEvent) *lambda.InvokeOutput{ok()}}
	rep, err := redrive.NewS3(sc, l, s3cfg()).RunS3(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res := rep.Results[0]
	if res.Outcome != redrive.KeptTooLarge || !res.Outcome.Problem() || len(res.TooLarge) != 1 || res.TooLarge[0].RecordID != "shardId-000000000000/1001" ||
		res.TooLarge[0].Size != 7<<20 || res.TooLarge[0].EventBytes <= redrive.InvokeLimit || rep.Replayed != 2 {
		t.Fatalf("result %+v (report %+v)", res, rep)
	}
	for i, seqs := range l.events {
		for _, s := range seqs {
			if s == "1001" {
				t.Fatalf("invoke %d carried the oversized record", i)
			}
		}
		if l.sizes[i] > redrive.InvokeLimit {
			t.Fatalf("invoke %d is %d bytes", i, l.sizes[i])
		}
	}
	if left := keys(t, sc); len(left) != 1 || left[0] != key {
		t.Fatalf("objects left: %v", left)
	}
	// Dry run: reported, nothing invoked.
	l2 := &scriptedLambda{answers: []func(events.KinesisEvent) *lambda.InvokeOutput{ok()}}
	cfg := s3cfg()
	cfg.DryRun = true
	rep, _ = redrive.NewS3(sc, l2, cfg).RunS3(context.Background())
	if len(l2.events) != 0 || rep.Results[0].Outcome != redrive.WouldReplay || len(rep.Results[0].TooLarge) != 1 || len(keys(t, sc)) != 1 {
		t.Fatalf("dry run: %+v, %d invokes", rep, len(l2.events))
	}
}

func TestRedriveS3TagInsteadOfDelete(t *testing.T) {
	sc := s3env(t)
	key := putBatch(t, sc, "shardId-000000000000", 1000, 2, time.Now(), small)
	cfg := s3cfg()
	cfg.TagDone = true
	l := &scriptedLambda{answers: []func(events.KinesisEvent) *lambda.InvokeOutput{ok()}}
	rep, err := redrive.NewS3(sc, l, cfg).RunS3(context.Background())
	if err != nil || rep.Count(redrive.Replayed) != 1 || rep.Tagged != 1 || rep.Deleted != 0 {
		t.Fatalf("%v %+v", err, rep)
	}
	tags, err := sc.GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{Bucket: aws.String("failed"), Key: aws.String(key)})
	if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Key) != redrive.TagRedriven {
		t.Fatalf("tags %+v %v", tags, err)
	}
	rep, _ = redrive.NewS3(sc, l, cfg).RunS3(context.Background())
	if rep.Count(redrive.AlreadyRedriven) != 1 || len(l.events) != 1 || rep.Problems() != 0 {
		t.Fatalf("second run %+v, %d invokes", rep, len(l.events))
	}
}

func TestRedriveS3UnknownObjectsAreKept(t *testing.T) {
	sc := s3env(t)
	for k, body := range map[string]string{
		"aws/lambda/x/garbage":   "not json",
		"aws/lambda/x/nopayload": `{"KinesisBatchInfo":{"shardId":"shardId-000000000000","startSequenceNumber":"1","endSequenceNumber":"2","streamArn":"` + streamARN + `"}}`,
	} {
		if _, err := sc.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("failed"), Key: aws.String(k), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	l := &scriptedLambda{answers: []func(events.KinesisEvent) *lambda.InvokeOutput{ok()}}
	rep, err := redrive.NewS3(sc, l, s3cfg()).RunS3(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count(redrive.KeptUnknown) != 2 || len(l.events) != 0 || len(keys(t, sc)) != 2 {
		t.Fatalf("report %+v", rep)
	}
	// A bucket that does not exist is an error of the run.
	cfg := s3cfg()
	cfg.Bucket = "nope"
	if _, err := redrive.NewS3(sc, l, cfg).RunS3(context.Background()); err == nil {
		t.Fatal("listing a missing bucket did not fail")
	}
}
