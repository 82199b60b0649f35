package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/constructs/streamprocessor"
	"github.com/streamproc/streamproc/functions/processor/config"
)

// addProcessorGraphs puts the processor's own metrics (functions/processor/config)
// on the pipeline dashboard through the construct's monitoring API: the
// construct graphs only what every pipeline has.
func addProcessorGraphs(sp *streamprocessor.StreamProcessor) {
	period := awscdk.Duration_Minutes(jsii.Number(5))
	metric := func(name, stat, label string) awscloudwatch.IMetric {
		return sp.Metric(jsii.String(name), &awscloudwatch.MetricOptions{
			Statistic: jsii.String(stat), Period: period, Label: jsii.String(label),
		})
	}
	graph := func(title string, width float64, ms ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title:          jsii.String(title),
			Left:           &ms,
			LeftYAxis:      &awscloudwatch.YAxisProps{Min: jsii.Number(0), ShowUnits: jsii.Bool(false)},
			LegendPosition: awscloudwatch.LegendPosition_BOTTOM,
			Width:          jsii.Number(width),
			Height:         jsii.Number(6),
		})
	}
	sp.Monitoring().AddWidgets(
		graph("Aggregate windows written", 8,
			metric(config.MetricWindowsWritten, "Sum", "Windows written"),
			metric(config.MetricWriteCalls, "Sum", "DynamoDB write calls")),
		graph("Duplicates and late readings", 8,
			metric(config.MetricDuplicatesSkipped, "Sum", "Duplicates skipped"),
			metric(config.MetricLateRecords, "Sum", "Late readings")),
		graph("Event-time lag (ms)", 8,
			metric(config.MetricEventTimeLag, "p99", "p99"),
			metric(config.MetricEventTimeLag, "Maximum", "max")),
	)
}
