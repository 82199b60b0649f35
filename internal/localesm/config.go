package localesm

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Starting positions of a Kinesis event source mapping.
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
	AtTimestamp = "AT_TIMESTAMP"
)

// Limits and defaults of the Lambda event source mapping for Kinesis.
// https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
const (
	DefaultBatchSize  = 100
	MaxBatchSize      = 10000
	MaxBatchingWindow = 300 * time.Second
	MaxParallelism    = 10
	MaxRetryAttempts  = 10000
	MinRecordAge      = 60 * time.Second
	MaxRecordAge      = 604800 * time.Second
	// MaxPayloadBytes is the synchronous invocation payload limit (6 MB) that
	// bounds a batch regardless of BatchSize.
	// https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
	MaxPayloadBytes = 6 * 1024 * 1024
)

// Config is one event source mapping, in the terms of
// AWS::Lambda::EventSourceMapping plus what the poller needs to know about the
// function and the stream. Zero values mean the AWS default.
type Config struct {
	// StreamName and StreamARN identify the source stream. The ARN is echoed in
	// every event record and in on-failure messages.
	StreamName string
	StreamARN  string
	// FunctionARN is echoed in on-failure messages.
	FunctionARN string
	// Region is the event records' awsRegion.
	Region string

	// BatchSize is the most records per invocation (1-10,000).
	// Default: 100.
	BatchSize int
	// BatchingWindow is how long to gather records before invoking (0-300 s).
	// Default: 0 (invoke as soon as records are read).
	BatchingWindow time.Duration
	// StartingPosition is TRIM_HORIZON, LATEST or AT_TIMESTAMP.
	// Default: TRIM_HORIZON here (AWS requires it to be set).
	StartingPosition string
	// StartingPositionTimestamp is used with AT_TIMESTAMP.
	StartingPositionTimestamp time.Time
	// ParallelizationFactor is the number of concurrent batches per shard (1-10).
	// Default: 1.
	ParallelizationFactor int
	// BisectBatchOnFunctionError splits a batch in two after a function error.
	// Default: false.
	BisectBatchOnFunctionError bool
	// MaximumRetryAttempts is how many times a failed batch is retried before
	// its records are discarded (0-10,000); -1 means until the records expire.
	// Use Retries(n) to set it.
	// Default: -1.
	MaximumRetryAttempts *int
	// MaximumRecordAge discards records older than this (60 s-7 d); 0 or
	// negative means no limit (AWS: -1).
	// Default: no limit.
	MaximumRecordAge time.Duration
	// ReportBatchItemFailures honours partial batch responses
	// (FunctionResponseTypes: ["ReportBatchItemFailures"]).
	// Default: false.
	ReportBatchItemFailures bool
	// Filters are FilterCriteria patterns (JSON). Records matching none are
	// acknowledged without invoking the function.
	// Default: none (every record is delivered).
	Filters []string
	// OnFailureARN is the destination of discarded batches' descriptions.
	// Default: none (discarded records are dropped, and counted).
	OnFailureARN string

	// FunctionTimeout is the function's configured timeout, used to bound an
	// invocation when the invoker does not enforce it itself.
	// Default: 3 s (Lambda's default).
	FunctionTimeout time.Duration

	// PollInterval is how often an idle shard is read. AWS polls each shard at
	// a base rate of once per second.
	// Default: 1 s.
	PollInterval time.Duration
	// ReshardInterval is how often the shard list is read again to find the
	// children of a split or merge (Lambda notices them within about a
	// minute).
	// Default: 1 s.
	ReshardInterval time.Duration
	// TumblingWindow is TumblingWindowInSeconds (whole seconds, 0-900 s):
	// windows of arrival time per shard whose state Lambda carries from one
	// invocation to the next (window.go). Needs ParallelizationFactor 1 here.
	// Default: 0 (no windows).
	TumblingWindow time.Duration
}

// Retries returns a MaximumRetryAttempts value.
func Retries(n int) *int { return &n }

func (c Config) maxRetries() int {
	if c.MaximumRetryAttempts == nil {
		return -1
	}
	return *c.MaximumRetryAttempts
}

