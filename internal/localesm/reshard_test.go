package localesm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/localesm"
)

type call struct {
	shard      string
	ids, keys  []string
	start, end time.Time
}

// slowFn records every invocation and takes a little time, so a parent
// shard is still being processed when its children appear.
type slowFn struct {
	mu    sync.Mutex
	calls []call
}

func (f *slowFn) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	c := call{start: time.Now()}
	var ev events.KinesisEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	for _, r := range ev.Records {
		var v struct{ ID string }
		_ = json.Unmarshal(r.Kinesis.Data, &v)
		c.ids = append(c.ids, v.ID)
		c.keys = append(c.keys, r.Kinesis.PartitionKey)
		c.shard = r.EventID[:len("shardId-000000000000")]
	}
	time.Sleep(20 * time.Millisecond)
	c.end = time.Now()
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	return []byte(`{"batchItemFailures":[]}`), nil
}

// TestFollowsReshardingParentsFirst splits the only shard while the poller
// is working through it: every record is delivered once, no child batch
// starts before the parent's last batch ended, and each key's records stay
// in order across the split (with ParallelizationFactor 2 on every shard).
func TestFollowsReshardingParentsFirst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kp, err := emulator.StartKinesalite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer kp.Stop()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	kc := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(kp.Endpoint) })
	name := aws.String("reshard")
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: name, ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	wait := func() {
		w := kinesis.NewStreamExistsWaiter(kc, func(o *kinesis.StreamExistsWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
		if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: name}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	wait()
	put := func(from, to int) {
		var entries []types.PutRecordsRequestEntry
		for i := from; i < to; i++ {
			entries = append(entries, types.PutRecordsRequestEntry{
				Data: []byte(fmt.Sprintf(`{"ID":"%d"}`, i)), PartitionKey: aws.String(fmt.Sprintf("k%02d", i%20))})
		}
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: name, Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("put: %v", err)
		}
	}
	put(0, 400)
	fn := &slowFn{}
	p, err := localesm.New(localesm.Config{StreamName: *name, BatchSize: 10, ParallelizationFactor: 2, ReshardInterval: 100 * time.Millisecond},
		localesm.Options{Kinesis: kc, Invoker: fn})
	if err != nil {
		t.Fatal(err)
	}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	defer func() { stop(); <-done }()

	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: name})
	if err != nil {
		t.Fatal(err)
	}
	parent := shards.Shards[0]
	lo, _ := new(big.Int).SetString(aws.ToString(parent.HashKeyRange.StartingHashKey), 10)
	hi, _ := new(big.Int).SetString(aws.ToString(parent.HashKeyRange.EndingHashKey), 10)
	mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
	if _, err := kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: name, ShardToSplit: parent.ShardId, NewStartingHashKey: aws.String(mid.String())}); err != nil {
		t.Fatal(err)
	}
	wait()
	put(400, 800)
	if err := p.WaitIdle(ctx, 2*time.Second); err != nil {
		t.Fatal(err)
	}

	fn.mu.Lock()
	defer fn.mu.Unlock()
	seen := map[string]int{}
	last := map[string]int{}
	var parentEnd time.Time
	for _, c := range fn.calls {
		if c.shard == aws.ToString(parent.ShardId) && c.end.After(parentEnd) {
			parentEnd = c.end
		}
	}
	children := 0
	for _, c := range fn.calls {
		if c.shard != aws.ToString(parent.ShardId) {
			children++
			if c.start.Before(parentEnd) {
				t.Fatalf("a batch of child %s started at %s, before the parent's last batch ended at %s", c.shard, c.start, parentEnd)
			}
		}
	}
	// Order per key, by invocation start (one key's batches never overlap).
	byStart := append([]call(nil), fn.calls...)
	for i := 1; i < len(byStart); i++ {
		for j := i; j > 0 && byStart[j].start.Before(byStart[j-1].start); j-- {
			byStart[j], byStart[j-1] = byStart[j-1], byStart[j]
		}
	}
	for _, c := range byStart {
		for i, id := range c.ids {
			seen[id]++
			var n int
			fmt.Sscan(id, &n)
			if prev, ok := last[c.keys[i]]; ok && n < prev {
				t.Fatalf("key %s: record %d delivered after %d", c.keys[i], n, prev)
			}
			last[c.keys[i]] = n
		}
	}
	if len(seen) != 800 || children == 0 {
		t.Fatalf("delivered %d distinct records (want 800), %d child batches", len(seen), children)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("record %s delivered %d times", id, n)
		}
	}
}
