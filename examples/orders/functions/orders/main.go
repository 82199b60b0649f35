// Command orders is the orders app's Lambda function: orders from a Kinesis
// stream in, revenue per customer in hopping event-time windows out ("revenue
// over the last 5 minutes, every minute"), on the product's event-time engine
// (functions/eventtime): exactly once in its DynamoDB state table, final
// results and numbered corrections to the results stream, late orders to the
// quarantine queue with kind "late", invalid orders quarantined. The payload
// {"eventtime":"fire"} (the construct's schedule) fires the windows that are
// due. The domain lives in example.com/orders/handler, order and revenue;
// this file picks the windows and wires the engine to what AddEventTime
// provisions (eventtime.ConfigFromEnv, eventtime.Invoker).
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

	"github.com/aws/aws-lambda-go/lambda"

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

// windows reads the hopping windows from WINDOW_SIZE and WINDOW_SLIDE.
func windows() (eventtime.Assigner, error) {
	size, err := eventtime.EnvDuration(config.EnvWindowSize, config.DefaultWindowSize)
	if err != nil {
		return eventtime.Assigner{}, err
	}
	slide, err := eventtime.EnvDuration(config.EnvWindowSlide, config.DefaultWindowSlide)
	if err != nil {
		return eventtime.Assigner{}, err
	}
	a, err := eventtime.Hopping(size, slide)
	if err != nil {
		return eventtime.Assigner{}, fmt.Errorf("%s=%s, %s=%s: %w", config.EnvWindowSize, size, config.EnvWindowSlide, slide, err)
	}
	return a, nil
}

// setup wires the engine to what AddEventTime provisions (state table,
// results stream, quarantine queue for late orders) and the handler to the
// batch toolkit. AWS calls go through functions/awsjson, not aws-sdk-go-v2:
// the SDK's package initialisation would cost most of this small function's
// INIT time.
func setup(ctx context.Context) (lambda.Handler, error) {
	env, err := eventtime.EnvFromOS()
	if err != nil {
		return nil, err
	}
	assigner, err := windows()
	if err != nil {
		return nil, err
	}
	cfg, err := eventtime.ConfigFromEnv[string, int64, revenue.Revenue](env, assigner, "orders", "CustomerRevenue")
	if err != nil {
		return nil, err
	}
	eng, err := eventtime.New(cfg)
	if err != nil {
		return nil, err
	}
	h, err := handler.New(eng)
	if err != nil {
		return nil, err
	}
	bcfg, err := kinesisbatch.ConfigFromEnv(ctx)
	if err != nil {
		return nil, err
	}
	slog.SetDefault(kinesisbatch.NewLogger(os.Stdout))
	return &eventtime.Invoker{Processor: kinesisbatch.New(h, bcfg), Engine: eng}, nil
}
