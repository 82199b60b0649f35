// Command processor is the example pipeline's Lambda function.
// PLACEHOLDER (lead): replaced by the processor work (issue 4). It exists so
// the construct and the stack have a real package to bundle meanwhile.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	return events.KinesisEventResponse{}, nil
}

func main() { lambda.Start(handle) }
