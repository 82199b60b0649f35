package kinesisbatch

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/contract"
)

// ConfigFromEnv returns the Config a function deployed by the
// StreamProcessor construct should use: an SQSQuarantine on
// $STREAMPROC_QUARANTINE_QUEUE_URL (none if unset) that sends through
// [NewSQSClient] with a client from awsjson.NewFromEnv(awsjson.SQS). That
// reads what Lambda sets: the region from AWS_REGION (or
// AWS_DEFAULT_REGION), the execution role's credentials from
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, and the
// endpoint from AWS_ENDPOINT_URL_SQS, else AWS_ENDPOINT_URL, like the AWS
// SDKs. Shared config files, profiles and other credential sources are not
// read; outside Lambda, export the variables or build the client yourself.
// Metrics namespace and function name come from the environment when New
// resolves defaults.
//
// ctx is not used; it is kept so that callers need not change.
func ConfigFromEnv(ctx context.Context) (Config, error) {
	var cfg Config
	url := os.Getenv(contract.EnvQuarantineQueueURL)
	if url == "" {
		return cfg, nil
	}
	client, err := awsjson.NewFromEnv(awsjson.SQS)
	if err != nil {
		return cfg, fmt.Errorf("kinesisbatch: SQS client for the quarantine queue (%s is set): %w", contract.EnvQuarantineQueueURL, err)
	}
	q := NewSQSQuarantine(NewSQSClient(client), url, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
	if v := os.Getenv(contract.EnvQuarantineMaxMessageBytes); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1024 || n > 1048576 {
			return cfg, fmt.Errorf("kinesisbatch: %s=%q is not a message size in bytes: set it to the queue's MaximumMessageSize (1024-1048576) or unset it", contract.EnvQuarantineMaxMessageBytes, v)
		}
		q.MaxMessageBytes = n
	}
	cfg.Quarantine = q
	return cfg, nil
}
