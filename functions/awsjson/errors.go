package awsjson

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// APIError is an error answer of the service.
type APIError struct {
	Service    string // Service.Name
	Operation  string
	StatusCode int
	Code       string // the error code without its namespace: "ConditionalCheckFailedException", "QueueDoesNotExist"
	Message    string
	RequestID  string // x-amzn-RequestId
	Body       []byte // the whole JSON error body (DynamoDB puts the old Item here on ConditionalCheckFailed)
}

// Error reads "DynamoDB PutItem: ConditionalCheckFailedException (400): The
// conditional request failed (request id ...)". Without a code (a body that is
// not an AWS JSON error) it reads "DynamoDB PutItem: HTTP 502 Bad Gateway: <first bytes of the body>".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Service + " " + e.Operation + ": ")
	if e.Code != "" {
		b.WriteString(e.Code + " (" + strconv.Itoa(e.StatusCode) + ")")
	} else {
		b.WriteString("HTTP " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode))
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id " + e.RequestID + ")")
	}
	return b.String()
}

// ErrorCode returns Code (the method name of smithy.APIError).
func (e *APIError) ErrorCode() string { return e.Code }

// ErrorMessage returns Message (the method name of smithy.APIError).
func (e *APIError) ErrorMessage() string { return e.Message }

// Throttling reports a throttling code (aws-sdk-go-v2's DefaultThrottleErrorCodes),
// or a 429 without a code (the SDK retries a 429 that is not a modelled error).
func (e *APIError) Throttling() bool {
	switch e.Code {
	case "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
		"TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
		"RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
		"SlowDown", "PriorRequestNotComplete", "EC2ThrottledException":
		return true
	case "":
		return e.StatusCode == http.StatusTooManyRequests
	}
	return false
}

// Temporary reports a retryable answer, as aws-sdk-go-v2's standard retryer
// decides it (aws/retry: DefaultRetryableHTTPStatusCodes,
// DefaultRetryableErrorCodes, DefaultThrottleErrorCodes): HTTP 500, 502, 503
// or 504 (501 and other 5xx are not retried), the codes RequestTimeout and
// RequestTimeoutException whatever the status, or throttling.
func (e *APIError) Temporary() bool {
	switch e.StatusCode {
	case 500, 502, 503, 504:
		return true
	}
	switch e.Code {
	case "RequestTimeout", "RequestTimeoutException":
		return true
	}
	return e.Throttling()
}

// parseError builds the APIError of a non-2xx answer. The code comes from the
// body's __type (or code), else the X-Amzn-ErrorType header; SQS's
// x-amzn-query-error code ("AWS.SimpleQueueService.NonExistentQueue;Sender")
// wins when present, as in the SDK's awsQueryCompatible handling.
func parseError(service, op string, resp *http.Response, body []byte) *APIError {
	e := &APIError{Service: service, Operation: op, StatusCode: resp.StatusCode,
		RequestID: resp.Header.Get("X-Amzn-Requestid"), Body: body}
	var doc struct {
		Type    string `json:"__type"`
		Code    any    `json:"code"`    // also matches "Code"
		Message any    `json:"message"` // also matches "Message"
	}
	if json.Unmarshal(body, &doc) == nil {
		code := doc.Type
		if s, ok := doc.Code.(string); ok && code == "" {
			code = s
		}
		if code == "" {
			code = resp.Header.Get("X-Amzn-Errortype")
		}
		e.Code = sanitizeCode(code)
		e.Message, _ = doc.Message.(string)
	} else {
		e.Code = sanitizeCode(resp.Header.Get("X-Amzn-Errortype"))
		e.Message = snippet(body)
	}
	if q := resp.Header.Get("X-Amzn-Query-Error"); q != "" {
		if code, _, _ := strings.Cut(q, ";"); code != "" {
			e.Code = code
		}
	}
	return e
}

// sanitizeCode drops a "namespace#" prefix and a ":uri" suffix, as the SDK does:
// "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException" -> "ResourceNotFoundException".
func sanitizeCode(code string) string {
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	return strings.TrimSpace(code)
}

// snippet is the start of a body that is not JSON (a proxy's HTML page, say),
// trimmed to 200 bytes of printable text.
func snippet(body []byte) string {
	const n = 200
	s := strings.ToValidUTF8(string(body[:min(len(body), n+utf8.UTFMax)]), "")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	} else if len(body) > n+utf8.UTFMax {
		s += "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}
