package awsjson

import (
	"net/http"
	"strings"
	"testing"
)

func TestParseError(t *testing.T) {
	long := "<html><body>" + strings.Repeat("Bad gateway. ", 40) + "</body></html>"
	cases := []struct {
		name      string
		svc       string
		status    int
		header    map[string]string
		body      string
		code, msg string
		errText   string
		throttle  bool
		temporary bool
	}{
		{"dynamodb conditional check", "DynamoDB", 400, map[string]string{"X-Amzn-RequestId": "ABC123"},
			`{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed","Item":{"pk":{"S":"a"}}}`,
			"ConditionalCheckFailedException", "The conditional request failed",
			"DynamoDB PutItem: ConditionalCheckFailedException (400): The conditional request failed (request id ABC123)", false, false},
		{"sqs query error header", "SQS", 400, map[string]string{"x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"},
			`{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}`,
			"AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.",
			"SQS PutItem: AWS.SimpleQueueService.NonExistentQueue (400): The specified queue does not exist.", false, false},
		{"sqs without query header", "SQS", 400, nil, `{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"gone"}`,
			"QueueDoesNotExist", "gone", "SQS PutItem: QueueDoesNotExist (400): gone", false, false},
		{"code and Message", "SQS", 400, nil, `{"code":"RequestThrottled","Message":"slow down"}`,
			"RequestThrottled", "slow down", "SQS PutItem: RequestThrottled (400): slow down", true, true},
		{"type with uri suffix", "DynamoDB", 400, nil, `{"__type":"com.amazon.coral.service#ThrottlingException:http://internal.amazon.com/coral/"}`,
			"ThrottlingException", "", "DynamoDB PutItem: ThrottlingException (400)", true, true},
		{"error type header", "DynamoDB", 400, map[string]string{"X-Amzn-ErrorType": "ValidationException:http://internal.amazon.com/"}, `{}`,
			"ValidationException", "", "DynamoDB PutItem: ValidationException (400)", false, false},
		{"internal server error", "DynamoDB", 500, nil, `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}`,
			"InternalServerError", "Internal server error", "DynamoDB PutItem: InternalServerError (500): Internal server error", false, true},
		{"html from a proxy", "DynamoDB", 502, nil, long, "", long[:200] + "…", "DynamoDB PutItem: HTTP 502 Bad Gateway: <html><body>Bad gateway.", false, true},
		{"empty 503", "DynamoDB", 503, nil, "", "", "(empty body)", "DynamoDB PutItem: HTTP 503 Service Unavailable: (empty body)", false, true},
		{"plain 429", "SQS", 429, nil, "Too Many Requests\n", "", "Too Many Requests", "SQS PutItem: HTTP 429 Too Many Requests: Too Many Requests", true, true},
		{"501", "SQS", 501, nil, "nope", "", "nope", "SQS PutItem: HTTP 501 Not Implemented: nope", false, false},
		{"json array", "SQS", 400, nil, `["x"]`, "", `["x"]`, `SQS PutItem: HTTP 400 Bad Request: ["x"]`, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
			for k, v := range tc.header {
				resp.Header.Set(k, v)
			}
			e := parseError(tc.svc, "PutItem", resp, []byte(tc.body))
			if e.Code != tc.code || e.ErrorCode() != tc.code || e.Message != tc.msg || e.ErrorMessage() != tc.msg {
				t.Errorf("code %q message %q, want %q %q", e.Code, e.Message, tc.code, tc.msg)
			}
			if !strings.HasPrefix(e.Error(), tc.errText) {
				t.Errorf("Error()\n got %q\nwant %q...", e.Error(), tc.errText)
			}
			if e.Throttling() != tc.throttle || e.Temporary() != tc.temporary {
				t.Errorf("throttling %v temporary %v, want %v %v", e.Throttling(), e.Temporary(), tc.throttle, tc.temporary)
			}
			if string(e.Body) != tc.body || e.StatusCode != tc.status || e.Service != tc.svc || e.Operation != "PutItem" {
				t.Errorf("fields not kept: %+v", e)
			}
		})
	}
}

func TestThrottlingCodes(t *testing.T) {
	for _, code := range []string{"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
		"TooManyRequestsException", "Throttling", "RequestThrottled", "RequestThrottledException", "LimitExceededException"} {
		if e := (&APIError{StatusCode: 400, Code: code}); !e.Throttling() || !e.Temporary() {
			t.Errorf("%s is not throttling", code)
		}
	}
	// aws-sdk-go-v2's DefaultRetryableErrorCodes: transient, not throttling, whatever the status.
	for _, code := range []string{"RequestTimeout", "RequestTimeoutException"} {
		if e := (&APIError{StatusCode: 400, Code: code}); e.Throttling() || !e.Temporary() {
			t.Errorf("%s: throttling %v temporary %v, want false true", code, e.Throttling(), e.Temporary())
		}
	}
	for _, code := range []string{"ValidationException", "ResourceNotFoundException", "ConditionalCheckFailedException", "AccessDeniedException"} {
		if e := (&APIError{StatusCode: 400, Code: code}); e.Throttling() || e.Temporary() {
			t.Errorf("%s is retryable", code)
		}
	}
}
