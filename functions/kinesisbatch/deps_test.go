package kinesisbatch

import (
	"testing"

	"github.com/streamproc/streamproc/internal/depcheck"
)

// TestDependencies keeps every toolkit user's Lambda light. No aws-sdk-go-v2
// or smithy-go: their package initialisation (service packages, config's SSO
// and STS clients) costs ~9 ms of a 15 ms INIT budget; the quarantine talks
// to SQS through functions/awsjson instead (aws-lambda-go is fine). No CDK:
// a binary that links aws-cdk-go or jsii grows from ~6 MB to ~70 MB.
func TestDependencies(t *testing.T) {
	depcheck.Forbid(t, ".",
		"github.com/aws/aws-sdk-go", "github.com/aws/smithy-go",
		"github.com/aws/aws-cdk-go", "github.com/aws/jsii-runtime-go", "github.com/aws/constructs-go")
}
