package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
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
	// RemovalPolicy of the stream, DLQ, log group and table.
	// Default: awscdk.RemovalPolicy_RETAIN
	RemovalPolicy awscdk.RemovalPolicy
}

// OrdersStack is the orders app: orders in a Kinesis stream, added to
// per-customer totals in DynamoDB by functions/orders.
type OrdersStack struct {
	awscdk.Stack
	Orders *streamprocessor.StreamProcessor
	Totals awsdynamodb.Table
}

// Construct ids in the stack: a public contract, like the construct's.
const (
	idOrders = "Orders"
	idTotals = "CustomerTotals"
)

// functionTableActions are the calls totals.Store makes: the conditional
// UpdateItem, and GetItem when the condition fails.
var functionTableActions = []string{"dynamodb:UpdateItem", "dynamodb:GetItem"}

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

	totals := awsdynamodb.NewTable(stack, jsii.String(idTotals), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(config.TablePartitionKey), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:   awsdynamodb.TableEncryption_AWS_MANAGED,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		RemovalPolicy: p.RemovalPolicy,
	})

	orders := streamprocessor.NewStreamProcessor(stack, jsii.String(idOrders), &streamprocessor.StreamProcessorProps{
		Entry:            jsii.String(p.Entry),
		MetricsNamespace: jsii.String(config.MetricsNamespace),
		BatchSize:        jsii.Number(500),
		RemovalPolicy:    p.RemovalPolicy,
		Environment: &map[string]*string{
			config.EnvTableName: totals.TableName(),
		},
	})
	totals.Grant(orders.Function(), *jsii.Strings(functionTableActions...)...)
	addOrdersMonitoring(orders, totals)

	output := func(id string, value *string, description string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
	}
	output("StreamName", orders.Stream().StreamName(), "Kinesis stream to put orders into")
	output("TableName", totals.TableName(), "DynamoDB table of per-customer totals")
	output("DeadLetterQueueUrl", orders.DeadLetterQueue().QueueUrl(), "DLQ: failed batches and quarantined orders (streamctl redrive --queue)")
	output("DashboardUrl", orders.Monitoring().DashboardURL, "CloudWatch dashboard of the pipeline")
	return &OrdersStack{Stack: stack, Orders: orders, Totals: totals}
}
