package streamprocessor

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/functions/contract"
)

// alarmSpec is one alarm before it exists: the dashboard draws its threshold
// on the graph of the same metric whether or not the alarm is created.
type alarmSpec struct {
	Kind       AlarmKind
	Metric     awscloudwatch.IMetric
	Threshold  float64
	Comparison awscloudwatch.ComparisonOperator
	Evaluation float64 // evaluation periods
	Datapoints float64 // datapoints (within Evaluation) that must breach
	Missing    awscloudwatch.TreatMissingData
	What       string // what the alarm means, one sentence
	Runbook    string // what to do, a few short steps
	Annotation string // label of the threshold line on the dashboard
}

type builtAlarm struct {
	spec  alarmSpec
	alarm awscloudwatch.Alarm
}

func (s alarmSpec) build(scope constructs.Construct, prefix string) awscloudwatch.Alarm {
	return awscloudwatch.NewAlarm(scope, jsii.String(string(s.Kind)+"Alarm"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(prefix + "-" + string(s.Kind)),
		AlarmDescription:   jsii.String(truncate(s.What+" Runbook: "+s.Runbook, 1024)),
		Metric:             s.Metric,
		Threshold:          jsii.Number(s.Threshold),
		ComparisonOperator: s.Comparison,
		EvaluationPeriods:  jsii.Number(s.Evaluation),
		DatapointsToAlarm:  jsii.Number(s.Datapoints),
		TreatMissingData:   s.Missing,
	})
}

// Periods and the iterator-age detection delay that the threshold derivation
// subtracts (evaluation periods x period of the iterator-age alarms).
const (
	fastPeriod           = time.Minute
	slowPeriod           = 5 * time.Minute
	iteratorAgeEvalCount = 5
	iteratorAgeDetection = iteratorAgeEvalCount * fastPeriod
	defaultRetention     = 24 * time.Hour
)

func cdkDuration(d time.Duration) awscdk.Duration {
	return awscdk.Duration_Seconds(jsii.Number(d.Seconds()))
}

// goDuration converts a resolved CDK duration; nil (or a token) gives 0.
func goDuration(d awscdk.Duration) time.Duration {
	if d == nil || *awscdk.Token_IsUnresolved(d) {
		return 0
	}
	return time.Duration(*d.ToMilliseconds(&awscdk.TimeConversionOptions{Integral: jsii.Bool(false)})) * time.Millisecond
}

// thresholdsFor resolves the derived thresholds, honouring the overrides.
func thresholdsFor(t *monitoringTargets, p *MonitoringProps) derivedThresholds {
	retention := goDuration(t.Retention)
	if retention <= 0 {
		retention = defaultRetention
	}
	frac := defaultIteratorAgeFraction
	if p.IteratorAgeFraction != nil {
		frac = *p.IteratorAgeFraction
	}
	th := deriveThresholds(retention, goDuration(t.MaxRecordAge), frac, iteratorAgeDetection)
	if d := goDuration(p.IteratorAgeThreshold); d > 0 {
		th.IteratorAge = d
	}
	if d := goDuration(p.DLQAgeThreshold); d > 0 {
		th.DLQOldestMessageAge = d
	}
	return th
}

// functionMetric is the one path to the function's own EMF metrics: the
// namespace the function writes to and its single FunctionName dimension.
func functionMetric(t *monitoringTargets, name, stat string, period time.Duration, label string) awscloudwatch.Metric {
	return emfMetric(t.MetricsNamespace, t.Function, jsii.String(name), opts(stat, period, label))
}

// emfMetric is the function's metric name in namespace ns (the default
// namespace when empty), with FunctionName as its dimension.
func emfMetric(ns string, fn awslambda.IFunction, name *string, o *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	if ns == "" {
		ns = contract.DefaultMetricsNamespace
	}
	if o == nil {
		o = &awscloudwatch.MetricOptions{}
	}
	dims := map[string]*string{}
	if o.DimensionsMap != nil {
		for k, v := range *o.DimensionsMap {
			dims[k] = v
		}
	}
	dims[contract.MetricDimension] = fn.FunctionName()
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:     jsii.String(ns),
		MetricName:    name,
		DimensionsMap: &dims,
		Account:       o.Account,
		Color:         o.Color,
		Id:            o.Id,
		Label:         o.Label,
		Period:        o.Period,
		Region:        o.Region,
		StackAccount:  o.StackAccount,
		StackRegion:   o.StackRegion,
		Statistic:     o.Statistic,
		Unit:          o.Unit,
		Visible:       o.Visible,
	})
}

