package eventtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/functions/kinesisbatch"
)

func TestEnvFromOS(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	good := map[string]string{
		contract.EnvEventTimeTable:            "state",
		contract.EnvEventTimeResultsStreamARN: "arn:aws:kinesis:eu-west-1:123456789012:stream/results",
		contract.EnvEventTimeEventBus:         "",
		contract.EnvQuarantineQueueURL:        "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq",
		contract.EnvEventTimeAllowedLateness:  "90s",
		contract.EnvEventTimeOutOfOrderness:   "",
		contract.EnvEventTimeIdleTimeout:      "",
	}
	set := func(k, v string) {
		for gk, gv := range good {
			t.Setenv(gk, gv)
		}
		if k != "" {
			t.Setenv(k, v)
		}
	}
	set("", "")
	env, err := eventtime.EnvFromOS()
	if err != nil || env.AllowedLateness != 90*time.Second || env.OutOfOrderness != 20*time.Second || env.IdleTimeout != 5*time.Minute || env.Table != "state" {
		t.Fatalf("EnvFromOS = %+v, %v; want the lateness set and the other durations defaulted", env, err)
	}
	cfg, err := eventtime.ConfigFromEnv[string, eventtime.Fixed, eventtime.Stats](env, eventtime.Assigner{}, "src", "dt")
	if _, ok := cfg.Results.(*eventtime.KinesisSink[string, eventtime.Stats]); err != nil || !ok || cfg.Store == nil || cfg.Late == nil {
		t.Errorf("ConfigFromEnv with a results stream: results %T, store %v, late %v, %v", cfg.Results, cfg.Store, cfg.Late, err)
	}
	set(contract.EnvEventTimeResultsStreamARN, "")
	t.Setenv(contract.EnvEventTimeEventBus, "bus")
	env, _ = eventtime.EnvFromOS()
	cfg, err = eventtime.ConfigFromEnv[string, eventtime.Fixed, eventtime.Stats](env, eventtime.Assigner{}, "src", "dt")
	if eb, ok := cfg.Results.(*eventtime.EventBridgeSink[string, eventtime.Stats]); err != nil || !ok || eb.EventBusName != "bus" || eb.Source != "src" || eb.DetailType != "dt" {
		t.Errorf("ConfigFromEnv with a bus: results %+v, %v", cfg.Results, err)
	}
	for _, tc := range []struct{ env, value, want string }{
		{contract.EnvEventTimeTable, "", contract.EnvEventTimeTable + " is not set"},
		{contract.EnvEventTimeResultsStreamARN, "", "neither " + contract.EnvEventTimeResultsStreamARN},
		{contract.EnvQuarantineQueueURL, "", contract.EnvQuarantineQueueURL + " is not set"},
		{contract.EnvEventTimeIdleTimeout, "-1s", contract.EnvEventTimeIdleTimeout + `="-1s": use a non-negative Go duration`},
		{contract.EnvEventTimeOutOfOrderness, "soon", contract.EnvEventTimeOutOfOrderness + `="soon"`},
	} {
		set(tc.env, tc.value)
		if _, err := eventtime.EnvFromOS(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: %v, want an error containing %q", tc.env, tc.value, err, tc.want)
		}
	}
}

type firer struct {
	st    eventtime.FireStats
	err   error
	calls int
}

func (f *firer) Fire(context.Context) (eventtime.FireStats, error) { f.calls++; return f.st, f.err }

