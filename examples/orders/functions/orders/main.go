// Command orders is the orders app's Lambda function: orders from a Kinesis
// stream in, per-customer order counts and totals out in DynamoDB, each order
// counted once; invalid orders quarantined in the pipeline's DLQ. It reads
// the environment, builds the clients and starts the runtime; the logic is in
// example.com/orders/handler, order and totals.
//
// Environment (set by the stack and the StreamProcessor construct):
//
//	TABLE_NAME                       the customer totals table (required)
//	STREAMPROC_QUARANTINE_QUEUE_URL  the DLQ, for invalid orders
//	STREAMPROC_METRICS_NAMESPACE     EMF namespace
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/kinesisbatch"

	"example.com/orders/config"
	"example.com/orders/handler"
	"example.com/orders/totals"
)

func main() {
	p, err := setup(context.Background())
	if err != nil {
		// Failing INIT keeps every record: Lambda retries the batch.
		kinesisbatch.NewLogger(os.Stderr).Error("orders configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(p)
}

func setup(ctx context.Context) (*kinesisbatch.Processor, error) {
	table := os.Getenv(config.EnvTableName)
	if table == "" {
		return nil, fmt.Errorf("%s is not set: it names the customer totals table", config.EnvTableName)
	}
	// awsjson, not aws-sdk-go-v2: the SDK's package initialisation would
	// cost most of the INIT time of this small function.
	db, err := awsjson.NewFromEnv(awsjson.DynamoDB)
	if err != nil {
		return nil, fmt.Errorf("DynamoDB client: %w", err)
	}
	store, err := totals.New(db, table, nil)
	if err != nil {
		return nil, err
	}
	h, err := handler.New(store, 0)
	if err != nil {
		return nil, err
	}
	cfg, err := kinesisbatch.ConfigFromEnv(ctx)
	if err != nil {
		return nil, err
	}
	slog.SetDefault(kinesisbatch.NewLogger(os.Stdout))
	return kinesisbatch.New(h, cfg), nil
}
