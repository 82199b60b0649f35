// Package kinesisbatch runs a Go function over the records of a Lambda
// Kinesis event the way a stream consumer needs it done: records are decoded
// without encoding/json, the user's logic runs per record or per group,
// panics are contained, errors are classified, transient failures are retried
// inside the invocation while time remains, permanent failures are
// quarantined with their whole payload, and the response reports the exact
// sequence numbers that must be redelivered. It also writes structured JSON
// logs and CloudWatch Embedded Metric Format (EMF) metrics.
//
// # Using it
//
//	p := kinesisbatch.New(kinesisbatch.RecordFunc(func(ctx context.Context, r *kinesisbatch.Record) error {
//		var o Order
//		if err := json.Unmarshal(r.Data, &o); err != nil {
//			return kinesisbatch.Permanent(err) // quarantine, acknowledge
//		}
//		return store(ctx, o) // an ordinary error is transient: retried, then reported
//	}), cfg)
//	lambda.Start(p) // *Processor is a lambda.Handler: the raw payload skips encoding/json
//
// A grouped handler ([Grouped]) prepares every record, groups them by a key
// and applies each group once, with bounded concurrency; a [BatchFunc] sees all
// records of an attempt and reports outcomes with [Batch.Fail].
//
// # Outcomes and the checkpoint rule
//
// Every record ends in exactly one of three states:
//   - succeeded (the handler returned nil for it);
//   - quarantined: the handler returned a permanent error ([Permanent]), the
//     record was written to the [Quarantine] and the store accepted every
//     part of it; the record is acknowledged so it never blocks the shard;
//   - failed: a transient error that was still failing when the retry budget
//     or the time ran out, a permanent error whose quarantine write failed,
//     or a permanent error with no quarantine configured. Failed records are
//     returned in events.KinesisEventResponse.BatchItemFailures with their
//     exact sequence numbers.
//
// With ReportBatchItemFailures, Lambda checkpoints the shard at the LOWEST
// failed sequence number and redelivers that record and every record after
// it, including the ones that succeeded or were quarantined in this
// invocation. Handlers must therefore be idempotent: a record may be applied
// again after it succeeded, and the quarantine may receive the same record
// more than once (contract.QuarantinedRecord.RecordID identifies it).
// Lambda retries the rest of the batch under the event source mapping's
// retry, bisect and on-failure settings.
//
// The handler is never asked to return a function error for a record-level
// problem. Invoke returns an error only when the payload itself is not a
// Kinesis event (malformed JSON, a record without a sequence number): Lambda
// then retries the whole batch.
//
// # KPL aggregated records
//
// Records written by the Kinesis Producer Library in its aggregation format
// (magic F3 89 9A C2, protobuf, MD5) are unpacked before the handler runs:
// each user record becomes a Record with Aggregated set, its own
// PartitionKey, ExplicitHashKey, Data and SubSequenceNumber, and RecordID
// "<shardId>/<sequenceNumber>/<subSequenceNumber>". All user records of a
// Kinesis record share its sequence number, so one failed user record fails
// the whole Kinesis record and its succeeded siblings are redelivered:
// idempotency must skip them. A record with the magic that is not a valid
// aggregate is quarantined whole (*AggregationError). Plain records pay a
// 4-byte compare and are otherwise untouched. Package kpl reads and writes
// the format.
//
// # Ordered mode
//
// Config.Ordering holds back, after a transient failure, the later records
// of the same partition key (OrderPartitionKey) or of the shard (OrderShard):
// they are reported with ErrHeldBack instead of being applied ahead of the
// failed record. The default, OrderNone, favours throughput.
//
// # Error classification
//
// [Permanent] marks an error that retrying cannot fix (bad input). [Transient]
// marks one worth retrying; unmarked errors are transient too, so that an
// unexpected error can never acknowledge a record that was not handled. A
// panic becomes a *[PanicError], transient by default: it is retried within
// the attempt budget and then reported, so a bug does not quarantine a whole
// stream. Config.Classify overrides the rules.
//
// Transient failures are retried with exponential backoff and full jitter
// while Config.Retry allows and while another attempt fits before the
// deadline minus a safety margin; the handler's context carries that earlier
// deadline, so SDK calls stop in time for quarantine writes and the response.
//
// # Quarantine and the AWS SDK
//
// [SQSQuarantine] writes quarantined records to SQS through the one-method
// [SQSSender] interface, whose types mirror SQS's SendMessageBatch. The
// package does not link aws-sdk-go-v2 (its package initialisation alone
// costs ~9 ms of Lambda INIT): [ConfigFromEnv] and [NewSQSClient] use
// functions/awsjson, a standard-library client for AWS JSON-1.0 APIs:
//
//	c, err := awsjson.NewFromEnv(awsjson.SQS) // region, credentials, AWS_ENDPOINT_URL_SQS
//	if err != nil { ... }
//	q := kinesisbatch.NewSQSQuarantine(kinesisbatch.NewSQSClient(c), queueURL, functionName)
//
// A function that holds an aws-sdk-go-v2 *sqs.Client anyway can pass it
// through a small adapter instead (see the SQSSender example).
//
// # Metrics
//
// One EMF document per invocation is printed to stdout as a single JSON line:
// namespace from STREAMPROC_METRICS_NAMESPACE (default "StreamProc"), one
// dimension FunctionName = AWS_LAMBDA_FUNCTION_NAME, metrics RecordsReceived,
// RecordsSucceeded, RecordsQuarantined, RecordsRetried, RecordsFailed (Count)
// and BatchDuration (Milliseconds). Handlers add their own with
// MetricsFromContext(ctx).Add or .Observe; they land in the same document.
//
// # Decoding fast path
//
// [Processor.Invoke] implements lambda.Handler, so lambda.Start hands it the
// raw invoke payload. A [Decoder] scans the event JSON by hand: strings are
// checked eight bytes at a time, kinesis.data is base64-decoded straight from
// the payload into one reused buffer, values repeated in every record are
// compared with the previous record's instead of scanned, and the remaining
// strings are copied into shared blocks, so a 6 MB event of 8,000 records
// costs about twenty allocations instead of a hundred thousand. Records laid
// out exactly like the one before (Lambda writes every record of a shard with
// the same fields in the same order) are matched against a template learned
// from it: six comparisons of constant text around the four values that
// change. It accepts every document encoding/json accepts (see [Decoder] for
// the exact contract); a fuzz test holds it to that.
package kinesisbatch
