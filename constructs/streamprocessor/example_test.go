package streamprocessor_test

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/constructs/streamprocessor"
)

// docs/construct.md's "use the construct from another CDK app" snippet: the main of
// an app whose module has a Lambda handler in ./functions/orders (a main
// package calling lambda.Start). It is compiled with the tests; it does not
// run, because it builds the caller's handler.
func ExampleNewStreamProcessor() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Orders"), nil)

	orders := streamprocessor.NewStreamProcessor(stack, jsii.String("Orders"), &streamprocessor.StreamProcessorProps{
		Entry:           jsii.String("./functions/orders"), // built with GOOS=linux GOARCH=arm64
		StreamMode:      awskinesis.StreamMode_ON_DEMAND,
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(7)),
		MaxRecordAge:    awscdk.Duration_Hours(jsii.Number(24)),
		BatchSize:       jsii.Number(500),
		Monitoring:      &streamprocessor.MonitoringProps{AlarmEmail: jsii.String("oncall@example.com")},
	})

	// The function may only read the stream and write to its DLQ: grant the rest.
	table := awsdynamodb.NewTable(stack, jsii.String("Totals"), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String("id"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
	})
	table.GrantReadWriteData(orders.Function())
	orders.Function().AddEnvironment(jsii.String("TABLE_NAME"), table.TableName(), nil)

	// Producers write to the stream; an operator role may drain the DLQ.
	producer := awsiam.NewRole(stack, jsii.String("Producer"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
	})
	orders.Stream().GrantWrite(producer)
	orders.DeadLetterQueue().GrantConsumeMessages(producer)

	// The handler's own EMF metric (kinesisbatch.MetricsFromContext(ctx).Add(
	// "OrdersRejected", ...)): an alarm that joins the pipeline's composite
	// alarm and topic, and a graph in the dashboard's Application section.
	rejected := orders.Metric(jsii.String("OrdersRejected"), &awscloudwatch.MetricOptions{
		Statistic: jsii.String("Sum"),
		Period:    awscdk.Duration_Minutes(jsii.Number(5)),
	})
	orders.Monitoring().AddAlarm(rejected.CreateAlarm(stack, jsii.String("OrdersRejected"), &awscloudwatch.CreateAlarmOptions{
		Threshold:         jsii.Number(10),
		EvaluationPeriods: jsii.Number(1),
		TreatMissingData:  awscloudwatch.TreatMissingData_NOT_BREACHING,
	}))
	orders.Monitoring().AddWidgets(awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title: jsii.String("Orders rejected"),
		Left:  &[]awscloudwatch.IMetric{rejected},
		Width: jsii.Number(12),
	}))

	app.Synth(nil)
}
