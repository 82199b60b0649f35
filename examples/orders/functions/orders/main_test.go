package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
)

// The function links neither the CDK nor the AWS SDK: both would cost INIT
// time and binary size (functions/awsjson makes the DynamoDB and SQS calls).
func TestNoCDKOrSDKInTheFunction(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"github.com/aws/aws-cdk-go/", "github.com/aws/jsii-runtime-go", "github.com/aws/aws-sdk-go-v2"} {
			if strings.HasPrefix(dep, bad) {
				t.Errorf("the function imports %s", dep)
			}
		}
	}
}

// The whole app (stack and function) uses only the product's exported
// packages of streamproc, never the example pipeline's or the tools'.
func TestOnlyTheProduct(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "example.com/orders/...").Output()
	if err != nil {
		t.Fatal(err)
	}
	const mod = "github.com/streamproc/streamproc/"
	product := []string{
		"constructs/streamprocessor", "functions/kinesisbatch", "functions/contract", "functions/awsjson", "functions/eventtime",
		// what the product itself may use of internal/
		"internal/backoff", "internal/ctxsleep", "internal/gobuild",
	}
	for _, dep := range strings.Fields(string(out)) {
		if !strings.HasPrefix(dep, mod) {
			continue
		}
		ok := false
		for _, p := range product {
			ok = ok || dep == mod+p || strings.HasPrefix(dep, mod+p+"/") // a product package's own subpackages (kinesisbatch/kpl, streamprocessor/sizing)
		}
		if !ok {
			t.Errorf("the app depends on %s, which is not part of streamproc's product", dep)
		}
	}
}

func TestSetupNeedsTheTable(t *testing.T) {
	t.Setenv("TABLE_NAME", "")
	if _, err := setup(context.Background()); err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
		t.Fatalf("setup without TABLE_NAME = %v, want an error naming it", err)
	}
	t.Setenv("TABLE_NAME", "totals")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	if _, err := setup(context.Background()); err != nil {
		t.Fatalf("setup = %v", err)
	}
}
