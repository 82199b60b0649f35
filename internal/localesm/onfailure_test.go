package localesm

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/emulator"
)

func s3Dest(t *testing.T) (S3Destination, *s3.Client) {
	t.Helper()
	srv, err := emulator.StartS3("failed")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	return S3Destination{Client: c, Bucket: "failed", MappingUUID: "14e0db71-5d35-4eb5-b481-8945cf9d10c2"}, c
}

// objects returns the failed-batch objects in the bucket, by key.
func objects(t *testing.T, c *s3.Client) map[string]contract.FailedBatchObject {
	t.Helper()
	ctx := context.Background()
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("failed")})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]contract.FailedBatchObject{}
	for _, o := range list.Contents {
		got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("failed"), Key: o.Key})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(got.Body)
		_ = got.Body.Close()
		var obj contract.FailedBatchObject
		if err := json.Unmarshal(body, &obj); err != nil {
			t.Fatalf("%s: %v", aws.ToString(o.Key), err)
		}
		out[aws.ToString(o.Key)] = obj
	}
	return out
}

// A batch that exhausts its retries lands in S3 with its records, in
// Lambda's object layout and key.
func TestS3DestinationKeepsTheRecords(t *testing.T) {
	dest, c := s3Dest(t)
	fn := &fakeFn{behave: failIfContains("x")}
	p := testPoller(t, Config{MaximumRetryAttempts: Retries(1)}, fn, dest)
	batch := records(4, func(i int) string { return strings.Repeat("x", i+1) })
	batch[0].Data = []byte("x")
	p.c.pending.Add(4)
	p.deliver(context.Background(), batch)
	objs := objects(t, c)
	if len(objs) != 1 {
		t.Fatalf("%d objects, want 1", len(objs))
	}
	for key, obj := range objs {
		info, ok := contract.ParseFailedBatchKey(key)
		if !ok || info.ShardID != "shardId-000000000000" || info.MappingUUID != dest.MappingUUID || time.Since(info.Time) > time.Minute {
			t.Fatalf("key %s: %+v", key, info)
		}
		if obj.RequestContext.Condition != ConditionRetryAttemptsExhausted || obj.KinesisBatchInfo.BatchSize != 4 || obj.Payload[0] != '"' {
			t.Fatalf("object %+v", obj.OnFailureMessage)
		}
		ev, err := obj.Event()
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.Records) != 4 {
			t.Fatalf("%d records in the payload", len(ev.Records))
		}
		for i, r := range ev.Records {
			if r.Kinesis.SequenceNumber != batch[i].SequenceNumber || !bytes.Equal(r.Kinesis.Data, batch[i].Data) ||
				r.EventID != batch[i].ShardID+":"+batch[i].SequenceNumber || r.Kinesis.PartitionKey != batch[i].PartitionKey {
				t.Fatalf("record %d: %+v", i, r)
			}
		}
	}
	if s := p.Stats(); s.OnFailureMessages != 1 || s.OnFailureRecords != 4 || s.DroppedRecords != 4 {
		t.Fatalf("stats %+v", s)
	}
}

// A record over the 6 MB invoke limit never reaches the function: it fails
// until the retries run out and then lands in S3 whole.
func TestRecordOverTheInvokeLimitGoesToTheDestination(t *testing.T) {
	dest, c := s3Dest(t)
	fn := &fakeFn{behave: func(int, []string, []string) ([]byte, error) { return []byte("null"), nil }}
	p := testPoller(t, Config{MaximumRetryAttempts: Retries(2)}, fn, dest)
	batch := records(1, func(int) string { return strings.Repeat("y", 5<<20) }) // 5 MiB: ~6.7 MB as base64 in the event
	p.c.pending.Add(1)
	p.deliver(context.Background(), batch)
	if len(fn.calls) != 0 {
		t.Fatalf("the function was invoked %d times with a record over the limit", len(fn.calls))
	}
	s := p.Stats()
	if s.TooLarge != 3 || s.FailedInvocations != 3 || s.OnFailureRecords != 1 {
		t.Fatalf("stats %+v", s)
	}
	objs := objects(t, c)
	if len(objs) != 1 {
		t.Fatalf("%d objects", len(objs))
	}
	for _, obj := range objs {
		ev, err := obj.Event()
		if err != nil || len(ev.Records) != 1 || len(ev.Records[0].Kinesis.Data) != 5<<20 || obj.RequestContext.ApproximateInvokeCount != 3 {
			t.Fatalf("object: %v %+v", err, obj.OnFailureMessage)
		}
	}
}
