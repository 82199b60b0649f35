package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/functions/kinesisbatch"
	"github.com/streamproc/streamproc/functions/processor/handler"
	"github.com/streamproc/streamproc/internal/tools/bench/workload"
)

// memQuarantine records what the toolkit quarantines; Fail makes it refuse.
type memQuarantine struct {
	mu     sync.Mutex
	got    map[string]string // sequence number -> reason
	refuse bool
}

func (q *memQuarantine) Put(_ context.Context, fs []kinesisbatch.Failure) []error {
	q.mu.Lock()
	defer q.mu.Unlock()
	errs := make([]error, len(fs))
	for i, f := range fs {
		if q.refuse {
			errs[i] = errors.New("quarantine unavailable")
			continue
		}
		if q.got == nil {
			q.got = map[string]string{}
		}
		q.got[f.Record.SequenceNumber] = f.Err.Error()
	}
	return errs
}

// hookedStore lets a test fail or hold chosen window writes of a real store.
type hookedStore struct {
	eventtime.Store
	mu      sync.Mutex
	putHook func(key [2]string, n int) error // key: sensor, window start; n counts PutWindow calls from 1
	// block, if set, makes PutWindow of that window wait until its context
	// ends, like a connection that never answers.
	block [2]string
	puts  int
}

func (s *hookedStore) PutWindow(ctx context.Context, k eventtime.WindowKey, st eventtime.WindowState) (int64, error) {
	s.mu.Lock()
	s.puts++
	n, hook := s.puts, s.putHook
	s.mu.Unlock()
	key := [2]string{k.Key, windowStart(k.Window.Start)}
	if hook != nil {
		if err := hook(key, n); err != nil {
			return 0, err
		}
	}
	if key == s.block {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return s.Store.PutWindow(ctx, k, st)
}

func (s *hookedStore) setHook(h func(key [2]string, n int) error) {
	s.mu.Lock()
	s.putHook = h
	s.mu.Unlock()
}

// throttled is DynamoDB's throttling answer.
func throttled() error {
	return &awsjson.APIError{Service: "DynamoDB", StatusCode: 400, Code: "ProvisionedThroughputExceededException", Message: "test: throughput exceeded"}
}

// discardResults takes results and late records and keeps nothing: these
// tests look at the applied state; results are results_dynalite_test.go's.
type discardResults struct{}

func (discardResults) Publish(_ context.Context, rs []eventtime.Result[string, eventtime.Stats]) []error {
	return make([]error, len(rs))
}
func (discardResults) PutLate(_ context.Context, ls []eventtime.LateRecord[string]) []error {
	return make([]error, len(ls))
}

type rig struct {
	store   *hookedStore
	q       *memQuarantine
	p       *kinesisbatch.Processor
	mu      sync.Mutex
	metrics bytes.Buffer
}

// newRig runs the example's handler on an engine over store (a MemoryStore
// if nil) with a bound of an hour: no window of the tests' readings becomes
// due, so every reading is applied and none is late.
func newRig(t *testing.T, store eventtime.Store, retry kinesisbatch.RetryPolicy) *rig {
	t.Helper()
	if store == nil {
		store = eventtime.NewMemoryStore()
	}
	r := &rig{store: &hookedStore{Store: store}, q: &memQuarantine{}}
	windows, _ := eventtime.Tumbling(time.Minute)
	eng, err := eventtime.New(eventtime.Config[string, eventtime.Fixed, eventtime.Stats]{
		Windows: windows, OutOfOrderness: time.Hour, IdleTimeout: time.Hour,
		Store: r.store, Results: discardResults{}, Late: discardResults{},
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := handler.New(handler.Config{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	if retry.BaseDelay == 0 {
		retry.BaseDelay = time.Millisecond
	}
	r.p = kinesisbatch.New(h, kinesisbatch.Config{
		Quarantine:    r.q,
		Retry:         retry,
		Logger:        slog.New(slog.NewJSONHandler(io.Discard, nil)),
		MetricsOutput: writerFunc(func(p []byte) { r.mu.Lock(); r.metrics.Write(p); r.mu.Unlock() }),
		FunctionName:  "processor-test",
	})
	return r
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

func (r *rig) metricsText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.metrics.String()
}

func (r *rig) invoke(t *testing.T, recs []workload.Record) events.KinesisEventResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := r.p.Invoke(ctx, workload.Event(recs))
	if err != nil {
		t.Fatal(err)
	}
	var resp events.KinesisEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func failed(resp events.KinesisEventResponse) []string {
	var s []string
	for _, f := range resp.BatchItemFailures {
		s = append(s, f.ItemIdentifier)
	}
	return s
}

func seqs(recs []workload.Record) []string {
	var s []string
	for _, r := range recs {
		s = append(s, r.Sequence)
	}
	return s
}

func small(n, sensors int) []workload.Record {
	return workload.Records(workload.Options{Readings: n, Sensors: sensors, Start: time.Now().Add(-2 * time.Minute)})
}

// corrupt replaces the payload of recs[i] for each i.
func corrupt(recs []workload.Record, payloads map[int]string) []workload.Record {
	out := slices.Clone(recs)
	for i, p := range payloads {
		out[i].Payload = []byte(p)
	}
	return out
}

// windowOf is the (sensor, window start) of a generated reading.
func windowOf(r workload.Record) [2]string {
	ms := r.EventTime.UnixMilli()
	return [2]string{r.SensorID, time.UnixMilli(ms - ms%60000).UTC().Format(time.RFC3339)}
}

func TestInvalidRecordsAreQuarantinedWithReasonsAndAcknowledged(t *testing.T) {
	r := newRig(t, nil, kinesisbatch.RetryPolicy{})
	recs := corrupt(small(40, 4), map[int]string{
		3:  `not json`,
		17: `{"event_id":"x","sensor_id":"s","ts":1764065223,"temperature":20}`,
		30: `{"event_id":"x","sensor_id":"s","ts":1764065223123,"temperature":900}`,
	})
	resp := r.invoke(t, recs)
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v, want none: invalid records are acknowledged", failed(resp))
	}
	want := map[string]string{recs[3].Sequence: "not a JSON object", recs[17].Sequence: "epoch seconds", recs[30].Sequence: "plausible range"}
	if len(r.q.got) != len(want) {
		t.Fatalf("quarantined %v", r.q.got)
	}
	for seq, reason := range want {
		if !strings.Contains(r.q.got[seq], reason) {
			t.Errorf("record %s quarantined with %q, want a reason mentioning %q", seq, r.q.got[seq], reason)
		}
	}
	valid := slices.Clone(recs)
	valid = slices.Delete(valid, 30, 31)
	valid = slices.Delete(valid, 17, 18)
	valid = slices.Delete(valid, 3, 4)
	checkTotals(t, r.store, valid)
	for _, name := range []string{"DuplicatesSkipped", "LateRecords", "ResultsPublished", "RecordsQuarantined"} {
		if !strings.Contains(r.metricsText(), `"`+name+`"`) {
			t.Errorf("EMF document lacks %s: %s", name, r.metricsText())
		}
	}
}

func TestQuarantineOutageReportsExactlyTheInvalidRecords(t *testing.T) {
	r := newRig(t, nil, kinesisbatch.RetryPolicy{MaxAttempts: 1})
	r.q.refuse = true
	recs := corrupt(small(20, 2), map[int]string{5: `{}`, 12: `[]`})
	resp := r.invoke(t, recs)
	if got, want := failed(resp), []string{recs[5].Sequence, recs[12].Sequence}; !slices.Equal(got, want) {
		t.Fatalf("batch item failures %v, want %v", got, want)
	}
}

func TestStoreFailureFailsExactlyThatWindowsRecords(t *testing.T) {
	r := newRig(t, nil, kinesisbatch.RetryPolicy{MaxAttempts: 3})
	recs := small(60, 3)
	target := windowOf(recs[1]) // this window fails on every write
	r.store.setHook(func(k [2]string, _ int) error {
		if k == target {
			return throttled()
		}
		return nil
	})
	var want []string
	for _, rec := range recs {
		if windowOf(rec) == target {
			want = append(want, rec.Sequence)
		}
	}
	resp := r.invoke(t, recs)
	if got := failed(resp); !slices.Equal(got, want) {
		t.Fatalf("batch item failures\n%v\nwant exactly the window's records\n%v", got, want)
	}
	var rest []workload.Record
	for _, rec := range recs {
		if windowOf(rec) != target {
			rest = append(rest, rec)
		}
	}
	checkTotals(t, r.store, rest)
}

func TestTransientThrottlingIsRetriedWithinTheInvocation(t *testing.T) {
	r := newRig(t, nil, kinesisbatch.RetryPolicy{MaxAttempts: 4})
	recs := small(100, 5)
	var mu sync.Mutex
	seen := map[[2]string]bool{}
	r.store.setHook(func(k [2]string, _ int) error {
		mu.Lock()
		defer mu.Unlock()
		if !seen[k] {
			seen[k] = true // every window's first write is throttled
			return throttled()
		}
		return nil
	})
	resp := r.invoke(t, recs)
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v after retries", failed(resp))
	}
	if !strings.Contains(r.metricsText(), `"RecordsRetried":100`) {
		t.Fatalf("want 100 retried records in %s", r.metricsText())
	}
	checkTotals(t, r.store, recs)
}

// panickyStore panics on every window read.
type panickyStore struct{ eventtime.Store }

func (panickyStore) GetWindows(context.Context, []eventtime.WindowKey) ([]eventtime.WindowState, error) {
	panic("boom")
}

func TestPanicInTheStoreFailsValidRecordsButStillQuarantinesInvalidOnes(t *testing.T) {
	r := newRig(t, panickyStore{eventtime.NewMemoryStore()}, kinesisbatch.RetryPolicy{MaxAttempts: 1})
	recs := corrupt(small(10, 2), map[int]string{0: `{`})
	resp := r.invoke(t, recs)
	if got, want := failed(resp), seqs(recs[1:]); !slices.Equal(got, want) {
		t.Fatalf("failures %v, want %v", got, want)
	}
	if _, ok := r.q.got[recs[0].Sequence]; !ok {
		t.Fatal("invalid record not quarantined")
	}
}

// TestLargeBatchWithInvalidRecordsAtTheEdges runs a 3,000-record batch with
// invalid records at its start, middle and end: each is quarantined, the rest
// applied.
func TestLargeBatchWithInvalidRecordsAtTheEdges(t *testing.T) {
	r := newRig(t, nil, kinesisbatch.RetryPolicy{})
	recs := corrupt(small(3000, 50), map[int]string{0: `{`, 1499: `[]`, 1500: `{"event_id":"x"}`, 2999: `null`})
	resp := r.invoke(t, recs)
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v", failed(resp))
	}
	if len(r.q.got) != 4 {
		t.Fatalf("quarantined %d records, want 4: %v", len(r.q.got), r.q.got)
	}
	valid := append(slices.Clone(recs[1:1499]), recs[1501:2999]...)
	checkTotals(t, r.store, valid)
}

func TestNewWithoutEngineSaysWhatToPass(t *testing.T) {
	_, err := handler.New(handler.Config{})
	if err == nil || err.Error() != "handler: Config.Engine is nil: build one with eventtime.New" {
		t.Fatalf("err %v", err)
	}
}

// windowStart names a window start (Unix ms) in test keys and messages.
func windowStart(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }
