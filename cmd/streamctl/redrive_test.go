package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/gobuild"
	"github.com/streamproc/streamproc/internal/sqsfake"
)

// TestRedriveCLI runs the real binary with every endpoint set through the
// standard AWS_ENDPOINT_URL_<SERVICE> variables: kinesis-local, the SQS fake
// and redrive's test function under aws-lambda-rie.
func TestRedriveCLI(t *testing.T) {
	bin := buildCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kin, err := emulator.StartKinesis(context.Background(), emulator.KinesisOptions{Streams: []string{"readings:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer kin.Stop()
	boot, err := gobuild.Bootstrap(ctx, gobuild.Options{Package: "./internal/redrive/testdata/fn", Dir: "../..", OutDir: t.TempDir(), Arch: gobuild.Host()})
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "seen.ndjson")
	rie, err := emulator.StartRIE(context.Background(), boot, []string{"FN_LOG=" + log})
	if err != nil {
		t.Fatal(err)
	}
	defer rie.Stop()
	fake, err := sqsfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	sq := fake.NewClient()
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("dlq")})
	if err != nil {
		t.Fatal(err)
	}

	// Three records in the stream, and an on-failure message for all three.
	kc := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(kin.Endpoint), Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	for {
		out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("readings")})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("stream never active")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var seqs []string
	for i := range 3 {
		out, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("readings"), PartitionKey: aws.String("sensor-1"),
			Data: []byte(`{"event_id":"e` + string(rune('0'+i)) + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, aws.ToString(out.SequenceNumber))
	}
	var m contract.OnFailureMessage
	m.RequestContext.FunctionARN = "arn:aws:lambda:us-east-1:000000000000:function:processor"
	m.RequestContext.Condition = "RetryAttemptsExhausted"
	m.KinesisBatchInfo = contract.KinesisBatchInfo{ShardID: "shardId-000000000000", StartSequenceNumber: seqs[0], EndSequenceNumber: seqs[2],
		BatchSize: 3, StreamARN: "arn:aws:kinesis:us-east-1:000000000000:stream/readings"}
	body, _ := json.Marshal(m)
	if _, err := sq.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(string(body))}); err != nil {
		t.Fatal(err)
	}
	// And one the stream cannot serve.
	m.KinesisBatchInfo.ShardID = "shardId-000000000009"
	body, _ = json.Marshal(m)
	if _, err := sq.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(string(body))}); err != nil {
		t.Fatal(err)
	}

	env := []string{"AWS_ENDPOINT_URL_KINESIS=" + kin.Endpoint, "AWS_ENDPOINT_URL_SQS=" + fake.URL(), "AWS_ENDPOINT_URL_LAMBDA=" + rie.Endpoint,
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_PROFILE=",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}

	stdout, stderr, code := runCLI(t, bin, env, "", "redrive", "--queue", "dlq", "--function", "function", "--dry-run")
	t.Logf("dry run (exit %d):\n%s%s", code, stdout, stderr)
	if !strings.Contains(stdout, "WOULD-REPLAY") || !strings.Contains(stdout, "KEPT-EXPIRED") || code != 1 {
		t.Fatalf("dry run: exit %d", code)
	}
	if n := len(fake.Peek("dlq")); n != 2 {
		t.Fatalf("dry run left %d messages, want 2", n)
	}

	stdout, stderr, code = runCLI(t, bin, env, "", "redrive", "--queue", "dlq", "--function", "function")
	t.Logf("redrive (exit %d):\n%s%s", code, stdout, stderr)
	if !strings.Contains(stdout, "REPLAYED") || code != 1 || !strings.Contains(stderr, "1 message(s) kept") {
		t.Fatalf("redrive: exit %d", code)
	}
	if p := fake.Peek("dlq"); len(p) != 1 || !strings.Contains(p[0].Body, "shardId-000000000009") {
		t.Fatalf("want only the unreadable message left, got %+v", p)
	}
}
