package sqsfake_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/streamproc/streamproc/internal/sqsfake"
)

func start(t *testing.T) (*sqsfake.Server, *sqs.Client) {
	t.Helper()
	s, err := sqsfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, s.NewClient(func(o *sqs.Options) { o.RetryMaxAttempts = 1 })
}

func createQueue(t *testing.T, c *sqs.Client, name string, attrs map[string]string) string {
	t.Helper()
	out, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	return aws.ToString(out.QueueUrl)
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestQueueLifecycle(t *testing.T) {
	s, c := start(t)
	ctx := context.Background()
	url := createQueue(t, c, "dlq", map[string]string{"VisibilityTimeout": "45"})
	if url != s.QueueURL("dlq") {
		t.Fatalf("queue url %q, want %q", url, s.QueueURL("dlq"))
	}
	// CreateQueue is idempotent with the same attributes, an error with others.
	if again := createQueue(t, c, "dlq", map[string]string{"VisibilityTimeout": "45"}); again != url {
		t.Fatalf("second CreateQueue gave %q", again)
	}
	_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("dlq"), Attributes: map[string]string{"VisibilityTimeout": "46"}})
	var exists *types.QueueNameExists
	if !errors.As(err, &exists) {
		t.Fatalf("CreateQueue with other attributes: %v, want QueueNameExists", err)
	}
	createQueue(t, c, "other", nil)

	got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("dlq")})
	if err != nil || aws.ToString(got.QueueUrl) != url {
		t.Fatalf("GetQueueUrl: %v %v", got, err)
	}
	list, err := c.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String("d")})
	if err != nil || len(list.QueueUrls) != 1 || list.QueueUrls[0] != url {
		t.Fatalf("ListQueues: %+v %v", list, err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn, types.QueueAttributeNameVisibilityTimeout, types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"QueueArn": s.QueueARN("dlq"), "VisibilityTimeout": "45", "ApproximateNumberOfMessages": "0"}
	for k, v := range want {
		if attrs.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, attrs.Attributes[k], v)
		}
	}

	_, err = c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("missing")})
	var dne *types.QueueDoesNotExist
	if !errors.As(err, &dne) {
		t.Fatalf("GetQueueUrl of a missing queue: %v, want QueueDoesNotExist", err)
	}
	if code := apiCode(err); code != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Errorf("error code %q, want the query-compatible code AWS.SimpleQueueService.NonExistentQueue", code)
	}
	if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(s.QueueURL("other"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.QueueURL("other")), MessageBody: aws.String("x")}); !errors.As(err, &dne) {
		t.Fatalf("send to a deleted queue: %v", err)
	}
}

func TestSendReceiveDeleteWithAttributes(t *testing.T) {
	s, c := start(t)
	ctx := context.Background()
	url := createQueue(t, c, "q", nil)
	sent, err := c.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    &url,
		MessageBody: aws.String(`{"hello":"world"}`),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"streamproc-kind": {DataType: aws.String("String"), StringValue: aws.String("quarantined")},
			"size":            {DataType: aws.String("Number"), StringValue: aws.String("17")},
			"blob":            {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2}},
		},
	})
	if err != nil {
		t.Fatalf("SendMessage (the SDK checks MD5OfMessageBody): %v", err)
	}
	if aws.ToString(sent.MD5OfMessageAttributes) == "" {
		t.Fatal("no MD5OfMessageAttributes")
	}

	// Receive only the streamproc-* attributes, with system attributes.
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    &url,
		MaxNumberOfMessages:         10,
		MessageAttributeNames:       []string{"streamproc-kind", "blob"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp},
		VisibilityTimeout:           1,
	})
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("got %d messages, want 1", len(out.Messages))
	}
	m := out.Messages[0]
	if aws.ToString(m.MessageId) != aws.ToString(sent.MessageId) || aws.ToString(m.Body) != `{"hello":"world"}` {
		t.Fatalf("message %+v", m)
	}
	if len(m.MessageAttributes) != 2 || aws.ToString(m.MessageAttributes["streamproc-kind"].StringValue) != "quarantined" ||
		string(m.MessageAttributes["blob"].BinaryValue) != "\x00\x01\x02" {
		t.Fatalf("message attributes %+v", m.MessageAttributes)
	}
	if aws.ToString(m.MD5OfMessageAttributes) == aws.ToString(sent.MD5OfMessageAttributes) {
		t.Error("MD5OfMessageAttributes must cover only the returned attributes")
	}
	if m.Attributes["ApproximateReceiveCount"] != "1" {
		t.Errorf("ApproximateReceiveCount %q", m.Attributes["ApproximateReceiveCount"])
	}
	if ms, _ := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64); time.Since(time.UnixMilli(ms)) > time.Minute {
		t.Errorf("SentTimestamp %q", m.Attributes["SentTimestamp"])
	}

	// In flight: invisible until the 1 s visibility timeout ends.
	if again, _ := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url}); len(again.Messages) != 0 {
		t.Fatal("an in-flight message was received again")
	}
	if p := s.Peek("q"); len(p) != 1 || !p[0].InFlight {
		t.Fatalf("peek %+v", p)
	}
	// A long poll returns as soon as the timeout ends, with receive count 2.
	begin := time.Now()
	second, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 5,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
	if err != nil || len(second.Messages) != 1 {
		t.Fatalf("second receive: %v %v", second, err)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("long poll took %v", d)
	}
	if got := second.Messages[0].Attributes["ApproximateReceiveCount"]; got != "2" {
		t.Errorf("ApproximateReceiveCount %q after the second receive", got)
	}

	// The first handle is stale now: deleting with it does not delete.
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if len(s.Peek("q")) != 1 {
		t.Fatal("a stale receipt handle deleted the message")
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: second.Messages[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if len(s.Peek("q")) != 0 {
		t.Fatal("message not deleted")
	}
	_, err = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: aws.String("garbage")})
	var bad *types.ReceiptHandleIsInvalid
	if !errors.As(err, &bad) {
		t.Fatalf("garbage receipt handle: %v", err)
	}
}

