package streamprocessor

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/functions/contract"
)

// Construct ids of the event-time infrastructure (children of the
// StreamProcessor's "EventTime" child). They are a public contract.
const (
	IDEventTime         = "EventTime"
	IDEventTimeState    = "State"
	IDEventTimeResults  = "Results"
	IDEventTimeSchedule = "FireSchedule"
)

// EventTimeProps turn on the infrastructure of the event-time engine
// (functions/eventtime) for the processor's function: a state table, a sink
// for final results, a schedule that fires due windows when no records
// arrive, the grants and environment the function needs, and alarms and
// graphs for watermark lag, late records and publishing failures.
type EventTimeProps struct {
	// StateTable is an existing state table: partition key pk (S), sort key
	// sk (S), TTL on ttl.
	// Default: a new on-demand table with point-in-time recovery and TTL on ttl, retained on stack deletion
	StateTable awsdynamodb.ITable
	// ResultStream receives final results and corrections (Kinesis
	// PutRecords, partition key = the window's key).
	// Default: a new on-demand stream encrypted with the AWS managed key, unless ResultEventBus is set
	ResultStream awskinesis.IStream
	// ResultEventBus receives final results and corrections as EventBridge
	// events instead of a stream.
	// Default: none (results go to ResultStream)
	ResultEventBus awsevents.IEventBus
	// OutOfOrderness is how far behind a shard's highest event time a record
	// may be and still be on time.
	// Default: 20 seconds
	OutOfOrderness awscdk.Duration
	// AllowedLateness is how long after the watermark passed a window's end
	// records still correct it.
	// Default: 2 minutes
	AllowedLateness awscdk.Duration
	// IdleTimeout is the processing time after which a shard without
	// records stops holding the watermark back.
	// Default: 5 minutes
	IdleTimeout awscdk.Duration
	// FireSchedule invokes the function with {"eventtime":"fire"} so that
	// windows close and publish when no records arrive.
	// Default: every minute
	FireSchedule awsevents.Schedule
	// DisableFireSchedule: no schedule. Windows then fire only when a
	// shard's records cross a window boundary: corrections and the windows
	// of idle shards wait for the next crossing, and the last windows of a
	// stream that stops never close.
	// Default: false
	DisableFireSchedule *bool
	// WatermarkLagThreshold alarms when the stream watermark trails
	// processing time by more than this (maximum over 5 minutes, 3 periods
	// in a row).
	// Default: OutOfOrderness + AllowedLateness + IdleTimeout + 10 minutes
	WatermarkLagThreshold awscdk.Duration
	// LateRecordsThreshold alarms when more records than this go to the late
	// output in 5 minutes.
	// Default: no alarm (late records are graphed)
	LateRecordsThreshold *float64
}

// EventTime is what AddEventTime made.
type EventTime struct {
	// StateTable is the engine's state table (new or the caller's).
	StateTable awsdynamodb.ITable
	// ResultStream is the results stream, nil when results go to an event bus.
	ResultStream awskinesis.IStream
	// ResultEventBus is the results bus, nil when results go to a stream.
	ResultEventBus awsevents.IEventBus
	// FireRule is the schedule, nil when disabled.
	FireRule awsevents.Rule
	// Alarms are the event-time alarms, also part of the pipeline's
	// composite alarm (Monitoring().AddAlarm); empty with
	// MonitoringProps.DisableAlarms.
	Alarms []awscloudwatch.IAlarm
}

// The event-time alarms' kinds: alarm names are "<prefix>-<kind>" and
// construct ids "<kind>Alarm", as for the construct's own alarms.
const (
	kindWatermarkLag    AlarmKind = "WatermarkLag"
	kindPublishFailures AlarmKind = "PublishFailures"
	kindLateRecords     AlarmKind = "LateRecords"
)

// fireRequest is the schedule's payload (eventtime.FireRequest).
var fireRequest = map[string]interface{}{"eventtime": "fire"}

