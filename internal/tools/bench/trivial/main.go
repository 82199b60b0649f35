// Command trivial is the smallest aws-lambda-go function: `make bench`
// measures its INIT next to the processor's as the floor on this machine.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, map[string]any) (string, error) { return "ok", nil })
}
