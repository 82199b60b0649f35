package streamprocessor

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/functions/contract"
)

// Dashboard layout, top to bottom, on CloudWatch's 24-column grid:
//
//	overview text (8) | alarm status (16)
//	Now: single values with sparklines (incoming, lag both sides, error rate, DLQ, dropped)
//	Ingest:   incoming records+bytes | put latency+failures | stream throttles
//	Consumer: iterator age (both sides) | mapping event counts | dropped / to DLQ
//	Function: invocations+error rate | throttles | duration percentiles | concurrency
//	Failures: DLQ depth | DLQ oldest age | quarantined/failed/retried records
//	Business: records in/out | windows written, duplicates, writes, late | event-time lag
//
// Each row is preceded by a one-line section title. Alarm thresholds are drawn
// on the graph of the metric the alarm watches.

const (
	graphHeight   = 6
	sectionHeight = 1
	headerHeight  = 6
	glanceHeight  = 3
	// CloudWatch's default graph palette, so lines keep their usual colours.
	colorRed    = "#d62728"
	colorOrange = "#ff7f0e"
)

// Colours of the threshold lines.
const (
	colorAlarmLine = colorOrange // an alarm fires above this line
	colorLimitLine = colorRed    // a hard limit: timeout, reserved concurrency, records discarded
)

