package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
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
// aggregated per sensor and minute of event time by functions/processor on
// the event-time engine, final results on a results stream.
type PipelineStack struct {
	awscdk.Stack
	Processor *streamprocessor.StreamProcessor
	EventTime *streamprocessor.EventTime
}

// Construct ids in the stack (a public contract, like the construct's).
const idProcessor = "Pipeline"

// The example's event-time settings (docs/example.md): sensors report every
// few seconds over mobile links, so a reading may trail its sensor's newest
// by up to 30 s and still count on time; readings up to 2 minutes after a
// window's final result correct it; a shard without readings for 2 minutes
// stops holding the watermark back.
const (
	outOfOrderness  = 30 // seconds
	allowedLateness = 2  // minutes
	idleTimeout     = 2  // minutes
)

// The mapping is sized for throughput (docs/example.md): the engine's cost
// per invocation (watermark reads and writes, the firing) is fixed, and its
// window writes grow with the (sensor, minute) pairs, not the readings, so
// fewer, larger batches carry more readings per second. A 1 s batching
// window bounds the added latency; results wait for the watermark anyway.
const (
	batchSize      = 1000
	batchingWindow = 1 // second
)

// NewPipelineStack makes the example pipeline stack.
func NewPipelineStack(scope constructs.Construct, id string, props *PipelineStackProps) *PipelineStack {
	st := props.Stage
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	awscdk.Tags_Of(stack).Add(jsii.String("project"), jsii.String("streamproc"), nil)
	awscdk.Tags_Of(stack).Add(jsii.String("stage"), jsii.String(st.Name), nil)

	sp := streamprocessor.NewStreamProcessor(stack, jsii.String(idProcessor), &streamprocessor.StreamProcessorProps{
		Entry:             jsii.String(props.Entry),
		ShardCount:        jsii.Number(st.ShardCount),
		RetentionPeriod:   awscdk.Duration_Hours(jsii.Number(st.RetentionHours)),
		MaxRecordAge:      awscdk.Duration_Hours(jsii.Number(st.MaxRecordAgeHours)),
		MemorySize:        jsii.Number(st.MemorySize),
		BatchSize:         jsii.Number(batchSize),
		MaxBatchingWindow: awscdk.Duration_Seconds(jsii.Number(batchingWindow)),
		LogRetention:      st.LogRetention,
		RemovalPolicy:     st.RemovalPolicy,
		Environment: &map[string]*string{
			config.EnvWindowSize: jsii.String(config.DefaultWindowSize.String()),
		},
	})
	// Per-minute tumbling windows (WINDOW_SIZE) on the engine: its state
	// table, a results stream, the one-minute fire schedule.
	et := sp.AddEventTime(&streamprocessor.EventTimeProps{
		OutOfOrderness:  awscdk.Duration_Seconds(jsii.Number(outOfOrderness)),
		AllowedLateness: awscdk.Duration_Minutes(jsii.Number(allowedLateness)),
		IdleTimeout:     awscdk.Duration_Minutes(jsii.Number(idleTimeout)),
	})

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
	output("ResultStreamName", *et.ResultStream.StreamName(), "Kinesis stream of final per-minute results and corrections")
	output("StateTableName", *et.StateTable.TableName(), "DynamoDB table of the event-time engine's window state")

	addProcessorGraphs(sp)
	return &PipelineStack{Stack: stack, Processor: sp, EventTime: et}
}
