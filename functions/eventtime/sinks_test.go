package eventtime_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/functions/kinesisbatch"
	"github.com/streamproc/streamproc/internal/emulator"
)

func testResults(n int) []eventtime.Result[string, eventtime.Stats] {
	var rs []eventtime.Result[string, eventtime.Stats]
	for i := range n {
		w := eventtime.Window{Start: t0 + int64(i)*60_000, End: t0 + int64(i+1)*60_000}
		key := []string{"alpha", "beta"}[i%2]
		rs = append(rs, eventtime.Result[string, eventtime.Stats]{ID: eventtime.ResultID(key, w, 0), Key: key, Window: w,
			Value: eventtime.Stats{}.Add(w.Start, eventtime.Fixed(i*1_500_000))})
	}
	return rs
}

// TestKinesisSink publishes to kinesis-local (the Kinesis JSON 1.1 wire
// protocol) and reads the records back.
func TestKinesisSink(t *testing.T) {
	if testing.Short() {
		t.Skip("kinesis-local: skipped in -short mode")
	}
	ctx := context.Background()
	p, err := emulator.StartKinesis(ctx, emulator.KinesisOptions{Streams: []string{"results:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	c := &awsjson.Client{Service: awsjson.Kinesis, Region: "us-east-1", Endpoint: p.Endpoint,
		Credentials: awsjson.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}}
	publishAndRead(t, c, &eventtime.KinesisSink[string, eventtime.Stats]{Client: c, StreamName: "results"})
}

// TestKinesisSinkByARN publishes by stream ARN to kinesalite, which reads
// only StreamName: the sink sends both, as Kinesis allows.
func TestKinesisSinkByARN(t *testing.T) {
	if testing.Short() {
		t.Skip("kinesalite: skipped in -short mode")
	}
	ctx := context.Background()
	p, err := emulator.StartKinesalite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	c := &awsjson.Client{Service: awsjson.Kinesis, Region: "us-east-1", Endpoint: p.Endpoint,
		Credentials: awsjson.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}}
	if err := c.Call(ctx, "CreateStream", map[string]any{"StreamName": "results", "ShardCount": 1}, nil); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		var d struct{ StreamDescriptionSummary struct{ StreamStatus string } }
		if err := c.Call(ctx, "DescribeStreamSummary", map[string]string{"StreamName": "results"}, &d); err == nil && d.StreamDescriptionSummary.StreamStatus == "ACTIVE" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stream results not ACTIVE after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	publishAndRead(t, c, &eventtime.KinesisSink[string, eventtime.Stats]{Client: c, StreamARN: "arn:aws:kinesis:us-east-1:000000000000:stream/results"})
}

// publishAndRead publishes seven results through sink and reads them back
// from the stream "results".
func publishAndRead(t *testing.T, c *awsjson.Client, sink *eventtime.KinesisSink[string, eventtime.Stats]) {
	t.Helper()
	ctx := context.Background()
	rs := testResults(7)
	for i, err := range sink.Publish(ctx, rs) {
		if err != nil {
			t.Fatalf("result %d: %v", i, err)
		}
	}
	var shards struct{ Shards []struct{ ShardId string } }
	if err := c.Call(ctx, "ListShards", map[string]string{"StreamName": "results"}, &shards); err != nil {
		t.Fatal(err)
	}
	var it struct{ ShardIterator string }
	if err := c.Call(ctx, "GetShardIterator", map[string]string{"StreamName": "results", "ShardId": shards.Shards[0].ShardId, "ShardIteratorType": "TRIM_HORIZON"}, &it); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Records []struct {
			Data         []byte
			PartitionKey string
		}
	}
	if err := c.Call(ctx, "GetRecords", map[string]string{"ShardIterator": it.ShardIterator}, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Records) != len(rs) {
		t.Fatalf("%d records read, %d published", len(got.Records), len(rs))
	}
	for i, r := range got.Records {
		var m eventtime.ResultMessage[eventtime.Stats]
		if err := json.Unmarshal(r.Data, &m); err != nil {
			t.Fatal(err)
		}
		if m.ID != rs[i].ID || m.Key != r.PartitionKey || m.Value != rs[i].Value || !m.WindowEnd.Equal(rs[i].Window.EndTime()) {
			t.Errorf("record %d: %+v (key %s), published %+v", i, m, r.PartitionKey, rs[i])
		}
	}
}

// fakeEventBridge is a fake of EventBridge's PutEvents over its JSON 1.1
// protocol (no EventBridge emulator is available here): it checks the
// request's protocol headers and fails the entries whose detail holds
// "fail".
type fakeEventBridge struct {
	mu      sync.Mutex
	entries []map[string]any
}

