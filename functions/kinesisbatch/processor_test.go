package kinesisbatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/streamproc/streamproc/functions/contract"
)

// testRecords makes n records of one shard with sequence numbers "100".."1nn"
// and payloads "r0".."r<n-1>".
func testRecords(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		seq := fmt.Sprintf("4959033827149025660855969253836157109592157598913658%04d", i)
		recs[i] = Record{
			Data:           []byte(fmt.Sprintf("r%d", i)),
			PartitionKey:   fmt.Sprintf("pk-%d", i%3),
			SequenceNumber: seq,
			EventID:        "shardId-000000000001:" + seq,
			EventSource:    "aws:kinesis",
			EventSourceARN: "arn:aws:kinesis:eu-west-1:123456789012:stream/s",
		}
	}
	return recs
}

// fakeQuarantine records what it was asked to store and fails the records
// whose payload is in fail.
type fakeQuarantine struct {
	mu   sync.Mutex
	got  []Failure
	fail map[string]bool
}

func (q *fakeQuarantine) Put(_ context.Context, fs []Failure) []error {
	q.mu.Lock()
	defer q.mu.Unlock()
	errs := make([]error, len(fs))
	for i, f := range fs {
		if q.fail[string(f.Record.Data)] {
			errs[i] = errors.New("queue unavailable")
			continue
		}
		q.got = append(q.got, f)
	}
	return errs
}

type testEnv struct {
	logs    bytes.Buffer
	metrics bytes.Buffer
	q       *fakeQuarantine
	sleeps  []time.Duration
}

// newTestProcessor returns a Processor with captured logs and metrics, a fake
// quarantine and instant sleeps.
func newTestProcessor(t *testing.T, h BatchHandler, cfg Config) (*Processor, *testEnv) {
	t.Helper()
	env := &testEnv{q: &fakeQuarantine{fail: map[string]bool{}}}
	if cfg.Quarantine == nil {
		cfg.Quarantine = env.q
	}
	cfg.Logger = NewLogger(&env.logs)
	cfg.MetricsOutput = &env.metrics
	cfg.FunctionName = "fn"
	cfg.MetricsNamespace = "Test"
	if cfg.sleep == nil {
		cfg.sleep = func(ctx context.Context, d time.Duration) error {
			env.sleeps = append(env.sleeps, d)
			return ctx.Err()
		}
	}
	return New(h, cfg), env
}

func failedIDs(res Result) []string {
	var ids []string
	for _, f := range res.Response.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// emf parses the single EMF line the processor printed.
func (e *testEnv) emf(t *testing.T) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(e.metrics.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one EMF line per invocation, got %d: %s", len(lines), e.metrics.String())
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &doc); err != nil {
		t.Fatalf("EMF line is not JSON: %v\n%s", err, lines[0])
	}
	return doc
}

func TestAllSucceed(t *testing.T) {
	var seen []string
	p, env := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		seen = append(seen, string(r.Data))
		return nil
	}), Config{})
	res := p.Process(context.Background(), testRecords(4))
	if len(res.Response.BatchItemFailures) != 0 || res.Succeeded != 4 || res.Attempts != 1 {
		t.Fatalf("result %+v", res)
	}
	if !slices.Equal(seen, []string{"r0", "r1", "r2", "r3"}) {
		t.Fatalf("records handled out of order: %v", seen)
	}
	out, _ := json.Marshal(res.Response)
	if string(out) != `{"batchItemFailures":[]}` {
		t.Fatalf("response %s", out)
	}
	doc := env.emf(t)
	if doc["RecordsReceived"] != 4.0 || doc["RecordsSucceeded"] != 4.0 || doc["RecordsFailed"] != 0.0 || doc[contract.MetricDimension] != "fn" {
		t.Fatalf("metrics %v", doc)
	}
}

