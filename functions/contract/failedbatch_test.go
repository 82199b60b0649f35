package contract_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/contract"
)

// The example of the Lambda developer guide ("Example Amazon S3 invocation
// record"), with a real event as the escaped payload string.
const s3Object = `{
  "requestContext": {"requestId": "c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5",
    "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
    "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 1},
  "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
  "version": "1.0",
  "timestamp": "2019-11-14T00:38:06.021Z",
  "KinesisBatchInfo": {"shardId": "shardId-000000000001",
    "startSequenceNumber": "49601189658422359378836298521827638475320189012309704722",
    "endSequenceNumber": "49601189658422359378836298522902373528957594348623495186",
    "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04.835Z",
    "approximateArrivalOfLastRecord": "2019-11-14T00:38:05.580Z",
    "batchSize": 2, "streamArn": "arn:aws:kinesis:us-east-2:123456789012:stream/mystream"},
  "payload": "{\"Records\":[{\"kinesis\":{\"kinesisSchemaVersion\":\"1.0\",\"partitionKey\":\"1\",\"sequenceNumber\":\"49601189658422359378836298521827638475320189012309704722\",\"data\":\"SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==\",\"approximateArrivalTimestamp\":1573691884.835},\"eventSource\":\"aws:kinesis\",\"eventVersion\":\"1.0\",\"eventID\":\"shardId-000000000001:49601189658422359378836298521827638475320189012309704722\",\"eventName\":\"aws:kinesis:record\",\"invokeIdentityArn\":\"arn:aws:iam::123456789012:role/lambda-role\",\"awsRegion\":\"us-east-2\",\"eventSourceARN\":\"arn:aws:kinesis:us-east-2:123456789012:stream/mystream\"},{\"kinesis\":{\"partitionKey\":\"2\",\"sequenceNumber\":\"49601189658422359378836298522902373528957594348623495186\",\"data\":\"\",\"approximateArrivalTimestamp\":1573691885.58},\"eventID\":\"shardId-000000000001:49601189658422359378836298522902373528957594348623495186\",\"eventSourceARN\":\"arn:aws:kinesis:us-east-2:123456789012:stream/mystream\"}]}"
}`

func TestFailedBatchObjectReadsLambdasExample(t *testing.T) {
	var o contract.FailedBatchObject
	if err := json.Unmarshal([]byte(s3Object), &o); err != nil {
		t.Fatal(err)
	}
	if o.KinesisBatchInfo.ShardID != "shardId-000000000001" || o.RequestContext.Condition != "RetryAttemptsExhausted" || o.KinesisBatchInfo.BatchSize != 2 {
		t.Fatalf("description: %+v", o.OnFailureMessage)
	}
	ev, err := o.Event()
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) != 2 {
		t.Fatalf("%d records, want 2", len(ev.Records))
	}
	r := ev.Records[0]
	if string(r.Kinesis.Data) != "Hello, this is a test." || r.ShardID() != "shardId-000000000001" || r.Kinesis.PartitionKey != "1" {
		t.Errorf("record 0: %+v", r)
	}
	if want := time.UnixMilli(1573691884835).UTC(); !r.Kinesis.ApproximateArrivalTimestamp.Equal(want) {
		t.Errorf("arrival %v, want %v", r.Kinesis.ApproximateArrivalTimestamp, want)
	}
	if len(ev.Records[1].Kinesis.Data) != 0 {
		t.Errorf("record 1 data %q, want empty", ev.Records[1].Kinesis.Data)
	}
}

func TestFailedBatchObjectRoundTrip(t *testing.T) {
	ev := contract.KinesisEvent{Records: []contract.KinesisEventRecord{{EventID: "shardId-000000000000:1", EventSourceARN: "arn",
		Kinesis: contract.KinesisRecord{Data: []byte{0, 1, 2, '"', '\\'}, SequenceNumber: "1", PartitionKey: "k",
			ApproximateArrivalTimestamp: contract.EpochSeconds{Time: time.UnixMilli(1700000000123).UTC()}}}}}
	evJSON, _ := json.Marshal(ev)
	var msg contract.OnFailureMessage
	msg.KinesisBatchInfo.ShardID = "shardId-000000000000"
	o, err := contract.NewFailedBatchObject(msg, evJSON)
	if err != nil {
		t.Fatal(err)
	}
	if o.Payload[0] != '"' {
		t.Fatalf("payload %s is not a JSON string as Lambda writes it", o.Payload)
	}
	body, _ := json.Marshal(o)
	var back contract.FailedBatchObject
	if err := json.Unmarshal(body, &back); err != nil {
		t.Fatal(err)
	}
	got, err := back.Event()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Records) != 1 || !bytes.Equal(got.Records[0].Kinesis.Data, ev.Records[0].Kinesis.Data) ||
		!got.Records[0].Kinesis.ApproximateArrivalTimestamp.Equal(ev.Records[0].Kinesis.ApproximateArrivalTimestamp.Time) ||
		back.KinesisBatchInfo.ShardID != "shardId-000000000000" {
		t.Fatalf("round trip: %+v", got)
	}
	// The event as a plain object is read too.
	plain := contract.FailedBatchObject{Payload: evJSON}
	if got, err := plain.Event(); err != nil || len(got.Records) != 1 {
		t.Fatalf("object payload: %v %+v", err, got)
	}
	if _, err := (contract.FailedBatchObject{}).Event(); !errors.Is(err, contract.ErrNoPayload) {
		t.Fatalf("no payload: %v", err)
	}
	if _, err := (contract.FailedBatchObject{Payload: json.RawMessage(`"{not json"`)}).Event(); err == nil {
		t.Fatal("a broken payload was accepted")
	}
}

func TestFailedBatchKey(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	k := contract.FailedBatchKey("14e0db71-5d35-4eb5-b481-8945cf9d10c2", "shardId-000000000003", at, "0f8fad5b-d9cb-469f-a165-70867728950e")
	if want := "aws/lambda/14e0db71-5d35-4eb5-b481-8945cf9d10c2/shardId-000000000003/2026/03/04/2026-03-04T05.06.07-0f8fad5b-d9cb-469f-a165-70867728950e"; k != want {
		t.Fatalf("key %s, want %s", k, want)
	}
	info, ok := contract.ParseFailedBatchKey("my/prefix/" + k)
	if !ok || info.ShardID != "shardId-000000000003" || info.MappingUUID != "14e0db71-5d35-4eb5-b481-8945cf9d10c2" || !info.Time.Equal(at) {
		t.Fatalf("parse: %+v %v", info, ok)
	}
	for _, bad := range []string{"", "aws/lambda/u/s/2026/03/04", "aws/lambda/u/s/2026/03/05/2026-03-04T05.06.07-x", "other/key", "aws/lambda/u/s/2026/03/04/2026-03-04T05.06.07x"} {
		if _, ok := contract.ParseFailedBatchKey(bad); ok {
			t.Errorf("%q parsed as a failed-batch key", bad)
		}
	}
}