func pipelineDashboard(scope constructs.Construct, name string, t *monitoringTargets, specs []alarmSpec, alarms []builtAlarm, composite awscloudwatch.IAlarm) awscloudwatch.Dashboard {
	// th is the threshold line of the alarm on this metric (none when that
	// alarm is disabled); with several kinds, the first one present.
	th := func(kinds ...AlarmKind) []*awscloudwatch.HorizontalAnnotation {
		var names []string
		var first *alarmSpec
		for _, k := range kinds {
			for i := range specs {
				if specs[i].Kind == k {
					names = append(names, string(k))
					if first == nil {
						first = &specs[i]
					}
				}
			}
		}
		if first == nil {
			return nil
		}
		label := first.Annotation
		if label == "" || len(names) > 1 {
			label = strings.Join(names, ", ") + " alarm"
		}
		return []*awscloudwatch.HorizontalAnnotation{{
			Value: jsii.Number(first.Threshold),
			Label: jsii.String(fmt.Sprintf("%s: %s", label, thresholdText(*first))),
			Color: jsii.String(colorAlarmLine),
		}}
	}
	thr := thresholdsFor(t, &MonitoringProps{}) // for the "records discarded" limit line; alarm lines come from specs
	discardMs := float64(thr.TimeToDiscard.Milliseconds())
	timeoutMs := float64(goDuration(t.Timeout).Milliseconds())

	fnName := t.Function.FunctionName()
	ns := t.MetricsNamespace
	if ns == "" {
		ns = contract.DefaultMetricsNamespace
	}

	var rows [][]awscloudwatch.IWidget

	// Overview and alarm status.
	overview := awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{
		Markdown: jsii.String(strings.Join([]string{
			"# " + name,
			"Kinesis stream **" + *t.Stream.StreamName() + "** → event source mapping → Lambda **" + *fnName + "** → sink.",
			"Failed batches and quarantined records → DLQ **" + *t.DLQ.QueueName() + "** → `streamctl redrive`.",
			"",
			fmt.Sprintf("Records are discarded after **%s**; iterator-age alarms fire at **%s**.", human(thr.TimeToDiscard), human(thresholdsOrDefault(specs, AlarmIteratorAge, thr.IteratorAge))),
			"Orange lines: alarm thresholds. Red lines: hard limits.",
		}, "\n\n")),
		Width:  jsii.Number(8),
		Height: jsii.Number(headerHeight),
	})
	if len(alarms) > 0 {
		refs := []interfacesawscloudwatch.IAlarmRef{}
		if composite != nil {
			refs = append(refs, composite)
		}
		for _, a := range alarms {
			refs = append(refs, a.alarm)
		}
		rows = append(rows, []awscloudwatch.IWidget{overview, awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
			Title:  jsii.String("Alarms"),
			Alarms: &refs,
			Width:  jsii.Number(16),
			Height: jsii.Number(headerHeight),
		})})
	} else {
		rows = append(rows, []awscloudwatch.IWidget{overview})
	}

	s, st := t.Stream, t.Stream.StreamName()
	// The numbers on-call reads first: is data coming in, how far behind are
	// we, is anything failing or being lost.
	rows = append(rows, []awscloudwatch.IWidget{awscloudwatch.NewSingleValueWidget(&awscloudwatch.SingleValueWidgetProps{
		Title: jsii.String("Now"),
		Metrics: &[]awscloudwatch.IMetric{
			s.MetricIncomingRecords(opts(statSum, fastPeriod, "Incoming records /min")),
			streamLagMetric(t, "Stream lag (ms)"),
			t.Function.Metric(jsii.String("IteratorAge"), opts(statMax, fastPeriod, "Function iterator age (ms)")),
			errorRate(t),
			t.DLQ.MetricApproximateNumberOfMessagesVisible(opts(statMax, fastPeriod, "DLQ messages")),
			mappingMetric(t, esmDropped, fastPeriod, "Dropped events"),
		},
		Sparkline: jsii.Bool(true),
		Width:     jsii.Number(24),
		Height:    jsii.Number(glanceHeight),
	})})
	rows = append(rows,
		section("Ingest", "stream "+*st),
		[]awscloudwatch.IWidget{
			graph("Incoming records and bytes", 8,
				metrics(s.MetricIncomingRecords(opts(statSum, fastPeriod, "Records"))),
				metrics(s.MetricIncomingBytes(opts(statSum, fastPeriod, "Bytes"))), nil, nil),
			graph("Put latency and failed records", 8,
				metrics(
					s.MetricPutRecordsLatency(opts(statAverage, fastPeriod, "PutRecords latency (avg ms)")),
					s.MetricPutRecordLatency(opts(statAverage, fastPeriod, "PutRecord latency (avg ms)"))),
				metrics(s.MetricPutRecordsFailedRecords(opts(statSum, fastPeriod, "PutRecords failed records"))), nil, nil),
			graph("Stream throttles", 8,
				metrics(
					s.MetricWriteProvisionedThroughputExceeded(opts(statSum, slowPeriod, "Write throttled")),
					s.MetricReadProvisionedThroughputExceeded(opts(statSum, slowPeriod, "Read throttled"))),
				nil, th(AlarmWriteThrottled, AlarmReadThrottled), nil),
		},
		section("Consumer", "event source mapping of "+*fnName),
		[]awscloudwatch.IWidget{
			graph("Iterator age (ms, max)", 8,
				metrics(
					streamLagMetric(t, map[bool]string{false: "GetRecords iterator age (stream)", true: "MillisBehindLatest (fan-out consumer)"}[t.EnhancedFanOut]),
					t.Function.Metric(jsii.String("IteratorAge"), opts(statMax, fastPeriod, "IteratorAge (function)"))),
				nil,
				join(th(AlarmIteratorAge, AlarmStreamIteratorAge), []*awscloudwatch.HorizontalAnnotation{{
					Value: jsii.Number(discardMs),
					Label: jsii.String("Records discarded: " + human(thr.TimeToDiscard)),
					Color: jsii.String(colorLimitLine),
				}}), nil),
			graph("Mapping event counts", 8,
				metrics(
					mappingMetric(t, esmPolled, fastPeriod, "Polled"),
					mappingMetric(t, esmFilteredOut, fastPeriod, "Filtered out"),
					mappingMetric(t, esmInvoked, fastPeriod, "Invoked"),
					mappingMetric(t, esmFailedInvoke, fastPeriod, "Failed invoke")),
				nil, nil, nil),
			graph("Dropped and sent to DLQ (events)", 8,
				metrics(
					mappingMetric(t, esmDropped, fastPeriod, "Dropped"),
					mappingMetric(t, esmOnFailureDelivered, fastPeriod, "Sent to on-failure DLQ")),
				nil, th(AlarmDroppedEvents, AlarmOnFailureDelivered), nil),
		},
		section("Function", *fnName),
		[]awscloudwatch.IWidget{
			graph("Invocations and errors", 6,
				metrics(
					t.Function.MetricInvocations(opts(statSum, slowPeriod, "Invocations")),
					t.Function.MetricErrors(opts(statSum, slowPeriod, "Errors"))),
				metrics(errorRate(t)), nil, th(AlarmErrorRate)),
			graph("Throttles", 6,
				metrics(t.Function.MetricThrottles(opts(statSum, slowPeriod, "Throttles"))),
				nil, th(AlarmThrottles), nil),
			graph("Duration (ms)", 6,
				metrics(
					t.Function.MetricDuration(opts("p50", slowPeriod, "p50")),
					t.Function.MetricDuration(opts("p90", slowPeriod, "p90")),
					t.Function.MetricDuration(opts(statP99, slowPeriod, "p99")),
					t.Function.MetricDuration(opts(statMax, slowPeriod, "max"))),
				nil,
				join(th(AlarmDuration), []*awscloudwatch.HorizontalAnnotation{{
					Value: jsii.Number(timeoutMs),
					Label: jsii.String("Timeout: " + human(goDuration(t.Timeout))),
					Color: jsii.String(colorLimitLine),
				}}), nil),
			graph("Concurrent executions", 6,
				metrics(t.Function.Metric(jsii.String("ConcurrentExecutions"), opts(statMax, fastPeriod, "Concurrent executions (max)"))),
				nil, join(th(AlarmConcurrency), reservedLine(t.ReservedConcurrency)), nil),
		},
		section("Failures", "DLQ "+*t.DLQ.QueueName()),
		[]awscloudwatch.IWidget{
			graph("DLQ depth (messages)", 8,
				metrics(
					t.DLQ.MetricApproximateNumberOfMessagesVisible(opts(statMax, fastPeriod, "Visible")),
					t.DLQ.MetricApproximateNumberOfMessagesNotVisible(opts(statMax, fastPeriod, "In flight (redrive)"))),
				nil, th(AlarmDLQMessages), nil),
			graph("DLQ oldest message age (s)", 8,
				metrics(t.DLQ.MetricApproximateAgeOfOldestMessage(opts(statMax, slowPeriod, "Oldest message age"))),
				nil, join(th(AlarmDLQAge), redriveLine(thr)), nil),
			graph("Records off the happy path", 8,
				metrics(
					functionMetric(t, contract.MetricRecordsQuarantined, statSum, slowPeriod, "Quarantined"),
					functionMetric(t, contract.MetricRecordsFailed, statSum, slowPeriod, "Failed (batch item failures)"),
					functionMetric(t, contract.MetricRecordsRetried, statSum, slowPeriod, "Retried in invocation")),
				nil, th(AlarmRecordsQuarantined), nil),
		},
		section("Records", "toolkit metrics, namespace "+ns),
		[]awscloudwatch.IWidget{
			graph("Records processed", 12,
				metrics(
					functionMetric(t, contract.MetricRecordsReceived, statSum, slowPeriod, "Received"),
					functionMetric(t, contract.MetricRecordsSucceeded, statSum, slowPeriod, "Succeeded")),
				nil, nil, nil),
			graph("Batch duration (ms)", 12,
				metrics(functionMetric(t, contract.MetricBatchDuration, statP99, slowPeriod, "Batch duration p99")),
				nil, nil, nil),
		},
	)

	return awscloudwatch.NewDashboard(scope, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName:   jsii.String(name),
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
		Widgets:         toRows(rows),
	})
}