func TestTransientFailureReportedWithExactSequenceNumbers(t *testing.T) {
	recs := testRecords(6)
	var calls atomic.Int32
	p, env := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		calls.Add(1)
		switch string(r.Data) {
		case "r1", "r4":
			return errors.New("throttled")
		}
		return nil
	}), Config{Retry: RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}})
	res := p.Process(context.Background(), recs)
	want := []string{recs[1].SequenceNumber, recs[4].SequenceNumber}
	if got := failedIDs(res); !slices.Equal(got, want) {
		t.Fatalf("batch item failures %v, want %v", got, want)
	}
	if res.Attempts != 3 || res.Retried != 4 || res.Failed != 2 || res.Succeeded != 4 {
		t.Fatalf("result %+v", res)
	}
	// 6 records once, then the 2 failing ones twice more.
	if calls.Load() != 10 {
		t.Fatalf("handler called %d times, want 10", calls.Load())
	}
	if len(env.sleeps) != 2 {
		t.Fatalf("slept %v, want two backoffs", env.sleeps)
	}
	if len(env.q.got) != 0 {
		t.Fatalf("transient failures must not be quarantined: %v", env.q.got)
	}
	logs := env.logs.String()
	if !strings.Contains(logs, `"lowestFailedSequenceNumber":"`+recs[1].SequenceNumber+`"`) {
		t.Fatalf("summary log lacks the lowest failed sequence number:\n%s", logs)
	}
}

func TestTransientFailureRecoversOnRetry(t *testing.T) {
	tries := map[string]int{}
	p, env := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		tries[string(r.Data)]++
		if string(r.Data) == "r2" && tries["r2"] < 3 {
			return Transient(errors.New("conditional check conflict"))
		}
		return nil
	}), Config{})
	res := p.Process(context.Background(), testRecords(4))
	if len(res.Response.BatchItemFailures) != 0 || res.Retried != 2 || res.Attempts != 3 {
		t.Fatalf("result %+v", res)
	}
	if tries["r0"] != 1 || tries["r2"] != 3 {
		t.Fatalf("retried records that had succeeded: %v", tries)
	}
	if doc := env.emf(t); doc["RecordsRetried"] != 2.0 || doc["RecordsSucceeded"] != 4.0 {
		t.Fatalf("metrics %v", doc)
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	var draws []int64
	cfg := Config{Retry: RetryPolicy{MaxAttempts: 6, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}}
	cfg.rand = func(n int64) int64 { draws = append(draws, n); return n - 1 }
	p, env := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		return errors.New("always")
	}), cfg)
	p.Process(context.Background(), testRecords(1))
	ms := time.Millisecond
	want := []int64{int64(10*ms) + 1, int64(20*ms) + 1, int64(40*ms) + 1, int64(50*ms) + 1, int64(50*ms) + 1}
	if !slices.Equal(draws, want) {
		t.Fatalf("jitter bounds %v, want %v", draws, want)
	}
	if len(env.sleeps) != 5 || env.sleeps[0] != 10*ms {
		t.Fatalf("sleeps %v", env.sleeps)
	}
}

func TestRetriesStopBeforeDeadline(t *testing.T) {
	// The retry budget is computed on cfg.now, so the test runs the
	// processor on a fake clock that only the handler (5ms per record) and
	// the backoff sleeps advance: the outcome no longer depends on how the
	// machine schedules real sleeps (a loaded CI machine overran the margin
	// by up to 200ms). The clock starts 400ms before the invocation
	// deadline, which is real (the handler's context derives from it) but a
	// minute away, so that only the retry budget can stop the retries.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var (
		mu  sync.Mutex
		now = deadline.Add(-400 * time.Millisecond)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }

	var attempts atomic.Int32
	var lastDeadline time.Time
	p, _ := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		attempts.Add(1)
		lastDeadline, _ = ctx.Deadline()
		advance(5 * time.Millisecond)
		return errors.New("still throttled")
	}), Config{
		Retry: RetryPolicy{MaxAttempts: 1000, BaseDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond, SafetyMargin: 100 * time.Millisecond},
		now:   clock,
		sleep: func(ctx context.Context, d time.Duration) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			advance(d)
			return nil
		},
	})
	recs := testRecords(2)
	res := p.Process(ctx, recs)
	left := deadline.Sub(clock())
	if left < 20*time.Millisecond {
		t.Fatalf("returned %v before the deadline, want most of the 100ms safety margin left", left)
	}
	if n := attempts.Load(); n < 4 || n >= 1000 {
		t.Fatalf("%d handler calls: want several retries, bounded by time", n)
	}
	if want := deadline.Add(-100 * time.Millisecond); !lastDeadline.Equal(want) {
		t.Fatalf("handler deadline %v, want invocation deadline minus margin %v", lastDeadline, want)
	}
	if got := failedIDs(res); !slices.Equal(got, []string{recs[0].SequenceNumber, recs[1].SequenceNumber}) {
		t.Fatalf("failures %v", got)
	}
}

