package streamprocessor

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/functions/contract"
)

// onFailureDeliveredSpec: the mapping gave up on records. What it means
// depends on the destination: an S3 destination keeps the records, an SQS
// or SNS one only their ranges.
func onFailureDeliveredSpec(t *monitoringTargets, th derivedThresholds) alarmSpec {
	s := alarmSpec{
		Kind:       AlarmOnFailureDelivered,
		Metric:     mappingMetric(t, esmOnFailureDelivered, fastPeriod, ""),
		Threshold:  0,
		Comparison: above,
		Evaluation: 1, Datapoints: 1,
		Missing: notBreaching,
	}
	if t.KeepsRecords {
		where := "the on-failure S3 bucket"
		if t.FailedBatchBucket != nil {
			where = "the failed-batch bucket " + *t.FailedBatchBucket.BucketName()
		}
		s.What = "The event source mapping gave up on records (OnFailureDestinationDeliveredEventCount > 0) and wrote each failed batch, with its records, to " + where + "."
		s.Runbook = "Read the function's logs for the failing batch, fix the cause, then `streamctl redrive --bucket` (docs/redrive.md) before the objects expire."
		return s
	}
	s.What = "The event source mapping gave up on records (OnFailureDestinationDeliveredEventCount > 0) and sent their sequence ranges to the on-failure queue. The records are still in the stream for " + human(th.RedriveWindow) + " at most."
	s.Runbook = "Read the function's logs for the failing batch, fix the cause, then `streamctl redrive --queue` before the records expire from the stream."
	return s
}

// conservation is RecordsReceived - (RecordsSucceeded + RecordsQuarantined +
// RecordsFailed) over 5 minutes, from the toolkit's EMF metrics. Every
// invocation writes the four in one document (zeros included), so the sums
// of a period match unless a record left an invocation unaccounted for. A
// period without invocations has no data, which FILL turns into 0.
func conservation(t *monitoringTargets) awscloudwatch.MathExpression {
	m := func(name string) awscloudwatch.IMetric {
		return functionMetric(t, name, statSum, slowPeriod, "")
	}
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("ABS(FILL(received, 0) - (FILL(succeeded, 0) + FILL(quarantined, 0) + FILL(failed, 0)))"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"received":    m(contract.MetricRecordsReceived),
			"succeeded":   m(contract.MetricRecordsSucceeded),
			"quarantined": m(contract.MetricRecordsQuarantined),
			"failed":      m(contract.MetricRecordsFailed),
		},
		Label:  jsii.String("Records unaccounted for"),
		Period: cdkDuration(slowPeriod),
	})
}

// conservationAlarmSpecs: every record an invocation received ends
// succeeded, quarantined or failed (and retried by the mapping).
func conservationAlarmSpecs(t *monitoringTargets) []alarmSpec {
	return []alarmSpec{{
		Kind:       AlarmConservation,
		Metric:     conservation(t),
		Threshold:  0,
		Comparison: above,
		Evaluation: 1, Datapoints: 1,
		Missing: notBreaching,
		What: "RecordsReceived differs from RecordsSucceeded + RecordsQuarantined + RecordsFailed: an invocation lost track of records " +
			"(a handler that neither succeeded nor failed a record, or metrics lost from the function's log).",
		Runbook: "See docs/operations.md, \"Conservation alarm\": find the invocations in Logs Insights by their EMF fields, then check their records against the sink and the failure destinations.",
	}}
}

// failurePath is the overview's line on where failures go.
func failurePath(t *monitoringTargets) string {
	if !t.KeepsRecords {
		return "Failed batches and quarantined records → DLQ **" + *t.DLQ.QueueName() + "** → `streamctl redrive --queue`."
	}
	bucket := "the on-failure S3 bucket"
	if t.FailedBatchBucket != nil {
		bucket = "S3 **" + *t.FailedBatchBucket.BucketName() + "**"
	}
	return "Failed batches, with their records → " + bucket + " → `streamctl redrive --bucket`. Quarantined records → DLQ **" + *t.DLQ.QueueName() + "**."
}

// failedBatches is the dashboard row of the failure destination and the
// conservation check. S3 has no per-prefix object count that is cheap and
// timely: the bucket's NumberOfObjects is a free daily storage metric, shown
// as a trend; the OnFailureDelivered alarm is what fires when batches arrive.
func (d *dashboardRows) failedBatches() []awscloudwatch.IWidget {
	t := d.t
	row := []awscloudwatch.IWidget{
		graph("Records unaccounted for (received - succeeded - quarantined - failed)", 12,
			metrics(conservation(t)), nil, d.th(AlarmConservation), nil),
	}
	if t.FailedBatchBucket == nil {
		return append(row, graph("Batches sent to the on-failure destination (events)", 12,
			metrics(mappingMetric(t, esmOnFailureDelivered, fastPeriod, "Sent")), nil, d.th(AlarmOnFailureDelivered), nil))
	}
	objects := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:  jsii.String("AWS/S3"),
		MetricName: jsii.String("NumberOfObjects"),
		DimensionsMap: &map[string]*string{
			"BucketName":  t.FailedBatchBucket.BucketName(),
			"StorageType": jsii.String("AllStorageTypes"),
		},
		Statistic: jsii.String(statMax),
		Period:    awscdk.Duration_Days(jsii.Number(1)),
		Label:     jsii.String("Failed batches waiting (daily)"),
	})
	return append(row, graph("Failed-batch bucket (objects, daily)", 12, metrics(objects), nil, nil, nil))
}

// describeDLQForDestination rewrites the DLQ alarms' texts when failed
// batches go to an S3 destination: the DLQ then holds only quarantined
// records (with their payload), and nothing in it depends on the stream's
// retention.
func describeDLQForDestination(specs []alarmSpec, t *monitoringTargets) {
	if !t.KeepsRecords {
		return
	}
	for i := range specs {
		switch specs[i].Kind {
		case AlarmDLQMessages:
			specs[i].What = "The DLQ holds records the function quarantined, with their payload (failed batches go to the on-failure S3 bucket)."
			specs[i].Runbook = "List them with `streamctl redrive --queue <dlq> --only quarantined`; fix the producer or the validation; `--reprocess` the fixed records or `--discard` them."
		case AlarmDLQAge:
			specs[i].What = "The oldest quarantined record in the DLQ is older than " + human(time.Duration(specs[i].Threshold*float64(time.Second))) + "; SQS drops messages after the queue's retention (14 days)."
			specs[i].Runbook = "Handle the quarantined records (`streamctl redrive --queue <dlq> --only quarantined`) before the queue's retention drops them."
		}
	}
}
