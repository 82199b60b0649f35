package localesm

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/kinesisbatch/kpl"
)

// windowCall is one invocation of a windowed function as it saw it.
type windowCall struct {
	Start, End    time.Time
	State         map[string]string
	Data          []string
	Shard, ARN    string
	Final, Early  bool
	RecordsLength int
}

// windowFn is an in-process function for a mapping with tumbling windows:
// it counts the records of each window in state {"n": "<count>"} unless
// answer says otherwise.
type windowFn struct {
	mu     sync.Mutex
	calls  []windowCall
	answer func(call int, c windowCall, count int) ([]byte, error)
}

func (f *windowFn) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	var ev struct {
		Records []struct {
			Kinesis struct {
				Data []byte `json:"data"`
			} `json:"kinesis"`
		} `json:"Records"`
		Window struct {
			Start, End time.Time
		} `json:"window"`
		State                   map[string]string `json:"state"`
		ShardID                 string            `json:"shardId"`
		EventSourceARN          string            `json:"eventSourceARN"`
		IsFinalInvokeForWindow  bool              `json:"isFinalInvokeForWindow"`
		IsWindowTerminatedEarly bool              `json:"isWindowTerminatedEarly"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	c := windowCall{Start: ev.Window.Start, End: ev.Window.End, State: ev.State, Shard: ev.ShardID, ARN: ev.EventSourceARN,
		Final: ev.IsFinalInvokeForWindow, Early: ev.IsWindowTerminatedEarly, RecordsLength: len(ev.Records)}
	for _, r := range ev.Records {
		c.Data = append(c.Data, string(r.Kinesis.Data))
	}
	f.mu.Lock()
	call := len(f.calls)
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	n, _ := strconv.Atoi(ev.State["n"])
	n += len(ev.Records)
	if f.answer != nil {
		return f.answer(call, c, n)
	}
	return fmt.Appendf(nil, `{"state":{"n":"%d"},"batchItemFailures":[]}`, n), nil
}

func (f *windowFn) finals() []windowCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []windowCall
	for _, c := range f.calls {
		if c.Final {
			out = append(out, c)
		}
	}
	return out
}

func windowPoller(t *testing.T, cfg Config, fn *windowFn) *Poller {
	t.Helper()
	cfg.StreamName = "s"
	cfg.StreamARN = "arn:aws:kinesis:us-east-1:000000000000:stream/s"
	if cfg.TumblingWindow == 0 {
		cfg.TumblingWindow = 10 * time.Second
	}
	p, err := New(cfg, Options{Kinesis: nopKinesis{}, Invoker: fn})
	if err != nil {
		t.Fatal(err)
	}
	p.backoffs = []time.Duration{time.Millisecond}
	return p
}

// arrivals makes records that arrived at base+offsets.
func arrivals(base time.Time, offsets ...time.Duration) []*Record {
	var out []*Record
	for i, o := range offsets {
		out = append(out, &Record{ShardID: "shardId-000000000000", SequenceNumber: fmt.Sprintf("4960%04d", i),
			PartitionKey: "k", Data: fmt.Appendf(nil, "r%d", i), Arrival: base.Add(o)})
	}
	return out
}

// runToEnd feeds recs to runWindowed as one shard that then ends.
func runToEnd(p *Poller, recs []*Record) {
	sh := &shardState{id: "shardId-000000000000"}
	ch := make(chan []*Record, 1)
	p.c.pending.Add(int64(len(recs)))
	ch <- recs
	sh.ended.Store(true)
	close(ch)
	p.runWindowed(context.Background(), sh, ch)
}

var base = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func TestWindowsFollowArrivalAndCloseOnceWithTheirState(t *testing.T) {
	fn := &windowFn{}
	p := windowPoller(t, Config{BatchSize: 3}, fn)
	// 4 records in [10:00:00,10:00:10), none in the next window, 2 in [10:00:20,10:00:30).
	runToEnd(p, arrivals(base, 0, 2*time.Second, 9*time.Second, 9999*time.Millisecond, 21*time.Second, 29*time.Second))

	for _, c := range fn.calls {
		if c.Shard != "shardId-000000000000" || c.ARN != "arn:aws:kinesis:us-east-1:000000000000:stream/s" || c.End.Sub(c.Start) != 10*time.Second || c.Early {
			t.Fatalf("call %+v", c)
		}
		if c.Final && c.RecordsLength != 0 {
			t.Fatalf("a final invocation carried records: %+v", c)
		}
	}
	// Batches of 3 cut at the window: [r0 r1 r2] [r3] final [r4 r5] final.
	var shape []string
	for _, c := range fn.calls {
		if c.Final {
			shape = append(shape, "final:"+c.State["n"])
		} else {
			shape = append(shape, strings.Join(c.Data, ","))
		}
	}
	if got, want := strings.Join(shape, " "), "r0,r1,r2 r3 final:4 r4,r5 final:2"; got != want {
		t.Fatalf("invocations %q, want %q", got, want)
	}
	if fn.calls[0].State == nil || len(fn.calls[0].State) != 0 || fn.calls[1].State["n"] != "3" || fn.calls[3].State["n"] != "" {
		t.Fatalf("state not carried within a window and fresh in the next: %+v", fn.calls)
	}
	if f := fn.finals(); !f[0].Start.Equal(base) || !f[1].Start.Equal(base.Add(20*time.Second)) {
		t.Fatalf("windows %v and %v, want aligned on 10 s", f[0].Start, f[1].Start)
	}
	if s := p.Stats(); s.Windows != 2 || s.FinalInvocations != 2 || s.OpenWindows != 0 || s.AcknowledgedRecords != 6 || s.Pending != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestAFailedInvocationIsRetriedWithTheStateItHadBefore(t *testing.T) {
	fn := &windowFn{}
	fn.answer = func(call int, c windowCall, n int) ([]byte, error) {
		if call == 1 {
			return nil, &FunctionError{Type: "errorString", Message: "boom"}
		}
		if call == 2 {
			return []byte(`{"batchItemFailures":[]}`), nil // no state: a failed invocation
		}
		if c.Final && call == 4 {
			return nil, &FunctionError{Type: "errorString", Message: "final failed"} // retried until it succeeds
		}
		return fmt.Appendf(nil, `{"state":{"n":"%d"}}`, n), nil
	}
	p := windowPoller(t, Config{BatchSize: 2}, fn)
	runToEnd(p, arrivals(base, 0, time.Second, 2*time.Second, 3*time.Second))

	f := fn.finals()
	if len(f) != 2 || f[0].State["n"] != "4" || f[1].State["n"] != "4" {
		t.Fatalf("final invocations %+v, want the count 4 twice (the first one failed)", f)
	}
	if s := p.Stats(); s.FinalInvocations != 1 || s.Retries != 3 || s.AcknowledgedRecords != 4 || s.FailedInvocations != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestAPartialResponseKeepsItsState(t *testing.T) {
	fn := &windowFn{}
	fn.answer = func(call int, c windowCall, n int) ([]byte, error) {
		if call == 0 { // r0 ok, r1 failed: state counts r0 only
			return []byte(`{"state":{"n":"1"},"batchItemFailures":[{"itemIdentifier":"49600001"}]}`), nil
		}
		return fmt.Appendf(nil, `{"state":{"n":"%d"}}`, n), nil
	}
	p := windowPoller(t, Config{BatchSize: 10, ReportBatchItemFailures: true}, fn)
	runToEnd(p, arrivals(base, 0, time.Second))
	if f := fn.finals(); len(f) != 1 || f[0].State["n"] != "2" || len(fn.calls) != 3 || fn.calls[1].State["n"] != "1" {
		t.Fatalf("calls %+v", fn.calls)
	}
}

func TestAStateOver1MBTerminatesTheWindowEarly(t *testing.T) {
	big := strings.Repeat("x", MaxWindowStateBytes)
	fn := &windowFn{}
	fn.answer = func(call int, c windowCall, n int) ([]byte, error) {
		if call == 0 {
			return fmt.Appendf(nil, `{"state":{"n":"%d","pad":"%s"}}`, n, big), nil
		}
		return fmt.Appendf(nil, `{"state":{"n":"%d"}}`, n), nil
	}
	p := windowPoller(t, Config{BatchSize: 1}, fn)
	runToEnd(p, arrivals(base, 0, time.Second))
	c := fn.calls
	if len(c) != 4 || !c[1].Final || !c[1].Early || c[1].State["n"] != "1" || c[1].State["pad"] == "" ||
		c[2].Final || len(c[2].State) != 0 || !c[2].Start.Equal(base) || !c[3].Final || c[3].Early || c[3].State["n"] != "1" {
		t.Fatalf("calls: early final with the big state, then the same window with a fresh state: %+v", c)
	}
	if s := p.Stats(); s.WindowsTerminatedEarly != 1 || s.FinalInvocations != 2 || s.Windows != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestAWindowClosesWhenAReadAfterItsEndFindsNothingNew: no later record and
// no shard end, only a read that reached the shard's latest record after
// the window's end.
func TestAWindowClosesWhenAReadAfterItsEndFindsNothingNew(t *testing.T) {
	fn := &windowFn{}
	p := windowPoller(t, Config{TumblingWindow: time.Second}, fn)
	sh := &shardState{id: "shardId-000000000000"}
	ch := make(chan []*Record, 1)
	now := time.Now()
	recs := arrivals(now.Truncate(time.Second), 0)
	p.c.pending.Add(1)
	ch <- recs
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); p.runWindowed(ctx, sh, ch) }()
	deadline := time.Now().Add(20 * time.Second)
	for p.Stats().AcknowledgedRecords == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	sh.caughtUpAt.Store(now.Truncate(time.Second).Add(time.Second).UnixNano()) // read at the end: not enough
	time.Sleep(300 * time.Millisecond)
	if len(fn.finals()) != 0 {
		t.Fatal("closed on a read that did not start after the window's end plus the grace")
	}
	sh.caughtUpAt.Store(now.Add(2 * time.Second).UnixNano())
	for len(fn.finals()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if f := fn.finals(); len(f) != 1 || f[0].State["n"] != "1" {
		t.Fatalf("finals %+v", f)
	}
	if s := p.Stats(); s.OpenWindows != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestTumblingWindowValidation(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{StreamName: "s", TumblingWindow: 901 * time.Second}, "tumbling window 15m1s is out of range"},
		{Config{StreamName: "s", TumblingWindow: 1500 * time.Millisecond}, "whole seconds"},
		{Config{StreamName: "s", TumblingWindow: time.Minute, ParallelizationFactor: 2}, "use ParallelizationFactor 1"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if err := (Config{StreamName: "s", TumblingWindow: 900 * time.Second}).Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := FromProperties(map[string]any{"TumblingWindowInSeconds": float64(60)})
	if err != nil || c.TumblingWindow != time.Minute {
		t.Fatalf("FromProperties: %v %v", c.TumblingWindow, err)
	}
}

// TestOnFailureUserRecordsCountKPLUserRecords: a discarded batch of one KPL
// aggregate of three user records, one plain record and one record that
// only looks aggregated is described as 3 Kinesis records and 5 user
// records, the unit a summary compares with readings.
func TestOnFailureUserRecordsCountKPLUserRecords(t *testing.T) {
	var a kpl.Aggregator
	for i := range 3 {
		if err := a.Add("k", "", fmt.Appendf(nil, `{"i":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	agg, err := a.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	fn := &fakeFn{behave: func(int, []string, []string) ([]byte, error) {
		return nil, &FunctionError{Type: "errorString", Message: "down"}
	}}
	dest := &memDest{}
	p := testPoller(t, Config{MaximumRetryAttempts: Retries(0)}, fn, dest)
	recs := records(3, func(int) string { return "plain" })
	recs[0].Data = agg
	recs[2].Data = append(kpl.Magic(), "not a protobuf"...)
	p.c.pending.Add(3)
	p.deliver(context.Background(), recs)
	if s := p.Stats(); s.OnFailureMessages != 1 || s.OnFailureRecords != 3 || s.OnFailureUserRecords != 5 {
		t.Fatalf("stats %+v", s)
	}
}
