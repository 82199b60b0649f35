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
//	Records:  toolkit records received/succeeded | batch duration
//	Application: the application's own graphs, added with Monitoring.AddWidgets
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

// pipelineDashboard makes the dashboard: one step per row group, top to bottom.
func pipelineDashboard(scope constructs.Construct, name string, t *monitoringTargets, specs []alarmSpec, alarms []builtAlarm, composite awscloudwatch.IAlarm) awscloudwatch.Dashboard {
	d := newDashboardRows(name, t, specs)
	var rows [][]awscloudwatch.IWidget
	rows = append(rows, d.header(alarms, composite))
	rows = append(rows, d.now())
	rows = append(rows, d.ingest()...)
	rows = append(rows, d.consumer()...)
	rows = append(rows, d.function()...)
	rows = append(rows, d.failures()...)
	rows = append(rows, d.records()...)
	return awscloudwatch.NewDashboard(scope, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName:   jsii.String(name),
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
		Widgets:         toRows(rows),
	})
}

// dashboardRows builds the rows of one pipeline's dashboard.
type dashboardRows struct {
	name      string
	t         *monitoringTargets
	specs     []alarmSpec
	thr       derivedThresholds // for the "records discarded" limit line; alarm lines come from specs
	discardMs float64
	timeoutMs float64
	fnName    *string
	ns        string
}

func newDashboardRows(name string, t *monitoringTargets, specs []alarmSpec) *dashboardRows {
	thr := thresholdsFor(t, &MonitoringProps{})
	ns := t.MetricsNamespace
	if ns == "" {
		ns = contract.DefaultMetricsNamespace
	}
	return &dashboardRows{
		name:      name,
		t:         t,
		specs:     specs,
		thr:       thr,
		discardMs: float64(thr.TimeToDiscard.Milliseconds()),
		timeoutMs: float64(goDuration(t.Timeout).Milliseconds()),
		fnName:    t.Function.FunctionName(),
		ns:        ns,
	}
}

