// Package localesm is a local Lambda event source mapping for Kinesis: it
// polls a stream (kinesis-local, or any endpoint that speaks the Kinesis API)
// and invokes a function (the real bootstrap under aws-lambda-rie) with the
// documented semantics of AWS::Lambda::EventSourceMapping, configured from the
// same properties the construct synthesizes (FromProperties).
//
// # Rules, each with its AWS reference
//
//  1. Batches are per shard and in order: one shard's records are delivered in
//     sequence-number order and a batch never mixes shards.
//     https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html#kinesis-polling-and-batching
//  2. Batch size, batching window and the 6 MB payload: a batch is sent when it
//     holds BatchSize records, when the next record would take the invocation
//     payload past 6 MB, or when MaximumBatchingWindowInSeconds has passed
//     since its first record (0: as soon as the records read are in).
//     https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html#invocation-eventsourcemapping-batching
//  3. Starting position TRIM_HORIZON, LATEST or AT_TIMESTAMP
//     (StartingPositionTimestamp). An idle shard is polled once per second.
//     https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html
//  4. ParallelizationFactor (1-10) runs that many batches of one shard at
//     once; records are assigned to a concurrent batch by a hash of their
//     partition key, so the records of one key stay in order.
//     https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html#kinesis-polling-and-batching
//  5. A function error (an error the handler returns, a timeout, a crashed
//     runtime) fails the whole batch. With BisectBatchOnFunctionError the
//     batch is split in two and each half retried separately, first half
//     first; splitting does not consume the retry quota.
//     https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
//  6. With FunctionResponseTypes ReportBatchItemFailures, the response
//     {"batchItemFailures":[{"itemIdentifier":seq}]} checkpoints at the lowest
//     failed sequence number: records before it are done, the rest retried.
//     An empty or null list (or response) is success; a null or empty
//     itemIdentifier, or one that is not a sequence number of the batch, fails
//     the whole batch. Without the setting the response is ignored.
//     https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html
//  7. MaximumRetryAttempts (-1: until the records expire): a batch that still
//     fails after that many retries is discarded; MaximumRecordAgeInSeconds
//     discards records older than that before they are invoked.
//     https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
//  8. A discarded batch is described to the on-failure destination (SQS) by
//     one message in AWS's shape: requestContext (requestId, functionArn,
//     condition RetryAttemptsExhausted or RecordAgeExceeded,
//     approximateInvokeCount), responseContext (statusCode, executedVersion,
//     functionError "Unhandled" after a function error), version "1.0",
//     timestamp, and KinesisBatchInfo (shardId, start/end sequence numbers,
//     arrival of the first and last record, batchSize, streamArn). The
//     records themselves are not in it. Sending is retried until it succeeds:
//     the poller never drops a batch silently.
//     https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
//  9. FilterCriteria (a subset of the filter rule syntax: equality,
//     prefix, suffix, exists, anything-but, numeric, equals-ignore-case) on
//     the record's data (JSON) and metadata; records matching no filter are
//     acknowledged without an invocation.
//     https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
//  10. Counters named after the mapping's EventCount metrics (polled,
//     filtered out, invoked, failed invoke, dropped, on-failure delivered)
//     and the IteratorAge of the function metric (age of the last record of a
//     batch when it is invoked).
//     https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
//  11. TumblingWindowInSeconds (0-900 s): windows of the records' arrival
//     time (ApproximateArrivalTimestamp), per shard; a batch never spans two
//     windows; every invocation carries window {start,end}, the state the
//     function returned last in the window ({} at first), shardId,
//     eventSourceARN, isFinalInvokeForWindow and isWindowTerminatedEarly; a
//     response without a state property is a failed invocation; at the end
//     of a window one more invocation has isFinalInvokeForWindow true and is
//     retried until it succeeds (the shard waits); a state over 1 MB ends the
//     window early; a shard's end closes its window; retries and maximum
//     record age apply as without windows (window.go).
//     https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html
//
// # Where it differs from AWS
//
//   - Checkpoints live in memory: a restarted poller starts again from its
//     starting position (AWS keeps the checkpoint in the mapping).
//   - Resharding is followed by listing the shards every ReshardInterval
//     (1 s; AWS notices within about a minute); a child is read from its
//     start once its parents were read to their end and settled, as AWS does.
//   - A retried batch holds the same records (from the checkpoint); AWS may
//     re-read from the checkpoint and fill the retry up to BatchSize.
//   - Retry backoff is short (50 ms to 1 s); AWS's is not documented.
//   - MaximumRecordAge drops only the too-old prefix of a batch; AWS's exact
//     boundary behaviour is not documented.
//   - SNS/Kafka destinations, enhanced fan-out consumers, provisioned
//     pollers and MetricsConfig are not supported; a template that uses
//     another destination is rejected, not ignored.
//   - Tumbling windows: what the guide does not say, chosen here:
//     windows are aligned on multiples of their size since the Unix epoch
//     (the guide's only example, 07:04:00-07:06:00 for 120 s, agrees);
//     the final invocation carries no records ("Records": []); a window is
//     closed when the shard's next record belongs to a later window, when a
//     read that started 250 ms after the window's end reached the shard's
//     latest record, or when the shard ends (Lambda's timing is not
//     documented); a partial batch response's state is kept and the
//     records from the lowest failed one are retried with it, so records
//     after that one that succeeded are folded twice (at least once, as the
//     guide warns); a function error or a missing state retries the batch
//     with the state it had before; a null state is read as {}; an early
//     termination (state over 1,048,576 bytes) sends that state in a final
//     invocation with isFinalInvokeForWindow and isWindowTerminatedEarly
//     both true, and the same window goes on with {}; the final invocation
//     is retried forever, not bounded by MaximumRetryAttempts; a record that
//     arrives in a window already closed (clock skew between the stream and
//     the poller) is delivered in the open window; ParallelizationFactor
//     above 1 is rejected with tumbling windows (how concurrent batches of a
//     shard share the one state is not documented); batches reserve 1 MB of
//     the 6 MB payload for the state.
//   - Function errors are read from the RIE's answers (it sets no
//     X-Amz-Function-Error): 200 with {"errorType","errorMessage"}, the text
//     "Task timed out after", or a non-200 status. A successful response that
//     is exactly such an object would be read as an error.
//   - Reads respect 5 GetRecords calls per second per shard; the 2 MB/s read
//     limit is not modelled.
//   - With ParallelizationFactor > 1, each concurrent batch buffers at most
//     four GetRecords results; when one partition key's batch is stuck in
//     retries, the shard's reader stops once that buffer is full, so the
//     other keys of the shard pause too (bounded memory; AWS does not
//     document how far other keys may run ahead).
package localesm
