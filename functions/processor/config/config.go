// Package config holds the names the example sensor pipeline's stack (infra/)
// and its function (functions/processor) must agree on: the environment
// variables, the aggregate table's key schema and the function's own metric
// names. It is plain Go so both sides can import it.
package config

import "time"

// Environment variables the example stack sets on the processor.
const (
	EnvTableName  = "TABLE_NAME"
	EnvWindowSize = "WINDOW_SIZE" // Go duration, e.g. "1m"
)

// Aggregate table schema: one item per (sensor, event-time window).
const (
	TablePartitionKey = "sensor_id"
	TableSortKey      = "window_start" // RFC 3339 UTC, e.g. 2026-11-25T10:07:00Z
	DefaultWindowSize = time.Minute
)

// Metric names the processor emits with Embedded Metric Format, in the
// pipeline's namespace beside the toolkit's (contract.Metric*).
const (
	MetricWindowsWritten    = "WindowsWritten"    // aggregate items written (Count)
	MetricDuplicatesSkipped = "DuplicatesSkipped" // readings already applied, suppressed (Count)
	MetricWriteCalls        = "WriteCalls"        // DynamoDB write calls (Count)
	MetricEventTimeLag      = "EventTimeLag"      // now minus the oldest reading's event time in the batch (Milliseconds)
	MetricLateRecords       = "LateRecords"       // readings whose window had closed when they arrived (Count)
	MetricResultsPublished  = "ResultsPublished"  // window results and corrections published by the engine (Count)
	MetricPublishFailures   = "PublishFailures"   // firings that failed to publish some due window (Count)
	MetricWatermarkLag      = "WatermarkLag"      // processing time minus the stream watermark (Milliseconds)
)

// The engine path's environment (functions/eventtime): set STATE_TABLE to
// run the processor on the engine instead of the aggregate store.
const (
	EnvStateTable       = "STATE_TABLE"        // the engine's state table (pk/sk, TTL on ttl)
	EnvResultsStreamARN = "RESULTS_STREAM_ARN" // Kinesis stream that receives final results
	EnvOutOfOrderness   = "OUT_OF_ORDERNESS"   // Go duration (default 20s)
	EnvAllowedLateness  = "ALLOWED_LATENESS"   // Go duration (default 2m)
	EnvIdleTimeout      = "IDLE_TIMEOUT"       // Go duration (default 5m)
)