// Event source mapping metrics (AWS/Lambda, dimension EventSourceMappingUUID;
// emitted only when the mapping's MetricsConfig includes EventCount):
// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics
const (
	esmPolled             = "PolledEventCount"
	esmFilteredOut        = "FilteredOutEventCount"
	esmInvoked            = "InvokedEventCount"
	esmFailedInvoke       = "FailedInvokeEventCount"
	esmDropped            = "DroppedEventCount"
	esmOnFailureDelivered = "OnFailureDestinationDeliveredEventCount"
	esmDimension          = "EventSourceMappingUUID"
)

// mappingMetric is the one path to the event source mapping's metrics.
func mappingMetric(t *monitoringTargets, name string, period time.Duration, label string) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:     jsii.String("AWS/Lambda"),
		MetricName:    jsii.String(name),
		DimensionsMap: &map[string]*string{esmDimension: t.Mapping.EventSourceMappingId()},
		Statistic:     jsii.String(statSum),
		Period:        cdkDuration(period),
		Label:         labelOrNil(label),
	})
}

func opts(stat string, period time.Duration, label string) *awscloudwatch.MetricOptions {
	return &awscloudwatch.MetricOptions{Statistic: jsii.String(stat), Period: cdkDuration(period), Label: labelOrNil(label)}
}

func labelOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return jsii.String(s)
}

// streamLagMetric is how far behind the mapping reads the stream, seen from
// the stream: GetRecords.IteratorAgeMilliseconds for shared-throughput
// polling, SubscribeToShardEvent.MillisBehindLatest of the consumer for
// enhanced fan-out.
func streamLagMetric(t *monitoringTargets, label string) awscloudwatch.IMetric {
	if !t.EnhancedFanOut {
		return t.Stream.MetricGetRecordsIteratorAgeMilliseconds(t.streamOpts(statMax, fastPeriod, label))
	}
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:  jsii.String("AWS/Kinesis"),
		MetricName: jsii.String("SubscribeToShardEvent.MillisBehindLatest"),
		DimensionsMap: &map[string]*string{
			"StreamName":   t.Stream.StreamName(),
			"ConsumerName": t.ConsumerName,
		},
		Statistic: jsii.String(statMax),
		Period:    cdkDuration(fastPeriod),
		Label:     labelOrNil(label),
		Account:   t.StreamAccount,
	})
}

// errorRate is Errors/Invocations in percent (0 when there are no invocations).
func errorRate(t *monitoringTargets) awscloudwatch.MathExpression {
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("IF(invocations > 0, 100 * errors / invocations, 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"errors":      t.Function.MetricErrors(opts(statSum, slowPeriod, "")),
			"invocations": t.Function.MetricInvocations(opts(statSum, slowPeriod, "")),
		},
		Label:  jsii.String("Error rate (%)"),
		Period: cdkDuration(slowPeriod),
	})
}

// alarmSpecs lists the alarms that apply to these targets, minus the
// disabled ones, in AllAlarmKinds order.
func alarmSpecs(t *monitoringTargets, p *MonitoringProps) []alarmSpec {
	th := thresholdsFor(t, p)
	var all []alarmSpec
	all = append(all, lagAlarmSpecs(t, th)...)
	all = append(all, failureAlarmSpecs(t, p, th)...)
	all = append(all, functionAlarmSpecs(t, p)...)
	all = append(all, streamAlarmSpecs(t)...)
	all = append(all, conservationAlarmSpecs(t)...)
	describeDLQForDestination(all, t)
	out := all[:0]
	for _, s := range all {
		if !slices.Contains(p.DisabledAlarms, s.Kind) {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b alarmSpec) int {
		return slices.Index(AllAlarmKinds, a.Kind) - slices.Index(AllAlarmKinds, b.Kind)
	})
	return out
}

const (
	above        = awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD
	atOrAbove    = awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD
	notBreaching = awscloudwatch.TreatMissingData_NOT_BREACHING
)

