package localesm_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/gobuild"
	"github.com/streamproc/streamproc/internal/localesm"
)

// One kinesis-local and one test-function build for the whole package.
var (
	setupOnce sync.Once
	kin       *emulator.Process
	fnPath    string
	setupErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if kin != nil {
		kin.Stop()
	}
	os.Exit(code)
}

func setup(t *testing.T) (*kinesis.Client, string) {
	t.Helper()
	setupOnce.Do(func() {
		ctx := context.Background()
		root, err := emulator.RepoRoot()
		if err != nil {
			setupErr = err
			return
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir, err := os.MkdirTemp("", "localesm-fn")
			if err != nil {
				setupErr = err
				return
			}
			fnPath, err = gobuild.Bootstrap(ctx, gobuild.Options{Package: "./internal/localesm/testdata/fn", Dir: root, OutDir: dir, Arch: gobuild.Host()})
			if err != nil {
				setupErr = err
			}
		}()
		kin, err = emulator.StartKinesis(ctx, emulator.KinesisOptions{})
		wg.Wait()
		if err != nil {
			setupErr = err
		}
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(kin.Endpoint) }), fnPath
}

func createStream(t *testing.T, kc *kinesis.Client, shards int) string {
	t.Helper()
	name := fmt.Sprintf("s%d", time.Now().UnixNano())
	ctx := context.Background()
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards))}); err != nil {
		t.Fatal(err)
	}
	w := kinesis.NewStreamExistsWaiter(kc, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	return name
}

type rec struct{ ID, Do, Key string }

func put(t *testing.T, kc *kinesis.Client, stream string, recs []rec) {
	t.Helper()
	for i := 0; i < len(recs); i += 500 {
		var entries []types.PutRecordsRequestEntry
		for _, r := range recs[i:min(i+500, len(recs))] {
			b, _ := json.Marshal(map[string]string{"id": r.ID, "do": r.Do})
			entries = append(entries, types.PutRecordsRequestEntry{Data: b, PartitionKey: aws.String(r.Key)})
		}
		out, err := kc.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("put: %v (%v failed)", err, out)
		}
	}
}

type fnLine struct {
	Shard  string   `json:"shard"`
	Seqs   []string `json:"seqs"`
	IDs    []string `json:"ids"`
	Keys   []string `json:"keys"`
	Result string   `json:"result"`
}

func readLog(t *testing.T, path string) []fnLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []fnLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var l fnLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

type memDest struct {
	mu   sync.Mutex
	msgs []contract.OnFailureMessage
}

func (d *memDest) Send(_ context.Context, body []byte) error {
	var m contract.OnFailureMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return err
	}
	d.mu.Lock()
	d.msgs = append(d.msgs, m)
	d.mu.Unlock()
	return nil
}

type run struct {
	p    *localesm.Poller
	pool *localesm.RIEPool
	log  string
	stop func()
}

func start(t *testing.T, kc *kinesis.Client, fn string, cfg localesm.Config, dest localesm.Destination, timeoutSec int) *run {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logPath := filepath.Join(t.TempDir(), "fn.log")
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(cfg.StreamName)})
	if err != nil {
		t.Fatal(err)
	}
	size := len(shards.Shards) * max(cfg.ParallelizationFactor, 1)
	pool, err := localesm.NewRIEPool(ctx, localesm.RIEOptions{Bootstrap: fn, Size: size, Timeout: time.Duration(timeoutSec) * time.Second,
		Env: []string{"FN_LOG=" + logPath, fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", timeoutSec)}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.PollInterval = 100 * time.Millisecond
	p, err := localesm.New(cfg, localesm.Options{Kinesis: kc, Invoker: pool, Destination: dest})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	r := &run{p: p, pool: pool, log: logPath}
	r.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("poller: %v", err)
		}
		pool.Stop()
	}
	t.Cleanup(r.stop)
	return r
}

func (r *run) waitIdle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := r.p.WaitIdle(ctx, 500*time.Millisecond); err != nil {
		t.Fatalf("%v\n%s", err, r.pool.Logs())
	}
}