// slowQuarantine blocks until its context ends, like SQS writes retried by
// the SDK against a throttled queue, and records the deadline it was given.
type slowQuarantine struct{ deadline time.Time }

func (q *slowQuarantine) Put(ctx context.Context, fs []Failure) []error {
	q.deadline, _ = ctx.Deadline()
	<-ctx.Done()
	errs := make([]error, len(fs))
	for i := range errs {
		errs[i] = ctx.Err()
	}
	return errs
}

func TestSlowQuarantineStopsBeforeInvocationDeadline(t *testing.T) {
	// A quarantine that cannot finish must not run the invocation into its
	// timeout (which fails and retries the whole batch): its records are
	// reported as batch item failures, with time left to return.
	//
	// Returning takes microseconds, but waking up after the quarantine's
	// deadline can take 100ms or more on a loaded machine: the response
	// margin (150ms in production), the handler's safety margin and the
	// timeout are scaled up five times here, and two thirds of the margin
	// may go to waking up, as in production (100ms of 150ms).
	if d := New(BatchFunc(func(context.Context, *Batch) error { return nil }), Config{}).cfg.responseMargin; d != responseMargin {
		t.Fatalf("default response margin %v, want %v", d, responseMargin)
	}
	const margin = 5 * responseMargin
	q := &slowQuarantine{}
	recs := testRecords(3)
	p, _ := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		if string(r.Data) == "r1" {
			return Permanent(errors.New("bad record"))
		}
		return nil
	}), Config{Quarantine: q, Retry: RetryPolicy{SafetyMargin: 900 * time.Millisecond}, responseMargin: margin})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	res := p.Process(ctx, recs)
	if left := time.Until(deadline); left < margin/3 {
		t.Fatalf("returned %v before the invocation deadline, want about %v left for the response", left, margin)
	}
	if want := deadline.Add(-margin); !q.deadline.Equal(want) {
		t.Fatalf("quarantine deadline %v, want invocation deadline minus %v (%v)", q.deadline, margin, want)
	}
	if got := failedIDs(res); !slices.Equal(got, []string{recs[1].SequenceNumber}) {
		t.Fatalf("failures %v, want the record the quarantine could not store", got)
	}
	if res.Quarantined != 0 || res.Succeeded != 2 {
		t.Fatalf("result %+v", res)
	}
}

func TestRecordsNotStartedBeforeDeadlineAreReported(t *testing.T) {
	// The handler is slow; the records it could not reach before the handler
	// deadline fail with the context error instead of being skipped.
	// Durations are five times those of a quiet machine's test (60ms per
	// record, a 100ms handler deadline) so that a loaded one still starts
	// the first record before the handler deadline.
	var handled []string
	p, _ := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		handled = append(handled, string(r.Data))
		time.Sleep(300 * time.Millisecond)
		return nil
	}), Config{Retry: RetryPolicy{MaxAttempts: 1, SafetyMargin: 250 * time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 750*time.Millisecond)
	defer cancel()
	recs := testRecords(5)
	res := p.Process(ctx, recs)
	if len(handled) < 1 || len(handled) > 3 {
		t.Fatalf("handled %v, want the ~2 that fit before the handler deadline", handled)
	}
	var want []string
	for _, r := range recs[len(handled):] {
		want = append(want, r.SequenceNumber)
	}
	if got := failedIDs(res); !slices.Equal(got, want) {
		t.Fatalf("failures %v, want every record not handled %v", got, want)
	}
	if !errors.Is(res.Failures[0].Err, context.DeadlineExceeded) {
		t.Fatalf("error %v", res.Failures[0].Err)
	}
}

