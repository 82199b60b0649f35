// Command orders is the orders app's Lambda function: orders from a Kinesis
// stream in, revenue per customer in hopping event-time windows out ("revenue
// over the last 5 minutes, every minute"), on the product's event-time engine
// (functions/eventtime): exactly once in its DynamoDB state table, final
// results and numbered corrections to the results stream, late orders to the
// quarantine queue with kind "late", invalid orders quarantined. The payload
// {"eventtime":"fire"} (the construct's schedule) fires the windows that are
// due. The domain lives in example.com/orders/handler, order and revenue;
// this file reads the environment, builds the clients and starts the runtime.
//
// Environment (set by the stack, the StreamProcessor construct and its
// AddEventTime):
//
//	STREAMPROC_EVENTTIME_TABLE               the engine's state table (required)
//	STREAMPROC_EVENTTIME_RESULTS_STREAM_ARN  Kinesis stream for final results and corrections (required)
//	STREAMPROC_EVENTTIME_OUT_OF_ORDERNESS    Go duration (default 20s)
//	STREAMPROC_EVENTTIME_ALLOWED_LATENESS    Go duration (default 2m)
//	STREAMPROC_EVENTTIME_IDLE_TIMEOUT        Go duration (default 5m)
//	WINDOW_SIZE, WINDOW_SLIDE                the hopping windows, Go durations (default 5m and 1m)
//	STREAMPROC_QUARANTINE_QUEUE_URL          queue for invalid and late orders (required)
//	STREAMPROC_METRICS_NAMESPACE             EMF namespace
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/functions/kinesisbatch"

	"example.com/orders/config"
	"example.com/orders/handler"
	"example.com/orders/revenue"
)

func main() {
	h, err := setup(context.Background())
	if err != nil {
		// Failing INIT keeps every record: Lambda retries the batch.
		kinesisbatch.NewLogger(os.Stderr).Error("orders configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}

// invoker serves Kinesis events through the batch toolkit and the
// schedule's fire request through the engine.
type invoker struct {
	p   *kinesisbatch.Processor
	eng *handler.Engine
}

func (i invoker) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if !eventtime.IsFireRequest(payload) {
		return i.p.Invoke(ctx, payload)
	}
	st, err := i.eng.Fire(ctx)
	m := kinesisbatch.NewMetrics()
	m.Add(config.MetricResultsPublished, kinesisbatch.UnitCount, float64(st.Published))
	if st.Watermark > 0 {
		m.Observe(config.MetricWatermarkLag, kinesisbatch.UnitMilliseconds, float64(time.Now().UnixMilli()-st.Watermark))
	}
	if err != nil {
		m.Add(config.MetricPublishFailures, kinesisbatch.UnitCount, 1)
	}
	ns := os.Getenv(contract.EnvMetricsNamespace)
	if ns == "" {
		ns = contract.DefaultMetricsNamespace
	}
	_ = m.WriteEMF(os.Stdout, ns, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), time.Now())
	if err != nil {
		// Reported to the schedule; its next run tries again.
		slog.ErrorContext(ctx, "firing windows", "error", err.Error())
		return nil, err
	}
	slog.InfoContext(ctx, "windows fired", "watermark", st.Watermark, "due", st.Due, "published", st.Published, "closed", st.Closed)
	return []byte(`{}`), nil
}

// duration reads a Go duration from env, def when unset.
func duration(env string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(env)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: use a Go duration such as 30s or 5m", env, v)
	}
	return d, nil
}

// windows reads the hopping windows from WINDOW_SIZE and WINDOW_SLIDE.
func windows() (eventtime.Assigner, error) {
	size, err := duration(config.EnvWindowSize, config.DefaultWindowSize)
	if err != nil {
		return eventtime.Assigner{}, err
	}
	slide, err := duration(config.EnvWindowSlide, config.DefaultWindowSlide)
	if err != nil {
		return eventtime.Assigner{}, err
	}
	a, err := eventtime.Hopping(size, slide)
	if err != nil {
		return eventtime.Assigner{}, fmt.Errorf("%s=%s, %s=%s: %w", config.EnvWindowSize, size, config.EnvWindowSlide, slide, err)
	}
	return a, nil
}

func setup(ctx context.Context) (lambda.Handler, error) {
	table := os.Getenv(contract.EnvEventTimeTable)
	if table == "" {
		return nil, fmt.Errorf("%s is not set: it names the event-time state table (StreamProcessor.AddEventTime sets it)", contract.EnvEventTimeTable)
	}
	resultsARN := os.Getenv(contract.EnvEventTimeResultsStreamARN)
	if resultsARN == "" {
		return nil, fmt.Errorf("%s is not set: the engine publishes the windows' revenue there (AddEventTime sets it)", contract.EnvEventTimeResultsStreamARN)
	}
	queue := os.Getenv(contract.EnvQuarantineQueueURL)
	if queue == "" {
		return nil, fmt.Errorf("%s is not set: late orders go there (the StreamProcessor sets it)", contract.EnvQuarantineQueueURL)
	}
	assigner, err := windows()
	if err != nil {
		return nil, err
	}
	ooo, err := duration(contract.EnvEventTimeOutOfOrderness, 20*time.Second)
	if err != nil {
		return nil, err
	}
	lateness, err := duration(contract.EnvEventTimeAllowedLateness, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	idle, err := duration(contract.EnvEventTimeIdleTimeout, 5*time.Minute)
	if err != nil {
		return nil, err
	}
	// awsjson, not aws-sdk-go-v2: the SDK's package initialisation would
	// cost most of the INIT time of this small function.
	db, err := awsjson.NewFromEnv(awsjson.DynamoDB)
	if err != nil {
		return nil, fmt.Errorf("client for DynamoDB: %w", err)
	}
	kin, err := awsjson.NewFromEnv(awsjson.Kinesis)
	if err != nil {
		return nil, fmt.Errorf("client for Kinesis: %w", err)
	}
	sqs, err := awsjson.NewFromEnv(awsjson.SQS)
	if err != nil {
		return nil, fmt.Errorf("client for SQS: %w", err)
	}
	store, err := eventtime.NewDynamoStore(db, eventtime.DynamoConfig{Table: table, AllowedLateness: lateness})
	if err != nil {
		return nil, err
	}
	eng, err := eventtime.New(eventtime.Config[string, int64, revenue.Revenue]{
		Windows: assigner, OutOfOrderness: ooo, AllowedLateness: lateness, IdleTimeout: idle,
		Store:   store,
		Results: &eventtime.KinesisSink[string, revenue.Revenue]{Client: kin, StreamARN: resultsARN},
		Late:    eventtime.NewQuarantineLateSink[string](kinesisbatch.NewSQSClient(sqs), queue, os.Getenv("AWS_LAMBDA_FUNCTION_NAME")),
	})
	if err != nil {
		return nil, err
	}
	h, err := handler.New(eng)
	if err != nil {
		return nil, err
	}
	cfg, err := kinesisbatch.ConfigFromEnv(ctx)
	if err != nil {
		return nil, err
	}
	slog.SetDefault(kinesisbatch.NewLogger(os.Stdout))
	return invoker{p: kinesisbatch.New(h, cfg), eng: eng}, nil
}