func section(title, detail string) []awscloudwatch.IWidget {
	return []awscloudwatch.IWidget{awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{
		Markdown:   jsii.String("## " + title + " · " + detail),
		Width:      jsii.Number(24),
		Height:     jsii.Number(sectionHeight),
		Background: awscloudwatch.TextWidgetBackground_TRANSPARENT,
	})}
}

func graph(title string, width float64, left, right []awscloudwatch.IMetric, leftLines, rightLines []*awscloudwatch.HorizontalAnnotation) awscloudwatch.IWidget {
	p := &awscloudwatch.GraphWidgetProps{
		Title:          jsii.String(title),
		Width:          jsii.Number(width),
		Height:         jsii.Number(graphHeight),
		Left:           &left,
		LeftYAxis:      &awscloudwatch.YAxisProps{Min: jsii.Number(0), ShowUnits: jsii.Bool(false)},
		LegendPosition: awscloudwatch.LegendPosition_BOTTOM,
	}
	if len(right) > 0 {
		p.Right = &right
		p.RightYAxis = &awscloudwatch.YAxisProps{Min: jsii.Number(0), ShowUnits: jsii.Bool(false)}
	}
	if len(leftLines) > 0 {
		p.LeftAnnotations = &leftLines
	}
	if len(rightLines) > 0 {
		p.RightAnnotations = &rightLines
	}
	return awscloudwatch.NewGraphWidget(p)
}

