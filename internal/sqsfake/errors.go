package sqsfake

import (
	"fmt"
	"net/http"
)

// Failure is an error answer in the shape SQS sends for its JSON protocol:
// HTTP status, a body {"__type": Type, "message": Message} and, because SQS is
// "awsQueryCompatible", an x-amzn-query-error header "QueryCode;Sender" (or
// ";Receiver") from which the SDK takes the error code it reports.
//
// Use the predefined values with FailNext / FailNextEntries, or build one.
type Failure struct {
	Status    int    // HTTP status, e.g. 400 or 500
	Type      string // __type, e.g. "com.amazonaws.sqs#QueueDoesNotExist"
	QueryCode string // code in x-amzn-query-error; the SDK's ErrorCode()
	Sender    bool   // the caller's fault (Sender) or the service's (Receiver)
	Message   string
}

// Error makes a Failure usable as a Go error inside the fake.
func (f Failure) Error() string { return f.QueryCode + ": " + f.Message }

// code is the error code the SDK reports for this failure.
func (f Failure) code() string {
	if f.QueryCode != "" {
		return f.QueryCode
	}
	return f.Type
}

// Failures to inject in tests. The SDK retries InternalError,
// ServiceUnavailable and RequestThrottled on its own (standard retryer, 3
// attempts by default), so inject at least as many as the client attempts
// to see the error reach the caller, or set RetryMaxAttempts to 1.
var (
	InternalError = Failure{Status: 500, Type: "com.amazonaws.sqs#InternalError", QueryCode: "InternalError",
		Message: "We encountered an internal error. Please try again. (injected by sqsfake)"}
	ServiceUnavailable = Failure{Status: 503, Type: "com.amazonaws.sqs#ServiceUnavailable", QueryCode: "ServiceUnavailable",
		Message: "Service is unavailable. (injected by sqsfake)"}
	RequestThrottled = Failure{Status: 400, Type: "com.amazonaws.sqs#RequestThrottled", QueryCode: "RequestThrottled", Sender: true,
		Message: "Rate exceeded (injected by sqsfake)"}
)

func errQueueDoesNotExist() Failure {
	return Failure{400, "com.amazonaws.sqs#QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", true,
		"The specified queue does not exist."}
}

func errQueueNameExists(name string) Failure {
	return Failure{400, "com.amazonaws.sqs#QueueNameExists", "QueueAlreadyExists", true,
		fmt.Sprintf("A queue already exists with the same name (%s) and a different value for attribute(s).", name)}
}

func errInvalidParameterValue(format string, args ...any) Failure {
	return Failure{400, "com.amazonaws.sqs#InvalidParameterValueException", "InvalidParameterValue", true,
		fmt.Sprintf(format, args...)}
}

func errMissingParameter(name string) Failure {
	return Failure{400, "com.amazonaws.sqs#MissingRequiredParameterException", "MissingParameter", true,
		fmt.Sprintf("The request must contain the parameter %s.", name)}
}

func errInvalidAttributeName(name string) Failure {
	return Failure{400, "com.amazonaws.sqs#InvalidAttributeName", "InvalidAttributeName", true,
		fmt.Sprintf("Unknown Attribute %s.", name)}
}

func errInvalidAttributeValue(format string, args ...any) Failure {
	return Failure{400, "com.amazonaws.sqs#InvalidAttributeValue", "InvalidAttributeValue", true,
		fmt.Sprintf(format, args...)}
}

func errInvalidMessageContents() Failure {
	return Failure{400, "com.amazonaws.sqs#InvalidMessageContents", "InvalidMessageContents", true,
		"Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"}
}

func errReceiptHandleIsInvalid(h string) Failure {
	return Failure{400, "com.amazonaws.sqs#ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", true,
		fmt.Sprintf("The input receipt handle %q is not a valid receipt handle.", h)}
}

func errMessageNotInflight() Failure {
	return Failure{400, "com.amazonaws.sqs#MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", true,
		"Message does not exist or is not available for visibility timeout change."}
}

func errEmptyBatch() Failure {
	return Failure{400, "com.amazonaws.sqs#EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", true,
		"There should be at least one entry in the request."}
}

func errTooManyEntries(n int) Failure {
	return Failure{400, "com.amazonaws.sqs#TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", true,
		fmt.Sprintf("Maximum number of entries per request are 10. You have sent %d.", n)}
}

func errBatchIDsNotDistinct(id string) Failure {
	return Failure{400, "com.amazonaws.sqs#BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", true,
		fmt.Sprintf("Id %s repeated.", id)}
}

func errInvalidBatchEntryID(id string) Failure {
	return Failure{400, "com.amazonaws.sqs#InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", true,
		fmt.Sprintf("A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long; got %q.", id)}
}

func errBatchRequestTooLong(size, limit int) Failure {
	return Failure{400, "com.amazonaws.sqs#BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", true,
		fmt.Sprintf("Batch requests cannot be longer than %d bytes. You have sent %d bytes.", limit, size)}
}

func errUnsupported(what string) Failure {
	return Failure{400, "com.amazonaws.sqs#UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", true,
		what + " is not supported by sqsfake."}
}

func errUnknownOperation(target string) Failure {
	return Failure{400, "com.amazon.coral.service#UnknownOperationException", "UnknownOperation", true,
		fmt.Sprintf("Operation %q is not implemented by sqsfake (a fake of the SQS JSON protocol for tests).", target)}
}

func errSerialization(err error) Failure {
	return Failure{400, "com.amazon.coral.service#SerializationException", "SerializationException", true,
		"Could not parse the request body: " + err.Error()}
}

// write sends f as SQS's JSON protocol does.
func (f Failure) write(w http.ResponseWriter) {
	fault := "Receiver"
	if f.Sender {
		fault = "Sender"
	}
	if f.QueryCode != "" {
		w.Header().Set("x-amzn-query-error", f.QueryCode+";"+fault)
	}
	writeJSON(w, f.Status, map[string]string{"__type": f.Type, "message": f.Message})
}
