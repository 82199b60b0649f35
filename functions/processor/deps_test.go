package main

import (
	"testing"

	"github.com/streamproc/streamproc/internal/depcheck"
)

// TestBootstrapDependencies keeps INIT short: the bootstrap, built as it is
// deployed (-tags lambda.norpc), must not link aws-sdk-go-v2 or smithy-go
// (their service packages' initialisation costs ~9 ms; AWS calls go through
// functions/awsjson) nor the CDK (a 70 MB binary).
func TestBootstrapDependencies(t *testing.T) {
	depcheck.Forbid(t, "-tags=lambda.norpc .",
		"github.com/aws/aws-sdk-go", "github.com/aws/smithy-go",
		"github.com/aws/aws-cdk-go", "github.com/aws/jsii-runtime-go", "github.com/aws/constructs-go")
}
