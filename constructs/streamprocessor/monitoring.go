package streamprocessor

// SEAM (lead): this file is owned by the monitoring work (issue 3). The
// construct (issue 2) calls addMonitoring once, after it has made the stream,
// function, mapping and DLQ, and exposes the result. The monitoring owner may
// add fields to MonitoringProps and monitoringTargets and replace the body.

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
)

// MonitoringProps configures the alarms, alarm topic and dashboard.
type MonitoringProps struct {
	// Placeholder until issue 3 lands.
}

// monitoringTargets is what the construct hands to addMonitoring: the resources
// it made and the resolved settings the thresholds derive from.
type monitoringTargets struct {
	Stream              awskinesis.IStream
	StreamIsNew         bool // false when the caller passed an existing stream
	OnDemand            bool // stream capacity mode (only meaningful when StreamIsNew)
	Retention           awscdk.Duration
	Function            awslambda.IFunction
	Mapping             awslambda.EventSourceMapping
	DLQ                 awssqs.IQueue
	MaxRecordAge        awscdk.Duration
	Timeout             awscdk.Duration
	ReservedConcurrency *float64 // nil when unset
	MetricsNamespace    string   // of the function's own EMF metrics
}

// Monitoring is what addMonitoring made.
type Monitoring struct {
	Alarms    []awscloudwatch.IAlarm
	Composite awscloudwatch.IAlarm
	Topic     awssns.ITopic
	Dashboard awscloudwatch.Dashboard
}

func addMonitoring(scope constructs.Construct, t *monitoringTargets, props *MonitoringProps) *Monitoring {
	return &Monitoring{}
}