// th is the threshold line of the alarm on this metric (none when that alarm
// is disabled); with several kinds, the first one present.
func (d *dashboardRows) th(kinds ...AlarmKind) []*awscloudwatch.HorizontalAnnotation {
	var names []string
	var first *alarmSpec
	for _, k := range kinds {
		for i := range d.specs {
			if d.specs[i].Kind == k {
				names = append(names, string(k))
				if first == nil {
					first = &d.specs[i]
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

// header is the overview text and the alarm status.
func (d *dashboardRows) header(alarms []builtAlarm, composite awscloudwatch.IAlarm) []awscloudwatch.IWidget {
	t := d.t
	overview := awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{
		Markdown: jsii.String(strings.Join([]string{
			"# " + d.name,
			"Kinesis stream **" + *t.Stream.StreamName() + "** → event source mapping → Lambda **" + *d.fnName + "** → sink.",
			failurePath(t),
			"",
			fmt.Sprintf("Records are discarded after **%s**; iterator-age alarms fire at **%s**.", human(d.thr.TimeToDiscard), human(thresholdsOrDefault(d.specs, AlarmIteratorAge, d.thr.IteratorAge))),
			"Orange lines: alarm thresholds. Red lines: hard limits.",
		}, "\n\n")),
		Width:  jsii.Number(8),
		Height: jsii.Number(headerHeight),
	})
	if len(alarms) == 0 {
		return []awscloudwatch.IWidget{overview}
	}
	refs := []interfacesawscloudwatch.IAlarmRef{}
	if composite != nil {
		refs = append(refs, composite)
	}
	for _, a := range alarms {
		refs = append(refs, a.alarm)
	}
	return []awscloudwatch.IWidget{overview, awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
		Title:  jsii.String("Alarms"),
		Alarms: &refs,
		Width:  jsii.Number(16),
		Height: jsii.Number(headerHeight),
	})}
}

// now is the numbers on-call reads first: is data coming in, how far behind
// are we, is anything failing or being lost.
func (d *dashboardRows) now() []awscloudwatch.IWidget {
	t := d.t
	var ms []awscloudwatch.IMetric
	if !t.NoStreamMetrics {
		ms = append(ms,
			t.Stream.MetricIncomingRecords(t.streamOpts(statSum, fastPeriod, "Incoming records /min")),
			streamLagMetric(t, "Stream lag (ms)"))
	}
	ms = append(ms,
		t.Function.Metric(jsii.String("IteratorAge"), opts(statMax, fastPeriod, "Function iterator age (ms)")),
		errorRate(t),
		t.DLQ.MetricApproximateNumberOfMessagesVisible(opts(statMax, fastPeriod, "DLQ messages")),
		mappingMetric(t, esmDropped, fastPeriod, "Dropped events"))
	return []awscloudwatch.IWidget{awscloudwatch.NewSingleValueWidget(&awscloudwatch.SingleValueWidgetProps{
		Title:     jsii.String("Now"),
		Metrics:   &ms,
		Sparkline: jsii.Bool(true),
		Width:     jsii.Number(24),
		Height:    jsii.Number(glanceHeight),
	})}
}

// ingest is the stream seen from its producers.
func (d *dashboardRows) ingest() [][]awscloudwatch.IWidget {
	s, t := d.t.Stream, d.t
	if t.NoStreamMetrics {
		return [][]awscloudwatch.IWidget{
			section("Ingest", "stream "+*s.StreamName()),
			{awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{
				Markdown: jsii.String("The stream is in another account: its metrics (AWS/Kinesis) are not in this account. " +
					"See them in the stream's account, or link this account to it with CloudWatch cross-account observability " +
					"and set MonitoringProps.CrossAccountStreamMetrics."),
				Width:  jsii.Number(24),
				Height: jsii.Number(2),
			})},
		}
	}
	return [][]awscloudwatch.IWidget{
		section("Ingest", "stream "+*s.StreamName()),
		{
			graph("Incoming records and bytes", 8,
				metrics(s.MetricIncomingRecords(t.streamOpts(statSum, fastPeriod, "Records"))),
				metrics(s.MetricIncomingBytes(t.streamOpts(statSum, fastPeriod, "Bytes"))), nil, nil),
			graph("Put latency and failed records", 8,
				metrics(
					s.MetricPutRecordsLatency(t.streamOpts(statAverage, fastPeriod, "PutRecords latency (avg ms)")),
					s.MetricPutRecordLatency(t.streamOpts(statAverage, fastPeriod, "PutRecord latency (avg ms)"))),
				metrics(s.MetricPutRecordsFailedRecords(t.streamOpts(statSum, fastPeriod, "PutRecords failed records"))), nil, nil),
			graph("Stream throttles", 8,
				metrics(
					s.MetricWriteProvisionedThroughputExceeded(t.streamOpts(statSum, slowPeriod, "Write throttled")),
					s.MetricReadProvisionedThroughputExceeded(t.streamOpts(statSum, slowPeriod, "Read throttled"))),
				nil, d.th(AlarmWriteThrottled, AlarmReadThrottled), nil),
		},
	}
}

// consumer is the event source mapping: lag on both sides, event counts,
// what it gave up on.
func (d *dashboardRows) consumer() [][]awscloudwatch.IWidget {
	t := d.t
	lag := metrics(t.Function.Metric(jsii.String("IteratorAge"), opts(statMax, fastPeriod, "IteratorAge (function)")))
	if !t.NoStreamMetrics {
		lag = append([]awscloudwatch.IMetric{streamLagMetric(t, map[bool]string{false: "GetRecords iterator age (stream)", true: "MillisBehindLatest (fan-out consumer)"}[t.EnhancedFanOut])}, lag...)
	}
	return [][]awscloudwatch.IWidget{
		section("Consumer", "event source mapping of "+*d.fnName),
		{
			graph("Iterator age (ms, max)", 8,
				lag,
				nil,
				join(d.th(AlarmIteratorAge, AlarmStreamIteratorAge), []*awscloudwatch.HorizontalAnnotation{{
					Value: jsii.Number(d.discardMs),
					Label: jsii.String("Records discarded: " + human(d.thr.TimeToDiscard)),
					Color: jsii.String(colorLimitLine),
				}}), nil),
			graph("Mapping event counts", 8,
				metrics(
					mappingMetric(t, esmPolled, fastPeriod, "Polled"),
					mappingMetric(t, esmFilteredOut, fastPeriod, "Filtered out"),
					mappingMetric(t, esmInvoked, fastPeriod, "Invoked"),
					mappingMetric(t, esmFailedInvoke, fastPeriod, "Failed invoke")),
				nil, nil, nil),
			graph("Dropped and sent to the failure destination (events)", 8,
				metrics(
					mappingMetric(t, esmDropped, fastPeriod, "Dropped"),
					mappingMetric(t, esmOnFailureDelivered, fastPeriod, "Sent to the on-failure destination")),
				nil, d.th(AlarmDroppedEvents, AlarmOnFailureDelivered), nil),
		},
	}
}

// function is the Lambda function's own metrics.
func (d *dashboardRows) function() [][]awscloudwatch.IWidget {
	fn := d.t.Function
	return [][]awscloudwatch.IWidget{
		section("Function", *d.fnName),
		{
			graph("Invocations and errors", 6,
				metrics(
					fn.MetricInvocations(opts(statSum, slowPeriod, "Invocations")),
					fn.MetricErrors(opts(statSum, slowPeriod, "Errors"))),
				metrics(errorRate(d.t)), nil, d.th(AlarmErrorRate)),
			graph("Throttles", 6,
				metrics(fn.MetricThrottles(opts(statSum, slowPeriod, "Throttles"))),
				nil, d.th(AlarmThrottles), nil),
			graph("Duration (ms)", 6,
				metrics(
					fn.MetricDuration(opts("p50", slowPeriod, "p50")),
					fn.MetricDuration(opts("p90", slowPeriod, "p90")),
					fn.MetricDuration(opts(statP99, slowPeriod, "p99")),
					fn.MetricDuration(opts(statMax, slowPeriod, "max"))),
				nil,
				join(d.th(AlarmDuration), []*awscloudwatch.HorizontalAnnotation{{
					Value: jsii.Number(d.timeoutMs),
					Label: jsii.String("Timeout: " + human(goDuration(d.t.Timeout))),
					Color: jsii.String(colorLimitLine),
				}}), nil),
			graph("Concurrent executions", 6,
				metrics(fn.Metric(jsii.String("ConcurrentExecutions"), opts(statMax, fastPeriod, "Concurrent executions (max)"))),
				nil, join(d.th(AlarmConcurrency), reservedLine(d.t.ReservedConcurrency)), nil),
		},
	}
}

// failures is the DLQ and the records that left the happy path.
func (d *dashboardRows) failures() [][]awscloudwatch.IWidget {
	t := d.t
	return [][]awscloudwatch.IWidget{
		section("Failures", "DLQ "+*t.DLQ.QueueName()),
		{
			graph("DLQ depth (messages)", 8,
				metrics(
					t.DLQ.MetricApproximateNumberOfMessagesVisible(opts(statMax, fastPeriod, "Visible")),
					t.DLQ.MetricApproximateNumberOfMessagesNotVisible(opts(statMax, fastPeriod, "In flight (redrive)"))),
				nil, d.th(AlarmDLQMessages), nil),
			graph("DLQ oldest message age (s)", 8,
				metrics(t.DLQ.MetricApproximateAgeOfOldestMessage(opts(statMax, slowPeriod, "Oldest message age"))),
				nil, join(d.th(AlarmDLQAge), redriveLine(d.thr)), nil),
			graph("Records off the happy path", 8,
				metrics(
					functionMetric(t, contract.MetricRecordsQuarantined, statSum, slowPeriod, "Quarantined"),
					functionMetric(t, contract.MetricRecordsFailed, statSum, slowPeriod, "Failed (batch item failures)"),
					functionMetric(t, contract.MetricRecordsRetried, statSum, slowPeriod, "Retried in invocation")),
				nil, d.th(AlarmRecordsQuarantined), nil),
		},
		d.failedBatches(),
	}
}

// records is the toolkit's own metrics, which every pipeline has.
func (d *dashboardRows) records() [][]awscloudwatch.IWidget {
	t := d.t
	return [][]awscloudwatch.IWidget{
		section("Records", "toolkit metrics, namespace "+d.ns),
		{
			graph("Records processed", 12,
				metrics(
					functionMetric(t, contract.MetricRecordsReceived, statSum, slowPeriod, "Received"),
					functionMetric(t, contract.MetricRecordsSucceeded, statSum, slowPeriod, "Succeeded")),
				nil, nil, nil),
			graph("Batch duration (ms)", 12,
				metrics(functionMetric(t, contract.MetricBatchDuration, statP99, slowPeriod, "Batch duration p99")),
				nil, nil, nil),
		},
	}
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
	case AlarmIteratorAge, AlarmStreamIteratorAge, AlarmDuration, kindWatermarkLag:
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
