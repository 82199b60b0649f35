package eventtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/functions/kinesisbatch"
)

// Env is the engine's part of a function's environment, as the construct's
// StreamProcessor.AddEventTime sets it (contract.EnvEventTime*).
type Env struct {
	// Table is the state table (contract.EnvEventTimeTable; required).
	Table string
	// ResultsStreamARN (contract.EnvEventTimeResultsStreamARN) or EventBus
	// (contract.EnvEventTimeEventBus) receives the results; one is required.
	ResultsStreamARN, EventBus string
	// OutOfOrderness, AllowedLateness and IdleTimeout: Go durations.
	// Default: 20s, 2m and 5m
	OutOfOrderness, AllowedLateness, IdleTimeout time.Duration
	// QuarantineQueueURL receives late records (contract.EnvQuarantineQueueURL;
	// required).
	QuarantineQueueURL string
	// FunctionName is $AWS_LAMBDA_FUNCTION_NAME, named in late records.
	FunctionName string
}

// EnvFromOS reads Env from the process environment. Every error names the
// variable, its value and the fix.
func EnvFromOS() (Env, error) {
	env := Env{
		Table:              os.Getenv(contract.EnvEventTimeTable),
		ResultsStreamARN:   os.Getenv(contract.EnvEventTimeResultsStreamARN),
		EventBus:           os.Getenv(contract.EnvEventTimeEventBus),
		QuarantineQueueURL: os.Getenv(contract.EnvQuarantineQueueURL),
		FunctionName:       os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
	}
	switch {
	case env.Table == "":
		return env, fmt.Errorf("%s is not set: it names the event-time state table (StreamProcessor.AddEventTime sets it)", contract.EnvEventTimeTable)
	case env.ResultsStreamARN == "" && env.EventBus == "":
		return env, fmt.Errorf("neither %s nor %s is set: the engine publishes final results there (AddEventTime sets one)", contract.EnvEventTimeResultsStreamARN, contract.EnvEventTimeEventBus)
	case env.QuarantineQueueURL == "":
		return env, fmt.Errorf("%s is not set: the engine sends late records there (the StreamProcessor sets it)", contract.EnvQuarantineQueueURL)
	}
	for _, d := range []struct {
		name string
		def  time.Duration
		into *time.Duration
	}{
		{contract.EnvEventTimeOutOfOrderness, 20 * time.Second, &env.OutOfOrderness},
		{contract.EnvEventTimeAllowedLateness, 2 * time.Minute, &env.AllowedLateness},
		{contract.EnvEventTimeIdleTimeout, 5 * time.Minute, &env.IdleTimeout},
	} {
		v, err := EnvDuration(d.name, d.def)
		if err != nil {
			return env, err
		}
		*d.into = v
	}
	return env, nil
}

// EnvDuration reads a non-negative Go duration from the environment
// variable name; def when it is unset or empty.
func EnvDuration(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: use a non-negative Go duration such as 30s or 2m", name, v)
	}
	return d, nil
}

// ConfigFromEnv is the engine's Config on the infrastructure env describes:
// a DynamoStore on the state table, results to the stream (KinesisSink) or
// the bus (EventBridgeSink with source and detailType), late records to the
// quarantine queue, and env's durations; AWS clients from
// awsjson.NewFromEnv. Set the other fields (Concurrency, Codec, ...) on the
// result before calling New.
func ConfigFromEnv[K ~string, V any, A Aggregate[A, V]](env Env, windows Assigner, source, detailType string) (Config[K, V, A], error) {
	cfg := Config[K, V, A]{Windows: windows, OutOfOrderness: env.OutOfOrderness, AllowedLateness: env.AllowedLateness, IdleTimeout: env.IdleTimeout}
	db, err := awsjson.NewFromEnv(awsjson.DynamoDB)
	if err != nil {
		return cfg, fmt.Errorf("eventtime: client for DynamoDB: %w", err)
	}
	if cfg.Store, err = NewDynamoStore(db, DynamoConfig{Table: env.Table, AllowedLateness: env.AllowedLateness}); err != nil {
		return cfg, err
	}
	if env.ResultsStreamARN != "" {
		kin, err := awsjson.NewFromEnv(awsjson.Kinesis)
		if err != nil {
			return cfg, fmt.Errorf("eventtime: client for Kinesis: %w", err)
		}
		cfg.Results = &KinesisSink[K, A]{Client: kin, StreamARN: env.ResultsStreamARN}
	} else {
		eb, err := awsjson.NewFromEnv(awsjson.EventBridge)
		if err != nil {
			return cfg, fmt.Errorf("eventtime: client for EventBridge: %w", err)
		}
		cfg.Results = &EventBridgeSink[K, A]{Client: eb, EventBusName: env.EventBus, Source: source, DetailType: detailType}
	}
	sqs, err := awsjson.NewFromEnv(awsjson.SQS)
	if err != nil {
		return cfg, fmt.Errorf("eventtime: client for SQS: %w", err)
	}
	cfg.Late = NewQuarantineLateSink[K](kinesisbatch.NewSQSClient(sqs), env.QuarantineQueueURL, env.FunctionName)
	return cfg, nil
}

// Firer is the part of an Engine that Invoker needs.
type Firer interface {
	Fire(ctx context.Context) (FireStats, error)
}