// lagAlarmSpecs: how far behind the pipeline reads, seen from the stream and
// from the function.
func lagAlarmSpecs(t *monitoringTargets, th derivedThresholds) []alarmSpec {
	iterMs := float64(th.IteratorAge.Milliseconds())
	iterWhy := fmt.Sprintf("Records are discarded after %s (min of max record age and retention); this fires at %s so there is time to act.",
		human(th.TimeToDiscard), human(th.IteratorAge))

	// Stream side of the lag: shared-throughput consumers are seen through
	// GetRecords; an enhanced fan-out consumer through its own subscription.
	streamLag := streamLagMetric(t, "")
	streamLagWhat := "The oldest unread record in the stream (GetRecords.IteratorAgeMilliseconds, max over 1 minute, 5 minutes in a row) is older than " +
		human(th.IteratorAge) + ", or no consumer has read the stream for 5 minutes. " + iterWhy
	// Lambda polls every shard about once a second while the mapping is
	// enabled, so no datapoint for 5 minutes means no one reads the stream.
	streamLagMissing := awscloudwatch.TreatMissingData_BREACHING
	if t.StreamAccount != nil {
		// Read across accounts: no data may mean the sharing link, not a
		// stuck consumer; never keep the composite red for it.
		streamLagMissing = notBreaching
	}
	if t.EnhancedFanOut {
		streamLagWhat = "The consumer's position (SubscribeToShardEvent.MillisBehindLatest of the enhanced fan-out consumer, max over 1 minute, 5 minutes in a row) is more than " +
			human(th.IteratorAge) + " behind the tip of the stream. " + iterWhy
		streamLagMissing = notBreaching
	}

	fnLag := alarmSpec{
		Kind:       AlarmIteratorAge,
		Metric:     t.Function.Metric(jsii.String("IteratorAge"), opts(statMax, fastPeriod, "")),
		Threshold:  iterMs,
		Comparison: above,
		Evaluation: iteratorAgeEvalCount, Datapoints: iteratorAgeEvalCount,
		Missing: notBreaching, // no invocations (idle stream) means no datapoint
		What: "The age of the last record in the batches the function receives (IteratorAge, max over 1 minute, 5 minutes in a row) is above " +
			human(th.IteratorAge) + ". " + iterWhy,
		Runbook: "Find the cause in the Function row: errors (a poison record retried on one shard), throttles, duration near the timeout. " +
			"Fix or quarantine the failing record; raise ParallelizationFactor, batch size or memory to catch up. Records older than " +
			human(th.TimeToDiscard) + " go to the DLQ.",
		Annotation: "IteratorAge alarm",
	}
	if t.NoStreamMetrics {
		return []alarmSpec{fnLag}
	}
	return []alarmSpec{
		{
			Kind:       AlarmStreamIteratorAge,
			Metric:     streamLag,
			Threshold:  iterMs,
			Comparison: above,
			Evaluation: iteratorAgeEvalCount, Datapoints: iteratorAgeEvalCount,
			Missing: streamLagMissing,
			What:    streamLagWhat,
			Runbook: "Compare with the function's IteratorAge: if both grow, the function is too slow or failing (see ErrorRate, Throttles, DurationP99); " +
				"if only this one grows or it has no data, the mapping is disabled or stuck (check its State and LastProcessingResult) or another consumer lags. " +
				"Raise ParallelizationFactor or shard count to catch up.",
			Annotation: "StreamIteratorAge alarm",
		},
		fnLag,
	}
}

