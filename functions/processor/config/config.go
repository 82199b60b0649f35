// Package config holds the names the example sensor pipeline's stack (infra/)
// and its function (functions/processor) must agree on: the environment
// variables and the function's own metric names. It is plain Go so both
// sides can import it.
package config

import (
	"time"

	"github.com/streamproc/streamproc/functions/contract"
)

// Environment variables the example stack sets on the processor.
const (
	EnvWindowSize     = "WINDOW_SIZE" // Go duration, e.g. "1m"
	DefaultWindowSize = time.Minute
)

// Metric names the processor emits with Embedded Metric Format, in the
// pipeline's namespace beside the toolkit's (contract.Metric*).
const (
	MetricDuplicatesSkipped = "DuplicatesSkipped"        // readings already applied, suppressed (Count)
	MetricLateRecords       = contract.MetricLateRecords // readings whose window had closed beyond the lateness (Count)
	// The engine path's metrics (functions/eventtime), from the contract.
	MetricResultsPublished = contract.MetricResultsPublished
	MetricWatermarkLag     = contract.MetricWatermarkLag
)