func metrics(ms ...awscloudwatch.IMetric) []awscloudwatch.IMetric { return ms }

func join(as ...[]*awscloudwatch.HorizontalAnnotation) []*awscloudwatch.HorizontalAnnotation {
	var out []*awscloudwatch.HorizontalAnnotation
	for _, a := range as {
		out = append(out, a...)
	}
	return out
}

func reservedLine(reserved *float64) []*awscloudwatch.HorizontalAnnotation {
	if reserved == nil || *reserved <= 0 {
		return nil
	}
	return []*awscloudwatch.HorizontalAnnotation{{
		Value: reserved,
		Label: jsii.String(fmt.Sprintf("Reserved concurrency: %g", *reserved)),
		Color: jsii.String(colorLimitLine),
	}}
}

func redriveLine(th derivedThresholds) []*awscloudwatch.HorizontalAnnotation {
	if th.RedriveWindow <= 0 {
		return nil
	}
	return []*awscloudwatch.HorizontalAnnotation{{
		Value: jsii.Number(th.RedriveWindow.Seconds()),
		Label: jsii.String("Redrive window ends: " + human(th.RedriveWindow)),
		Color: jsii.String(colorLimitLine),
	}}
}

func toRows(rows [][]awscloudwatch.IWidget) *[]*[]awscloudwatch.IWidget {
	out := make([]*[]awscloudwatch.IWidget, len(rows))
	for i := range rows {
		out[i] = &rows[i]
	}
	return &out
}

// thresholdText renders an alarm's condition in the graph's unit.
func thresholdText(s alarmSpec) string {
	op := ">"
	if s.Comparison == awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD {
		op = "≥"
	}
	v := s.Threshold
	switch s.Kind {
	case AlarmIteratorAge, AlarmStreamIteratorAge, AlarmDuration:
		return op + " " + human(time.Duration(v)*time.Millisecond)
	case AlarmDLQAge:
		return op + " " + human(time.Duration(v)*time.Second)
	case AlarmErrorRate:
		return fmt.Sprintf("%s %g%%", op, v)
	}
	return fmt.Sprintf("%s %g", op, v)
}

func thresholdsOrDefault(specs []alarmSpec, k AlarmKind, def time.Duration) time.Duration {
	for _, s := range specs {
		if s.Kind == k {
			return time.Duration(s.Threshold) * time.Millisecond
		}
	}
	return def
}