// AddEventTime adds the event-time engine's infrastructure to the
// processor and wires it to the function. Call it once, after
// NewStreamProcessor. Invalid props panic with a *ValidationError that lists
// every problem.
func (sp *StreamProcessor) AddEventTime(props *EventTimeProps) *EventTime {
	p := EventTimeProps{}
	if props != nil {
		p = *props // defaults go on a copy: the caller's struct is never changed
	}
	if problems := validateEventTime(&p); len(problems) > 0 {
		panic(&ValidationError{Path: *sp.Node().Path() + "/" + IDEventTime, Problems: problems})
	}
	if p.OutOfOrderness == nil {
		p.OutOfOrderness = awscdk.Duration_Seconds(jsii.Number(20))
	}
	if p.AllowedLateness == nil {
		p.AllowedLateness = awscdk.Duration_Minutes(jsii.Number(2))
	}
	if p.IdleTimeout == nil {
		p.IdleTimeout = awscdk.Duration_Minutes(jsii.Number(5))
	}
	scope := constructs.NewConstruct(sp, jsii.String(IDEventTime))
	et := &EventTime{StateTable: p.StateTable, ResultStream: p.ResultStream, ResultEventBus: p.ResultEventBus}
	fn := sp.function

	if et.StateTable == nil {
		et.StateTable = awsdynamodb.NewTable(scope, jsii.String(IDEventTimeState), &awsdynamodb.TableProps{
			PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
			SortKey:             &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
			BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
			TimeToLiveAttribute: jsii.String("ttl"),
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: jsii.Bool(true),
			},
			RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		})
	}
	et.StateTable.GrantReadWriteData(fn)
	fn.AddEnvironment(jsii.String(contract.EnvEventTimeTable), et.StateTable.TableName(), nil)

	switch {
	case et.ResultEventBus != nil:
		et.ResultEventBus.GrantPutEventsTo(fn, nil)
		fn.AddEnvironment(jsii.String(contract.EnvEventTimeEventBus), et.ResultEventBus.EventBusName(), nil)
	default:
		if et.ResultStream == nil {
			et.ResultStream = awskinesis.NewStream(scope, jsii.String(IDEventTimeResults), &awskinesis.StreamProps{
				StreamMode: awskinesis.StreamMode_ON_DEMAND,
				Encryption: awskinesis.StreamEncryption_MANAGED,
			})
		}
		et.ResultStream.GrantWrite(fn)
		fn.AddEnvironment(jsii.String(contract.EnvEventTimeResultsStreamARN), et.ResultStream.StreamArn(), nil)
	}
	fn.AddEnvironment(jsii.String(contract.EnvEventTimeOutOfOrderness), goDurationEnv(p.OutOfOrderness), nil)
	fn.AddEnvironment(jsii.String(contract.EnvEventTimeAllowedLateness), goDurationEnv(p.AllowedLateness), nil)
	fn.AddEnvironment(jsii.String(contract.EnvEventTimeIdleTimeout), goDurationEnv(p.IdleTimeout), nil)

	if !boolValue(p.DisableFireSchedule) {
		schedule := p.FireSchedule
		if schedule == nil {
			schedule = awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1)))
		}
		et.FireRule = awsevents.NewRule(scope, jsii.String(IDEventTimeSchedule), &awsevents.RuleProps{
			Schedule:    schedule,
			Description: jsii.String("fires the event-time windows that are due, also when no records arrive"),
			Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(sp.invokeTarget(), &awseventstargets.LambdaFunctionProps{
				Event:         awsevents.RuleTargetInput_FromObject(fireRequest),
				RetryAttempts: jsii.Number(2),
			})},
		})
		suppressNag(et.FireRule, nagRule{id: "Serverless-EventBusDLQ", reason: "the schedule's payload is a constant with no data: a firing that fails is repeated by the next scheduled run, and Process fires after every batch"})
	}

	sp.addEventTimeMonitoring(scope, &p, et)
	return et
}

// goDurationEnv is d as a Go duration string ("20s").
func goDurationEnv(d awscdk.Duration) *string {
	return jsii.String(fmt.Sprintf("%gs", *d.ToSeconds(nil)))
}

func validateEventTime(p *EventTimeProps) []string {
	var problems []string
	if p.ResultStream != nil && p.ResultEventBus != nil {
		problems = append(problems, "EventTimeProps.ResultStream and ResultEventBus are both set: results go to one sink, set only one")
	}
	if boolValue(p.DisableFireSchedule) && p.FireSchedule != nil {
		problems = append(problems, "EventTimeProps.FireSchedule is set but DisableFireSchedule is true: drop one of them")
	}
	for _, d := range []struct {
		name string
		v    awscdk.Duration
		max  float64
	}{{"OutOfOrderness", p.OutOfOrderness, 24 * 3600}, {"AllowedLateness", p.AllowedLateness, 7 * 24 * 3600}, {"IdleTimeout", p.IdleTimeout, 24 * 3600}} {
		if d.v == nil || *awscdk.Token_IsUnresolved(d.v.ToString()) {
			continue
		}
		if s := *d.v.ToMilliseconds(nil); s < 0 || s/1000 > d.max {
			problems = append(problems, fmt.Sprintf("EventTimeProps.%s %s is out of range: use between 0 and %g hours", d.name, *d.v.ToHumanString(), d.max/3600))
		}
	}
	if t := p.LateRecordsThreshold; t != nil && *t < 0 {
		problems = append(problems, fmt.Sprintf("EventTimeProps.LateRecordsThreshold %g is negative: use 0 or more", *t))
	}
	return problems
}

