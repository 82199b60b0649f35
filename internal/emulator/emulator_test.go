package emulator_test

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc/internal/emulator"
)

func awsConfig() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
}

// TestEmulatorsSpeakTheRealProtocol starts both npm emulators side by side (their
// default ports clash, so this also proves the free-port choice) and talks to
// them with the real SDK clients.
func TestEmulatorsSpeakTheRealProtocol(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	kin, err := emulator.StartKinesis(ctx, emulator.KinesisOptions{Streams: []string{"probe:2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer kin.Stop()
	ddb, err := emulator.StartDynamo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ddb.Stop()

	kc := kinesis.NewFromConfig(awsConfig(), func(o *kinesis.Options) { o.BaseEndpoint = aws.String(kin.Endpoint) })
	var status string
	for i := 0; i < 100; i++ { // INITIALIZE_STREAMS creates the stream asynchronously
		out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("probe")})
		if err == nil {
			status = string(out.StreamDescriptionSummary.StreamStatus)
			if status == "ACTIVE" {
				if n := aws.ToInt32(out.StreamDescriptionSummary.OpenShardCount); n != 2 {
					t.Fatalf("open shards = %d, want 2", n)
				}
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if status != "ACTIVE" {
		t.Fatalf("stream probe never became ACTIVE (last status %q):\n%s", status, kin.Log())
	}

	dc := dynamodb.NewFromConfig(awsConfig(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(ddb.Endpoint) })
	if _, err := dc.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("dynalite ListTables: %v", err)
	}

	kin.Stop()
	if !kin.Exited() {
		t.Fatal("kinesis-local still running after Stop")
	}
}

func TestMissingInstallIsAClearError(t *testing.T) {
	t.Setenv("STREAMPROC_ROOT", t.TempDir())
	_, err := emulator.StartDynamo(context.Background())
	if err == nil || !strings.Contains(err.Error(), "make setup") {
		t.Fatalf("want an error that says to run make setup, got %v", err)
	}
}

// TestKinesaliteSpeaksTheSDK drives kinesalite with the SDK calls the
// producer and the local poller make: CreateStream, PutRecords, ListShards,
// GetShardIterator, GetRecords, and a SplitShard whose parent closes.
func TestKinesaliteSpeaksTheSDK(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kin, err := emulator.StartKinesalite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer kin.Stop()
	kc := kinesis.NewFromConfig(awsConfig(), func(o *kinesis.Options) { o.BaseEndpoint = aws.String(kin.Endpoint) })
	name := aws.String("probe")
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: name, ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	w := kinesis.NewStreamExistsWaiter(kc, func(o *kinesis.StreamExistsWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: name}, time.Minute); err != nil {
		t.Fatal(err)
	}
	var entries []types.PutRecordsRequestEntry
	for i := range 500 {
		entries = append(entries, types.PutRecordsRequestEntry{Data: []byte(fmt.Sprintf(`{"n":%d}`, i)), PartitionKey: aws.String(fmt.Sprint(i % 50))})
	}
	put, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: name, Records: entries})
	if err != nil || aws.ToInt32(put.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords: %v (failed %d)", err, aws.ToInt32(put.FailedRecordCount))
	}
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: name})
	if err != nil || len(shards.Shards) != 2 {
		t.Fatalf("ListShards: %v %+v", err, shards)
	}
	total := 0
	for _, s := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: name, ShardId: s.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(10000)})
		if err != nil {
			t.Fatal(err)
		}
		total += len(out.Records)
	}
	if total != 500 {
		t.Fatalf("read %d records back, want 500", total)
	}
	s0 := shards.Shards[0]
	mid := new(big.Int)
	lo, _ := new(big.Int).SetString(aws.ToString(s0.HashKeyRange.StartingHashKey), 10)
	hi, _ := new(big.Int).SetString(aws.ToString(s0.HashKeyRange.EndingHashKey), 10)
	mid.Add(lo, hi).Rsh(mid, 1)
	if _, err := kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: name, ShardToSplit: s0.ShardId, NewStartingHashKey: aws.String(mid.String())}); err != nil {
		t.Fatal(err)
	}
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: name}, time.Minute); err != nil {
		t.Fatal(err)
	}
	after, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: name})
	if err != nil || len(after.Shards) != 4 || after.Shards[0].SequenceNumberRange.EndingSequenceNumber == nil ||
		aws.ToString(after.Shards[2].ParentShardId) != aws.ToString(s0.ShardId) {
		t.Fatalf("after SplitShard: %v %+v", err, after)
	}
}