func (f *fakeEventBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
		!strings.Contains(r.Header.Get("Authorization"), "/events/aws4_request") {
		http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var in struct{ Entries []map[string]any }
	if err := json.Unmarshal(body, &in); err != nil || len(in.Entries) > 10 {
		http.Error(w, `{"__type":"ValidationException"}`, http.StatusBadRequest)
		return
	}
	type res struct{ EventId, ErrorCode, ErrorMessage string }
	out := struct {
		FailedEntryCount int
		Entries          []res
	}{}
	f.mu.Lock()
	for i, e := range in.Entries {
		if strings.Contains(e["Detail"].(string), `"key":"beta"`) && i == 1 {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, res{ErrorCode: "InternalFailure", ErrorMessage: "try again"})
			continue
		}
		f.entries = append(f.entries, e)
		out.Entries = append(out.Entries, res{EventId: "ev-" + e["Detail"].(string)[:8]})
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func TestEventBridgeSink(t *testing.T) {
	fake := &fakeEventBridge{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c := &awsjson.Client{Service: awsjson.EventBridge, Region: "us-east-1", Endpoint: srv.URL,
		Credentials: awsjson.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}}
	sink := &eventtime.EventBridgeSink[string, eventtime.Stats]{Client: c, EventBusName: "results"}
	rs := testResults(23)
	errs := sink.Publish(context.Background(), rs)
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			if i%10 != 1 || !strings.Contains(err.Error(), "InternalFailure") {
				t.Errorf("result %d: %v", i, err)
			}
		}
	}
	if failed != 3 || len(fake.entries) != 20 {
		t.Fatalf("%d failed, %d delivered; want 3 and 20", failed, len(fake.entries))
	}
	e := fake.entries[0]
	if e["Source"] != "streamproc.eventtime" || e["DetailType"] != "WindowResult" || e["EventBusName"] != "results" {
		t.Errorf("entry %v", e)
	}
	var m eventtime.ResultMessage[eventtime.Stats]
	if err := json.Unmarshal([]byte(e["Detail"].(string)), &m); err != nil || m.ID != rs[0].ID {
		t.Errorf("detail %v: %v", e["Detail"], err)
	}
}

type sqsRecorder struct {
	mu  sync.Mutex
	ins []*kinesisbatch.SendMessageBatchInput
}

func (s *sqsRecorder) SendMessageBatch(_ context.Context, in *kinesisbatch.SendMessageBatchInput) (*kinesisbatch.SendMessageBatchOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ins = append(s.ins, in)
	out := &kinesisbatch.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		out.Successful = append(out.Successful, kinesisbatch.SendMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

// TestQuarantineLateSink: late records reach the DLQ with their payload,
// the Kinesis metadata of their source record and the kind "late".
func TestQuarantineLateSink(t *testing.T) {
	rec := &sqsRecorder{}
	sink := eventtime.NewQuarantineLateSink[string](rec, "https://sqs.example/q", "fn")
	src := &kinesisbatch.Record{EventID: "shardId-000000000001:4955", SequenceNumber: "4955", PartitionKey: "alpha", ApproximateArrivalTimestamp: time.UnixMilli(t0)}
	w := eventtime.Window{Start: t0, End: t0 + 60_000}
	errs := sink.PutLate(context.Background(), []eventtime.LateRecord[string]{{ID: "ev-1", Key: "alpha", Window: w, EventTime: t0 + 5, Shard: "shardId-000000000001", Watermark: t0 + 200_000, Payload: []byte(`{"x":1}`), Source: src}})
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	if len(rec.ins) != 1 || len(rec.ins[0].Entries) != 1 {
		t.Fatalf("%d calls", len(rec.ins))
	}
	e := rec.ins[0].Entries[0]
	if e.MessageAttributes[contract.AttrKind] != contract.KindLate {
		t.Errorf("kind %q, want %q", e.MessageAttributes[contract.AttrKind], contract.KindLate)
	}
	var q contract.QuarantinedRecord
	if err := json.Unmarshal([]byte(e.MessageBody), &q); err != nil {
		t.Fatal(err)
	}
	if string(q.Data) != `{"x":1}` || q.RecordID != "shardId-000000000001/4955" || !strings.Contains(q.Reason, "late") || !strings.Contains(q.Reason, w.String()) {
		t.Errorf("message %+v (data %s)", q, base64.StdEncoding.EncodeToString(q.Data))
	}
}

func TestIsFireRequest(t *testing.T) {
	for payload, want := range map[string]bool{
		eventtime.FireRequest:                       true,
		" { \"eventtime\" : \"fire\" }\n":           true,
		`{"eventtime":"fire","other":1}`:            false,
		`{"eventtime":"later"}`:                     false,
		`{"Records":[{"kinesis":{"data":"eyJ9"}}]}`: false,
		`{"Records":[],"eventtime":"fire"}`:         false,
	} {
		if got := eventtime.IsFireRequest([]byte(payload)); got != want {
			t.Errorf("IsFireRequest(%s) = %v", payload, got)
		}
	}
}
