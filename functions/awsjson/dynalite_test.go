package awsjson_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/internal/emulator"
)

// countingTransport counts requests and answers carrying X-Amz-Crc32.
type countingTransport struct {
	mu             sync.Mutex
	requests, crcs int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	if err == nil && resp.Header.Get("X-Amz-Crc32") != "" {
		c.crcs++
	}
	return resp, err
}

func (c *countingTransport) count() (requests, crcs int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests, c.crcs
}

// TestDynalite speaks the real DynamoDB protocol: CreateTable, PutItem and
// GetItem through NewFromEnv + Call, and the error answers a caller handles.
// Like the project's other emulator tests, a missing `make setup` install
// fails the test with the emulator's explanation rather than skipping.
func TestDynalite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ddb, err := emulator.StartDynamo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ddb.Stop)

	for k, v := range map[string]string{
		"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_SESSION_TOKEN": "token", "AWS_ENDPOINT_URL_DYNAMODB": ddb.Endpoint, "AWS_ENDPOINT_URL": "",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "", "AWS_CA_BUNDLE": "", "AWS_USE_FIPS_ENDPOINT": "", "AWS_USE_DUALSTACK_ENDPOINT": "",
	} {
		t.Setenv(k, v)
	}
	c, err := awsjson.NewFromEnv(awsjson.DynamoDB)
	if err != nil {
		t.Fatal(err)
	}
	counter := &countingTransport{}
	c.HTTPClient = &http.Client{Transport: counter, Timeout: 5 * time.Second}

	const table = "awsjson-test"
	createTable := json.RawMessage(`{
		"TableName": "` + table + `",
		"AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
		"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
		"ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
	}`)
	if err := c.Call(ctx, "CreateTable", createTable, nil); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	for status := ""; status != "ACTIVE"; {
		var out struct{ Table struct{ TableStatus string } }
		if err := c.Call(ctx, "DescribeTable", map[string]string{"TableName": table}, &out); err != nil {
			t.Fatalf("DescribeTable: %v", err)
		}
		if status = out.Table.TableStatus; status != "ACTIVE" {
			time.Sleep(50 * time.Millisecond)
		}
	}

	item := map[string]any{
		"pk":    map[string]any{"S": "sensor-1"},
		"count": map[string]any{"N": "42"},
		"blob":  map[string]any{"B": "AAEC/w=="},
		"tags":  map[string]any{"SS": []any{"a", "b"}},
		"hist":  map[string]any{"L": []any{map[string]any{"N": "1.5"}, map[string]any{"NULL": true}}},
		"text":  map[string]any{"S": "ünïcödé \"quoted\" \n line"},
	}
	put := map[string]any{"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
	if err := c.Call(ctx, "PutItem", put, nil); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	var got struct{ Item map[string]any }
	get := map[string]any{"TableName": table, "Key": map[string]any{"pk": map[string]any{"S": "sensor-1"}}, "ConsistentRead": true}
	if err := c.Call(ctx, "GetItem", get, &got); err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	if !reflect.DeepEqual(got.Item, item) {
		t.Errorf("GetItem returned\n%v\nwant\n%v", got.Item, item)
	}

	// The same conditional put again: a 400 ConditionalCheckFailedException, not retried.
	before, _ := counter.count()
	err = c.Call(ctx, "PutItem", put, nil)
	var apiErr *awsjson.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "ConditionalCheckFailedException" || apiErr.StatusCode != 400 || apiErr.Temporary() {
		t.Fatalf("second conditional PutItem: want ConditionalCheckFailedException, got %v", err)
	}
	if after, _ := counter.count(); after != before+1 {
		t.Errorf("ConditionalCheckFailedException was retried: %d requests", after-before)
	}
	if apiErr.Message == "" || len(apiErr.Body) == 0 {
		t.Errorf("error answer without message or body: %+v", apiErr)
	}

	err = c.Call(ctx, "GetItem", map[string]any{"TableName": "missing", "Key": get["Key"]}, &got)
	if !errors.As(err, &apiErr) || apiErr.Code != "ResourceNotFoundException" {
		t.Errorf("GetItem on a missing table: want ResourceNotFoundException, got %v", err)
	}
	err = c.Call(ctx, "PutItem", map[string]any{"TableName": table}, nil)
	if !errors.As(err, &apiErr) || apiErr.Code != "ValidationException" {
		t.Errorf("PutItem without Item: want ValidationException, got %v", err)
	}

	if requests, crcs := counter.count(); crcs == 0 {
		t.Errorf("none of %d dynalite answers carried X-Amz-Crc32: the CRC check was not exercised", requests)
	}
}
