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
	// AddEventTime graphs watermark lag, late readings and results.
	sp.Monitoring().AddWidgets(
		graph("Duplicates skipped", 8,
			metric(config.MetricDuplicatesSkipped, "Sum", "Duplicates skipped")),
	)
}
