package awsjson_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/streamproc/streamproc/functions/awsjson"
)

// A GetItem as the Lambda bootstrap makes it: the client comes from the
// environment Lambda provides (region, the execution role's credentials) at
// INIT, and each call marshals a request and unmarshals the answer with
// encoding/json in DynamoDB's attribute-value format. (Compiled, not run: it
// needs AWS or an emulator.)
func ExampleClient_Call() {
	ddb, err := awsjson.NewFromEnv(awsjson.DynamoDB)
	if err != nil {
		log.Fatal(err) // e.g. "awsjson: AWS_REGION is not set: set AWS_REGION (Lambda sets it) or AWS_DEFAULT_REGION"
	}

	in := map[string]any{
		"TableName":      "aggregates",
		"Key":            map[string]any{"pk": map[string]string{"S": "sensor-1"}},
		"ConsistentRead": true,
	}
	var out struct {
		Item map[string]struct {
			S string `json:",omitempty"`
			N string `json:",omitempty"`
		}
	}
	err = ddb.Call(context.TODO(), "GetItem", in, &out)
	var apiErr *awsjson.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.Code == "ResourceNotFoundException":
		log.Fatalf("table missing: %v", err)
	case err != nil:
		log.Fatal(err)
	case out.Item == nil:
		fmt.Println("no such item")
	default:
		fmt.Println("count:", out.Item["count"].N)
	}
}
