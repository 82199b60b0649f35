package kinesisbatch

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/streamproc/streamproc/internal/contract"
)

// ConfigFromEnv returns the Config a function deployed by the
// StreamProcessor construct should use: an SQSQuarantine on
// $STREAMPROC_QUARANTINE_QUEUE_URL (none if unset) with an SQS client from
// config.LoadDefaultConfig, which honours AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_SQS. Metrics namespace and function name come from the
// environment when New resolves defaults.
func ConfigFromEnv(ctx context.Context) (Config, error) {
	var cfg Config
	url := os.Getenv(contract.EnvQuarantineQueueURL)
	if url == "" {
		return cfg, nil
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return cfg, fmt.Errorf("kinesisbatch: loading AWS config for the quarantine queue: %w", err)
	}
	cfg.Quarantine = NewSQSQuarantine(sqs.NewFromConfig(awsCfg), url, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
	return cfg, nil
}
