package producer_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/producer"
)

// startKinesis runs kinesis-local with the given "name:shards" streams and
// waits until they are ACTIVE.
func startKinesis(tb testing.TB, streams ...string) *kinesis.Client {
	tb.Helper()
	// The process lives as long as the context given to StartKinesis: the
	// test's whole life, not just this start-up.
	p, err := emulator.StartKinesis(context.Background(), emulator.KinesisOptions{Streams: streams})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("kinesis-local log (exited: %v):\n%s", p.Exited(), tail(p.Log(), 3000))
		}
		p.Stop()
	})
	c := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(p.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, s := range streams {
		name := s[:len(s)-len(s[indexColon(s):])]
		for {
			out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
			if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
				break
			}
			if ctx.Err() != nil {
				tb.Fatalf("stream %s never became active: %v\n%s", name, err, p.Log())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return c
}

func indexColon(s string) int {
	for i := range s {
		if s[i] == ':' {
			return i
		}
	}
	return len(s)
}

// readAll returns every record in the stream, by shard.
func readAll(t *testing.T, c *kinesis.Client, stream string) map[string][]types.Record {
	t.Helper()
	ctx := context.Background()
	shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]types.Record{}
	for _, sh := range shards.Shards {
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			got, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			if err != nil {
				t.Fatal(err)
			}
			out[*sh.ShardId] = append(out[*sh.ShardId], got.Records...)
			if len(got.Records) == 0 && aws.ToInt64(got.MillisBehindLatest) == 0 {
				break
			}
			iter = got.NextShardIterator
		}
	}
	return out
}

// TestPutExactlyNAcrossShards: put N generated readings, read the stream
// back: exactly those N payloads, each once, spread over all shards, with the
// sensor id as partition key.
func TestPutExactlyNAcrossShards(t *testing.T) {
	c := startKinesis(t, "readings:4")
	const n = 3000
	recs := producer.Generate(producer.NewGenerator(producer.GenOptions{Seed: 11, Sensors: 50}), n)
	rep, err := producer.New(c, producer.Config{Stream: "readings", RetryTimeout: 5 * time.Second}).Run(context.Background(), producer.SliceSource(producer.Entries(recs)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != n || rep.Failed != 0 || rep.Ambiguous != 0 {
		t.Fatalf("report %+v", rep)
	}
	want := map[string]string{}
	for _, r := range recs {
		want[string(r.Data)] = r.PartitionKey
	}
	got := readAll(t, c, "readings")
	if len(got) != 4 {
		t.Fatalf("records on %d shards, want 4", len(got))
	}
	total := 0
	for shard, rs := range got {
		if int64(len(rs)) != rep.PerShard[shard] {
			t.Errorf("shard %s holds %d records, the report says %d", shard, len(rs), rep.PerShard[shard])
		}
		for _, r := range rs {
			key, ok := want[string(r.Data)]
			if !ok {
				t.Fatalf("unexpected or duplicated record %s", r.Data)
			}
			if key != aws.ToString(r.PartitionKey) {
				t.Fatalf("partition key %q, want %q", aws.ToString(r.PartitionKey), key)
			}
			delete(want, string(r.Data))
			total++
		}
	}
	if total != n || len(want) != 0 {
		t.Fatalf("stream holds %d records, %d generated ones missing", total, len(want))
	}
}

// throttlingKinesis sits at the SDK boundary in front of a real client: for
// the first calls it answers ProvisionedThroughputExceededException for every
// third record (which it does not forward) and passes the others on, the way
// a hot shard answers. kinesis-local itself does not throttle.
type throttlingKinesis struct {
	real      *kinesis.Client
	mu        sync.Mutex
	calls     int
	throttleN int
}

func (k *throttlingKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	k.mu.Lock()
	k.calls++
	throttle := k.calls <= k.throttleN
	k.mu.Unlock()
	if !throttle {
		return k.real.PutRecords(ctx, in, optFns...)
	}
	fwd := *in
	fwd.Records = nil
	var idx []int
	for i, r := range in.Records {
		if i%3 != 0 {
			fwd.Records = append(fwd.Records, r)
			idx = append(idx, i)
		}
	}
	res := make([]types.PutRecordsResultEntry, len(in.Records))
	failed := int32(0)
	for i := range res {
		if i%3 == 0 {
			res[i] = types.PutRecordsResultEntry{ErrorCode: aws.String("ProvisionedThroughputExceededException"),
				ErrorMessage: aws.String("Rate exceeded for shard shardId-000000000000 in stream readings under account 000000000000.")}
			failed++
		}
	}
	if len(fwd.Records) > 0 {
		out, err := k.real.PutRecords(ctx, &fwd, optFns...)
		if err != nil {
			return nil, err
		}
		for j, r := range out.Records {
			res[idx[j]] = r
			if r.ErrorCode != nil {
				failed++
			}
		}
	}
	return &kinesis.PutRecordsOutput{Records: res, FailedRecordCount: aws.Int32(failed)}, nil
}

func TestThrottledPutsAreRetried(t *testing.T) {
	c := startKinesis(t, "readings:2")
	const n = 2000
	recs := producer.Generate(producer.NewGenerator(producer.GenOptions{Seed: 12}), n)
	api := &throttlingKinesis{real: c, throttleN: 8}
	cfg := producer.Config{Stream: "readings", RetryBase: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond}
	rep, err := producer.New(api, cfg).Run(context.Background(), producer.SliceSource(producer.Entries(recs)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != n || rep.Failed != 0 || rep.Ambiguous != 0 {
		t.Fatalf("report %+v", rep)
	}
	if rep.ThrottledRecords == 0 || rep.ThrottledCalls == 0 || rep.Retried < rep.ThrottledRecords {
		t.Fatalf("throttling not reported: %+v", rep)
	}
	seen := map[string]int{}
	for _, rs := range readAll(t, c, "readings") {
		for _, r := range rs {
			seen[string(r.Data)]++
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct records in the stream, want %d", len(seen), n)
	}
	for d, k := range seen {
		if k != 1 {
			t.Fatalf("record %s is in the stream %d times", d, k)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
