// Command handler is the test fixture the construct's tests bundle: a minimal
// Kinesis handler that acknowledges every record.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(_ context.Context, _ events.KinesisEvent) (events.KinesisEventResponse, error) {
	return events.KinesisEventResponse{}, nil
}

func main() { lambda.Start(handle) }
