package redrive_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/gobuild"
	"github.com/streamproc/streamproc/internal/producer"
	"github.com/streamproc/streamproc/internal/redrive"
	"github.com/streamproc/streamproc/internal/sqsfake"
)

const (
	streamName = "readings"
	streamARN  = "arn:aws:kinesis:us-east-1:000000000000:stream/readings"
	fnARN      = "arn:aws:lambda:us-east-1:000000000000:function:processor"
)

var creds = credentials.NewStaticCredentialsProvider("test", "test", "")

// env is what every case shares: kinesis-local with records in it, the
// test function's bootstrap, and the stream's records by shard.
type env struct {
	kc        *kinesis.Client
	bootstrap string
	shard0    []types.Record
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kin, err := emulator.StartKinesis(context.Background(), emulator.KinesisOptions{Streams: []string{streamName + ":2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kin.Stop)
	kc := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(kin.Endpoint), Credentials: creds})
	for {
		out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(streamName)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("stream not active: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	boot, err := gobuild.Bootstrap(ctx, gobuild.Options{Package: "./testdata/fn", OutDir: t.TempDir(), Arch: gobuild.Host()})
	if err != nil {
		t.Fatal(err)
	}
	g := producer.NewGenerator(producer.GenOptions{Seed: 5, Sensors: 10})
	rep, err := producer.New(kc, producer.Config{Stream: streamName, Count: 200}).Run(ctx, producer.GeneratorSource(g, nil))
	if err != nil || rep.Sent != 200 {
		t.Fatalf("put: %+v %v", rep, err)
	}
	it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(streamName), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	got, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(got.Records) < 20 {
		t.Fatalf("shard 0 holds %d records (%v), want at least 20", len(got.Records), err)
	}
	return &env{kc: kc, bootstrap: boot, shard0: got.Records}
}

// fn starts the test function under aws-lambda-rie; failOn makes it report
// records whose payload contains one of the strings as batch item failures.
func (e *env) fn(t *testing.T, failOn ...string) (*lambda.Client, string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "seen.ndjson")
	p, err := emulator.StartRIE(context.Background(), e.bootstrap, []string{"FN_LOG=" + log, "FN_FAIL=" + strings.Join(failOn, ",")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(p.Endpoint), Credentials: creds}), log
}

type seen struct {
	EventID, EventSourceARN, AwsRegion, Shard, Seq, PartitionKey, Data string
	Arrival                                                            float64
	Failed                                                             bool
}

func readSeen(t *testing.T, path string) []seen {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []seen
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s seen
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func dlq(t *testing.T) (*sqsfake.Server, *sqs.Client, string) {
	t.Helper()
	s, err := sqsfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	c := s.NewClient()
	out, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("dlq")})
	if err != nil {
		t.Fatal(err)
	}
	return s, c, aws.ToString(out.QueueUrl)
}

func onFailure(shard, start, end string, size int) string {
	var m contract.OnFailureMessage
	m.RequestContext.RequestID = "c9b8fa9f-5a7f-4e9a-a6d2-3a1c2f0d8e11"
	m.RequestContext.FunctionARN = fnARN
	m.RequestContext.Condition = "RetryAttemptsExhausted"
	m.RequestContext.ApproximateInvokeCount = 3
	m.ResponseContext.StatusCode = 200
	m.ResponseContext.FunctionError = "Unhandled"
	m.Version = "1.0"
	m.Timestamp = contract.Time{Time: time.Now().UTC()}
	m.KinesisBatchInfo = contract.KinesisBatchInfo{ShardID: shard, StartSequenceNumber: start, EndSequenceNumber: end,
		BatchSize: size, StreamARN: streamARN, ApproximateArrivalOfFirstRecord: contract.Time{Time: time.Now().UTC()}, ApproximateArrivalOfLastRecord: contract.Time{Time: time.Now().UTC()}}
	b, _ := json.Marshal(m)
	return string(b)
}

func send(t *testing.T, c *sqs.Client, url, body string, attrs map[string]sqstypes.MessageAttributeValue) {
	t.Helper()
	if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body, MessageAttributes: attrs}); err != nil {
		t.Fatal(err)
	}
}