func TestLongPollWakesOnSend(t *testing.T) {
	_, c := start(t)
	ctx := context.Background()
	url := createQueue(t, c, "q", nil)
	go func() {
		time.Sleep(200 * time.Millisecond)
		_, _ = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("late")})
	}()
	begin := time.Now()
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 10})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive: %v %v", out, err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("long poll returned after %v, want soon after the send", d)
	}
	// An empty long poll waits its full time.
	begin = time.Now()
	out, err = c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 1})
	if err != nil || len(out.Messages) != 0 {
		t.Fatalf("receive: %v %v", out, err)
	}
	if d := time.Since(begin); d < 900*time.Millisecond {
		t.Errorf("empty long poll returned after %v, want about 1 s", d)
	}
}

func TestVisibilityAndBatches(t *testing.T) {
	s, c := start(t)
	ctx := context.Background()
	url := createQueue(t, c, "q", nil)
	var entries []types.SendMessageBatchRequestEntry
	for i := range 10 {
		entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String("e" + strconv.Itoa(i)), MessageBody: aws.String("m" + strconv.Itoa(i))})
	}
	out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries})
	if err != nil || len(out.Successful) != 10 || len(out.Failed) != 0 {
		t.Fatalf("SendMessageBatch: %+v %v", out, err)
	}
	_, err = c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: append(entries, entries[0])})
	var tooMany *types.TooManyEntriesInBatchRequest
	if !errors.As(err, &tooMany) {
		t.Fatalf("11 entries: %v", err)
	}
	_, err = c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: []types.SendMessageBatchRequestEntry{entries[0], entries[0]}})
	var notDistinct *types.BatchEntryIdsNotDistinct
	if !errors.As(err, &notDistinct) {
		t.Fatalf("repeated ids: %v", err)
	}

	recv, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10})
	if err != nil || len(recv.Messages) != 10 {
		t.Fatalf("receive 10: %d %v", len(recv.Messages), err)
	}
	attrs := func() map[string]string {
		a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		return a.Attributes
	}
	if a := attrs(); a["ApproximateNumberOfMessages"] != "0" || a["ApproximateNumberOfMessagesNotVisible"] != "10" {
		t.Fatalf("counts after receive: %v", a)
	}
	// Visibility 0 puts a message back at once (the SDK must send the zero).
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: recv.Messages[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	if a := attrs(); a["ApproximateNumberOfMessages"] != "1" {
		t.Fatalf("counts after visibility 0: %v", a)
	}
	// Delete the other nine in one batch, one entry failing by injection.
	s.FailNextEntries("DeleteMessageBatch", 1, sqsfake.InternalError)
	var del []types.DeleteMessageBatchRequestEntry
	for i, m := range recv.Messages[1:] {
		del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String("d" + strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	dout, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: del})
	if err != nil || len(dout.Successful) != 8 || len(dout.Failed) != 1 || aws.ToString(dout.Failed[0].Id) != "d0" || dout.Failed[0].SenderFault {
		t.Fatalf("DeleteMessageBatch: %+v %v", dout, err)
	}
	if n := len(s.Peek("q")); n != 2 {
		t.Fatalf("%d messages left, want 2", n)
	}
	if _, err := c.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: &url}); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Peek("q")); n != 0 {
		t.Fatalf("%d messages after purge", n)
	}
}

