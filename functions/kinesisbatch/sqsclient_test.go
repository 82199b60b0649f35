package kinesisbatch

import (
	"context"
	"crypto/md5"
	"encoding/hex"
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

// sqsLike answers SendMessageBatch as SQS does for valid entries: every
// entry accepted, with the MD5 of the body as SQS decoded it.
func sqsLike(t *testing.T, requests *[]sqsSendMessageBatchRequest) *awsjson.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in sqsSendMessageBatchRequest
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			t.Error(err)
		}
		*requests = append(*requests, in)
		var ans sqsSendMessageBatchAnswer
		for _, e := range in.Entries {
			sum := md5.Sum([]byte(e.MessageBody))
			ans.Successful = append(ans.Successful, struct {
				ID               string `json:"Id"`
				MessageID        string `json:"MessageId"`
				MD5OfMessageBody string `json:"MD5OfMessageBody"`
			}{e.ID, "m-" + e.ID, hex.EncodeToString(sum[:])})
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		json.NewEncoder(w).Encode(ans)
	}))
	t.Cleanup(srv.Close)
	return &awsjson.Client{Service: awsjson.SQS, Region: "eu-west-1", Endpoint: srv.URL,
		Credentials: awsjson.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, MaxAttempts: 1}
}

// TestSQSClientRejectsInvalidUTF8: an entry that is not valid UTF-8 would
// reach SQS with U+FFFD in place of its bad bytes and fail the MD5 check
// after being stored; it is failed as the sender's fault instead, unsent.
func TestSQSClientRejectsInvalidUTF8(t *testing.T) {
	var requests []sqsSendMessageBatchRequest
	c := NewSQSClient(sqsLike(t, &requests))
	out, err := c.SendMessageBatch(context.Background(), &SendMessageBatchInput{QueueUrl: "u", Entries: []SendMessageBatchRequestEntry{
		{Id: "a", MessageBody: "fine é"},
		{Id: "b", MessageBody: "bad \xff byte"},
		{Id: "c", MessageBody: "fine", MessageAttributes: map[string]string{"kind": "bad \xfe"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(requests) != 1 || len(requests[0].Entries) != 1 || requests[0].Entries[0].ID != "a" {
		t.Fatalf("sent %+v, want entry a only", requests)
	}
	if len(out.Successful) != 1 || out.Successful[0].Id != "a" || len(out.Failed) != 2 {
		t.Fatalf("answer %+v", out)
	}
	for i, id := range []string{"b", "c"} {
		f := out.Failed[i]
		if f.Id != id || f.Code != "InvalidMessageContents" || !f.SenderFault || !strings.Contains(f.Message, "not valid UTF-8") {
			t.Errorf("failed entry %+v, want %s as InvalidMessageContents, the sender's fault", f, id)
		}
	}
	if !strings.Contains(out.Failed[1].Message, `message attribute "kind"`) {
		t.Errorf("message %q does not name the attribute", out.Failed[1].Message)
	}

	// Nothing valid: no call at all (SQS refuses an empty batch).
	requests = nil
	out, err = c.SendMessageBatch(context.Background(), &SendMessageBatchInput{QueueUrl: "u", Entries: []SendMessageBatchRequestEntry{{Id: "x", MessageBody: "\xc3"}}})
	if err != nil || len(requests) != 0 || len(out.Successful) != 0 || len(out.Failed) != 1 || out.Failed[0].Id != "x" {
		t.Fatalf("%d calls, answer %+v, error %v", len(requests), out, err)
	}
}
