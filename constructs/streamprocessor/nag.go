package streamprocessor

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// cdk-nag (AwsSolutions and Serverless packs) reports a few of the
// construct's resources for what are deliberate design choices. The construct
// records the reason on each such resource, in the metadata cdk-nag reads
// ("cdk_nag" -> "rules_to_suppress", entries of id, reason and, for a
// granular finding, applies_to), so an application that runs cdk-nag gets no
// finding from the construct without writing a suppression, and without the
// construct importing cdk-nag. Each suppression is on one resource and, for
// IAM5, names the one finding it covers.

// nagRule is one cdk-nag suppression.
type nagRule struct {
	id        string
	reason    string
	appliesTo []string
	// appliesToRegex are findings matched by a regular expression
	// (cdk-nag's {regex: "/.../"} form), for a finding that names a
	// resource by its hashed logical id.
	appliesToRegex []string
}

func (r nagRule) metadata() map[string]interface{} {
	m := map[string]interface{}{"id": r.id, "reason": r.reason}
	if len(r.appliesTo)+len(r.appliesToRegex) > 0 {
		var a []interface{}
		for _, s := range r.appliesTo {
			a = append(a, s)
		}
		for _, s := range r.appliesToRegex {
			a = append(a, map[string]interface{}{"regex": s})
		}
		m["applies_to"] = a
	}
	return m
}

// suppressNag adds rules to the CloudFormation resource of c (c itself or its
// default child), keeping suppressions already there.
func suppressNag(c constructs.IConstruct, rules ...nagRule) {
	cfn := cfnResource(c)
	if cfn == nil {
		return
	}
	var list []interface{}
	if md, ok := cfn.GetMetadata(jsii.String("cdk_nag")).(map[string]interface{}); ok {
		if old, ok := md["rules_to_suppress"].([]interface{}); ok {
			list = append(list, old...)
		}
	}
	for _, r := range rules {
		list = append(list, r.metadata())
	}
	cfn.AddMetadata(jsii.String("cdk_nag"), map[string]interface{}{"rules_to_suppress": list})
}

// rolePolicy is the policy aws-cdk-lib adds to the function's role for the
// statements granted to it, or nil while it has none.
func (sp *StreamProcessor) rolePolicy() constructs.IConstruct {
	return sp.role.Node().TryFindChild(jsii.String("DefaultPolicy"))
}

func cfnResource(c constructs.IConstruct) awscdk.CfnResource {
	if c == nil {
		return nil
	}
	if r, ok := c.(awscdk.CfnResource); ok {
		return r
	}
	if r, ok := c.Node().DefaultChild().(awscdk.CfnResource); ok {
		return r
	}
	return nil
}

// addNagSuppressions records the reasons on the construct's resources. It
// runs last, when the role's policy has every statement the construct adds.
func (sp *StreamProcessor) addNagSuppressions(r *resolved) {
	var wildcards []string
	if r.Tracing != "" && r.Tracing != "DISABLED" {
		wildcards = append(wildcards, "xray:PutTraceSegments and xray:PutTelemetryRecords (X-Ray tracing, https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html)")
	}
	if r.Vpc != nil {
		wildcards = append(wildcards, "the network-interface actions Lambda needs in a VPC (ec2:Describe* support none; Lambda checks the others on * when the function is created; the same actions as AWSLambdaVPCAccessExecutionRole, inline)")
	}
	if len(wildcards) > 0 {
		suppressNag(sp.rolePolicy(), nagRule{
			id: "AwsSolutions-IAM5",
			reason: "only for actions that support no resource-level permissions: " + strings.Join(wildcards, "; ") +
				". Every other statement of the function's role names its resource.",
			appliesTo: []string{"Resource::*"},
		})
	}
	suppressNag(sp.dlq,
		nagRule{
			id: "AwsSolutions-SQS3",
			reason: "this queue IS a dead-letter queue: the quarantine queue of the function (records it rejected, with their payload; failed " +
				"batches go to the mapping's on-failure destination). It is drained by streamctl redrive, not by a consumer that could fail into another DLQ.",
		},
		nagRule{
			id: "Serverless-SQSRedrivePolicy",
			reason: "this queue IS a dead-letter queue (the function's quarantine); a redrive policy would " +
				"move failure records out of the place operators and streamctl redrive read them from.",
		},
	)
	if r.newStream && r.StreamEncryptionKey != nil {
		suppressNag(sp.stream, nagRule{
			id: "AwsSolutions-KDS3",
			reason: "the application chose a customer-managed key for this stream (StreamProcessorProps.StreamEncryptionKey), " +
				"e.g. for compliance or to control who may decrypt it; the AWS-managed aws/kinesis key is the construct's default.",
		})
	}
	suppressNag(sp.function, nagRule{
		id: "Serverless-LambdaDLQ",
		reason: "the function is invoked synchronously by the Kinesis event source mapping, never asynchronously, so a function-level " +
			"DeadLetterConfig would never receive anything; failed batches go to the mapping's on-failure destination (by default the failed-batch bucket).",
	})
}