// TestPerKeyOrderWithParallelization: two shards, factor 3, 40 keys: every
// record delivered once, in stream order per partition key, batches from one
// shard only, and several batches of one shard in flight.
func TestPerKeyOrderWithParallelization(t *testing.T) {
	kc, fn := setup(t)
	stream := createStream(t, kc, 2)
	var recs []rec
	for i := range 600 {
		recs = append(recs, rec{ID: fmt.Sprint(i), Key: fmt.Sprintf("k%02d", i%40)})
	}
	put(t, kc, stream, recs)
	r := start(t, kc, fn, localesm.Config{StreamName: stream, BatchSize: 25, ParallelizationFactor: 3}, nil, 5)
	r.waitIdle(t)

	lines := readLog(t, r.log)
	seen := map[string]int{}
	lastByKey := map[string]int{}
	for _, l := range lines {
		if l.Result != "ok" {
			t.Fatalf("unexpected result %+v", l)
		}
		if len(l.Seqs) > 25 {
			t.Fatalf("batch of %d > BatchSize", len(l.Seqs))
		}
		for i, id := range l.IDs {
			seen[id]++
			var n int
			fmt.Sscan(id, &n)
			if prev, ok := lastByKey[l.Keys[i]]; ok && n < prev {
				t.Fatalf("key %s: record %d delivered after %d", l.Keys[i], n, prev)
			}
			lastByKey[l.Keys[i]] = n
		}
	}
	if len(seen) != 600 {
		t.Fatalf("delivered %d distinct records, want 600", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("record %s delivered %d times", id, n)
		}
	}
	if s := r.p.Stats(); s.PolledRecords != 600 || s.AcknowledgedRecords != 600 || s.Pending != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestPoisonTimeoutAndCrashThroughTheRIE drives the real emulator: a
// record that makes the function fail, one that makes it time out and one that
// crashes the runtime are each isolated by bisection and described in an
// on-failure message; everything else is delivered.
func TestPoisonTimeoutAndCrashThroughTheRIE(t *testing.T) {
	kc, fn := setup(t)
	stream := createStream(t, kc, 1)
	var recs []rec
	bad := map[int]string{5: "error", 17: "sleep", 26: "crash"}
	for i := range 32 {
		recs = append(recs, rec{ID: fmt.Sprint(i), Do: bad[i], Key: "k"})
	}
	put(t, kc, stream, recs)
	dest := &memDest{}
	r := start(t, kc, fn, localesm.Config{StreamName: stream, StreamARN: "arn:aws:kinesis:us-east-1:000000000000:stream/" + stream,
		BatchSize: 32, BisectBatchOnFunctionError: true, MaximumRetryAttempts: localesm.Retries(1)}, dest, 1)
	r.waitIdle(t)

	dest.mu.Lock()
	defer dest.mu.Unlock()
	if len(dest.msgs) != 3 {
		t.Fatalf("on-failure messages %d, want 3: %+v", len(dest.msgs), dest.msgs)
	}
	ok := map[string]bool{}
	for _, l := range readLog(t, r.log) {
		if l.Result == "ok" {
			for _, id := range l.IDs {
				ok[id] = true
			}
		}
	}
	for i := range 32 {
		if _, isBad := bad[i]; isBad == ok[fmt.Sprint(i)] {
			t.Errorf("record %d: delivered ok = %v", i, ok[fmt.Sprint(i)])
		}
	}
	for _, m := range dest.msgs {
		if m.KinesisBatchInfo.BatchSize != 1 || m.RequestContext.Condition != "RetryAttemptsExhausted" || m.ResponseContext.FunctionError != "Unhandled" {
			t.Errorf("message %+v", m)
		}
	}
	if s := r.p.Stats(); s.Timeouts < 2 || s.DroppedRecords != 3 || s.AcknowledgedRecords != 29 {
		t.Fatalf("stats %+v", s)
	}
}

// TestStartingPositionLatest: records put before the mapping starts are not
// delivered; records put after are.
func TestStartingPositionLatest(t *testing.T) {
	kc, fn := setup(t)
	stream := createStream(t, kc, 1)
	put(t, kc, stream, []rec{{ID: "before-1", Key: "k"}, {ID: "before-2", Key: "k"}})
	r := start(t, kc, fn, localesm.Config{StreamName: stream, StartingPosition: localesm.Latest}, nil, 5)
	// LATEST is taken when the iterator is made: wait for the first poll.
	deadline := time.Now().Add(30 * time.Second)
	for !r.p.Idle() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	put(t, kc, stream, []rec{{ID: "after-1", Key: "k"}, {ID: "after-2", Key: "k"}})
	for r.p.Stats().AcknowledgedRecords < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	r.waitIdle(t)
	var ids []string
	for _, l := range readLog(t, r.log) {
		ids = append(ids, l.IDs...)
	}
	if fmt.Sprint(ids) != "[after-1 after-2]" {
		t.Fatalf("delivered %v, want only the records put after the start", ids)
	}
}