func TestPermanentFailureQuarantinedAndAcknowledged(t *testing.T) {
	recs := testRecords(3)
	p, env := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		if string(r.Data) == "r1" {
			return Permanent(fmt.Errorf("temperature %q is not a number", "hot"))
		}
		return nil
	}), Config{})
	res := p.Process(context.Background(), recs)
	if len(res.Response.BatchItemFailures) != 0 || res.Quarantined != 1 || res.Attempts != 1 {
		t.Fatalf("result %+v", res)
	}
	if len(env.q.got) != 1 || string(env.q.got[0].Record.Data) != "r1" || !strings.Contains(env.q.got[0].Err.Error(), "not a number") {
		t.Fatalf("quarantined %+v", env.q.got)
	}
	if !res.Failures[0].Quarantined || res.Failures[0].Class != ClassPermanent {
		t.Fatalf("failure %+v", res.Failures[0])
	}
	if doc := env.emf(t); doc["RecordsQuarantined"] != 1.0 || doc["RecordsFailed"] != 0.0 || doc["RecordsSucceeded"] != 2.0 {
		t.Fatalf("metrics %v", doc)
	}
}

func TestQuarantineWriteFailureReportsRecord(t *testing.T) {
	recs := testRecords(4)
	p, env := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		if r.Index >= 2 {
			return Permanent(errors.New("bad record"))
		}
		return nil
	}), Config{})
	env.q.fail["r3"] = true
	res := p.Process(context.Background(), recs)
	if got := failedIDs(res); !slices.Equal(got, []string{recs[3].SequenceNumber}) {
		t.Fatalf("failures %v, want only the record the quarantine refused", got)
	}
	if res.Quarantined != 1 || res.Failed != 1 {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(env.logs.String(), "record not quarantined, reported as failed") {
		t.Fatalf("logs:\n%s", env.logs.String())
	}
}

func TestPermanentWithoutQuarantineIsReported(t *testing.T) {
	recs := testRecords(2)
	p := New(RecordFunc(func(ctx context.Context, r *Record) error {
		return Permanent(errors.New("bad"))
	}), Config{Logger: slog.New(slog.DiscardHandler), MetricsOutput: io.Discard})
	res := p.Process(context.Background(), recs)
	if got := failedIDs(res); len(got) != 2 {
		t.Fatalf("failures %v: with no quarantine, nothing may be acknowledged", got)
	}
}

func TestPanicFailsOnlyThatRecord(t *testing.T) {
	recs := testRecords(3)
	p, env := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		if string(r.Data) == "r1" {
			_ = r.Data[len(r.Data)+r.Index] // index out of range
		}
		return nil
	}), Config{Retry: RetryPolicy{MaxAttempts: 2}})
	res := p.Process(context.Background(), recs)
	if got := failedIDs(res); !slices.Equal(got, []string{recs[1].SequenceNumber}) {
		t.Fatalf("failures %v", got)
	}
	var pe *PanicError
	if !errors.As(res.Failures[0].Err, &pe) || !strings.Contains(pe.Error(), "index out of range") || len(pe.Stack) == 0 {
		t.Fatalf("error %#v", res.Failures[0].Err)
	}
	if res.Succeeded != 2 || res.Attempts != 2 {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(env.logs.String(), `"stack":"goroutine`) {
		t.Fatalf("panic stack not logged:\n%s", env.logs.String())
	}
}