// failureAlarmSpecs: records the mapping gave up on or lost, the DLQ, and
// records the function quarantined.
func failureAlarmSpecs(t *monitoringTargets, p *MonitoringProps, th derivedThresholds) []alarmSpec {
	quarantined := valueOr(p.QuarantinedRecordsThreshold, 0)
	return []alarmSpec{
		{
			Kind:       AlarmDroppedEvents,
			Metric:     mappingMetric(t, esmDropped, fastPeriod, ""),
			Threshold:  0,
			Comparison: above,
			Evaluation: 1, Datapoints: 1,
			Missing: notBreaching, // emitted only when the mapping drops events
			What:    "The event source mapping dropped records (DroppedEventCount > 0): they exceeded the max record age or retry count and could NOT be delivered to the on-failure destination. Their data is lost unless re-read from the stream.",
			Runbook: "Check the function's DestinationDeliveryFailures and the on-failure destination (deleted? key policy? permissions?). Fix delivery, then re-read the affected time range from the stream with streamctl before retention expires.",
		},
		onFailureDeliveredSpec(t, th),
		{
			Kind:       AlarmDLQMessages,
			Metric:     t.DLQ.MetricApproximateNumberOfMessagesVisible(opts(statMax, fastPeriod, "")),
			Threshold:  0,
			Comparison: above,
			Evaluation: 1, Datapoints: 1,
			Missing: notBreaching, // SQS stops reporting for queues idle for hours
			What:    "The DLQ holds messages: quarantined records (with their payload) or batches the mapping gave up on (sequence ranges only).",
			Runbook: "Look at the messages' streamproc-kind attribute: quarantined records need a data fix at the producer; batch descriptions need the cause fixed and `streamctl redrive` before the records expire from the stream.",
		},
		{
			Kind:       AlarmDLQAge,
			Metric:     t.DLQ.MetricApproximateAgeOfOldestMessage(opts(statMax, slowPeriod, "")),
			Threshold:  th.DLQOldestMessageAge.Seconds(),
			Comparison: above,
			Evaluation: 1, Datapoints: 1,
			Missing: notBreaching,
			What: "The oldest DLQ message is older than " + human(th.DLQOldestMessageAge) + ", half of the " + human(th.RedriveWindow) +
				" a failed batch stays re-readable in the stream (retention minus max record age).",
			Runbook:    "Redrive now with `streamctl redrive`: once the records expire from the stream, a batch description cannot be replayed.",
			Annotation: "DLQOldestMessageAge alarm",
		},
		{
			Kind:       AlarmRecordsQuarantined,
			Metric:     functionMetric(t, contract.MetricRecordsQuarantined, statSum, slowPeriod, ""),
			Threshold:  quarantined,
			Comparison: above,
			Evaluation: 1, Datapoints: 1,
			Missing: notBreaching,
			What:    fmt.Sprintf("The function quarantined more than %g records in 5 minutes (RecordsQuarantined): they failed validation and were moved to the DLQ with their payload.", quarantined),
			Runbook: "Read the quarantine reasons in the DLQ messages; fix the producer or the validation; replay the fixed records.",
		},
	}
}

// functionAlarmSpecs: the function's errors, throttles, duration and
// concurrency.
func functionAlarmSpecs(t *monitoringTargets, p *MonitoringProps) []alarmSpec {
	timeoutMs := float64(goDuration(t.Timeout).Milliseconds())
	durPct := valueOr(p.DurationPercentOfTimeout, 80)
	errPct := valueOr(p.ErrorRatePercent, 1)

	all := []alarmSpec{
		{
			Kind:       AlarmErrorRate,
			Metric:     errorRate(t),
			Threshold:  errPct,
			Comparison: above,
			Evaluation: 3, Datapoints: 2,
			Missing:    notBreaching,
			What:       fmt.Sprintf("More than %g%% of invocations failed in 2 of 3 five-minute periods. Partial batch failures are not errors; these are crashes, timeouts or out-of-memory, and each one retries the whole batch.", errPct),
			Runbook:    "Open the function's logs at the error times; a single shard stuck on the same batch is a poison record. Roll back a bad deploy; fix and redeploy.",
			Annotation: "ErrorRate alarm",
		},
		{
			Kind:       AlarmThrottles,
			Metric:     t.Function.MetricThrottles(opts(statSum, slowPeriod, "")),
			Threshold:  0,
			Comparison: above,
			Evaluation: 3, Datapoints: 2,
			Missing: notBreaching,
			What:    "Lambda throttled the function in 2 of 3 five-minute periods; throttled batches are retried and the shard falls behind.",
			Runbook: "Check reserved concurrency and the account's unreserved concurrency (ClaimedAccountConcurrency). Raise the limit or lower ParallelizationFactor.",
		},
		{
			Kind:       AlarmDuration,
			Metric:     t.Function.MetricDuration(opts(statP99, slowPeriod, "")),
			Threshold:  math.Round(timeoutMs * durPct / 100),
			Comparison: above,
			Evaluation: 3, Datapoints: 3,
			Missing:    notBreaching,
			What:       fmt.Sprintf("p99 duration has been above %g%% of the %s timeout for 15 minutes; the next slow batch times out and is retried whole.", durPct, human(goDuration(t.Timeout))),
			Runbook:    "Look for a slow dependency (sink write latency) or bigger batches; raise memory (more CPU) or the timeout, or lower the batch size.",
			Annotation: "DurationP99 alarm",
		},
	}
	if t.ReservedConcurrency != nil && *t.ReservedConcurrency > 0 {
		pct := valueOr(p.ConcurrencyPercentOfReserved, 90)
		all = append(all, alarmSpec{
			Kind:       AlarmConcurrency,
			Metric:     t.Function.Metric(jsii.String("ConcurrentExecutions"), opts(statMax, fastPeriod, "")),
			Threshold:  math.Max(1, math.Ceil(*t.ReservedConcurrency*pct/100)),
			Comparison: atOrAbove,
			Evaluation: 5, Datapoints: 5,
			Missing:    notBreaching,
			What:       fmt.Sprintf("Concurrent executions have been at %g%% of the reserved %g for 5 minutes; more shards or a higher ParallelizationFactor will be throttled.", pct, *t.ReservedConcurrency),
			Runbook:    "Raise the reserved concurrency to at least shards x ParallelizationFactor, or lower the parallelization factor.",
			Annotation: "Concurrency alarm",
		})
	}
	return all
}

