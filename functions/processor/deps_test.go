package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBootstrapDependencies keeps INIT short: the bootstrap must not link
// aws-sdk-go-v2 or smithy-go (their service packages' initialisation costs
// ~9 ms; AWS calls go through functions/awsjson) nor the CDK (a 70 MB binary).
func TestBootstrapDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/aws/aws-sdk-go", "github.com/aws/smithy-go", "aws-cdk-go", "jsii-runtime-go", "constructs-go"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("the processor bootstrap depends on %s", pkg)
			}
		}
	}
}
