// Package contract is streamproc's public wire contract: the environment
// variables the StreamProcessor construct sets, the CloudWatch namespace,
// dimension and metric names the batch toolkit emits, and the shapes of the
// messages in a pipeline's dead-letter queue (records the function
// quarantined, and the event source mapping's on-failure descriptions), and
// the objects the mapping writes to an S3 on-failure destination
// (FailedBatchObject: the description plus the batch's records, under keys
// FailedBatchKey describes). Import it to read your own DLQ or failed-batch
// bucket, or to graph the toolkit's metrics.
//
// It is plain Go with no AWS SDK or CDK imports, so the construct, a Lambda
// function and a CLI can all depend on it cheaply.
//
// # Compatibility
//
// Version names the message format. Within one major version fields are only
// added, never renamed, retyped or removed, and every reader ignores fields it
// does not know; a message without a "version" field is version 1. The
// on-failure messages and failed-batch objects are Lambda's own format: their
// "version" field is Lambda's ("1.0"), and this package follows Lambda's
// documentation of them, adding fields as Lambda adds them. The
// environment variable, attribute, metric and dimension names are fixed for
// a major version: changing one is a breaking change for deployed pipelines.
package contract

import "time"

// Version is the DLQ message format this package reads and writes.
const Version = "1"

// Environment variables the StreamProcessor construct sets on every function it
// deploys. Functions built on functions/kinesisbatch read them.
const (
	// EnvQuarantineQueueURL is the URL of the queue that receives records a
	// function rejects as permanently bad. It is the construct's DLQ.
	EnvQuarantineQueueURL = "STREAMPROC_QUARANTINE_QUEUE_URL"
	// EnvQuarantineMaxMessageBytes is the quarantine queue's
	// MaximumMessageSize in bytes; the toolkit sizes quarantine parts for it
	// (QuarantineChunk). Unset means the classic 256 KiB.
	EnvQuarantineMaxMessageBytes = "STREAMPROC_QUARANTINE_MAX_MESSAGE_BYTES"
	// EnvMetricsNamespace is the CloudWatch namespace for the function's own
	// Embedded Metric Format metrics.
	EnvMetricsNamespace = "STREAMPROC_METRICS_NAMESPACE"
)

// Environment variables of the event-time engine's infrastructure
// (functions/eventtime), which StreamProcessor.AddEventTime sets: a function
// on the engine reads them.
const (
	// EnvEventTimeTable names the engine's state table (pk S, sk S, TTL on ttl).
	EnvEventTimeTable = "STREAMPROC_EVENTTIME_TABLE"
	// EnvEventTimeResultsStreamARN is the Kinesis stream that receives final
	// results and corrections (set when results go to a stream).
	EnvEventTimeResultsStreamARN = "STREAMPROC_EVENTTIME_RESULTS_STREAM_ARN"
	// EnvEventTimeEventBus is the EventBridge bus name that receives them
	// (set when results go to a bus).
	EnvEventTimeEventBus = "STREAMPROC_EVENTTIME_EVENT_BUS"
	// EnvEventTimeOutOfOrderness, EnvEventTimeAllowedLateness and
	// EnvEventTimeIdleTimeout are Go durations ("20s", "2m").
	EnvEventTimeOutOfOrderness  = "STREAMPROC_EVENTTIME_OUT_OF_ORDERNESS"
	EnvEventTimeAllowedLateness = "STREAMPROC_EVENTTIME_ALLOWED_LATENESS"
	EnvEventTimeIdleTimeout     = "STREAMPROC_EVENTTIME_IDLE_TIMEOUT"
)

// Metric names a function on the event-time engine emits (same namespace and
// dimension as the toolkit's); the construct's event-time alarms and graphs
// read them.
const (
	MetricLateRecords      = "LateRecords"      // records sent to the late output (Count)
	MetricResultsPublished = "ResultsPublished" // final results and corrections published (Count)
	MetricPublishFailures  = "PublishFailures"  // firings that could not publish every due window (Count)
	MetricWatermarkLag     = "WatermarkLag"     // processing time minus the stream watermark (Milliseconds)
)

// DefaultMetricsNamespace is used when EnvMetricsNamespace is unset.
const DefaultMetricsNamespace = "StreamProc"

// MetricDimension is the single dimension of every function metric. Its value is
// the Lambda function name (AWS_LAMBDA_FUNCTION_NAME), which ties the metric to
// the function resource the construct made.
const MetricDimension = "FunctionName"

// Metric names the batch toolkit (functions/kinesisbatch) emits with Embedded
// Metric Format, one set per invocation. An application adds its own names in
// the same namespace and dimension.
const (
	MetricRecordsReceived    = "RecordsReceived"    // records in the invocation's event (Count)
	MetricRecordsSucceeded   = "RecordsSucceeded"   // records fully handled (Count)
	MetricRecordsQuarantined = "RecordsQuarantined" // permanent failures written to the quarantine queue (Count)
	MetricRecordsRetried     = "RecordsRetried"     // transient failures retried inside the invocation (Count)
	MetricRecordsFailed      = "RecordsFailed"      // records returned as batch item failures (Count)
	MetricBatchDuration      = "BatchDuration"      // wall time of one invocation's handling (Milliseconds)

)

