// Command processor is the example pipeline's Lambda function: Kinesis
// sensor readings in, per-sensor, per-minute event-time windows of the
// temperature out, on the event-time engine (functions/eventtime): exactly
// once in its DynamoDB state table, final results and numbered corrections
// to the results stream, late readings to the quarantine queue with kind
// "late", invalid readings quarantined. The payload {"eventtime":"fire"} (the
// construct's schedule) fires the windows that are due. The domain lives in
// functions/processor/handler and functions/processor/sensor; this file only
// picks the windows and starts the runtime: the engine's wiring to what
// AddEventTime provisions is eventtime.ConfigFromEnv and eventtime.Invoker.
//
// Environment (set by the StreamProcessor construct and AddEventTime):
//
//	STREAMPROC_EVENTTIME_TABLE                   the engine's state table (pk S, sk S, TTL on ttl; required)
//	STREAMPROC_EVENTTIME_RESULTS_STREAM_ARN      Kinesis stream for final results and corrections, or
//	STREAMPROC_EVENTTIME_EVENT_BUS               EventBridge bus for them
//	STREAMPROC_EVENTTIME_OUT_OF_ORDERNESS        Go duration (default 20s)
//	STREAMPROC_EVENTTIME_ALLOWED_LATENESS        Go duration (default 2m)
//	STREAMPROC_EVENTTIME_IDLE_TIMEOUT            Go duration (default 5m)
//	WINDOW_SIZE                                  tumbling window, a Go duration (default 1m)
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

	"github.com/aws/aws-lambda-go/lambda"

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
	env, err := eventtime.EnvFromOS()
	if err != nil {
		return nil, err
	}
	size, err := eventtime.EnvDuration(config.EnvWindowSize, config.DefaultWindowSize)
	if err != nil {
		return nil, err
	}
	windows, err := eventtime.Tumbling(size)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w", config.EnvWindowSize, os.Getenv(config.EnvWindowSize), err)
	}
	cfg, err := eventtime.ConfigFromEnv[string, eventtime.Fixed, eventtime.Stats](env, windows, "streamproc.example", "SensorMinute")
	if err != nil {
		return nil, err
	}
	eng, err := eventtime.New(cfg)
	if err != nil {
		return nil, err
	}
	h, err := handler.New(handler.Config{Engine: eng})
	if err != nil {
		return nil, err
	}
	bcfg, err := kinesisbatch.ConfigFromEnv(ctx)
	if err != nil {
		return nil, err
	}
	if bcfg.Retry.MaxAttempts == 0 {
		// Ride out seconds of DynamoDB throttling inside the invocation
		// (backoff capped at 2s; an attempt starts only if it fits before
		// the deadline) rather than fail the batch back to Lambda, whose
		// retries are few and end at the failure destination.
		bcfg.Retry.MaxAttempts = 12
	}
	slog.SetDefault(kinesisbatch.NewLogger(os.Stdout))
	return &eventtime.Invoker{Processor: kinesisbatch.New(h, bcfg), Engine: eng}, nil
}
