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

	"github.com/streamproc/streamproc/functions/kinesisbatch"
	"github.com/streamproc/streamproc/functions/processor/aggstore"
	"github.com/streamproc/streamproc/functions/processor/aggstore/fakedb"
	"github.com/streamproc/streamproc/functions/processor/handler"
	"github.com/streamproc/streamproc/functions/processor/sensor"
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

type rig struct {
	db      *fakedb.DB
	q       *memQuarantine
	p       *kinesisbatch.Processor
	metrics bytes.Buffer
}

func newRig(t *testing.T, store handler.Store, retry kinesisbatch.RetryPolicy) *rig {
	t.Helper()
	r := &rig{db: fakedb.New(), q: &memQuarantine{}}
	if store == nil {
		s, err := aggstore.New(r.db, aggstore.Config{Table: "aggs"})
		if err != nil {
			t.Fatal(err)
		}
		store = s
	}
	h, err := handler.New(handler.Config{Store: store})
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
		MetricsOutput: &r.metrics,
		FunctionName:  "processor-test",
	})
	return r
}

func (r *rig) invoke(t *testing.T, recs []workload.Record) events.KinesisEventResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
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
	total := int64(0)
	for _, it := range r.db.Items() {
		_, agg, _, _ := aggstore.DecodeItem(it)
		total += agg.Count
	}
	if total != 37 {
		t.Fatalf("stored %d readings, want 37", total)
	}
	for _, name := range []string{"WindowsWritten", "DuplicatesSkipped", "WriteCalls", "LateRecords", "EventTimeLag", "RecordsQuarantined"} {
		if !strings.Contains(r.metrics.String(), `"`+name+`"`) {
			t.Errorf("EMF document lacks %s: %s", name, r.metrics.String())
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
	// Make sensor-0001's first window fail on every write.
	win, _ := sensor.NewWindows(time.Minute)
	target := recs[1]
	wkey := sensor.FormatWindowStart(win.Start(target.EventTime.UnixMilli()))
	r.db.Hook = func(op string, k [2]string) error {
		if op == "PutItem" && k[0] == target.SensorID && k[1] == wkey {
			return fakedb.Throttled()
		}
		return nil
	}
	var want []string
	for _, rec := range recs {
		if rec.SensorID == target.SensorID && sensor.FormatWindowStart(win.Start(rec.EventTime.UnixMilli())) == wkey {
			want = append(want, rec.Sequence)
		}
	}
	resp := r.invoke(t, recs)
	if got := failed(resp); !slices.Equal(got, want) {
		t.Fatalf("batch item failures\n%v\nwant exactly the window's records\n%v", got, want)
	}
	if n := r.db.Calls["PutItem"]; n > 3*countWindows(recs)+2 {
		t.Fatalf("%d PutItem calls", n)
	}
}

func countWindows(recs []workload.Record) int {
	win, _ := sensor.NewWindows(time.Minute)
	seen := map[[2]string]bool{}
	for _, r := range recs {
		seen[[2]string{r.SensorID, sensor.FormatWindowStart(win.Start(r.EventTime.UnixMilli()))}] = true
	}
	return len(seen)
}

func TestTransientThrottlingIsRetriedWithinTheInvocation(t *testing.T) {
	r := newRig(t, nil, kinesisbatch.RetryPolicy{MaxAttempts: 4})
	recs := small(100, 5)
	var mu sync.Mutex
	throttled := map[[2]string]bool{}
	r.db.Hook = func(op string, k [2]string) error {
		mu.Lock()
		defer mu.Unlock()
		if op == "PutItem" && !throttled[k] {
			throttled[k] = true // every item's first write is throttled
			return fakedb.Throttled()
		}
		return nil
	}
	resp := r.invoke(t, recs)
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v after retries", failed(resp))
	}
	if !strings.Contains(r.metrics.String(), `"RecordsRetried":100`) {
		t.Fatalf("want 100 retried records in %s", r.metrics.String())
	}
	checkTotals(t, r.db.Items(), recs)
}

type panickyStore struct{}

func (panickyStore) Apply(context.Context, []sensor.Group) ([]error, aggstore.Stats) { panic("boom") }

func TestPanicInTheStoreFailsValidRecordsButStillQuarantinesInvalidOnes(t *testing.T) {
	r := newRig(t, panickyStore{}, kinesisbatch.RetryPolicy{MaxAttempts: 1})
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
// stored.
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
	checkTotals(t, r.db.Items(), valid)
}

func TestNewWithoutStoreSaysWhatToPass(t *testing.T) {
	_, err := handler.New(handler.Config{})
	if err == nil || err.Error() != "handler: Config.Store is nil: pass an aggstore.Store (aggstore.New)" {
		t.Fatalf("err %v", err)
	}
}