func TestPanicClassifiedPermanentIsQuarantined(t *testing.T) {
	p, env := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		panic("poison pill")
	}), Config{Classify: func(err error) Class {
		var pe *PanicError
		if errors.As(err, &pe) {
			return ClassPermanent
		}
		return DefaultClassify(err)
	}})
	res := p.Process(context.Background(), testRecords(1))
	if res.Quarantined != 1 || len(env.q.got) != 1 || len(res.Response.BatchItemFailures) != 0 {
		t.Fatalf("result %+v", res)
	}
}

func TestBatchFuncErrorAndPanic(t *testing.T) {
	recs := testRecords(3)
	p, _ := newTestProcessor(t, BatchFunc(func(ctx context.Context, b *Batch) error {
		b.Fail(b.Records[0], Permanent(errors.New("bad first")))
		return errors.New("store down")
	}), Config{Retry: RetryPolicy{MaxAttempts: 1}})
	res := p.Process(context.Background(), recs)
	if got := failedIDs(res); !slices.Equal(got, []string{recs[1].SequenceNumber, recs[2].SequenceNumber}) {
		t.Fatalf("failures %v", got)
	}
	if res.Quarantined != 1 {
		t.Fatalf("the record failed explicitly keeps its own error: %+v", res)
	}

	p, _ = newTestProcessor(t, BatchFunc(func(ctx context.Context, b *Batch) error {
		panic(errors.New("bug"))
	}), Config{Retry: RetryPolicy{MaxAttempts: 1}})
	res = p.Process(context.Background(), testRecords(2))
	if res.Failed != 2 {
		t.Fatalf("a batch handler panic fails its records: %+v", res)
	}
}

func TestGroupedAppliesOncePerGroupAndIsolatesGroups(t *testing.T) {
	recs := testRecords(9) // partition keys pk-0, pk-1, pk-2
	recs[4].Data = []byte("bad")
	var mu sync.Mutex
	applied := map[string][]string{}
	var running, peak atomic.Int32
	h := Grouped(
		func(ctx context.Context, r *Record) (string, string, error) {
			if string(r.Data) == "bad" {
				return "", "", Permanent(errors.New("invalid reading"))
			}
			return r.PartitionKey, string(r.Data), nil
		},
		func(ctx context.Context, key string, items []Item[string]) error {
			n := running.Add(1)
			defer running.Add(-1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(10 * time.Millisecond)
			if key == "pk-2" {
				panic("group bug")
			}
			mu.Lock()
			defer mu.Unlock()
			for _, it := range items {
				applied[key] = append(applied[key], it.Value)
			}
			return nil
		},
		GroupOptions{Concurrency: 2},
	)
	p, env := newTestProcessor(t, h, Config{Retry: RetryPolicy{MaxAttempts: 2}})
	res := p.Process(context.Background(), recs)
	if !slices.Equal(applied["pk-0"], []string{"r0", "r3", "r6"}) || !slices.Equal(applied["pk-1"], []string{"r1", "r7"}) {
		t.Fatalf("applied %v", applied)
	}
	want := []string{recs[2].SequenceNumber, recs[5].SequenceNumber, recs[8].SequenceNumber}
	if got := failedIDs(res); !slices.Equal(got, want) {
		t.Fatalf("failures %v, want the panicking group's records %v", got, want)
	}
	if res.Quarantined != 1 || string(env.q.got[0].Record.Data) != "bad" {
		t.Fatalf("result %+v", res)
	}
	if peak.Load() > 2 {
		t.Fatalf("%d groups applied at once, limit 2", peak.Load())
	}
}

func TestHandlerMetricsInSameDocument(t *testing.T) {
	p, env := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		m := MetricsFromContext(ctx)
		m.Add("WindowsWritten", UnitCount, 1)
		m.Observe("EventTimeLag", UnitMilliseconds, 1500)
		return nil
	}), Config{})
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	p.Process(ctx, testRecords(3))
	doc := env.emf(t)
	aws := doc["_aws"].(map[string]any)
	cw := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if cw["Namespace"] != "Test" || fmt.Sprint(cw["Dimensions"]) != "[[FunctionName]]" {
		t.Fatalf("directive %v", cw)
	}
	var names []string
	for _, m := range cw["Metrics"].([]any) {
		names = append(names, m.(map[string]any)["Name"].(string))
	}
	for _, want := range []string{"RecordsReceived", "RecordsSucceeded", "RecordsQuarantined", "RecordsRetried", "RecordsFailed", "BatchDuration", "WindowsWritten", "EventTimeLag"} {
		if !slices.Contains(names, want) {
			t.Fatalf("metric %s missing from %v", want, names)
		}
	}
	if doc["WindowsWritten"] != 3.0 || fmt.Sprint(doc["EventTimeLag"]) != "[1500 1500 1500]" || doc["requestId"] != "req-1" {
		t.Fatalf("document %v", doc)
	}
	if !strings.Contains(env.logs.String(), `"requestId":"req-1"`) || !strings.Contains(env.logs.String(), `"message":"batch processed"`) {
		t.Fatalf("logs:\n%s", env.logs.String())
	}
}

