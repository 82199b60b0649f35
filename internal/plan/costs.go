package plan

import "time"

// Costs are the per-record and per-call costs the model runs on. The
// defaults come from `make bench` (docs/performance.md) and the event-time
// engine's DynamoDB layout (docs/engine.md); every one can be overridden.
type Costs struct {
	// CPUPerRecord is the function's CPU time per record on one full vCPU:
	// Processor.Invoke took 4.42 ms for 8,000 readings (0.55 µs each).
	CPUPerRecord time.Duration
	// SeedCPUPerRecord is the seed's Python handler: 85.0 ms per 8,000.
	SeedCPUPerRecord time.Duration
	// InvokeOverhead is fixed time per invocation (runtime API round trip,
	// response, EMF flush).
	InvokeOverhead time.Duration
	// DynamoDBLatency is one BatchGetItem or PutItem round trip.
	DynamoDBLatency time.Duration
	// StoreConcurrency is the engine's windows written or fired at the same
	// time (eventtime.Config.Concurrency, default 16).
	StoreConcurrency int
	// ItemBaseBytes is a window item without its key, aggregate and id
	// hashes (version, flags, revisions, ttl, sort key).
	ItemBaseBytes int
	// AggregateBytes is the encoded aggregate (the example's count, sum,
	// min, max); a window item holds it twice while a result is pending.
	AggregateBytes int
	// KeyBytes is the partition key's length (sensor id).
	KeyBytes int
	// BytesPerReading is the idempotency hash each applied reading adds.
	BytesPerReading int
	// MaxItemBytes is the engine's refusal point
	// (eventtime.DynamoConfig.MaxWindowBytes).
	MaxItemBytes int
	// EventBytesPerRecord is the Lambda event's envelope per Kinesis record
	// besides the base64 data (eventID, ARNs, sequence number, ...).
	EventBytesPerRecord int
	// LogBytesPerInvocation is what one invocation writes to CloudWatch Logs
	// (START/END/REPORT and one EMF line).
	LogBytesPerInvocation int
	// Metrics and Alarms are the custom metrics (EMF names x dimensions) and
	// alarms a StreamProcessor creates.
	Metrics, Alarms int
}

// DefaultCosts are the measured defaults.
func DefaultCosts() Costs {
	return Costs{
		CPUPerRecord:          552 * time.Nanosecond,   // 4.42 ms / 8,000
		SeedCPUPerRecord:      10625 * time.Nanosecond, // 85.0 ms / 8,000
		InvokeOverhead:        time.Millisecond,
		DynamoDBLatency:       5 * time.Millisecond,
		StoreConcurrency:      16,
		ItemBaseBytes:         200,
		AggregateBytes:        50,
		KeyBytes:              16,
		BytesPerReading:       8,
		MaxItemBytes:          350_000,
		EventBytesPerRecord:   540, // 6.24 MB / 8,000 records of ~180 B, less their base64
		LogBytesPerInvocation: 1200,
		Metrics:               12,
		Alarms:                8,
	}
}
