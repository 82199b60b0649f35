package kinesisbatch

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/streamproc/streamproc/functions/awsjson"
)

// sqsRecorder answers every request with answer (status 200) and keeps the
// last request's target, content type and body.
type sqsRecorder struct {
	target, contentType string
	body                []byte
	status              int
	header              map[string]string
	answer              string
}

func (r *sqsRecorder) start(t *testing.T) *awsjson.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.target = req.Header.Get("X-Amz-Target")
		r.contentType = req.Header.Get("Content-Type")
		r.body, _ = io.ReadAll(req.Body)
		for k, v := range r.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if r.status != 0 {
			w.WriteHeader(r.status)
		}
		_, _ = io.WriteString(w, r.answer)
	}))
	t.Cleanup(srv.Close)
	return &awsjson.Client{
		Service:     awsjson.SQS,
		Region:      "eu-west-1",
		Endpoint:    srv.URL,
		Credentials: awsjson.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"},
		MaxAttempts: 1,
	}
}

// TestSQSClientWireFormat holds the request to SQS's JSON member names
// exactly (SQS matches them case-sensitively, while sqsfake, being
// encoding/json, does not) and checks how the answer is read.
func TestSQSClientWireFormat(t *testing.T) {
	rec := &sqsRecorder{answer: `{
		"Successful":[{"Id":"a","MessageId":"m-a","MD5OfMessageBody":"900150983cd24fb0d6963f7d28e17f72","MD5OfMessageAttributes":"x"}],
		"Failed":[{"Id":"b","Code":"InvalidMessageContents","Message":"bad","SenderFault":true},{"Id":"c","Code":"InternalError","Message":"later","SenderFault":false}]}`}
	c := NewSQSClient(rec.start(t))
	out, err := c.SendMessageBatch(context.Background(), &SendMessageBatchInput{
		QueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq",
		Entries: []SendMessageBatchRequestEntry{
			{Id: "a", MessageBody: "abc", MessageAttributes: map[string]string{"streamproc-kind": "quarantined"}},
			{Id: "b", MessageBody: "\x01"},
			{Id: "c", MessageBody: `{"x":"é"}`},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec.target != "AmazonSQS.SendMessageBatch" || rec.contentType != "application/x-amz-json-1.0" {
		t.Fatalf("target %q, content type %q", rec.target, rec.contentType)
	}
	var body any
	if err := json.Unmarshal(rec.body, &body); err != nil {
		t.Fatalf("request body %s: %v", rec.body, err)
	}
	want := map[string]any{
		"QueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq",
		"Entries": []any{
			map[string]any{"Id": "a", "MessageBody": "abc", "MessageAttributes": map[string]any{
				"streamproc-kind": map[string]any{"DataType": "String", "StringValue": "quarantined"},
			}},
			map[string]any{"Id": "b", "MessageBody": "\x01"},
			map[string]any{"Id": "c", "MessageBody": `{"x":"é"}`},
		},
	}
	if !reflect.DeepEqual(body, want) {
		t.Fatalf("request body\n%s\nwant the structure\n%#v", rec.body, want)
	}
	wantOut := &SendMessageBatchOutput{
		Successful: []SendMessageBatchResultEntry{{Id: "a", MessageId: "m-a"}},
		Failed: []BatchResultErrorEntry{
			{Id: "b", Code: "InvalidMessageContents", Message: "bad", SenderFault: true},
			{Id: "c", Code: "InternalError", Message: "later"},
		},
	}
	if !reflect.DeepEqual(out, wantOut) {
		t.Fatalf("answer read as %+v, want %+v", out, wantOut)
	}
}

// A body whose MD5 SQS reports differently fails the call, as the SDK's
// checksum validation does, so the quarantine sends it again.
func TestSQSClientChecksumMismatch(t *testing.T) {
	rec := &sqsRecorder{answer: `{"Successful":[{"Id":"a","MessageId":"m-a","MD5OfMessageBody":"00000000000000000000000000000000"}],"Failed":[]}`}
	_, err := NewSQSClient(rec.start(t)).SendMessageBatch(context.Background(), &SendMessageBatchInput{
		QueueUrl: "u", Entries: []SendMessageBatchRequestEntry{{Id: "a", MessageBody: "abc"}},
	})
	if err == nil || !strings.Contains(err.Error(), "checksum") || !strings.Contains(err.Error(), "m-a") {
		t.Fatalf("err %v", err)
	}
}

// An error answer reaches the caller as the awsjson.APIError, with SQS's
// query-compatible code.
func TestSQSClientErrorAnswer(t *testing.T) {
	rec := &sqsRecorder{
		status: 400,
		header: map[string]string{"x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"},
		answer: `{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}`,
	}
	_, err := NewSQSClient(rec.start(t)).SendMessageBatch(context.Background(), &SendMessageBatchInput{
		QueueUrl: "u", Entries: []SendMessageBatchRequestEntry{{Id: "a", MessageBody: "abc"}},
	})
	var apiErr *awsjson.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Fatalf("err %v", err)
	}
}

func TestSQSClientNeedsAnSQSClient(t *testing.T) {
	if _, err := NewSQSClient(nil).SendMessageBatch(context.Background(), &SendMessageBatchInput{}); err == nil {
		t.Fatal("nil client accepted")
	}
	c := &awsjson.Client{Service: awsjson.DynamoDB, Endpoint: "http://127.0.0.1:1"}
	if _, err := NewSQSClient(c).SendMessageBatch(context.Background(), &SendMessageBatchInput{}); err == nil || !strings.Contains(err.Error(), "DynamoDB") {
		t.Fatalf("DynamoDB client: %v", err)
	}
}