func TestInvokeTestdata(t *testing.T) {
	payload, err := os.ReadFile("testdata/kinesis-event.json")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		if strings.Contains(string(r.Data), `"e2"`) {
			return errors.New("transient")
		}
		return nil
	}), Config{Retry: RetryPolicy{MaxAttempts: 1}})
	out, err := p.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"batchItemFailures":[{"itemIdentifier":"49590338271490256608559692540925702759324208523137515618"}]}`
	if string(out) != want {
		t.Fatalf("response %s, want %s", out, want)
	}
	var ev events.KinesisEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	resp, err := p.HandleEvent(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "49590338271490256608559692540925702759324208523137515618" {
		t.Fatalf("HandleEvent %+v %v", resp, err)
	}
}

func TestInvokeRejectsNonKinesisPayloads(t *testing.T) {
	p, env := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		t.Fatal("handler called for a payload that is not a Kinesis event")
		return nil
	}), Config{})
	for _, in := range []string{
		`{"Records":[{"kinesis":{"data":"aGk="}`,
		`not json`,
		`{"Records":[{"eventSource":"aws:dynamodb","dynamodb":{}}]}`,
		`{"Records":[{"eventSource":"aws:kinesis","kinesis":{"data":"aGk="}}]}`,
	} {
		if _, err := p.Invoke(context.Background(), []byte(in)); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
	if !strings.Contains(env.logs.String(), "payload is not a Kinesis event") {
		t.Fatalf("logs:\n%s", env.logs.String())
	}
}

func TestInvokeConcurrentInvocations(t *testing.T) {
	// One Processor serves concurrent invocations (Lambda Managed
	// Instances): decoders are pooled, so Data of one never aliases another.
	events := [][]byte{genEvent(50), genEvent(70)}
	p, _ := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		if !bytes.HasPrefix(r.Data, []byte(`{"event_id":`)) {
			return Permanent(fmt.Errorf("corrupt data %q", r.Data))
		}
		return nil
	}), Config{DisableMetrics: true})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := p.Invoke(context.Background(), events[i%2])
			if err != nil || string(out) != `{"batchItemFailures":[]}` {
				t.Errorf("invoke: %s %v", out, err)
			}
		}()
	}
	wg.Wait()
}

func TestClassification(t *testing.T) {
	base := errors.New("x")
	cases := []struct {
		err  error
		want Class
	}{
		{base, ClassTransient},
		{Permanent(base), ClassPermanent},
		{fmt.Errorf("wrapped: %w", Permanent(base)), ClassPermanent},
		{Transient(Permanent(base)), ClassTransient},
		{Permanent(Transient(base)), ClassPermanent},
		{errors.Join(base, Permanent(base)), ClassPermanent},
		{context.DeadlineExceeded, ClassTransient},
		{&PanicError{Value: "p"}, ClassTransient},
	}
	for _, c := range cases {
		if got := DefaultClassify(c.err); got != c.want {
			t.Errorf("%v: %v, want %v", c.err, got, c.want)
		}
	}
	if Permanent(nil) != nil || Transient(nil) != nil {
		t.Error("marking nil must stay nil")
	}
}
