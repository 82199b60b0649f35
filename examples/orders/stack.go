package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/constructs/streamprocessor"

	"example.com/orders/config"
)

// OrdersStackProps configures the orders stack.
type OrdersStackProps struct {
	awscdk.StackProps
	// Entry is the directory of the function's main package, relative to the
	// working directory of the CDK app (this directory, under the CDK CLI).
	// Default: "functions/orders"
	Entry string
	// RemovalPolicy of the stream, DLQ and log group (the engine's state
	// table is always retained).
	// Default: awscdk.RemovalPolicy_RETAIN
	RemovalPolicy awscdk.RemovalPolicy
}

// OrdersStack is the orders app: orders in a Kinesis stream, revenue per
// customer in hopping event-time windows out on the results stream, by
// functions/orders on the event-time engine.
type OrdersStack struct {
	awscdk.Stack
	Orders    *streamprocessor.StreamProcessor
	EventTime *streamprocessor.EventTime
}

// Construct ids in the stack: a public contract, like the construct's.
const idOrders = "Orders"

// The app's event-time settings. Orders reach the stream within seconds of
// being placed; a shop's clock or a retrying client may be half a minute
// behind (out-of-orderness), and an order up to two minutes later still
// corrects its windows (allowed lateness) rather than going to the late
// output.
var (
	outOfOrderness  = awscdk.Duration_Seconds(jsii.Number(30))
	allowedLateness = awscdk.Duration_Minutes(jsii.Number(2))
)

// LateOrdersThreshold is how many late orders in 5 minutes the app tolerates
// before it alarms: a few stragglers are normal, more mean a producer
// replays old orders or its clock is wrong.
const LateOrdersThreshold = 50

// NewOrdersStack makes the orders stack.
func NewOrdersStack(scope constructs.Construct, id string, props *OrdersStackProps) *OrdersStack {
	p := *props // defaults on a copy
	if p.Entry == "" {
		p.Entry = "functions/orders"
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &p.StackProps)

	orders := streamprocessor.NewStreamProcessor(stack, jsii.String(idOrders), &streamprocessor.StreamProcessorProps{
		Entry:            jsii.String(p.Entry),
		MetricsNamespace: jsii.String(config.MetricsNamespace),
		BatchSize:        jsii.Number(500),
		RemovalPolicy:    p.RemovalPolicy,
		// The windows are the app's own setting: the construct provisions
		// the engine, the function decides how it windows.
		Environment: &map[string]*string{
			config.EnvWindowSize:  jsii.String(config.DefaultWindowSize.String()),
			config.EnvWindowSlide: jsii.String(config.DefaultWindowSlide.String()),
		},
	})
	// The engine's state table, results stream, 1-minute fire schedule,
	// grants, environment, alarms and graphs.
	et := orders.AddEventTime(&streamprocessor.EventTimeProps{
		OutOfOrderness:       outOfOrderness,
		AllowedLateness:      allowedLateness,
		LateRecordsThreshold: jsii.Number(LateOrdersThreshold),
	})
	addOrdersMonitoring(orders, et)

	output := func(id string, value *string, description string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
	}
	output("StreamName", orders.Stream().StreamName(), "Kinesis stream to put orders into")
	output("ResultStreamName", et.ResultStream.StreamName(), "Kinesis stream of revenue per customer and window (final results and corrections)")
	output("StateTableName", et.StateTable.TableName(), "DynamoDB table of the event-time engine's windows and watermarks")
	output("DeadLetterQueueUrl", orders.DeadLetterQueue().QueueUrl(), "DLQ: failed batches, quarantined and late orders (streamctl redrive --queue)")
	output("DashboardUrl", orders.Monitoring().DashboardURL, "CloudWatch dashboard of the pipeline")
	return &OrdersStack{Stack: stack, Orders: orders, EventTime: et}
}
