// Package config holds the names and settings the orders app shares between
// its CDK stack and its function: the window environment variables and their
// defaults, and the function's own metric names. It imports only the
// product's public contract, so both sides can use it.
package config

import (
	"time"

	"github.com/streamproc/streamproc/functions/contract"
)

// The app's hopping windows: revenue over the last WINDOW_SIZE, every
// WINDOW_SLIDE. The stack sets both on the function; the slide must divide
// the size (eventtime.Hopping).
const (
	EnvWindowSize      = "WINDOW_SIZE"  // Go duration
	EnvWindowSlide     = "WINDOW_SLIDE" // Go duration
	DefaultWindowSize  = 5 * time.Minute
	DefaultWindowSlide = time.Minute
)

// MetricsNamespace is the CloudWatch namespace of the function's EMF metrics
// (the StreamProcessor's MetricsNamespace prop).
const MetricsNamespace = "Orders"

// The function's own metrics, beside the toolkit's.
const (
	// MetricOrdersApplied counts orders added to at least one window.
	MetricOrdersApplied = "OrdersApplied"
	// MetricDuplicateOrders counts orders every window already held (a
	// producer resend or a redelivered batch), skipped.
	MetricDuplicateOrders = "DuplicateOrders"
)

// The engine's metrics, named by the product's contract: the alarms and
// graphs StreamProcessor.AddEventTime makes watch them.
const (
	MetricLateOrders       = contract.MetricLateRecords      // orders sent to the late output for at least one window
	MetricResultsPublished = contract.MetricResultsPublished // final results and corrections published
	MetricPublishFailures  = contract.MetricPublishFailures  // firings that failed to publish
	MetricWatermarkLag     = contract.MetricWatermarkLag     // processing time minus the stream watermark, ms
)