// Message attribute that marks the kind of a message in the DLQ. Messages the
// event source mapping writes on failure do not carry it.
const (
	AttrKind        = "streamproc-kind"
	KindQuarantined = "quarantined"
	// KindLate marks a record the event-time engine (functions/eventtime)
	// did not apply because its window had closed: the late side output.
	// The body is a QuarantinedRecord whose Reason names the window.
	KindLate = "late"
)

// QuarantinedRecord is the JSON body of a quarantine message. A payload too large
// for one SQS message is split into Parts messages sharing RecordID; Data holds
// bytes [Offset, Offset+len(Data)) of the payload and DataSHA256 covers the
// whole payload so the reader can check the reassembly.
type QuarantinedRecord struct {
	Version                     string    `json:"version,omitempty"` // Version; empty means "1"
	RecordID                    string    `json:"recordId"`          // "<shardId>/<sequenceNumber>[/<subSequenceNumber>]"
	Reason                      string    `json:"reason"`
	EventSourceARN              string    `json:"eventSourceArn"`
	ShardID                     string    `json:"shardId"`
	SequenceNumber              string    `json:"sequenceNumber"`
	PartitionKey                string    `json:"partitionKey"`
	ApproximateArrivalTimestamp time.Time `json:"approximateArrivalTimestamp"`
	QuarantinedAt               time.Time `json:"quarantinedAt"`
	FunctionName                string    `json:"functionName,omitempty"`
	Part                        int       `json:"part"`  // 1-based
	Parts                       int       `json:"parts"` // total number of messages for this record
	Offset                      int       `json:"offset"`
	Size                        int       `json:"size"` // whole payload size in bytes
	DataSHA256                  string    `json:"dataSha256"`
	Data                        []byte    `json:"data"` // base64 in JSON

	// SubSequenceNumber is set only for a user record of a KPL aggregated
	// Kinesis record: its position in it, from 0. RecordID then ends with
	// it, PartitionKey and Data are the user record's, SequenceNumber is the
	// Kinesis record's.
	SubSequenceNumber *uint64 `json:"subSequenceNumber,omitempty"`
	// ExplicitHashKey is a KPL user record's explicit hash key, if it has one.
	ExplicitHashKey string `json:"explicitHashKey,omitempty"`
}

// MaxQuarantineChunk is the most payload bytes one quarantine message carries
// on a queue with the classic 256 KiB MaximumMessageSize. Base64 grows it by
// 4/3; with the metadata the body stays under 256 KiB.
const MaxQuarantineChunk = 160 * 1024

// MaxQuarantineChunkLarge is the most payload bytes one quarantine message
// carries on a queue whose MaximumMessageSize is 1 MiB (SQS's maximum since
// 2025; the StreamProcessor construct creates its queue so and says so with
// EnvQuarantineMaxMessageBytes). 720 KiB is 960 KiB as base64, leaving 64 KiB
// for the metadata and the attribute. A 10 MiB Kinesis record takes 15 parts
// instead of 64. Readers reassemble parts of any size.
const MaxQuarantineChunkLarge = 720 * 1024

// QuarantineChunk returns the part size for a queue whose MaximumMessageSize
// is maxMessageBytes (0: unknown, the classic 256 KiB).
func QuarantineChunk(maxMessageBytes int) int {
	if maxMessageBytes >= 1024*1024 {
		return MaxQuarantineChunkLarge
	}
	return MaxQuarantineChunk
}

// OnFailureMessage is the body the Lambda event source mapping sends to an SQS
// on-failure destination for a Kinesis source. It describes the batch; it does
// not contain the records.
// https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
type OnFailureMessage struct {
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionARN            string `json:"functionArn"`
		Condition              string `json:"condition"` // RetryAttemptsExhausted, RecordAgeExceeded, ...
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	ResponseContext struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError"`
	} `json:"responseContext"`
	Version          string           `json:"version"`
	Timestamp        Time             `json:"timestamp"`
	KinesisBatchInfo KinesisBatchInfo `json:"KinesisBatchInfo"`
}

// Time is a time in a Lambda-written message. It marshals the way Lambda
// writes it (UTC, milliseconds, "Z": 2023-12-10T22:06:23.446Z) and reads any
// RFC 3339 time.
type Time struct{ time.Time }

// MarshalJSON writes Lambda's format.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format("2006-01-02T15:04:05.000Z") + `"`), nil
}

// KinesisBatchInfo locates a failed batch in the stream.
type KinesisBatchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord Time   `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  Time   `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamARN                       string `json:"streamArn"`
}