// Invoker is the Lambda handler of a function that AddEventTime wires: it
// passes Kinesis events to the batch processor and the schedule's
// FireRequest to Fire, whose figures it emits as EMF metrics
// (contract.MetricResultsPublished, MetricWatermarkLag,
// MetricPublishFailures) in the pipeline's namespace. Give it to
// lambda.Start.
type Invoker struct {
	Processor *kinesisbatch.Processor
	Engine    Firer
	// Namespace of the fire metrics.
	// Default: $STREAMPROC_METRICS_NAMESPACE, else contract.DefaultMetricsNamespace
	Namespace string
	// MetricsOutput receives the fire metrics.
	// Default: os.Stdout
	MetricsOutput io.Writer
	// Now is the processing-time clock of the watermark lag.
	// Default: time.Now
	Now func() time.Time
}

// Invoke implements lambda.Handler. A failed firing is returned as the
// invocation's error (the schedule's next run fires again).
func (i *Invoker) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if !IsFireRequest(payload) {
		return i.Processor.Invoke(ctx, payload)
	}
	now, out, ns := time.Now, i.MetricsOutput, i.Namespace
	if i.Now != nil {
		now = i.Now
	}
	if out == nil {
		out = os.Stdout
	}
	if ns == "" {
		if ns = os.Getenv(contract.EnvMetricsNamespace); ns == "" {
			ns = contract.DefaultMetricsNamespace
		}
	}
	st, err := i.Engine.Fire(ctx)
	t := now()
	m := kinesisbatch.NewMetrics()
	addFireMetrics(m, st.Published, st.Watermark, err != nil, t.UnixMilli())
	_ = m.WriteEMF(out, ns, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), t)
	if err != nil {
		slog.ErrorContext(ctx, "firing windows", "error", err.Error())
		return nil, err
	}
	if st.Skipped {
		slog.InfoContext(ctx, "firing skipped: another firing holds the lease")
		return []byte(`{}`), nil
	}
	slog.InfoContext(ctx, "windows fired", "watermark", st.Watermark, "rounds", st.Rounds, "due", st.Due, "published", st.Published, "closed", st.Closed)
	return []byte(`{}`), nil
}

// ProcessBatch is Process inside a kinesisbatch.BatchHandler: recs[j] came
// from b.Records[refs[j]] (the records the handler decoded; it has failed
// the others). It fails back the records the engine could not store — with
// ErrWindowFull permanently (quarantined with its payload), with any other
// error transiently (retried) — turns a panic in the engine into a transient
// failure of every record (a bug must not quarantine valid data), and adds
// the engine's figures to the invocation's metrics: contract.MetricLateRecords,
// MetricResultsPublished, MetricWatermarkLag (of the watermark fired at, or
// the one the batch was judged against) and MetricPublishFailures. The
// Outcome is returned for the application's own metrics (Applied,
// Duplicates).
func (e *Engine[K, V, A]) ProcessBatch(ctx context.Context, b *kinesisbatch.Batch, recs []Record[K, V], refs []int) Outcome {
	if len(recs) == 0 {
		return Outcome{}
	}
	out := e.processIsolated(ctx, b.Records[refs[0]].ShardID(), recs)
	for j, err := range out.Errs {
		if err == nil {
			continue // applied, late or a duplicate: stored
		}
		if errors.Is(err, ErrWindowFull) {
			err = kinesisbatch.Permanent(err)
		}
		b.Fail(b.Records[refs[j]], err)
	}
	m := kinesisbatch.MetricsFromContext(ctx)
	m.Add(contract.MetricLateRecords, kinesisbatch.UnitCount, float64(out.Late))
	wm := out.Watermark
	if out.Fired && !out.Fire.Skipped {
		wm = out.Fire.Watermark
	}
	addFireMetrics(m, out.Fire.Published, wm, out.FireErr != nil, e.cfg.Now().UnixMilli())
	if out.FireErr != nil {
		// The records are stored; what is due fires at the next boundary
		// or scheduled run.
		slog.WarnContext(ctx, "firing windows", "error", out.FireErr.Error())
	}
	return out
}

// addFireMetrics adds a firing's figures to m: results published, the
// watermark's lag behind processing time now (Unix ms; none while there is
// no watermark) and a publishing failure.
func addFireMetrics(m *kinesisbatch.Metrics, published int, watermark int64, failed bool, now int64) {
	m.Add(contract.MetricResultsPublished, kinesisbatch.UnitCount, float64(published))
	if watermark > 0 {
		m.Observe(contract.MetricWatermarkLag, kinesisbatch.UnitMilliseconds, float64(now-watermark))
	}
	if failed {
		m.Add(contract.MetricPublishFailures, kinesisbatch.UnitCount, 1)
	}
}

func (e *Engine[K, V, A]) processIsolated(ctx context.Context, shard string, recs []Record[K, V]) (out Outcome) {
	defer func() {
		if v := recover(); v != nil {
			err := fmt.Errorf("eventtime: panic in the engine: %v", v)
			out = Outcome{Errs: make([]error, len(recs))}
			for i := range out.Errs {
				out.Errs[i] = err
			}
		}
	}()
	return e.Process(ctx, shard, recs)
}