// TestInvoker: the schedule's payload goes to Fire, whose figures become
// the contract's metrics; a Kinesis event goes to the batch processor.
func TestInvoker(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	f := &firer{st: eventtime.FireStats{Watermark: 990_000, Published: 3}}
	var metrics bytes.Buffer
	p := kinesisbatch.New(kinesisbatch.BatchFunc(func(context.Context, *kinesisbatch.Batch) error { return nil }),
		kinesisbatch.Config{DisableMetrics: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	inv := &eventtime.Invoker{Processor: p, Engine: f, Namespace: "NS", MetricsOutput: &metrics, Now: func() time.Time { return now }}
	out, err := inv.Invoke(context.Background(), []byte(eventtime.FireRequest))
	if err != nil || string(out) != "{}" || f.calls != 1 {
		t.Fatalf("fire request: %s %v, %d firings", out, err, f.calls)
	}
	for _, want := range []string{`"Namespace":"NS"`, `"` + contract.MetricResultsPublished + `":3`, `"` + contract.MetricWatermarkLag + `":10000`} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("fire metrics lack %s: %s", want, metrics.String())
		}
	}
	f.err = errors.New("sink down")
	metrics.Reset()
	if _, err := inv.Invoke(context.Background(), []byte(eventtime.FireRequest)); !errors.Is(err, f.err) || !strings.Contains(metrics.String(), `"`+contract.MetricPublishFailures+`":1`) {
		t.Errorf("failed firing: %v, metrics %s; want the error returned and a publishing failure counted", err, metrics.String())
	}
	out, err = inv.Invoke(context.Background(), []byte(`{"Records":[]}`))
	if err != nil || !strings.Contains(string(out), "batchItemFailures") || f.calls != 2 {
		t.Errorf("Kinesis event: %s %v (%d firings); want the processor's batch response", out, err, f.calls)
	}
}

// panicStore panics on every window read.
type panicStore struct{ eventtime.Store }

func (panicStore) GetWindows(context.Context, []eventtime.WindowKey) ([]eventtime.WindowState, error) {
	panic("store bug")
}

// TestProcessBatch: records the engine could not store are failed back on
// the batch, ErrWindowFull permanently, anything else transiently (a panic
// included). Its metrics are checked in the example's function under the
// RIE (functions/processor's TestBootstrapUnderRIE).
func TestProcessBatch(t *testing.T) {
	a, _ := eventtime.Tumbling(time.Minute)
	newEngine := func(s eventtime.Store, maxBytes int) *eventtime.Engine[string, eventtime.Fixed, eventtime.Stats] {
		eng, err := eventtime.New(eventtime.Config[string, eventtime.Fixed, eventtime.Stats]{Windows: a, IdleTimeout: -1, Store: s,
			Results: &sinks{}, Late: &sinks{}, MaxWindowBytes: maxBytes, Now: (&clock{now: t0 + 180_000}).Now})
		if err != nil {
			t.Fatal(err)
		}
		return eng
	}
	batch := func(n int) (*kinesisbatch.Batch, []eventtime.Record[string, eventtime.Fixed], []int) {
		b := &kinesisbatch.Batch{Attempt: 1}
		var recs []eventtime.Record[string, eventtime.Fixed]
		var refs []int
		for i := range n {
			b.Records = append(b.Records, &kinesisbatch.Record{Index: i, EventID: fmt.Sprint("shardId-1:", i)})
			recs = append(recs, eventtime.Record[string, eventtime.Fixed]{ID: fmt.Sprint(i), Key: "k", EventTime: t0 + int64(i), Value: 1})
			refs = append(refs, i)
		}
		return b, recs, refs
	}
	ctx := context.Background()

	// A window that holds few ids: the batch does not fit, permanently.
	b, recs, refs := batch(20)
	out := newEngine(eventtime.NewMemoryStore(), 64+200+8*10).ProcessBatch(ctx, b, recs, refs)
	if err := b.Err(b.Records[0]); !errors.Is(err, eventtime.ErrWindowFull) || !kinesisbatch.IsPermanent(err) || out.Applied != 0 {
		t.Errorf("full window: %v (applied %d), want ErrWindowFull, permanent", err, out.Applied)
	}

	// A panicking store: every record failed, transiently.
	b, recs, refs = batch(3)
	newEngine(panicStore{eventtime.NewMemoryStore()}, 0).ProcessBatch(ctx, b, recs, refs)
	for _, r := range b.Records {
		if err := b.Err(r); err == nil || !strings.Contains(err.Error(), "panic in the engine") || kinesisbatch.IsPermanent(err) {
			t.Errorf("record %d after a panic: %v, want a transient failure", r.Index, err)
		}
	}
}