// addEventTimeMonitoring adds the alarms (joined to the composite through
// Monitoring().AddAlarm) and an "event time" row of graphs.
func (sp *StreamProcessor) addEventTimeMonitoring(scope constructs.Construct, p *EventTimeProps, et *EventTime) {
	five := awscdk.Duration_Minutes(jsii.Number(5))
	lag := sp.Metric(jsii.String(contract.MetricWatermarkLag), &awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: five, Label: jsii.String("Watermark lag (max)")})
	late := sp.Metric(jsii.String(contract.MetricLateRecords), &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five, Label: jsii.String("Late records")})
	published := sp.Metric(jsii.String(contract.MetricResultsPublished), &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five, Label: jsii.String("Results published")})
	failures := sp.Metric(jsii.String(contract.MetricPublishFailures), &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five, Label: jsii.String("Publishing failures")})

	// Without the schedule an idle pipeline emits no lag at all: missing
	// data then means nothing to report rather than a stuck watermark.
	missing := awscloudwatch.TreatMissingData_BREACHING
	if et.FireRule == nil {
		missing = awscloudwatch.TreatMissingData_NOT_BREACHING
	}
	lagThreshold := p.WatermarkLagThreshold
	if lagThreshold == nil {
		lagThreshold = awscdk.Duration_Millis(jsii.Number(*p.OutOfOrderness.ToMilliseconds(nil) + *p.AllowedLateness.ToMilliseconds(nil) +
			*p.IdleTimeout.ToMilliseconds(nil) + 10*60*1000))
	}
	specs := []alarmSpec{{
		Kind: kindWatermarkLag, Metric: lag, Threshold: *lagThreshold.ToMilliseconds(nil),
		Comparison: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, Evaluation: 3, Datapoints: 3, Missing: missing,
		What:       "The stream watermark trails processing time: windows are not closing, so final results are late.",
		Runbook:    "Find the shard that holds it back (iterator age per shard, the function's errors); check that the fire schedule invokes the function; an idle shard stops counting after the idle timeout.",
		Annotation: "WatermarkLag alarm",
	}, {
		Kind: kindPublishFailures, Metric: failures, Threshold: 1,
		Comparison: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, Evaluation: 2, Datapoints: 2, Missing: awscloudwatch.TreatMissingData_NOT_BREACHING,
		What:       "Final results could not be published in two 5-minute periods in a row.",
		Runbook:    "Check the result stream or bus (throttling, permissions, KMS) and the function's logs ('firing windows'); reserved results are published again by the next firing.",
		Annotation: "PublishFailures alarm",
	}}
	if t := p.LateRecordsThreshold; t != nil {
		specs = append(specs, alarmSpec{
			Kind: kindLateRecords, Metric: late, Threshold: *t,
			Comparison: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, Evaluation: 1, Datapoints: 1, Missing: awscloudwatch.TreatMissingData_NOT_BREACHING,
			What:       "More records than expected arrived after their window closed; they are in the late output.",
			Runbook:    "Raise the allowed lateness or the out-of-orderness, or check the producers' clocks; redrive the late output if the records still matter.",
			Annotation: "LateRecords alarm",
		})
	}
	mon := sp.Monitoring()
	lines := map[AlarmKind][]*awscloudwatch.HorizontalAnnotation{}
	if !mon.disabled {
		for _, spec := range specs {
			a := spec.build(scope, mon.prefix)
			et.Alarms = append(et.Alarms, a)
			mon.AddAlarm(a)
			lines[spec.Kind] = []*awscloudwatch.HorizontalAnnotation{{
				Value: jsii.Number(spec.Threshold), Label: jsii.String(spec.Annotation + ": " + thresholdText(spec)), Color: jsii.String(colorAlarmLine),
			}}
		}
	}
	mon.AddWidgets(
		graph("Watermark lag (ms)", 8, []awscloudwatch.IMetric{lag}, nil, lines[kindWatermarkLag], nil),
		graph("Late records", 8, []awscloudwatch.IMetric{late}, nil, lines[kindLateRecords], nil),
		graph("Results published / failures", 8, []awscloudwatch.IMetric{published, failures}, nil, lines[kindPublishFailures], nil),
	)
}