// streamAlarmSpecs: the stream's write and read throttles.
func streamAlarmSpecs(t *monitoringTargets) []alarmSpec {
	if t.NoStreamMetrics {
		return nil
	}
	capacity := "provisioned"
	writeEval, writeDatapoints := 3.0, 2.0
	writeWhy := "Producers are being throttled in 2 of 3 five-minute periods: the stream needs more shards, or one partition key is hot."
	if t.StreamIsNew && t.OnDemand {
		capacity = "on-demand"
		// On-demand streams throttle while they scale (traffic above twice the
		// previous peak, scaled within about 15 minutes) or on a hot partition
		// key: alarm only when it lasts longer than a scale-up.
		writeEval, writeDatapoints = 4, 4
		writeWhy = "Producers of this on-demand stream have been throttled for 20 minutes, longer than an on-demand scale-up: a hot partition key or the account's on-demand write limit."
	} else if !t.StreamIsNew {
		capacity = "imported stream, capacity mode unknown"
	}

	return []alarmSpec{
		{
			Kind:       AlarmWriteThrottled,
			Metric:     t.Stream.MetricWriteProvisionedThroughputExceeded(t.streamOpts(statSum, slowPeriod, "")),
			Threshold:  0,
			Comparison: above,
			Evaluation: writeEval, Datapoints: writeDatapoints,
			Missing: notBreaching,
			What:    writeWhy + " (" + capacity + ")",
			Runbook: "Check IncomingBytes/IncomingRecords per shard and the partition-key spread; add shards (provisioned) or spread keys; producers must retry with backoff.",
		},
		{
			Kind:       AlarmReadThrottled,
			Metric:     t.Stream.MetricReadProvisionedThroughputExceeded(t.streamOpts(statSum, slowPeriod, "")),
			Threshold:  0,
			Comparison: above,
			Evaluation: 3, Datapoints: 2,
			Missing: notBreaching,
			What:    "Reads from the stream were throttled in 2 of 3 five-minute periods (5 reads/s and 2 MB/s per shard are shared by all standard consumers); the consumer falls behind. (" + capacity + ")",
			Runbook: "Count the stream's consumers: move extra ones to enhanced fan-out, or add shards.",
		},
	}
}

func valueOr(p *float64, def float64) float64 {
	if p == nil {
		return def
	}
	return *p
}

// human formats a duration the way an operator reads it: 11h55m, 25m, 30s, 7d.
func human(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		d -= days * 24 * time.Hour
	}
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dh", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dm", m)
		d -= m * time.Minute
	}
	if s := d / time.Second; s > 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	if b.Len() == 0 {
		return d.String()
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
