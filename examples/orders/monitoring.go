package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/constructs/streamprocessor"

	"example.com/orders/config"
)

// Alarm construct ids (in the stack: a public contract).
const (
	idDuplicatesAlarm = "DuplicateOrdersAlarm"
	idThrottlesAlarm  = "StateThrottledAlarm"
)

// DuplicateOrdersThreshold is how many resent or redelivered orders in 5
// minutes the app tolerates before it alarms: a few are normal (producer
// retries, redelivered batches), a flood means a producer resends in a loop
// or batches keep failing after part of them was applied.
const DuplicateOrdersThreshold = 100

// stateTableOperations are the calls eventtime.DynamoStore makes on the
// state table.
var stateTableOperations = []awsdynamodb.Operation{
	awsdynamodb.Operation_BATCH_GET_ITEM, awsdynamodb.Operation_PUT_ITEM, awsdynamodb.Operation_QUERY,
	awsdynamodb.Operation_GET_ITEM, awsdynamodb.Operation_UPDATE_ITEM, awsdynamodb.Operation_DELETE_ITEM,
}

// addOrdersMonitoring adds the app's graphs and alarms to the pipeline's
// dashboard and composite alarm through the construct's monitoring API: the
// function's own metrics come from sp.Metric (namespace and FunctionName
// dimension right by construction), the state table's from aws-cdk-lib's
// helpers. AddEventTime already graphs and alarms on watermark lag, late
// orders, results and publishing failures.
func addOrdersMonitoring(sp *streamprocessor.StreamProcessor, et *streamprocessor.EventTime) {
	period := awscdk.Duration_Minutes(jsii.Number(5))
	sum := func(name, label string) awscloudwatch.IMetric {
		return sp.Metric(jsii.String(name), &awscloudwatch.MetricOptions{
			Statistic: jsii.String("Sum"), Period: period, Label: jsii.String(label),
		})
	}
	graph := func(title string, ms ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title:     jsii.String(title),
			Left:      &ms,
			LeftYAxis: &awscloudwatch.YAxisProps{Min: jsii.Number(0), ShowUnits: jsii.Bool(false)},
			Width:     jsii.Number(8),
			Height:    jsii.Number(6),
		})
	}
	// The alarm's own metric has no label: a labelled metric would be
	// rendered as a one-metric math expression.
	duplicatesAlarmMetric := sp.Metric(jsii.String(config.MetricDuplicateOrders), &awscloudwatch.MetricOptions{
		Statistic: jsii.String("Sum"), Period: period,
	})
	throttled := et.StateTable.MetricThrottledRequestsForOperations(&awsdynamodb.OperationsMetricOptions{
		Operations: &stateTableOperations,
		Period:     period,
		Label:      jsii.String("Throttled state table calls"),
	})
	m := sp.Monitoring()
	m.AddWidgets(
		graph("Orders", sum(config.MetricOrdersApplied, "Orders applied"), sum(config.MetricDuplicateOrders, "Duplicate orders skipped")),
		graph("Engine state table", throttled),
	)
	m.AddAlarm(awscloudwatch.NewAlarm(sp, jsii.String(idDuplicatesAlarm), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("More than 100 duplicate orders in 5 minutes: a producer resends in a loop, " +
			"or batches keep failing after part of them was applied. Check the producer and the function's errors."),
		Metric:             duplicatesAlarmMetric,
		Threshold:          jsii.Number(DuplicateOrdersThreshold),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	}))
	m.AddAlarm(awscloudwatch.NewAlarm(sp, jsii.String(idThrottlesAlarm), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("The event-time state table throttled the function's calls: orders are retried and the " +
			"stream falls behind. Check the table's capacity and hot customers."),
		Metric:             throttled,
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	}))
}
