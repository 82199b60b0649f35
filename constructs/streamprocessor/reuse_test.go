package streamprocessor_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	sp "github.com/streamproc/streamproc/constructs/streamprocessor"
)

// What another CDK app does with the construct: a VPC, other accounts
// reading the stream, a stream of another account, cdk-nag on the whole app.

const (
	thisAccount    = "111111111111"
	otherAccount   = "222222222222"
	readerRoleArn  = "arn:aws:iam::333333333333:role/orders-reader"
	otherStreamArn = "arn:aws:kinesis:eu-west-1:" + otherAccount + ":stream/partner-orders"
	layerArn       = "arn:aws:lambda:eu-west-1:580247275435:layer:LambdaInsightsExtension-Arm64:20"

	// The recipe "Consuming a stream in another account" (docs/construct.md).
	producerAccount = "444444444444"
	consumerAccount = "555555555555"
	recipeStreamArn = "arn:aws:kinesis:eu-west-1:" + producerAccount + ":stream/orders"
)

// branchEnv is the environment of the stacks that need one (the others are
// environment-agnostic, as `cdk synth` without credentials makes them).
var branchEnv = map[string]*awscdk.Environment{
	"RecipeProducer":      {Account: jsii.String(producerAccount), Region: jsii.String("eu-west-1")},
	"RecipeConsumer":      {Account: jsii.String(consumerAccount), Region: jsii.String("eu-west-1")},
	"OtherAccount":        {Account: jsii.String(thisAccount), Region: jsii.String("eu-west-1")},
	"OtherAccountMetrics": {Account: jsii.String(thisAccount), Region: jsii.String("eu-west-1")},
	"Network":             {Account: jsii.String(thisAccount), Region: jsii.String("eu-west-1")},
}

