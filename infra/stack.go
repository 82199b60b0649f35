package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/constructs/streamprocessor"
	"github.com/streamproc/streamproc/functions/processor/config"
)

// PipelineStackProps configures the example pipeline stack.
type PipelineStackProps struct {
	awscdk.StackProps
	Stage Stage
	// Entry is the directory of the processor's main package, relative to the
	// working directory.
	Entry string
}

// PipelineStack is the example pipeline: sensor readings in a Kinesis stream,
// aggregated per sensor and minute by functions/processor into a DynamoDB table.
type PipelineStack struct {
	awscdk.Stack
	Processor *streamprocessor.StreamProcessor
	Table     awsdynamodb.Table
}

// Construct ids in the stack (a public contract, like the construct's).
const (
	idProcessor = "Pipeline"
	idTable     = "Aggregates"
)

// processorTableActions are the calls the processor (functions/processor/aggstore's
// API interface) makes on the aggregate table: it reads windows with GetItem
// and BatchGetItem and writes them with conditional PutItem. Nothing else
// (aggstore.CreateTable is for emulators; the stack owns the table).
var processorTableActions = []string{
	"dynamodb:GetItem",
	"dynamodb:BatchGetItem",
	"dynamodb:PutItem",
}

// NewPipelineStack makes the example pipeline stack.
func NewPipelineStack(scope constructs.Construct, id string, props *PipelineStackProps) *PipelineStack {
	st := props.Stage
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	awscdk.Tags_Of(stack).Add(jsii.String("project"), jsii.String("streamproc"), nil)
	awscdk.Tags_Of(stack).Add(jsii.String("stage"), jsii.String(st.Name), nil)

	table := awsdynamodb.NewTable(stack, jsii.String(idTable), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(config.TablePartitionKey), Type: awsdynamodb.AttributeType_STRING},
		SortKey:      &awsdynamodb.Attribute{Name: jsii.String(config.TableSortKey), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:   awsdynamodb.TableEncryption_AWS_MANAGED,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(st.DeletionProtection),
		RemovalPolicy:      st.RemovalPolicy,
	})

	sp := streamprocessor.NewStreamProcessor(stack, jsii.String(idProcessor), &streamprocessor.StreamProcessorProps{
		Entry:           jsii.String(props.Entry),
		ShardCount:      jsii.Number(st.ShardCount),
		RetentionPeriod: awscdk.Duration_Hours(jsii.Number(st.RetentionHours)),
		MaxRecordAge:    awscdk.Duration_Hours(jsii.Number(st.MaxRecordAgeHours)),
		MemorySize:      jsii.Number(st.MemorySize),
		LogRetention:    st.LogRetention,
		RemovalPolicy:   st.RemovalPolicy,
		Environment: &map[string]*string{
			config.EnvTableName:  table.TableName(),
			config.EnvWindowSize: jsii.String(config.DefaultWindowSize.String()),
		},
	})
	table.Grant(sp.Function(), *jsii.Strings(processorTableActions...)...)

	output := func(id, value, description string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{
			Value:       jsii.String(value),
			Description: jsii.String(description),
		})
	}
	output("StreamName", *sp.Stream().StreamName(), "Kinesis stream to put sensor readings into (streamctl put --stream)")
	output("StreamArn", *sp.Stream().StreamArn(), "ARN of the Kinesis stream")
	output("FunctionName", *sp.Function().FunctionName(), "Processor Lambda function")
	output("DeadLetterQueueUrl", *sp.DeadLetterQueue().QueueUrl(), "DLQ: quarantined records (streamctl redrive --queue)")
	output("FailedBatchBucket", *sp.FailedBatchBucket().BucketName(), "Failed batches with their records (streamctl redrive --bucket)")
	output("TableName", *table.TableName(), "DynamoDB table of per-minute aggregates")

	addProcessorGraphs(sp)
	return &PipelineStack{Stack: stack, Processor: sp, Table: table}
}
