package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/streamproc/streamproc/functions/contract"

	"example.com/orders/config"
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

// setup names what is missing or wrong in the environment, and starts with
// what the stack sets.
func TestSetupChecksTheEnvironment(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	good := map[string]string{
		contract.EnvEventTimeTable:            "state",
		contract.EnvEventTimeResultsStreamARN: "arn:aws:kinesis:eu-west-1:123456789012:stream/results",
		contract.EnvQuarantineQueueURL:        "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq",
		config.EnvWindowSize:                  "5m0s",
		config.EnvWindowSlide:                 "1m0s",
	}
	for _, tc := range []struct{ env, value, wantErr string }{
		{contract.EnvEventTimeTable, "", contract.EnvEventTimeTable + " is not set"},
		{contract.EnvEventTimeResultsStreamARN, "", "neither " + contract.EnvEventTimeResultsStreamARN + " nor"},
		{contract.EnvQuarantineQueueURL, "", contract.EnvQuarantineQueueURL + " is not set"},
		{config.EnvWindowSlide, "2m", "does not divide window size 5m0s"},
		{config.EnvWindowSize, "five minutes", `WINDOW_SIZE="five minutes": use a non-negative Go duration`},
		{"", "", ""},
	} {
		for k, v := range good {
			t.Setenv(k, v)
		}
		if tc.env != "" {
			t.Setenv(tc.env, tc.value)
		}
		_, err := setup(context.Background())
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("setup with the stack's environment = %v", err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("setup with %s=%q = %v, want an error containing %q", tc.env, tc.value, err, tc.wantErr)
		}
	}
}