func fastCfg(url string) redrive.Config {
	return redrive.Config{QueueURL: url, Function: "function", RetryDelay: 10 * time.Millisecond, ReadPause: 10 * time.Millisecond, WaitTime: time.Second}
}

func TestRedrive(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	rng := e.shard0[5:15] // the failed batch: ten records in the middle of shard 0
	first, last := aws.ToString(rng[0].SequenceNumber), aws.ToString(rng[len(rng)-1].SequenceNumber)

	t.Run("batch info replays the original records and deletes the message", func(t *testing.T) {
		fake, sq, url := dlq(t)
		lc, log := e.fn(t)
		send(t, sq, url, onFailure("shardId-000000000000", first, last, len(rng)), nil)

		// A dry run reads the range, invokes nothing, keeps the message visible.
		cfg := fastCfg(url)
		cfg.DryRun = true
		rep, err := redrive.New(sq, e.kc, lc, cfg).Run(ctx)
		if err != nil || len(rep.Results) != 1 || rep.Results[0].Outcome != redrive.WouldReplay || rep.Results[0].Records != 10 {
			t.Fatalf("dry run: %+v %v", rep, err)
		}
		if got := readSeen(t, log); len(got) != 0 {
			t.Fatalf("a dry run invoked the function with %d records", len(got))
		}
		if p := fake.Peek("dlq"); len(p) != 1 || p[0].InFlight {
			t.Fatalf("after a dry run the message must be back and visible: %+v", p)
		}

		rep, err = redrive.New(sq, e.kc, lc, fastCfg(url)).Run(ctx)
		if err != nil || len(rep.Results) != 1 {
			t.Fatalf("redrive: %+v %v", rep, err)
		}
		if r := rep.Results[0]; r.Outcome != redrive.Replayed || r.Records != 10 || rep.Deleted != 1 || rep.Problems() != 0 {
			t.Fatalf("result %+v", r)
		}
		got := readSeen(t, log)
		if len(got) != len(rng) {
			t.Fatalf("function saw %d records, want %d", len(got), len(rng))
		}
		for i, s := range got {
			want := rng[i]
			seq := aws.ToString(want.SequenceNumber)
			if s.Seq != seq || s.EventID != "shardId-000000000000:"+seq || s.Shard != "shardId-000000000000" ||
				s.Data != string(want.Data) || s.PartitionKey != aws.ToString(want.PartitionKey) ||
				s.EventSourceARN != streamARN || s.AwsRegion != "us-east-1" {
				t.Fatalf("record %d replayed as %+v, want seq %s data %s", i, s, seq, want.Data)
			}
			if d := s.Arrival - float64(aws.ToTime(want.ApproximateArrivalTimestamp).UnixMilli())/1000; d > 0.001 || d < -0.001 {
				t.Errorf("arrival %v, want %v", s.Arrival, aws.ToTime(want.ApproximateArrivalTimestamp))
			}
		}
		if p := fake.Peek("dlq"); len(p) != 0 {
			t.Fatalf("message not deleted: %+v", p)
		}
	})

	t.Run("expired or missing ranges are reported and kept", func(t *testing.T) {
		fake, sq, url := dlq(t)
		lc, log := e.fn(t)
		// Records trimmed by retention: simulated at the SDK boundary, the
		// shard answers from a record after the batch start.
		send(t, sq, url, onFailure("shardId-000000000000", first, last, len(rng)), nil)
		rep, err := redrive.New(sq, trimmed{e.kc, first}, lc, fastCfg(url)).Run(ctx)
		if err != nil || len(rep.Results) != 1 {
			t.Fatalf("%+v %v", rep, err)
		}
		if r := rep.Results[0]; r.Outcome != redrive.KeptExpired || !strings.Contains(r.Detail, "expired") || rep.Problems() != 1 {
			t.Fatalf("trimmed range: %+v", r)
		}
		// A shard that no longer exists (real kinesis-local answer).
		_, _ = sq.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: &url})
		send(t, sq, url, onFailure("shardId-000000000007", first, last, len(rng)), nil)
		rep, err = redrive.New(sq, e.kc, lc, fastCfg(url)).Run(ctx)
		if err != nil || len(rep.Results) != 1 || rep.Results[0].Outcome != redrive.KeptExpired {
			t.Fatalf("missing shard: %+v %v", rep, err)
		}
		t.Logf("missing shard reported as: %s", rep.Results[0].Detail)
		if p := fake.Peek("dlq"); len(p) != 1 || p[0].InFlight {
			t.Fatalf("the message must be kept and visible again: %+v", p)
		}
		if got := readSeen(t, log); len(got) != 0 {
			t.Fatalf("nothing may be replayed from an incomplete range, got %d records", len(got))
		}
	})

	t.Run("a batch size that does not match is a doubt: kept", func(t *testing.T) {
		fake, sq, url := dlq(t)
		lc, log := e.fn(t)
		send(t, sq, url, onFailure("shardId-000000000000", first, last, 11), nil)
		rep, err := redrive.New(sq, e.kc, lc, fastCfg(url)).Run(ctx)
		if err != nil || rep.Results[0].Outcome != redrive.KeptError || len(fake.Peek("dlq")) != 1 || len(readSeen(t, log)) != 0 {
			t.Fatalf("%+v %v", rep, err)
		}
	})

	t.Run("a range holding more records than batchSize is replayed whole only with ReplayRange", func(t *testing.T) {
		fake, sq, url := dlq(t)
		lc, log := e.fn(t)
		// As with ParallelizationFactor 2: the failed batch held 6 of the 10
		// records between its start and end sequence numbers.
		send(t, sq, url, onFailure("shardId-000000000000", first, last, 6), nil)
		rep, err := redrive.New(sq, e.kc, lc, fastCfg(url)).Run(ctx)
		if err != nil || rep.Results[0].Outcome != redrive.KeptError || !strings.Contains(rep.Results[0].Detail, "--replay-range") ||
			len(fake.Peek("dlq")) != 1 || len(readSeen(t, log)) != 0 {
			t.Fatalf("without ReplayRange: %+v %v", rep, err)
		}
		cfg := fastCfg(url)
		cfg.ReplayRange = true
		rep, err = redrive.New(sq, e.kc, lc, cfg).Run(ctx)
		if err != nil || rep.Results[0].Outcome != redrive.Replayed || rep.Results[0].Records != 10 || len(fake.Peek("dlq")) != 0 {
			t.Fatalf("with ReplayRange: %+v %v", rep, err)
		}
		got := readSeen(t, log)
		if len(got) != len(rng) {
			t.Fatalf("function saw %d records, want the whole range of %d", len(got), len(rng))
		}
		for i, s := range got {
			if s.Seq != aws.ToString(rng[i].SequenceNumber) {
				t.Fatalf("record %d: seq %s, want %s", i, s.Seq, aws.ToString(rng[i].SequenceNumber))
			}
		}
	})

	t.Run("records the function keeps failing are retried, then the message is kept", func(t *testing.T) {
		fake, sq, url := dlq(t)
		var bad struct {
			EventID string `json:"event_id"`
		}
		_ = json.Unmarshal(rng[6].Data, &bad)
		lc, log := e.fn(t, bad.EventID)
		send(t, sq, url, onFailure("shardId-000000000000", first, last, len(rng)), nil)
		cfg := fastCfg(url)
		cfg.Retries = 2
		rep, err := redrive.New(sq, e.kc, lc, cfg).Run(ctx)
		if err != nil || len(rep.Results) != 1 {
			t.Fatalf("%+v %v", rep, err)
		}
		r := rep.Results[0]
		// Lambda's rule: resend from the lowest failed sequence number on.
		if r.Outcome != redrive.KeptFailed || len(r.FailedSeqs) != 4 || r.FailedSeqs[0] != aws.ToString(rng[6].SequenceNumber) {
			t.Fatalf("result %+v", r)
		}
		if p := fake.Peek("dlq"); len(p) != 1 {
			t.Fatal("a message whose records were not all applied was deleted")
		}
		got := readSeen(t, log)
		if len(got) != 10+4+4 { // the first invoke, then two retries of the last four
			t.Fatalf("function saw %d records, want 18", len(got))
		}
	})

	t.Run("quarantined records are listed, then reprocessed with their identity", func(t *testing.T) {
		fake, sq, url := dlq(t)
		lc, log := e.fn(t)
		orig := rng[3]
		seq := aws.ToString(orig.SequenceNumber)
		payload := []byte(`{"event_id":"q-1","sensor_id":"sensor-0001","ts":1764065223123,"temperature":` + strings.Repeat("1", 40) + `}`)
		sum := sha256.Sum256(payload)
		split := 30
		for i, part := range [][]byte{payload[:split], payload[split:]} {
			q := contract.QuarantinedRecord{RecordID: "shardId-000000000000/" + seq, Reason: "temperature: out of range",
				EventSourceARN: streamARN, ShardID: "shardId-000000000000", SequenceNumber: seq, PartitionKey: "sensor-0001",
				ApproximateArrivalTimestamp: aws.ToTime(orig.ApproximateArrivalTimestamp), QuarantinedAt: time.Now().UTC(),
				FunctionName: "processor", Part: i + 1, Parts: 2, Offset: i * split, Size: len(payload),
				DataSHA256: hex.EncodeToString(sum[:]), Data: part}
			b, _ := json.Marshal(q)
			send(t, sq, url, string(b), map[string]sqstypes.MessageAttributeValue{
				contract.AttrKind: {DataType: aws.String("String"), StringValue: aws.String(contract.KindQuarantined)}})
		}
		// A corrupt one: checksum does not match. It must stay.
		bad := contract.QuarantinedRecord{RecordID: "shardId-000000000001/1", Reason: "not JSON", ShardID: "shardId-000000000001",
			SequenceNumber: "1", Part: 1, Parts: 1, Size: 3, DataSHA256: strings.Repeat("0", 64), Data: []byte("abc")}
		b, _ := json.Marshal(bad)
		send(t, sq, url, string(b), map[string]sqstypes.MessageAttributeValue{
			contract.AttrKind: {DataType: aws.String("String"), StringValue: aws.String(contract.KindQuarantined)}})

		rep, err := redrive.New(sq, e.kc, lc, fastCfg(url)).Run(ctx)
		if err != nil || rep.Count(redrive.Listed) != 1 || rep.Count(redrive.KeptIncomplete) != 1 || len(fake.Peek("dlq")) != 3 {
			t.Fatalf("list: %+v %v", rep, err)
		}
		for _, r := range rep.Results {
			if r.Outcome == redrive.Listed && (r.Reason != "temperature: out of range" || r.Size != len(payload)) {
				t.Fatalf("listed %+v", r)
			}
		}

		cfg := fastCfg(url)
		cfg.Quarantined = redrive.Reprocess
		rep, err = redrive.New(sq, e.kc, lc, cfg).Run(ctx)
		if err != nil || rep.Count(redrive.Reprocessed) != 1 || rep.Count(redrive.KeptIncomplete) != 1 || rep.Deleted != 2 {
			t.Fatalf("reprocess: %+v %v", rep, err)
		}
		got := readSeen(t, log)
		if len(got) != 1 || got[0].Seq != seq || got[0].EventID != "shardId-000000000000:"+seq || got[0].Data != string(payload) || got[0].PartitionKey != "sensor-0001" {
			t.Fatalf("function saw %+v", got)
		}
		if p := fake.Peek("dlq"); len(p) != 1 {
			t.Fatalf("%d messages left, want only the corrupt one", len(p))
		}

		// Reprocess left the corrupt one; discard, asked for, removes it too.
		cfg.Quarantined = redrive.Discard
		rep, err = redrive.New(sq, e.kc, lc, cfg).Run(ctx)
		if err != nil || rep.Count(redrive.Discarded) != 1 || rep.Deleted != 1 || len(fake.Peek("dlq")) != 0 ||
			!strings.Contains(rep.Results[0].Detail, "SHA-256") {
			t.Fatalf("discard: %+v %v", rep, err)
		}
	})

	t.Run("discard clears the parts of a record that cannot be reassembled", func(t *testing.T) {
		fake, sq, url := dlq(t)
		attrs := map[string]sqstypes.MessageAttributeValue{
			contract.AttrKind: {DataType: aws.String("String"), StringValue: aws.String(contract.KindQuarantined)}}
		// Part 2 of 3 and part 3 of 3 of one record; part 1 never arrives.
		for part := 2; part <= 3; part++ {
			q := contract.QuarantinedRecord{RecordID: "shardId-000000000000/42", Reason: "not JSON", ShardID: "shardId-000000000000",
				SequenceNumber: "42", Part: part, Parts: 3, Offset: (part - 1) * 4, Size: 12, Data: []byte("abcd")}
			b, _ := json.Marshal(q)
			send(t, sq, url, string(b), attrs)
		}
		cfg := fastCfg(url)
		rep, err := redrive.New(sq, e.kc, nil, cfg).Run(ctx)
		if err != nil || rep.Count(redrive.KeptIncomplete) != 1 || len(fake.Peek("dlq")) != 2 || !strings.Contains(rep.Results[0].Detail, "missing part(s) 1") {
			t.Fatalf("list: %+v %v", rep, err)
		}
		cfg.Quarantined = redrive.Discard
		cfg.DryRun = true
		if rep, err = redrive.New(sq, e.kc, nil, cfg).Run(ctx); err != nil || rep.Count(redrive.KeptIncomplete) != 1 || len(fake.Peek("dlq")) != 2 {
			t.Fatalf("dry run discard: %+v %v", rep, err)
		}
		cfg.DryRun = false
		cfg.Match = "something else"
		if rep, err = redrive.New(sq, e.kc, nil, cfg).Run(ctx); err != nil || rep.Count(redrive.KeptIncomplete) != 1 || len(fake.Peek("dlq")) != 2 {
			t.Fatalf("discard of a record --match excludes: %+v %v", rep, err)
		}
		cfg.Match = "not JSON"
		rep, err = redrive.New(sq, e.kc, nil, cfg).Run(ctx)
		if err != nil || rep.Count(redrive.Discarded) != 1 || rep.Deleted != 2 || len(fake.Peek("dlq")) != 0 || rep.Problems() != 0 {
			t.Fatalf("discard: %+v %v", rep, err)
		}
		t.Logf("reported as: %s", rep.Results[0].Detail)
	})

	t.Run("messages of unknown shape are kept", func(t *testing.T) {
		fake, sq, url := dlq(t)
		lc, _ := e.fn(t)
		send(t, sq, url, "hello", nil)
		send(t, sq, url, `{"KinesisBatchInfo":{}}`, nil)
		rep, err := redrive.New(sq, e.kc, lc, fastCfg(url)).Run(ctx)
		if err != nil || rep.Count(redrive.KeptUnknown) != 2 || len(fake.Peek("dlq")) != 2 {
			t.Fatalf("%+v %v", rep, err)
		}
	})
}

// trimmed makes the shard look as if retention removed every record before
// (and including) the one at seq.
type trimmed struct {
	redrive.KinesisAPI
	seq string
}

func (k trimmed) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	out, err := k.KinesisAPI.GetRecords(ctx, in, optFns...)
	if err != nil {
		return out, err
	}
	for len(out.Records) > 0 && contract.CompareSequenceNumbers(aws.ToString(out.Records[0].SequenceNumber), k.seq) <= 0 {
		out.Records = out.Records[1:]
	}
	return out, nil
}
