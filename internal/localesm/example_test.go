package localesm_test

import (
	"encoding/json"
	"fmt"

	"github.com/streamproc/streamproc/internal/localesm"
)

// The poller is configured from the AWS::Lambda::EventSourceMapping
// properties of a synthesized template.
func ExampleFromProperties() {
	var props map[string]any
	_ = json.Unmarshal([]byte(`{
		"BatchSize": 100, "MaximumBatchingWindowInSeconds": 0, "StartingPosition": "TRIM_HORIZON",
		"ParallelizationFactor": 1, "BisectBatchOnFunctionError": true, "MaximumRetryAttempts": 3,
		"MaximumRecordAgeInSeconds": 3600, "FunctionResponseTypes": ["ReportBatchItemFailures"],
		"MetricsConfig": {"Metrics": ["EventCount"]}
	}`), &props)
	c, err := localesm.FromProperties(props)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.BatchSize, c.StartingPosition, c.BisectBatchOnFunctionError, *c.MaximumRetryAttempts, c.MaximumRecordAge, c.ReportBatchItemFailures)
	// Output: 100 TRIM_HORIZON true 3 1h0m0s true
}