func reuseBranches(code func() awslambda.Code) []branch {
	partnerStream := func(stack awscdk.Stack) awskinesis.IStream {
		return awskinesis.Stream_FromStreamArn(stack, jsii.String("Partner"), jsii.String(otherStreamArn))
	}
	return []branch{
		// Producer account: the stream, with a policy that lets the consumer
		// account read it.
		{"RecipeProducer", func(stack awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{
				Code:                code(),
				StreamName:          jsii.String("orders"),
				RetentionPeriod:     awscdk.Duration_Days(jsii.Number(7)),
				CrossAccountReaders: &[]awsiam.IPrincipal{awsiam.NewAccountPrincipal(jsii.String(consumerAccount))},
			}
		}, func(t *testing.T, tmpl assertions.Template, f *fixture) {
			stream := logicalID(t, tmpl, "AWS::Kinesis::Stream", "/Orders/Stream/Resource")
			hasProps(t, tmpl, "AWS::Kinesis::ResourcePolicy", m{
				"ResourceArn": m{"Fn::GetAtt": []interface{}{stream, "Arn"}},
				"ResourcePolicy": m{"Statement": []interface{}{m{
					"Principal": m{"AWS": m{"Fn::Join": []interface{}{"", []interface{}{"arn:", m{"Ref": "AWS::Partition"}, ":iam::" + consumerAccount + ":root"}}}},
					"Action":    arrayWith("kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"),
				}}},
			})
		}},
		// Consumer account, same region: the producer's stream by ARN.
		{"RecipeConsumer", func(stack awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{
				Code:            code(),
				Stream:          awskinesis.Stream_FromStreamArn(stack, jsii.String("ProducerStream"), jsii.String(recipeStreamArn)),
				RetentionPeriod: awscdk.Duration_Days(jsii.Number(7)), // declare the producer's retention for the checks
			}
		}, func(t *testing.T, tmpl assertions.Template, f *fixture) {
			hasProps(t, tmpl, "AWS::Lambda::EventSourceMapping", m{"EventSourceArn": recipeStreamArn})
			got := policyActions(tmpl)
			for _, a := range []string{"kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStreamSummary", "kinesis:ListShards"} {
				if fmt.Sprint(got[a]) != fmt.Sprint([]interface{}{recipeStreamArn}) {
					t.Errorf("%s granted on %v, want the producer's stream", a, got[a])
				}
			}
			count(t, tmpl, "AWS::Kinesis::Stream", 0)
			count(t, tmpl, "AWS::Kinesis::ResourcePolicy", 0)
			for id, a := range resources(tmpl, "AWS::CloudWatch::Alarm") {
				if a["Properties"].(m)["Namespace"] == "AWS/Kinesis" {
					t.Errorf("alarm %s watches the producer account's stream metrics from the consumer account", id)
				}
			}
		}},
		{"Network", func(stack awscdk.Stack) *sp.StreamProcessorProps {
			vpc := awsec2.Vpc_FromVpcAttributes(stack, jsii.String("Vpc"), &awsec2.VpcAttributes{
				VpcId:                      jsii.String("vpc-0123456789abcdef0"),
				AvailabilityZones:          jsii.Strings("eu-west-1a", "eu-west-1b"),
				PrivateSubnetIds:           jsii.Strings("subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"),
				PrivateSubnetRouteTableIds: jsii.Strings("rtb-0aaaaaaaaaaaaaaa1", "rtb-0bbbbbbbbbbbbbbb2"),
			})
			return &sp.StreamProcessorProps{
				Code:        code(),
				Vpc:         vpc,
				VpcSubnets:  &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
				Layers:      &[]awslambda.ILayerVersion{awslambda.LayerVersion_FromLayerVersionArn(stack, jsii.String("Insights"), jsii.String(layerArn))},
				Description: jsii.String("Orders stream processor"),
			}
		}, func(t *testing.T, tmpl assertions.Template, f *fixture) {
			hasProps(t, tmpl, "AWS::Lambda::Function", m{
				"VpcConfig": m{
					"SubnetIds":        []interface{}{"subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"},
					"SecurityGroupIds": arrayWith(m{"Fn::GetAtt": arrayWith(assertions.Match_StringLikeRegexp(jsii.String("OrdersFunctionSecurityGroup")), "GroupId")}),
				},
				"Layers":        []interface{}{layerArn},
				"Description":   "Orders stream processor",
				"TracingConfig": m{"Mode": "Active"},
			})
			got := policyActions(tmpl)
			for _, a := range []string{"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface"} {
				if fmt.Sprint(got[a]) != "[*]" {
					t.Errorf("%s granted on %v, want [*] on the function's role", a, got[a])
				}
			}
			for _, r := range resources(tmpl, "AWS::IAM::Role") {
				if mp := r["Properties"].(m)["ManagedPolicyArns"]; mp != nil {
					t.Errorf("role has managed policies %v, want none (cdk-nag IAM4)", mp)
				}
			}
			// Connections() is the function's security group: usable as an IConnectable.
			var c awsec2.IConnectable = f.procs["Network"]
			if sgs := c.Connections().SecurityGroups(); sgs == nil || len(*sgs) != 1 {
				t.Errorf("Connections() has security groups %v, want the function's one", sgs)
			}
		}},
		{"Shared", func(stack awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{
				Code:           code(),
				EnhancedFanOut: jsii.Bool(true),
				Tracing:        awslambda.Tracing_PASS_THROUGH,
				CrossAccountReaders: &[]awsiam.IPrincipal{
					awsiam.NewAccountPrincipal(jsii.String(otherAccount)),
					awsiam.NewArnPrincipal(jsii.String(readerRoleArn)),
				},
			}
		}, func(t *testing.T, tmpl assertions.Template, f *fixture) {
			stream := logicalID(t, tmpl, "AWS::Kinesis::Stream", "/Orders/Stream/Resource")
			consumer := logicalID(t, tmpl, "AWS::Kinesis::StreamConsumer", "/Orders/Consumer/Resource")
			principals := m{"AWS": []interface{}{
				m{"Fn::Join": []interface{}{"", []interface{}{"arn:", m{"Ref": "AWS::Partition"}, ":iam::" + otherAccount + ":root"}}},
				readerRoleArn,
			}}
			hasProps(t, tmpl, "AWS::Kinesis::ResourcePolicy", m{
				"ResourceArn": m{"Fn::GetAtt": []interface{}{stream, "Arn"}},
				"ResourcePolicy": m{"Statement": []interface{}{m{
					"Effect":    "Allow",
					"Principal": principals,
					"Action": []interface{}{"kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
						"kinesis:GetShardIterator", "kinesis:ListShards"},
					"Resource": m{"Fn::GetAtt": []interface{}{stream, "Arn"}},
				}}},
			})
			hasProps(t, tmpl, "AWS::Kinesis::ResourcePolicy", m{
				"ResourceArn": m{"Fn::GetAtt": []interface{}{consumer, "ConsumerARN"}},
				"ResourcePolicy": m{"Statement": []interface{}{m{
					"Effect":    "Allow",
					"Principal": principals,
					"Action":    []interface{}{"kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard"},
				}}},
			})
			count(t, tmpl, "AWS::Kinesis::ResourcePolicy", 2)
			hasProps(t, tmpl, "AWS::Lambda::Function", m{"TracingConfig": m{"Mode": "PassThrough"}})
		}},
		{"OtherAccount", func(stack awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{Code: code(), Stream: partnerStream(stack)}
		}, func(t *testing.T, tmpl assertions.Template, f *fixture) {
			// No alarm or graph reads AWS/Kinesis in this account, where the
			// partner's stream has no metrics.
			for id, a := range resources(tmpl, "AWS::CloudWatch::Alarm") {
				if raw, _ := json.Marshal(a); strings.Contains(string(raw), "AWS/Kinesis") {
					t.Errorf("alarm %s reads AWS/Kinesis of a stream in another account: %s", id, raw)
				}
			}
			for _, d := range resources(tmpl, "AWS::CloudWatch::Dashboard") {
				raw, _ := json.Marshal(d)
				for _, metric := range []string{"GetRecords.IteratorAgeMilliseconds", "IncomingRecords", "IncomingBytes",
					"PutRecords.Latency", "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded"} {
					if strings.Contains(string(raw), metric) {
						t.Errorf("dashboard graphs the stream's %s, which is not in this account", metric)
					}
				}
			}
			if n := len(f.procs["OtherAccount"].Alarms()); n != len(resources(tmpl, "AWS::CloudWatch::Alarm")) || n == 0 {
				t.Errorf("%d alarms, template has %d", n, len(resources(tmpl, "AWS::CloudWatch::Alarm")))
			}
			// the mapping still reads the partner's stream
			hasProps(t, tmpl, "AWS::Lambda::EventSourceMapping", m{"EventSourceArn": otherStreamArn})
		}},
		{"OtherAccountMetrics", func(stack awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{
				Code:       code(),
				Stream:     partnerStream(stack),
				Monitoring: &sp.MonitoringProps{CrossAccountStreamMetrics: jsii.Bool(true)},
			}
		}, func(t *testing.T, tmpl assertions.Template, f *fixture) {
			// The stream-side alarm reads the partner account's metric
			// (cross-account observability) and never breaches on missing data.
			hasProps(t, tmpl, "AWS::CloudWatch::Alarm", m{
				"TreatMissingData": "notBreaching",
				"Metrics": []interface{}{m{
					"AccountId":  otherAccount,
					"MetricStat": m{"Metric": m{"Namespace": "AWS/Kinesis", "MetricName": "GetRecords.IteratorAgeMilliseconds"}},
				}},
			})
			for _, d := range resources(tmpl, "AWS::CloudWatch::Dashboard") {
				raw, _ := json.Marshal(d)
				if !strings.Contains(string(raw), `\"accountId\":\"`+otherAccount+`\"`) {
					t.Errorf("dashboard has no graph of the partner account's stream metrics")
				}
			}
		}},
	}
}

