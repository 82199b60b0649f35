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

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/streamproc/streamproc/functions/awsjson"
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

func setup(ctx context.Context) (*kinesisbatch.Processor, error) {
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