func TestSizeLimitAndContents(t *testing.T) {
	_, c := start(t)
	ctx := context.Background()
	url := createQueue(t, c, "q", nil)
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(strings.Repeat("x", 256*1024))}); err != nil {
		t.Fatalf("a 256 KiB body must fit: %v", err)
	}
	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(strings.Repeat("x", 256*1024-3)),
		MessageAttributes: map[string]types.MessageAttributeValue{"k": {DataType: aws.String("String"), StringValue: aws.String("v")}}})
	if code := apiCode(err); code != "InvalidParameterValue" {
		t.Fatalf("body+attributes over 256 KiB: %v (code %q), want InvalidParameterValue", err, code)
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("bad \x01")})
	var contents *types.InvalidMessageContents
	if !errors.As(err, &contents) {
		t.Fatalf("control character: %v", err)
	}
	// Batch: the whole request is limited too.
	big := strings.Repeat("y", 100*1024)
	_, err = c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: &big}, {Id: aws.String("b"), MessageBody: &big}, {Id: aws.String("c"), MessageBody: &big}}})
	var tooLong *types.BatchRequestTooLong
	if !errors.As(err, &tooLong) {
		t.Fatalf("300 KiB batch: %v", err)
	}
}

func TestFailureInjection(t *testing.T) {
	s, c := start(t)
	ctx := context.Background()
	url := createQueue(t, c, "q", nil)
	entries := []types.SendMessageBatchRequestEntry{{Id: aws.String("a"), MessageBody: aws.String("1")}, {Id: aws.String("b"), MessageBody: aws.String("2")}}

	s.FailNext("SendMessageBatch", 1, sqsfake.InternalError)
	_, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries})
	if code := apiCode(err); code != "InternalError" {
		t.Fatalf("injected failure: %v (code %q)", err, code)
	}
	s.FailNextEntries("SendMessageBatch", 1, sqsfake.InternalError)
	out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries})
	if err != nil || len(out.Successful) != 1 || len(out.Failed) != 1 || aws.ToString(out.Failed[0].Code) != "InternalError" {
		t.Fatalf("partial failure: %+v %v", out, err)
	}
	if got := s.Calls("SendMessageBatch"); got != 2 {
		t.Errorf("Calls = %d, want 2", got)
	}
	// The SDK's own retryer retries a throttled call; with 3 attempts two
	// injected throttles are absorbed.
	s.FailNext("SendMessage", 2, sqsfake.RequestThrottled)
	retrying := s.NewClient()
	if _, err := retrying.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("3")}); err != nil {
		t.Fatalf("two throttles then success: %v", err)
	}
	if n := len(s.Peek("q")); n != 2 {
		t.Fatalf("%d messages, want 2", n)
	}
}

func TestCloseEndsLongPoll(t *testing.T) {
	s, c := start(t)
	url := createQueue(t, c, "q", nil)
	done := make(chan error, 1)
	go func() {
		_, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 20})
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	_ = s.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close left a long poll waiting")
	}
}

func TestListQueuesPages(t *testing.T) {
	_, c := start(t)
	for _, n := range []string{"a1", "a2", "a3", "a4", "a5", "b1"} {
		createQueue(t, c, n, nil)
	}
	p := sqs.NewListQueuesPaginator(c, &sqs.ListQueuesInput{QueueNamePrefix: aws.String("a"), MaxResults: aws.Int32(2)})
	var got []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, out.QueueUrls...)
	}
	if len(got) != 5 || pages != 3 || !strings.HasSuffix(got[4], "/a5") {
		t.Fatalf("%d pages: %v", pages, got)
	}
}

// TestRejectsMalformedRequests: the fake is only a proof of a client's wire
// format if it refuses what SQS refuses.
func TestRejectsMalformedRequests(t *testing.T) {
	s, c := start(t)
	url := createQueue(t, c, "strict", nil)
	for _, tc := range []struct{ name, contentType, body string }{
		{"wrong content type", "application/json", `{"QueueUrl":"` + url + `"}`},
		{"no content type", "", `{"QueueUrl":"` + url + `"}`},
		{"data after the document", "application/x-amz-json-1.0", `{"QueueUrl":"` + url + `"} {}`},
		{"truncated", "application/x-amz-json-1.0", `{"QueueUrl":"`},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.URL(), strings.NewReader(tc.body))
		req.Header.Set("X-Amz-Target", "AmazonSQS.GetQueueAttributes")
		if tc.contentType != "" {
			req.Header.Set("Content-Type", tc.contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "SerializationException") {
			t.Errorf("%s: %d %s, want 400 SerializationException", tc.name, resp.StatusCode, body)
		}
	}
}
