package producer_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc/internal/producer"
)

// fakeKinesis accepts PutRecords in memory. fail, when set, decides per call
// (n counts calls from 1) whether the whole call fails (callErr, with
// written telling whether the records were stored anyway) or which records
// get a per-record error code.
type fakeKinesis struct {
	mu      sync.Mutex
	calls   int
	stored  map[string]int // data -> times stored
	batches []int
	bytes   []int
	fail    func(n int, recs []types.PutRecordsRequestEntry) (codes map[int]string, written bool, callErr error)
}

func newFake() *fakeKinesis { return &fakeKinesis{stored: map[string]int{}} }

func (f *fakeKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.batches = append(f.batches, len(in.Records))
	size := 0
	for _, r := range in.Records {
		size += len(r.Data) + len(aws.ToString(r.PartitionKey))
	}
	f.bytes = append(f.bytes, size)
	var callErr error
	written := false
	var codes map[int]string
	if f.fail != nil {
		codes, written, callErr = f.fail(f.calls, in.Records)
	}
	out := &kinesis.PutRecordsOutput{}
	for i, r := range in.Records {
		if code, bad := codes[i]; bad && callErr == nil {
			out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("fake " + code)})
			out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
			continue
		}
		if callErr == nil || written {
			f.stored[string(r.Data)]++
		}
		out.Records = append(out.Records, types.PutRecordsResultEntry{ShardId: aws.String("shardId-00000000000" + strconv.Itoa(len(r.Data)%2)), SequenceNumber: aws.String("1")})
	}
	if callErr != nil {
		return nil, callErr
	}
	return out, nil
}

func entries(n, size int) []producer.Entry {
	out := make([]producer.Entry, n)
	for i := range out {
		d := fmt.Sprintf("%08d", i)
		out[i] = producer.Entry{PartitionKey: "k" + strconv.Itoa(i%7), Data: []byte(d + strings.Repeat("x", max(0, size-len(d))))}
	}
	return out
}

func fastCfg() producer.Config {
	return producer.Config{Stream: "s", RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond, Linger: 5 * time.Millisecond}
}

func TestBatchesStayWithinLimits(t *testing.T) {
	f := newFake()
	// 1200 small records: batches of at most 500.
	rep, err := producer.New(f, fastCfg()).Run(context.Background(), producer.SliceSource(entries(1200, 10)))
	if err != nil || rep.Sent != 1200 || rep.Failed != 0 {
		t.Fatalf("report %+v, err %v", rep, err)
	}
	for _, n := range f.batches {
		if n > 500 {
			t.Fatalf("a batch of %d records", n)
		}
	}
	// 30 records of 400 KB: at most 5 MiB per call.
	f = newFake()
	rep, err = producer.New(f, fastCfg()).Run(context.Background(), producer.SliceSource(entries(30, 400_000)))
	if err != nil || rep.Sent != 30 {
		t.Fatalf("report %+v, err %v", rep, err)
	}
	for _, b := range f.bytes {
		if b > producer.MaxBatchBytes {
			t.Fatalf("a batch of %d bytes", b)
		}
	}
	if len(f.batches) < 3 {
		t.Fatalf("12 MB went in %d calls", len(f.batches))
	}
}

