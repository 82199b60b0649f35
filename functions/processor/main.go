// Command processor is the example pipeline's Lambda function: Kinesis
// sensor readings in, per-(sensor, event-time window) aggregates out in
// DynamoDB, exactly once; invalid readings quarantined. The logic lives in
// functions/processor/handler, functions/processor/sensor and functions/processor/aggstore; this
// file only reads the environment, builds clients and starts the runtime.
//
// Environment (set by the StreamProcessor construct):
//
//	TABLE_NAME                       aggregate table (required)
//	WINDOW_SIZE                      event-time window, a Go duration dividing 24h (default 1m)
//	STREAMPROC_QUARANTINE_QUEUE_URL  queue for invalid records (unset: they are reported as failures)
//	STREAMPROC_METRICS_NAMESPACE     EMF namespace (default StreamProc)
//	STORE_CONCURRENCY                DynamoDB calls in flight per invocation (default 16)
//
// With STREAMPROC_EVENTTIME_TABLE set (StreamProcessor.AddEventTime) the function runs on the event-time engine
// (functions/eventtime) instead: per-sensor tumbling windows of WINDOW_SIZE
// with watermarks, final results to the results stream (required then), late
// readings to the quarantine queue with kind "late", and the payload
// {"eventtime":"fire"} (a schedule) fires due windows:
//
//	STREAMPROC_EVENTTIME_TABLE                   the engine's state table (pk S, sk S, TTL on ttl)
//	STREAMPROC_EVENTTIME_RESULTS_STREAM_ARN      Kinesis stream for final results and corrections, or
//	STREAMPROC_EVENTTIME_EVENT_BUS               EventBridge bus for them
//	STREAMPROC_EVENTTIME_OUT_OF_ORDERNESS        Go duration (default 20s)
//	STREAMPROC_EVENTTIME_ALLOWED_LATENESS        Go duration (default 2m)
//	STREAMPROC_EVENTTIME_IDLE_TIMEOUT            Go duration (default 5m)
//
// AWS calls go through functions/awsjson (credentials and region from the
// environment Lambda sets); endpoints come only from the standard
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> variables.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/functions/kinesisbatch"
	"github.com/streamproc/streamproc/functions/processor/aggstore"
	"github.com/streamproc/streamproc/functions/processor/config"
	"github.com/streamproc/streamproc/functions/processor/handler"
	"github.com/streamproc/streamproc/functions/processor/sensor"
)

// envStoreConcurrency tunes aggstore.Config.Concurrency.
const envStoreConcurrency = "STORE_CONCURRENCY"

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
	if os.Getenv(config.EnvStateTable) != "" {
		return setupEngine(ctx)
	}
	return setupStore(ctx)
}

func setupStore(ctx context.Context) (*kinesisbatch.Processor, error) {
	table := os.Getenv(config.EnvTableName)
	if table == "" {
		return nil, fmt.Errorf("%s is not set: it names the aggregate table", config.EnvTableName)
	}
	windows, err := sensor.ParseWindowSize(os.Getenv(config.EnvWindowSize), config.DefaultWindowSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.EnvWindowSize, err)
	}
	conc := 16
	if v := os.Getenv(envStoreConcurrency); v != "" {
		if conc, err = strconv.Atoi(v); err != nil || conc < 1 || conc > 256 {
			return nil, fmt.Errorf("%s=%q: use a whole number between 1 and 256", envStoreConcurrency, v)
		}
	}

	// awsjson instead of aws-sdk-go-v2: the SDK's service packages alone
	// cost ~9 ms of package initialisation, most of the INIT budget.
	db, err := awsjson.NewFromEnv(awsjson.DynamoDB)
	if err != nil {
		return nil, fmt.Errorf("DynamoDB client: %w", err)
	}
	if t, ok := db.HTTPClient.Transport.(*http.Transport); ok && t.MaxIdleConnsPerHost < conc+4 {
		// Keep a connection per call in flight (the default client is shared:
		// change a copy).
		t = t.Clone()
		t.MaxIdleConnsPerHost = conc + 4
		db.HTTPClient = &http.Client{Transport: t, Timeout: db.HTTPClient.Timeout}
	}
	store, err := aggstore.New(aggstore.NewDynamoDB(db), aggstore.Config{Table: table, Concurrency: conc})
	if err != nil {
		return nil, err
	}
	h, err := handler.New(handler.Config{Store: store, Windows: windows})
	if err != nil {
		return nil, err
	}
	// The quarantine queue ($STREAMPROC_QUARANTINE_QUEUE_URL), if any.
	cfg, err := kinesisbatch.ConfigFromEnv(ctx)
	if err != nil {
		return nil, err
	}
	slog.SetDefault(kinesisbatch.NewLogger(os.Stdout))
	return kinesisbatch.New(h, cfg), nil
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
	windows, err := sensor.ParseWindowSize(os.Getenv(config.EnvWindowSize), config.DefaultWindowSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.EnvWindowSize, err)
	}
	assigner, err := eventtime.Tumbling(windows.Size())
	if err != nil {
		return nil, err
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
	h, err := handler.NewEngineHandler(handler.EngineConfig{Engine: eng})
	if err != nil {
		return nil, err
	}
	cfg, err := kinesisbatch.ConfigFromEnv(ctx)
	if err != nil {
		return nil, err
	}
	slog.SetDefault(kinesisbatch.NewLogger(os.Stdout))
	return engineInvoker{p: kinesisbatch.New(h, cfg), eng: eng}, nil
}