// addNagPacks runs cdk-nag's AwsSolutions and Serverless packs on the app, as
// an application that applies cdk-nag does.
func addNagPacks(app awscdk.App) {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewServerlessChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// annotations returns the stack's error and warning annotations.
func annotations(stack awscdk.Stack) []string {
	ann := assertions.Annotations_FromStack(stack)
	var out []string
	for _, find := range []func(*string, interface{}) *[]*cxapi.SynthesisMessage{
		func(p *string, msg interface{}) *[]*cxapi.SynthesisMessage { return ann.FindError(p, msg) },
		func(p *string, msg interface{}) *[]*cxapi.SynthesisMessage { return ann.FindWarning(p, msg) },
	} {
		for _, msg := range *find(jsii.String("*"), assertions.Match_AnyValue()) {
			out = append(out, fmt.Sprintf("%s: %v", *msg.Id, msg.Entry.Data))
		}
	}
	slices.Sort(out)
	return out
}

// TestNag: cdk-nag's AwsSolutions and Serverless packs find nothing in the
// construct's resources, in every configuration of the test app, without a
// suppression written by the application. Expected: the application's own
// choice of a tracing mode other than ACTIVE, and the warning for an
// imported stream whose account cannot be compared with the stack's.
func TestNag(t *testing.T) {
	f := getFixture(t)
	expected := map[string][]string{
		"Shared": {"Serverless-LambdaTracing"},
		"Reuse":  {"streamprocessor:StreamAccountUnknown"},
	}
	for _, b := range branches() {
		var unexpected []string
		seen := map[string]bool{}
		for _, finding := range f.findings[b.name] {
			ok := false
			for _, want := range expected[b.name] {
				if strings.Contains(finding, want) {
					ok, seen[want] = true, true
				}
			}
			if !ok {
				unexpected = append(unexpected, finding)
			}
		}
		if len(unexpected) > 0 {
			t.Errorf("%s: %d findings:\n  %s", b.name, len(unexpected), strings.Join(unexpected, "\n  "))
		}
		for _, want := range expected[b.name] {
			if !seen[want] {
				t.Errorf("%s: no %s finding; findings: %v", b.name, want, f.findings[b.name])
			}
		}
	}
}
