// Package config holds the names the example sensor pipeline's stack (infra/)
// and its function (functions/processor) must agree on: the environment
// variables, the aggregate table's key schema and the function's own metric
// names. It is plain Go so both sides can import it.
package config

import (
	"time"

	"github.com/streamproc/streamproc/functions/contract"
)

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
	MetricWindowsWritten    = "WindowsWritten"           // aggregate items written (Count)
	MetricDuplicatesSkipped = "DuplicatesSkipped"        // readings already applied, suppressed (Count)
	MetricWriteCalls        = "WriteCalls"               // DynamoDB write calls (Count)
	MetricEventTimeLag      = "EventTimeLag"             // now minus the oldest reading's event time in the batch (Milliseconds)
	MetricLateRecords       = contract.MetricLateRecords // readings whose window had closed when they arrived (Count)
	// The engine path's metrics (functions/eventtime), from the contract.
	MetricResultsPublished = contract.MetricResultsPublished
	MetricPublishFailures  = contract.MetricPublishFailures
	MetricWatermarkLag     = contract.MetricWatermarkLag
)

// The engine path's environment (functions/eventtime), as
// StreamProcessor.AddEventTime sets it: with EnvStateTable set the processor
// runs on the engine instead of the aggregate store.
const (
	EnvStateTable       = contract.EnvEventTimeTable
	EnvResultsStreamARN = contract.EnvEventTimeResultsStreamARN
	EnvOutOfOrderness   = contract.EnvEventTimeOutOfOrderness  // default 20s
	EnvAllowedLateness  = contract.EnvEventTimeAllowedLateness // default 2m
	EnvIdleTimeout      = contract.EnvEventTimeIdleTimeout     // default 5m
)
