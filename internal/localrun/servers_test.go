package localrun

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/streamproc/streamproc/internal/localesm"
)

type invokerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f invokerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// The local Lambda API answers the SDK's Invoke as Lambda does: a function
// error is a 200 with X-Amz-Function-Error, an unknown function a
// ResourceNotFoundException.
func TestLambdaAPISpeaksInvoke(t *testing.T) {
	a, err := startLambdaAPI(invokerFunc(func(_ context.Context, p []byte) ([]byte, error) {
		if string(p) == `"fail"` {
			return nil, &localesm.FunctionError{Type: "errorString", Message: "boom"}
		}
		return append([]byte(`{"echo":`), append(p, '}')...), nil
	}), "fn")
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	lc := lambda.NewFromConfig(AWSConfig(), func(o *lambda.Options) { o.BaseEndpoint = aws.String(a.URL) })
	ctx := context.Background()

	out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("arn:aws:lambda:us-east-1:000000000000:function:fn"), Payload: []byte(`1`)})
	if err != nil || out.FunctionError != nil || string(out.Payload) != `{"echo":1}` || aws.ToString(out.ExecutedVersion) != "$LATEST" {
		t.Fatalf("invoke: %v %+v %s", err, out, out.Payload)
	}
	out, err = lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`"fail"`)})
	if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || string(out.Payload) != `{"errorMessage":"boom","errorType":"errorString"}` {
		t.Fatalf("function error: %v %+v %s", err, out, out.Payload)
	}
	_, err = lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("other"), Payload: []byte(`1`)})
	var nf *lambdatypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("unknown function: %v", err)
	}
}

// The fault proxy's throttling reaches the SDK as DynamoDB's own error, and
// calls pass through again after the window.
func TestSinkFaultsThrottleLikeDynamoDB(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{"TableNames":["t"]}`))
	}))
	defer backend.Close()
	f, err := startSinkFaults(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	dc := dynamodb.NewFromConfig(AWSConfig(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(f.URL)
		o.RetryMaxAttempts = 1
	})
	ctx := context.Background()
	f.Throttle(300*time.Millisecond, 1)
	_, err = dc.ListTables(ctx, &dynamodb.ListTablesInput{})
	var pte *ddbtypes.ProvisionedThroughputExceededException
	if !errors.As(err, &pte) {
		t.Fatalf("want ProvisionedThroughputExceededException, got %v", err)
	}
	time.Sleep(350 * time.Millisecond)
	out, err := dc.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil || len(out.TableNames) != 1 {
		t.Fatalf("after the window: %v %+v", err, out)
	}
	if f.Throttled.Load() != 1 || f.Calls.Load() != 2 {
		t.Fatalf("throttled %d of %d calls", f.Throttled.Load(), f.Calls.Load())
	}
}
