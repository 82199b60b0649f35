package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/streamproc/streamproc/constructs/streamprocessor"
)

// addNagChecks applies the cdk-nag AwsSolutions and Serverless packs to every
// stack of the app. An unsuppressed finding is an error annotation, which makes
// `cdk synth` exit non-zero.
func addNagChecks(app awscdk.App) {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewServerlessChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// suppressPipelineFindings records, on the one resource each applies to, the
// findings that are deliberate design choices, with the reason.
func suppressPipelineFindings(sp *streamprocessor.StreamProcessor) {
	suppress := func(resource interface{}, rule, reason string, appliesTo ...string) {
		s := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
		if len(appliesTo) > 0 {
			a := make([]interface{}, len(appliesTo))
			for i, v := range appliesTo {
				a[i] = v
			}
			s.AppliesTo = &a
		}
		cdknag.NagSuppressions_AddResourceSuppressions(resource, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(false))
	}
	policy := sp.Role().Node().FindChild(jsii.String("DefaultPolicy"))
	suppress(policy, "AwsSolutions-IAM5",
		"xray:PutTraceSegments and xray:PutTelemetryRecords (X-Ray tracing is on) support no resource-level permissions; "+
			"https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html. Every other statement names its resource.",
		"Resource::*")
	queue := sp.DeadLetterQueue().Node().DefaultChild()
	suppress(queue, "AwsSolutions-SQS3",
		"this queue IS the dead-letter queue: the on-failure destination of the Kinesis event source mapping and the quarantine "+
			"queue of the function. It is drained by streamctl redrive, not by a consumer that could fail into another DLQ.")
	suppress(queue, "Serverless-SQSRedrivePolicy",
		"this queue IS the dead-letter queue (on-failure destination of the event source mapping); a redrive policy would move "+
			"failure records out of the place operators and streamctl redrive read them from.")
	suppress(sp.Function().Node().DefaultChild(), "Serverless-LambdaDLQ",
		"the function is invoked synchronously by the Kinesis event source mapping, never asynchronously, so a function-level "+
			"DeadLetterConfig would never receive anything; failed batches go to the mapping's on-failure destination (the DLQ).")
}