func TestPerRecordThrottlingIsRetriedWithoutDuplicates(t *testing.T) {
	f := newFake()
	f.fail = func(n int, recs []types.PutRecordsRequestEntry) (map[int]string, bool, error) {
		if n > 6 {
			return nil, false, nil
		}
		codes := map[int]string{}
		for i := range recs {
			if i%3 == 0 {
				codes[i] = "ProvisionedThroughputExceededException"
			} else if i%11 == 0 {
				codes[i] = "InternalFailure"
			}
		}
		return codes, false, nil
	}
	rep, err := producer.New(f, fastCfg()).Run(context.Background(), producer.SliceSource(entries(1000, 20)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 1000 || rep.Failed != 0 || rep.Ambiguous != 0 {
		t.Fatalf("report %+v", rep)
	}
	if rep.ThrottledRecords == 0 || rep.ThrottledCalls == 0 || rep.Retried == 0 {
		t.Fatalf("throttling not counted: %+v", rep)
	}
	if len(f.stored) != 1000 {
		t.Fatalf("%d distinct records stored, want 1000", len(f.stored))
	}
	for d, n := range f.stored {
		if n != 1 {
			t.Fatalf("record %s stored %d times", d[:8], n)
		}
	}
}

func TestCallLevelErrors(t *testing.T) {
	throttle := &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
	// Two throttled calls (definitely not written), then one 500 after the
	// records were written (ambiguous): the 10 records land twice, counted.
	f := newFake()
	f.fail = func(n int, _ []types.PutRecordsRequestEntry) (map[int]string, bool, error) {
		switch n {
		case 1, 2:
			return nil, false, throttle
		case 3:
			return nil, true, errors.New("read tcp: connection reset by peer")
		}
		return nil, false, nil
	}
	rep, err := producer.New(f, fastCfg()).Run(context.Background(), producer.SliceSource(entries(10, 10)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 10 || rep.ThrottledCalls != 2 || rep.Ambiguous != 10 || rep.Retried != 30 {
		t.Fatalf("report %+v", rep)
	}
	for _, n := range f.stored {
		if n != 2 {
			t.Fatalf("an ambiguous write should be stored twice here, got %d", n)
		}
	}

	// A non-retryable error stops the run with a clear error; every record
	// is accounted as failed.
	f = newFake()
	f.fail = func(int, []types.PutRecordsRequestEntry) (map[int]string, bool, error) {
		return nil, false, &types.ResourceNotFoundException{Message: aws.String("Stream s under account 000000000000 not found.")}
	}
	rep, err = producer.New(f, fastCfg()).Run(context.Background(), producer.SliceSource(entries(2000, 10)))
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("want a not-found error, got %v", err)
	}
	if rep.Sent+rep.Failed != rep.Read || rep.Sent != 0 {
		t.Fatalf("records unaccounted for: %+v", rep)
	}
}

func TestRetryTimeoutAndRejectedRecords(t *testing.T) {
	f := newFake()
	f.fail = func(_ int, recs []types.PutRecordsRequestEntry) (map[int]string, bool, error) {
		codes := map[int]string{}
		for i, r := range recs {
			if string(r.Data[:8]) == "00000003" {
				codes[i] = "ProvisionedThroughputExceededException"
			}
			if string(r.Data[:8]) == "00000004" {
				codes[i] = "KMSAccessDeniedException"
			}
		}
		return codes, false, nil
	}
	cfg := fastCfg()
	cfg.RetryTimeout = 50 * time.Millisecond
	src := append(entries(10, 10), producer.Entry{PartitionKey: "", Data: []byte("x")}, producer.Entry{PartitionKey: "k", Data: make([]byte, producer.MaxRecordBytes)})
	rep, err := producer.New(f, cfg).Run(context.Background(), producer.SliceSource(src))
	if err != nil {
		t.Fatal(err)
	}
	// 3 retried until the timeout, 4 failed at once, two rejected locally.
	if rep.Read != 12 || rep.Sent != 8 || rep.Failed != 4 {
		t.Fatalf("report %+v", rep)
	}
	joined := strings.Join(rep.Errors, "\n")
	for _, want := range []string{"gave up after retrying", "KMSAccessDeniedException", "partition key", "1 MiB"} {
		if !strings.Contains(joined, want) {
			t.Errorf("errors do not mention %q:\n%s", want, joined)
		}
	}
}

func TestCountDurationAndRate(t *testing.T) {
	f := newFake()
	g := producer.NewGenerator(producer.GenOptions{Seed: 3})
	cfg := fastCfg()
	cfg.Count = 777
	rep, err := producer.New(f, cfg).Run(context.Background(), producer.GeneratorSource(g, nil))
	if err != nil || rep.Sent != 777 {
		t.Fatalf("count: %+v %v", rep, err)
	}
	cfg = fastCfg()
	cfg.Rate = 200
	cfg.Duration = 500 * time.Millisecond
	begin := time.Now()
	rep, err = producer.New(newFake(), cfg).Run(context.Background(), producer.GeneratorSource(g, nil))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent < 80 || rep.Sent > 110 {
		t.Fatalf("200/s for 0.5 s sent %d", rep.Sent)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestCancelStopsTakingButFinishesBatches(t *testing.T) {
	f := newFake()
	g := producer.NewGenerator(producer.GenOptions{Seed: 4})
	cfg := fastCfg()
	cfg.Rate = 1000
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	rep, err := producer.New(f, cfg).Run(ctx, producer.GeneratorSource(g, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || rep.Read == 0 || rep.Sent+rep.Failed != rep.Read {
		t.Fatalf("report %+v", rep)
	}
}

// blockingSource yields n entries, then blocks like an idle pipe.
type blockingSource struct{ n int }

func (s *blockingSource) Next() (producer.Entry, error) {
	if s.n == 0 {
		select {}
	}
	s.n--
	return producer.Entry{PartitionKey: "k", Data: []byte("x")}, nil
}

func TestCancelWithABlockedSource(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	done := make(chan producer.Report)
	go func() {
		rep, _ := producer.New(newFake(), fastCfg()).Run(ctx, &blockingSource{n: 5})
		done <- rep
	}()
	select {
	case rep := <-done:
		if rep.Sent != 5 || !rep.Interrupted {
			t.Fatalf("report %+v", rep)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel while the source was blocked")
	}
}
