// Command processor is the example pipeline's Lambda function: Kinesis
// sensor readings in, per-sensor, per-minute event-time windows of the
// temperature out, on the event-time engine (functions/eventtime): exactly
// once in its DynamoDB state table, final results and numbered corrections
// to the results stream, late readings to the quarantine queue with kind
// "late", invalid readings quarantined. The payload {"eventtime":"fire"} (the
// construct's schedule) fires the windows that are due. The domain lives in
// functions/processor/handler and functions/processor/sensor; this file only
// reads the environment, builds clients and starts the runtime.
//
// Environment (set by the StreamProcessor construct and AddEventTime):
//
//	STREAMPROC_EVENTTIME_TABLE                   the engine's state table (pk S, sk S, TTL on ttl; required)
//	STREAMPROC_EVENTTIME_RESULTS_STREAM_ARN      Kinesis stream for final results and corrections, or
//	STREAMPROC_EVENTTIME_EVENT_BUS               EventBridge bus for them
//	STREAMPROC_EVENTTIME_OUT_OF_ORDERNESS        Go duration (default 20s)
//	STREAMPROC_EVENTTIME_ALLOWED_LATENESS        Go duration (default 2m)
//	STREAMPROC_EVENTTIME_IDLE_TIMEOUT            Go duration (default 5m)
//	WINDOW_SIZE                                  tumbling window, a Go duration dividing 24h (default 1m)
//	STREAMPROC_QUARANTINE_QUEUE_URL              queue for invalid and late readings (required)
//	STREAMPROC_METRICS_NAMESPACE                 EMF namespace (default StreamProc)
//
// AWS calls go through functions/awsjson (credentials and region from the
// environment Lambda sets); endpoints come only from the standard
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> variables.
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
	"github.com/streamproc/streamproc/functions/processor/config"
	"github.com/streamproc/streamproc/functions/processor/handler"
)

func main() {
	p, err := setup(context.Background())
	if err != nil {
		// A configuration error fails INIT with a message in the logs;
		// Lambda reports it and retries the batch, nothing is acknowledged.
		kinesisbatch.NewLogger(os.Stderr).Error("processor configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(p)
}

func setup(ctx context.Context) (lambda.Handler, error) {
	if os.Getenv(config.EnvStateTable) == "" {
		return nil, fmt.Errorf("%s is not set: it names the event-time state table (StreamProcessor.AddEventTime sets it)", config.EnvStateTable)
	}
	return setupEngine(ctx)
}

// engineInvoker serves Kinesis events through the batch toolkit and the
// schedule's FireRequest through the engine.
type engineInvoker struct {
	p   *kinesisbatch.Processor
	eng *handler.Engine
}

func (i engineInvoker) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
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
		// Logged and reported: the schedule's next run tries again.
		slog.ErrorContext(ctx, "firing windows", "error", err.Error())
		return nil, err
	}
	slog.InfoContext(ctx, "windows fired", "watermark", st.Watermark, "due", st.Due, "published", st.Published, "closed", st.Closed)
	return []byte(`{}`), nil
}

func duration(env string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(env)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: use a Go duration such as 30s or 2m", env, v)
	}
	return d, nil
}

func setupEngine(ctx context.Context) (lambda.Handler, error) {
	size, err := duration(config.EnvWindowSize, config.DefaultWindowSize)
	if err != nil {
		return nil, err
	}
	assigner, err := eventtime.Tumbling(size)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w", config.EnvWindowSize, os.Getenv(config.EnvWindowSize), err)
	}
	ooo, err := duration(config.EnvOutOfOrderness, 20*time.Second)
	if err != nil {
		return nil, err
	}
	lateness, err := duration(config.EnvAllowedLateness, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	idle, err := duration(config.EnvIdleTimeout, 5*time.Minute)
	if err != nil {
		return nil, err
	}
	var results eventtime.ResultSink[string, eventtime.Stats]
	switch arn, bus := os.Getenv(config.EnvResultsStreamARN), os.Getenv(contract.EnvEventTimeEventBus); {
	case arn != "":
		kin, err := awsjson.NewFromEnv(awsjson.Kinesis)
		if err != nil {
			return nil, fmt.Errorf("client for Kinesis: %w", err)
		}
		results = &eventtime.KinesisSink[string, eventtime.Stats]{Client: kin, StreamARN: arn}
	case bus != "":
		eb, err := awsjson.NewFromEnv(awsjson.EventBridge)
		if err != nil {
			return nil, fmt.Errorf("client for EventBridge: %w", err)
		}
		results = &eventtime.EventBridgeSink[string, eventtime.Stats]{Client: eb, EventBusName: bus, Source: "streamproc.example", DetailType: "SensorMinute"}
	default:
		return nil, fmt.Errorf("neither %s nor %s is set: the engine publishes final results there", config.EnvResultsStreamARN, contract.EnvEventTimeEventBus)
	}
	queue := os.Getenv(contract.EnvQuarantineQueueURL)
	if queue == "" {
		return nil, fmt.Errorf("%s is not set: the engine sends late readings there", contract.EnvQuarantineQueueURL)
	}
	db, err := awsjson.NewFromEnv(awsjson.DynamoDB)
	if err != nil {
		return nil, fmt.Errorf("DynamoDB client: %w", err)
	}
	sqs, err := awsjson.NewFromEnv(awsjson.SQS)
	if err != nil {
		return nil, fmt.Errorf("client for SQS: %w", err)
	}
	store, err := eventtime.NewDynamoStore(db, eventtime.DynamoConfig{Table: os.Getenv(config.EnvStateTable), AllowedLateness: lateness})
	if err != nil {
		return nil, err
	}
	fn := os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	eng, err := eventtime.New(eventtime.Config[string, eventtime.Fixed, eventtime.Stats]{
		Windows: assigner, OutOfOrderness: ooo, AllowedLateness: lateness, IdleTimeout: idle,
		Store:   store,
		Results: results,
		Late:    eventtime.NewQuarantineLateSink[string](kinesisbatch.NewSQSClient(sqs), queue, fn),
	})
	if err != nil {
		return nil, err
	}
	h, err := handler.New(handler.Config{Engine: eng})
	if err != nil {
		return nil, err
	}
	cfg, err := kinesisbatch.ConfigFromEnv(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.Retry.MaxAttempts == 0 {
		// Ride out seconds of DynamoDB throttling inside the invocation
		// (backoff capped at 2s; an attempt starts only if it fits before
		// the deadline) rather than fail the batch back to Lambda, whose
		// retries are few and end at the failure destination.
		cfg.Retry.MaxAttempts = 12
	}
	slog.SetDefault(kinesisbatch.NewLogger(os.Stdout))
	return engineInvoker{p: kinesisbatch.New(h, cfg), eng: eng}, nil
}