func (c Config) withDefaults() Config {
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.StartingPosition == "" {
		c.StartingPosition = TrimHorizon
	}
	if c.ParallelizationFactor == 0 {
		c.ParallelizationFactor = 1
	}
	if c.FunctionTimeout == 0 {
		c.FunctionTimeout = 3 * time.Second
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.ReshardInterval == 0 {
		c.ReshardInterval = time.Second
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	return c
}

// Validate checks the ranges AWS enforces when the mapping is created.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if c.StreamName == "" {
		bad("stream name is empty: set StreamName")
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatchSize {
		bad("batch size %d is out of range: use 1-%d", c.BatchSize, MaxBatchSize)
	}
	if c.BatchingWindow < 0 || c.BatchingWindow > MaxBatchingWindow {
		bad("batching window %s is out of range: use 0-300s", c.BatchingWindow)
	}
	switch c.StartingPosition {
	case TrimHorizon, Latest:
	case AtTimestamp:
		if c.StartingPositionTimestamp.IsZero() {
			bad("starting position AT_TIMESTAMP needs StartingPositionTimestamp")
		}
	default:
		bad("starting position %q is not one of TRIM_HORIZON, LATEST, AT_TIMESTAMP", c.StartingPosition)
	}
	if c.ParallelizationFactor < 1 || c.ParallelizationFactor > MaxParallelism {
		bad("parallelization factor %d is out of range: use 1-%d", c.ParallelizationFactor, MaxParallelism)
	}
	if n := c.maxRetries(); n < -1 || n > MaxRetryAttempts {
		bad("maximum retry attempts %d is out of range: use -1 (forever) or 0-%d", n, MaxRetryAttempts)
	}
	if c.MaximumRecordAge > 0 && (c.MaximumRecordAge < MinRecordAge || c.MaximumRecordAge > MaxRecordAge) {
		bad("maximum record age %s is out of range: use 60s-604800s, or -1 for no limit", c.MaximumRecordAge)
	}
	if c.TumblingWindow < 0 || c.TumblingWindow > MaxTumblingWindow || c.TumblingWindow%time.Second != 0 {
		bad("tumbling window %s is out of range: use whole seconds, 0-900s", c.TumblingWindow)
	}
	if c.TumblingWindow > 0 && c.ParallelizationFactor > 1 {
		bad("tumbling windows (TumblingWindowInSeconds=%s) with parallelization factor %d are not supported by the local poller (Lambda keeps one state per shard and does not document how concurrent batches share it): use ParallelizationFactor 1 for local runs", c.TumblingWindow, c.ParallelizationFactor)
	}
	for _, f := range c.Filters {
		if _, err := compileFilter(f); err != nil {
			bad("filter %s: %v", f, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("localesm: invalid event source mapping: %s", strings.Join(errs, "; "))
	}
	return nil
}

// FromProperties reads the Properties of an AWS::Lambda::EventSourceMapping as
// CloudFormation holds them (the synthesized template), into a Config. Values
// that reference other resources (EventSourceArn, FunctionName,
// DestinationConfig) are left to the caller, which knows the local names; the
// returned Config has every scalar setting.
func FromProperties(props map[string]any) (Config, error) {
	var c Config
	var err error
	num := func(key string) (int, bool) {
		v, ok := props[key]
		if !ok || err != nil {
			return 0, false
		}
		switch n := v.(type) {
		case float64:
			return int(n), true
		case json.Number:
			i, e := n.Int64()
			if e != nil {
				err = fmt.Errorf("%s: %v", key, e)
			}
			return int(i), true
		case string: // CloudFormation accepts numbers as strings
			var i int
			if _, e := fmt.Sscanf(n, "%d", &i); e != nil {
				err = fmt.Errorf("%s is %q, not a number", key, n)
			}
			return i, true
		default:
			err = fmt.Errorf("%s is %v (%T): not a literal number (an unresolved intrinsic?)", key, v, v)
			return 0, false
		}
	}
	boolean := func(key string) bool {
		switch b := props[key].(type) {
		case bool:
			return b
		case string:
			return strings.EqualFold(b, "true")
		}
		return false
	}
	if n, ok := num("BatchSize"); ok {
		c.BatchSize = n
	}
	if n, ok := num("MaximumBatchingWindowInSeconds"); ok {
		c.BatchingWindow = time.Duration(n) * time.Second
	}
	if s, ok := props["StartingPosition"].(string); ok {
		c.StartingPosition = s
	}
	if n, ok := num("StartingPositionTimestamp"); ok {
		c.StartingPositionTimestamp = time.Unix(int64(n), 0)
	}
	if n, ok := num("ParallelizationFactor"); ok {
		c.ParallelizationFactor = n
	}
	c.BisectBatchOnFunctionError = boolean("BisectBatchOnFunctionError")
	if n, ok := num("MaximumRetryAttempts"); ok {
		c.MaximumRetryAttempts = Retries(n)
	}
	if n, ok := num("MaximumRecordAgeInSeconds"); ok && n > 0 {
		c.MaximumRecordAge = time.Duration(n) * time.Second
	}
	if n, ok := num("TumblingWindowInSeconds"); ok {
		c.TumblingWindow = time.Duration(n) * time.Second
	}
	if types, ok := props["FunctionResponseTypes"].([]any); ok {
		for _, t := range types {
			if t == "ReportBatchItemFailures" {
				c.ReportBatchItemFailures = true
			}
		}
	}
	if fc, ok := props["FilterCriteria"].(map[string]any); ok {
		filters, _ := fc["Filters"].([]any)
		for _, f := range filters {
			m, _ := f.(map[string]any)
			p, ok := m["Pattern"].(string)
			if !ok {
				return c, fmt.Errorf("localesm: FilterCriteria pattern %v is not a literal string", m["Pattern"])
			}
			c.Filters = append(c.Filters, p)
		}
	}
	if e, ok := props["Enabled"].(bool); ok && !e {
		return c, fmt.Errorf("localesm: the event source mapping is disabled (Enabled: false): nothing would be polled")
	}
	if err != nil {
		return c, fmt.Errorf("localesm: event source mapping properties: %w", err)
	}
	return c, nil
}
