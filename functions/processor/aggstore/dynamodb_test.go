package aggstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/processor/aggstore"
	"github.com/streamproc/streamproc/functions/processor/aggstore/fakedb"
	"github.com/streamproc/streamproc/functions/processor/sensor"
)

// fakeService is an HTTP server answering DynamoDB JSON calls with canned
// answers, recording each request's operation and body.
type fakeService struct {
	mu      sync.Mutex
	answer  func(op string, body []byte) (status int, answer string)
	ops     []string
	bodies  [][]byte
	targets []string
}

func (f *fakeService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	target := r.Header.Get("X-Amz-Target")
	op := target[strings.LastIndexByte(target, '.')+1:]
	f.mu.Lock()
	f.ops = append(f.ops, op)
	f.bodies = append(f.bodies, body)
	f.targets = append(f.targets, target)
	answer := f.answer
	f.mu.Unlock()
	status, out := answer(op, body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Requestid", "req-1")
	w.WriteHeader(status)
	io.WriteString(w, out)
}

func newFakeService(t *testing.T, answer func(op string, body []byte) (int, string)) (*fakeService, *awsjson.Client) {
	t.Helper()
	f := &fakeService{answer: answer}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, &awsjson.Client{
		Service: awsjson.DynamoDB, Region: "us-east-1", Endpoint: srv.URL,
		Credentials: awsjson.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"},
		MaxAttempts: 1,
	}
}

const ccfBody = `{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"`

var sampleItemJSON = `{"sensor_id":{"S":"s-1"},"window_start":{"S":"2026-11-25T10:07:00Z"},"count":{"N":"2"},"sum":{"N":"3.5"},` +
	`"min":{"N":"1.5"},"max":{"N":"2"},"avg":{"N":"1.75"},"first_event_time":{"S":"2026-11-25T10:07:01.000Z"},` +
	`"last_event_time":{"S":"2026-11-25T10:07:02.000Z"},"version":{"N":"3"},"event_ids_xxh64":{"B":"AAAAAAAAAAEAAAAAAAAAAg=="},` +
	`"updated_at":{"S":"2026-11-25T10:08:00.000Z"},"extra":{"BOOL":true}}`

func TestDynamoDBPutItem(t *testing.T) {
	var n int
	f, c := newFakeService(t, func(op string, _ []byte) (int, string) {
		n++
		switch n {
		case 1:
			return 200, `{}`
		case 2:
			return 400, ccfBody + `,"Item":` + sampleItemJSON + `}`
		case 3:
			return 400, ccfBody + `}`
		case 4:
			return 400, ccfBody + `,"Item":{"sensor_id":{"S":1}}}` // undecodable: left out
		default:
			return 400, `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}`
		}
	})
	db := aggstore.NewDynamoDB(c)
	k := sensor.Key{SensorID: "s\"1\u2028\x01", WindowStart: 60000}
	in := &aggstore.PutItemInput{
		TableName:           "aggs",
		Item:                aggstore.EncodeItem(k, sensor.Aggregate{Count: 1, Sum: 5, Min: 5, Max: 5, First: 60001, Last: 60001, IDs: []uint64{9}}, 4, time.UnixMilli(70000)),
		ConditionExpression: "#v = :v", ExpressionAttributeNames: map[string]string{"#v": aggstore.AttrVersion},
		ExpressionAttributeValues:           map[string]aggstore.AttributeValue{":v": aggstore.NumberValue("3")},
		ReturnValuesOnConditionCheckFailure: aggstore.ReturnValuesOnConditionCheckFailureAllOld,
	}
	ctx := context.Background()
	if _, err := db.PutItem(ctx, in); err != nil {
		t.Fatal(err)
	}
	if f.targets[0] != "DynamoDB_20120810.PutItem" {
		t.Fatalf("X-Amz-Target %q", f.targets[0])
	}
	var sent struct {
		TableName                           string
		Item                                aggstore.Item
		ConditionExpression                 string
		ExpressionAttributeNames            map[string]string
		ExpressionAttributeValues           aggstore.Item
		ReturnValuesOnConditionCheckFailure string
	}
	if err := json.Unmarshal(f.bodies[0], &sent); err != nil {
		t.Fatalf("%v\n%s", err, f.bodies[0])
	}
	gk, ga, gv, err := aggstore.DecodeItem(sent.Item)
	if err != nil || gk != k || gv != 4 || ga.Sum != 5 || !reflect.DeepEqual(ga.IDs, []uint64{9}) {
		t.Fatalf("sent item %v %+v %d %v\n%s", gk, ga, gv, err, f.bodies[0])
	}
	if sent.TableName != "aggs" || sent.ConditionExpression != "#v = :v" || sent.ExpressionAttributeNames["#v"] != "version" ||
		sent.ExpressionAttributeValues[":v"].N != "3" || sent.ReturnValuesOnConditionCheckFailure != "ALL_OLD" {
		t.Fatalf("sent %s", f.bodies[0])
	}

	// A failed condition with the current item (ALL_OLD).
	_, err = db.PutItem(ctx, in)
	var ccf *aggstore.ConditionalCheckFailedException
	if !errors.As(err, &ccf) || ccf.Item == nil {
		t.Fatalf("want the condition failure with its item, got %#v", err)
	}
	if _, agg, version, err := aggstore.DecodeItem(ccf.Item); err != nil || version != 3 || agg.Count != 2 || !reflect.DeepEqual(agg.IDs, []uint64{1, 2}) {
		t.Fatalf("item %+v version %d: %v", agg, version, err)
	}
	if ccf.Item["extra"].Type != aggstore.TypeOther {
		t.Fatalf("a BOOL attribute decoded as %+v", ccf.Item["extra"])
	}
	var ae *awsjson.APIError
	if !errors.As(err, &ae) || ae.Code != "ConditionalCheckFailedException" || ae.RequestID != "req-1" || ccf.Message != "The conditional request failed" {
		t.Fatalf("the service error is not kept: %v", err)
	}
	if !strings.Contains(err.Error(), "ConditionalCheckFailedException") {
		t.Fatalf("message %q", err)
	}

	// Without an item (item absent, or an emulator without ALL_OLD).
	for range 2 {
		_, err = db.PutItem(ctx, in)
		if !errors.As(err, &ccf) || ccf.Item != nil {
			t.Fatalf("want the condition failure without an item, got %#v", err)
		}
	}

	// Other errors pass through as the client's *awsjson.APIError.
	_, err = db.PutItem(ctx, in)
	if errors.As(err, &ccf) || !errors.As(err, &ae) || !ae.Throttling() {
		t.Fatalf("want the throttling APIError, got %#v", err)
	}

	// Values that cannot be encoded fail before any call.
	calls := len(f.ops)
	if _, err := db.PutItem(ctx, &aggstore.PutItemInput{TableName: "aggs", Item: aggstore.Item{"sensor_id": {}}}); err == nil {
		t.Fatal("an empty attribute value was sent")
	}
	if len(f.ops) != calls {
		t.Fatal("an unencodable item made a call")
	}
}

func TestDynamoDBReads(t *testing.T) {
	f, c := newFakeService(t, func(op string, _ []byte) (int, string) {
		switch op {
		case "GetItem":
			return 200, `{"Item":` + sampleItemJSON + `}`
		case "BatchGetItem":
			return 200, `{"Responses":{"aggs":[` + sampleItemJSON + `]},"UnprocessedKeys":{"aggs":{"Keys":[{"sensor_id":{"S":"s-2"},"window_start":{"S":"2026-11-25T10:07:00Z"}}],"ConsistentRead":true}}}`
		}
		return 400, `{"__type":"UnknownOperationException"}`
	})
	db := aggstore.NewDynamoDB(c)
	ctx := context.Background()
	key := aggstore.Item{"sensor_id": aggstore.StringValue("s-1"), "window_start": aggstore.StringValue("2026-11-25T10:07:00Z")}

	got, err := db.GetItem(ctx, &aggstore.GetItemInput{TableName: "aggs", Key: key, ConsistentRead: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, agg, v, err := aggstore.DecodeItem(got.Item); err != nil || v != 3 || agg.Count != 2 {
		t.Fatalf("GetItem: %+v %d %v", agg, v, err)
	}
	var getIn struct {
		TableName      string
		Key            aggstore.Item
		ConsistentRead bool
	}
	if err := json.Unmarshal(f.bodies[0], &getIn); err != nil || getIn.TableName != "aggs" || !getIn.ConsistentRead || getIn.Key["sensor_id"].S != "s-1" || f.targets[0] != "DynamoDB_20120810.GetItem" {
		t.Fatalf("GetItem sent %s (%v)", f.bodies[0], err)
	}

	bg, err := db.BatchGetItem(ctx, &aggstore.BatchGetItemInput{RequestItems: map[string]aggstore.KeysAndAttributes{"aggs": {Keys: []aggstore.Item{key}, ConsistentRead: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(bg.Responses["aggs"]) != 1 || bg.Responses["aggs"][0]["version"].N != "3" {
		t.Fatalf("responses %+v", bg.Responses)
	}
	u := bg.UnprocessedKeys["aggs"]
	if len(u.Keys) != 1 || u.Keys[0]["sensor_id"].S != "s-2" || !u.ConsistentRead {
		t.Fatalf("unprocessed %+v", bg.UnprocessedKeys)
	}
	var bgIn struct {
		RequestItems map[string]struct {
			Keys           []aggstore.Item
			ConsistentRead bool
		}
	}
	if err := json.Unmarshal(f.bodies[1], &bgIn); err != nil || !bgIn.RequestItems["aggs"].ConsistentRead || len(bgIn.RequestItems["aggs"].Keys) != 1 {
		t.Fatalf("BatchGetItem sent %s (%v)", f.bodies[1], err)
	}
}

func TestDynamoDBGetItemOfAMissingItemIsNil(t *testing.T) {
	_, c := newFakeService(t, func(string, []byte) (int, string) { return 200, `{}` })
	out, err := aggstore.NewDynamoDB(c).GetItem(context.Background(), &aggstore.GetItemInput{TableName: "aggs", Key: aggstore.Item{"sensor_id": aggstore.StringValue("x")}})
	if err != nil || out.Item != nil {
		t.Fatalf("%+v %v", out, err)
	}
}

func TestCreateTableWaitsForActive(t *testing.T) {
	var describes int
	f, c := newFakeService(t, func(op string, _ []byte) (int, string) {
		switch op {
		case "CreateTable":
			return 200, `{"TableDescription":{"TableStatus":"CREATING"}}`
		case "DescribeTable":
			describes++
			switch describes {
			case 1:
				return 400, `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}`
			case 2, 3:
				return 200, `{"Table":{"TableStatus":"CREATING"}}`
			}
			return 200, `{"Table":{"TableStatus":"ACTIVE"}}`
		}
		return 400, `{"__type":"UnknownOperationException"}`
	})
	if err := aggstore.CreateTable(context.Background(), c, "aggs"); err != nil {
		t.Fatal(err)
	}
	if describes != 4 {
		t.Fatalf("%d DescribeTable calls, want 4", describes)
	}
	var in map[string]any
	if err := json.Unmarshal(f.bodies[0], &in); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"TableName": "aggs",
		"AttributeDefinitions": []any{
			map[string]any{"AttributeName": "sensor_id", "AttributeType": "S"},
			map[string]any{"AttributeName": "window_start", "AttributeType": "S"},
		},
		"KeySchema": []any{
			map[string]any{"AttributeName": "sensor_id", "KeyType": "HASH"},
			map[string]any{"AttributeName": "window_start", "KeyType": "RANGE"},
		},
		"BillingMode": "PAY_PER_REQUEST",
	}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("CreateTable sent %s", f.bodies[0])
	}
	if !strings.Contains(string(f.bodies[1]), `"TableName":"aggs"`) {
		t.Fatalf("DescribeTable sent %s", f.bodies[1])
	}
}

const (
	inUse     = `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceInUseException","message":"Table already exists: aggs"}`
	aggSchema = `"KeySchema":[{"AttributeName":"sensor_id","KeyType":"HASH"},{"AttributeName":"window_start","KeyType":"RANGE"}]`
)

// TestCreateTableRetriedAfterItTookEffect: the first CreateTable creates the
// table but its answer is a 500; awsjson's retry gets ResourceInUseException,
// and CreateTable waits for the table as if it had created it.
func TestCreateTableRetriedAfterItTookEffect(t *testing.T) {
	var creates, describes int
	_, c := newFakeService(t, func(op string, _ []byte) (int, string) {
		switch op {
		case "CreateTable":
			creates++
			if creates == 1 {
				return 500, `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"answer lost"}`
			}
			return 400, inUse
		case "DescribeTable":
			describes++
			if describes == 1 {
				return 200, `{"Table":{"TableStatus":"CREATING",` + aggSchema + `}}`
			}
			return 200, `{"Table":{"TableStatus":"ACTIVE",` + aggSchema + `}}`
		}
		return 400, `{"__type":"UnknownOperationException"}`
	})
	c.MaxAttempts = 3
	if err := aggstore.CreateTable(context.Background(), c, "aggs"); err != nil {
		t.Fatal(err)
	}
	if creates != 2 || describes != 2 {
		t.Fatalf("%d CreateTable and %d DescribeTable calls, want 2 and 2", creates, describes)
	}
}

func TestCreateTableOfAnExistingTable(t *testing.T) {
	_, c := newFakeService(t, func(op string, _ []byte) (int, string) {
		if op == "CreateTable" {
			return 400, inUse
		}
		return 200, `{"Table":{"TableStatus":"ACTIVE",` + aggSchema + `}}`
	})
	if err := aggstore.CreateTable(context.Background(), c, "aggs"); err != nil {
		t.Fatal(err)
	}

	// Another table of that name is not ours to use.
	_, c = newFakeService(t, func(op string, _ []byte) (int, string) {
		if op == "CreateTable" {
			return 400, inUse
		}
		return 200, `{"Table":{"TableStatus":"ACTIVE","KeySchema":[{"AttributeName":"id","KeyType":"HASH"}]}}`
	})
	err := aggstore.CreateTable(context.Background(), c, "aggs")
	if err == nil || !strings.Contains(err.Error(), "table aggs already exists with key schema [{id HASH}]") {
		t.Fatalf("got %v", err)
	}
}

func TestCreateTableErrors(t *testing.T) {
	_, c := newFakeService(t, func(op string, _ []byte) (int, string) {
		return 400, `{"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException","message":"no"}`
	})
	err := aggstore.CreateTable(context.Background(), c, "aggs")
	var ae *awsjson.APIError
	if !errors.As(err, &ae) || ae.Code != "AccessDeniedException" || !strings.Contains(err.Error(), "creating table aggs") {
		t.Fatalf("got %v", err)
	}

	// Never ACTIVE: the context bounds the wait (far less than the minute
	// CreateTable allows itself), and the error says why. The context leaves
	// a loaded machine time for CreateTable and a first DescribeTable to be
	// answered, so that the last status is known.
	_, c = newFakeService(t, func(op string, _ []byte) (int, string) {
		if op == "CreateTable" {
			return 200, `{}`
		}
		return 200, `{"Table":{"TableStatus":"CREATING"}}`
	})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = aggstore.CreateTable(ctx, c, "aggs")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "CREATING") || time.Since(start) > 10*time.Second {
		t.Fatalf("got %v after %s", err, time.Since(start))
	}

	// DescribeTable failing otherwise stops the wait at once.
	_, c = newFakeService(t, func(op string, _ []byte) (int, string) {
		if op == "CreateTable" {
			return 200, `{}`
		}
		return 400, `{"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException","message":"no"}`
	})
	err = aggstore.CreateTable(context.Background(), c, "aggs")
	if !errors.As(err, &ae) || ae.Code != "AccessDeniedException" || !strings.Contains(err.Error(), "ACTIVE") {
		t.Fatalf("got %v", err)
	}
}

// fakeDynamoDB serves db over DynamoDB's JSON protocol, so that the store
// runs behind a real awsjson client, retries included. lose(op) runs after
// each call took effect: true replaces the answer with a 500 (an answer
// lost after the write).
func fakeDynamoDB(t *testing.T, db *fakedb.DB, lose func(op string) bool) *awsjson.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		op := target[strings.LastIndexByte(target, '.')+1:]
		var (
			out any
			err error
		)
		dec := json.NewDecoder(r.Body)
		switch op {
		case "BatchGetItem":
			var in aggstore.BatchGetItemInput
			if err = dec.Decode(&in); err == nil {
				out, err = db.BatchGetItem(r.Context(), &in)
			}
		case "GetItem":
			var in aggstore.GetItemInput
			if err = dec.Decode(&in); err == nil {
				out, err = db.GetItem(r.Context(), &in)
			}
		case "PutItem":
			var in aggstore.PutItemInput
			if err = dec.Decode(&in); err == nil {
				out, err = db.PutItem(r.Context(), &in)
			}
		default:
			err = &awsjson.APIError{StatusCode: 400, Code: "UnknownOperationException"}
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		status := 200
		var ccf *aggstore.ConditionalCheckFailedException
		var ae *awsjson.APIError
		switch {
		case err == nil && lose != nil && lose(op):
			status, out = 500, map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "fake: answer lost"}
		case errors.As(err, &ccf):
			status, out = 400, map[string]any{"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", "message": ccf.Message, "Item": ccf.Item}
		case errors.As(err, &ae):
			status, out = ae.StatusCode, map[string]string{"__type": ae.Code, "message": ae.Message}
		case err != nil:
			status, out = 400, map[string]string{"__type": "ValidationException", "message": err.Error()}
		}
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return &awsjson.Client{
		Service: awsjson.DynamoDB, Region: "us-east-1", Endpoint: srv.URL,
		Credentials: awsjson.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"},
		MaxAttempts: 3,
	}
}

// TestRetriedWriteThatTookEffectCountsAsWritten: the first PutItem is
// applied but answered with a 500; awsjson retries it and the retry's
// condition fails on the item it wrote. The store recognises its own item
// (version read + 1, the ids it merged) and counts the readings as applied,
// not as duplicates.
func TestRetriedWriteThatTookEffectCountsAsWritten(t *testing.T) {
	db := fakedb.New()
	var lost atomic.Bool
	c := fakeDynamoDB(t, db, func(op string) bool { return op == "PutItem" && lost.CompareAndSwap(false, true) })
	s, err := aggstore.New(aggstore.NewDynamoDB(c), aggstore.Config{Table: "aggs"})
	if err != nil {
		t.Fatal(err)
	}
	g := groups(t, 1, 1, 5)
	errs, st := s.Apply(context.Background(), g)
	noErrs(t, errs)
	if want := (aggstore.Stats{Applied: 5, WindowsWritten: 1, WriteCalls: 1, ReadCalls: 1}); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	if !lost.Load() || db.Calls["PutItem"] != 2 {
		t.Fatalf("%d PutItem calls (answer lost: %v), want the lost one and its retry", db.Calls["PutItem"], lost.Load())
	}
	items := db.Items()
	if len(items) != 1 {
		t.Fatalf("%d items", len(items))
	}
	k, agg, version, err := aggstore.DecodeItem(items[0])
	if err != nil || k != g[0].Key || agg.Count != 5 || len(agg.IDs) != 5 || version != 1 {
		t.Fatalf("stored %v %+v version %d: %v", k, agg, version, err)
	}

	// Over an existing item too (condition on the version, not on absence).
	more := groups(t, 1, 1, 8)
	lost.Store(false)
	errs, st = s.Apply(context.Background(), more)
	noErrs(t, errs)
	if want := (aggstore.Stats{Applied: 3, DuplicatesSkipped: 5, WindowsWritten: 1, WriteCalls: 1, ReadCalls: 1}); st != want {
		t.Fatalf("second apply: stats %+v, want %+v", st, want)
	}
	if _, agg, version, _ := aggstore.DecodeItem(db.Items()[0]); agg.Count != 8 || version != 2 {
		t.Fatalf("count %d version %d, want 8 and 2", agg.Count, version)
	}
}

// TestUnprocessedKeysAreReadConsistently: DynamoDB may return UnprocessedKeys
// without ConsistentRead; the store asks for them again consistently.
func TestUnprocessedKeysAreReadConsistently(t *testing.T) {
	var reads int
	f, c := newFakeService(t, func(op string, body []byte) (int, string) {
		if op != "BatchGetItem" {
			return 200, `{}`
		}
		reads++
		if reads == 1 {
			var in aggstore.BatchGetItemInput
			json.Unmarshal(body, &in)
			keys, _ := json.Marshal(in.RequestItems["aggs"].Keys)
			return 200, `{"Responses":{},"UnprocessedKeys":{"aggs":{"Keys":` + string(keys) + `}}}`
		}
		return 200, `{"Responses":{"aggs":[]}}`
	})
	s, err := aggstore.New(aggstore.NewDynamoDB(c), aggstore.Config{Table: "aggs"})
	if err != nil {
		t.Fatal(err)
	}
	errs, st := s.Apply(context.Background(), groups(t, 2, 1, 1))
	noErrs(t, errs)
	if st.ReadCalls != 2 || st.WindowsWritten != 2 {
		t.Fatalf("stats %+v", st)
	}
	for i, op := range f.ops {
		if op != "BatchGetItem" {
			continue
		}
		var in struct {
			RequestItems map[string]struct {
				Keys           []aggstore.Item
				ConsistentRead bool
			}
		}
		if err := json.Unmarshal(f.bodies[i], &in); err != nil || !in.RequestItems["aggs"].ConsistentRead || len(in.RequestItems["aggs"].Keys) != 2 {
			t.Errorf("BatchGetItem %d sent %s (%v), want both keys read consistently", i, f.bodies[i], err)
		}
	}
}
