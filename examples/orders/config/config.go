// Package config holds the names the orders app shares between its CDK stack
// and its function: the environment variable, the table's key and the
// function's own metric names. It imports nothing, so both sides can use it.
package config

const (
	// EnvTableName names the customer totals table in the function's
	// environment.
	EnvTableName = "TABLE_NAME"

	// TablePartitionKey is the table's only key attribute (type S).
	TablePartitionKey = "customer_id"

	// MetricsNamespace is the CloudWatch namespace of the function's EMF
	// metrics (the StreamProcessor's MetricsNamespace prop).
	MetricsNamespace = "Orders"

	// MetricOrdersApplied counts orders added to a customer's totals.
	MetricOrdersApplied = "OrdersApplied"
	// MetricDuplicateOrders counts orders that were already in the totals
	// (a producer resend or a redelivered batch), skipped.
	MetricDuplicateOrders = "DuplicateOrders"
	// MetricRevenueCents sums the amounts of the applied orders.
	MetricRevenueCents = "RevenueCents"
)
