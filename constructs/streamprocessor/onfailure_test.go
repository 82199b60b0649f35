package streamprocessor_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	sp "github.com/streamproc/streamproc/constructs/streamprocessor"
	"github.com/streamproc/streamproc/functions/contract"
)

// onFailureBranches are the shared app's stacks for the on-failure
// destination: SQS stays selectable with aws-cdk-lib's own type, and a
// caller's bucket with a 10 MiB stream.
func onFailureBranches() []branch {
	code := func() awslambda.Code { return awslambda.Code_FromAsset(jsii.String(prebuiltCode), nil) }
	return []branch{
		{"OnFailureSQS", func(stack awscdk.Stack) *sp.StreamProcessorProps {
			q := awssqs.NewQueue(stack, jsii.String("MyFailures"), &awssqs.QueueProps{EnforceSSL: jsii.Bool(true)})
			// The application's own queue: its suppressions are the application's.
			appSuppress(q, "AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy")
			return &sp.StreamProcessorProps{Code: code(), OnFailure: awslambdaeventsources.NewSqsDlq(q)}
		}, func(t *testing.T, tmpl assertions.Template, _ *fixture) {
			q := logicalID(t, tmpl, "AWS::SQS::Queue", "/MyFailures/Resource")
			hasProps(t, tmpl, "AWS::Lambda::EventSourceMapping", m{
				"DestinationConfig": m{"OnFailure": m{"Destination": m{"Fn::GetAtt": []interface{}{q, "Arn"}}}},
			})
			count(t, tmpl, "AWS::S3::Bucket", 0)
			if rs := policyActions(tmpl)["sqs:SendMessage"]; !strings.Contains(fmt.Sprint(rs), q) {
				t.Errorf("sqs:SendMessage granted on %v, want the caller's queue %s too", rs, q)
			}
			if _, ok := policyActions(tmpl)["s3:PutObject"]; ok {
				t.Error("s3:PutObject granted with an SQS destination")
			}
			alarmDescribes(t, tmpl, "OnFailureDelivered", "sequence ranges", "redrive --queue")
		}},
		{"OnFailureOwnBucket", func(stack awscdk.Stack) *sp.StreamProcessorProps {
			b := awss3.NewBucket(stack, jsii.String("MyBucket"), &awss3.BucketProps{EnforceSSL: jsii.Bool(true)})
			appSuppress(b, "AwsSolutions-S1")
			return &sp.StreamProcessorProps{Code: code(), OnFailure: awslambdaeventsources.NewS3OnFailureDestination(b),
				MaxRecordSize: awscdk.Size_Mebibytes(jsii.Number(10))}
		}, func(t *testing.T, tmpl assertions.Template, f *fixture) {
			b := logicalID(t, tmpl, "AWS::S3::Bucket", "/MyBucket/Resource")
			hasProps(t, tmpl, "AWS::Lambda::EventSourceMapping", m{
				"DestinationConfig": m{"OnFailure": m{"Destination": m{"Fn::GetAtt": []interface{}{b, "Arn"}}}},
			})
			hasProps(t, tmpl, "AWS::Kinesis::Stream", m{"MaxRecordSizeInKiB": 10240})
			count(t, tmpl, "AWS::S3::Bucket", 1) // the caller's only
			if f.procs["OnFailureOwnBucket"].FailedBatchBucket() != nil {
				t.Error("FailedBatchBucket() is not nil with OnFailure given")
			}
			alarmDescribes(t, tmpl, "OnFailureDelivered", "with its records", "redrive --bucket")
		}},
	}
}

// appSuppress records, as the test application, why its own failure
// destination has findings (it is the on-failure destination of the mapping,
// which cdk-nag cannot see).
func appSuppress(c constructs.IConstruct, rules ...string) {
	var s []*cdknag.NagPackSuppression
	for _, r := range rules {
		s = append(s, &cdknag.NagPackSuppression{Id: jsii.String(r), Reason: jsii.String("the test application's own on-failure destination of the stream processor's event source mapping, written to and read by redrive only")})
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &s, jsii.Bool(true))
}

// alarmDescribes checks that the alarm of kind mentions each text.
func alarmDescribes(t *testing.T, tmpl assertions.Template, kind string, texts ...string) {
	t.Helper()
	for id, r := range resources(tmpl, "AWS::CloudWatch::Alarm") {
		if !strings.Contains(id, kind) {
			continue
		}
		d := fmt.Sprint(r["Properties"].(m)["AlarmDescription"])
		for _, s := range texts {
			if !strings.Contains(d, s) {
				t.Errorf("alarm %s: description %q does not mention %q", id, d, s)
			}
		}
		return
	}
	t.Errorf("no %s alarm", kind)
}

// TestFailedBatchBucket: the default on-failure destination keeps records,
// privately, for a bounded time, with exactly the grants the mapping needs;
// the quarantine queue takes 1 MiB messages; the conservation alarm watches
// the four toolkit counts.
func TestFailedBatchBucket(t *testing.T) {
	f := getFixture(t)
	tmpl := f.templates["Defaults"]
	key := logicalID(t, tmpl, "AWS::KMS::Key", "/DeadLetterQueueKey/Resource")
	bucket := logicalID(t, tmpl, "AWS::S3::Bucket", "/"+sp.IDFailedBatchBucket+"/Resource")
	hasResource(t, tmpl, "AWS::S3::Bucket", m{
		"Properties": m{
			"BucketEncryption": m{"ServerSideEncryptionConfiguration": []interface{}{obj(m{
				"BucketKeyEnabled":              true,
				"ServerSideEncryptionByDefault": m{"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": m{"Fn::GetAtt": []interface{}{key, "Arn"}}},
			})}},
			"PublicAccessBlockConfiguration": m{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true},
			"LifecycleConfiguration": m{"Rules": arrayWith(obj(m{
				"ExpirationInDays": sp.DefaultFailedBatchRetentionDays, "Status": "Enabled",
			}))},
		},
		"DeletionPolicy": "Retain",
		"Metadata":       m{"cdk_nag": m{"rules_to_suppress": arrayWith(obj(m{"id": "AwsSolutions-S1"}))}},
	})
	hasProps(t, tmpl, "AWS::S3::BucketPolicy", m{"PolicyDocument": m{"Statement": arrayWith(obj(m{
		"Effect": "Deny", "Condition": m{"Bool": m{"aws:SecureTransport": "false"}},
	}))}})
	got := policyActions(tmpl)
	if want := fmt.Sprint([]interface{}{m{"Fn::Join": []interface{}{"", []interface{}{m{"Fn::GetAtt": []interface{}{bucket, "Arn"}}, "/" + contract.FailedBatchKeyPrefix + "*"}}}}); fmt.Sprint(got["s3:PutObject"]) != want {
		t.Errorf("s3:PutObject on %v, want %s", got["s3:PutObject"], want)
	}
	if want := fmt.Sprint([]interface{}{m{"Fn::GetAtt": []interface{}{bucket, "Arn"}}}); fmt.Sprint(got["s3:ListBucket"]) != want {
		t.Errorf("s3:ListBucket on %v, want %s", got["s3:ListBucket"], want)
	}
	for a := range got {
		if strings.HasPrefix(a, "s3:") && a != "s3:PutObject" && a != "s3:ListBucket" {
			t.Errorf("the role may %s: the mapping only writes failed batches", a)
		}
	}
	if f.procs["Defaults"].FailedBatchBucket() == nil {
		t.Error("FailedBatchBucket() is nil")
	}
	hasProps(t, tmpl, "AWS::SQS::Queue", m{"MaximumMessageSize": sp.QuarantineMaxMessageBytes})
	hasProps(t, tmpl, "AWS::Lambda::Function", m{"Environment": m{"Variables": m{
		contract.EnvQuarantineMaxMessageBytes: fmt.Sprint(sp.QuarantineMaxMessageBytes),
	}}})
	alarmDescribes(t, tmpl, "OnFailureDelivered", "with its records", "redrive --bucket")
	alarmDescribes(t, tmpl, string(sp.AlarmConservation), "RecordsReceived", "docs/operations.md")
	alarmDescribes(t, tmpl, string(sp.AlarmDLQMessages), "quarantined", "--only quarantined")
	alarmDescribes(t, tmpl, string(sp.AlarmDLQAge), "oldest quarantined record", "retention")
	hasProps(t, tmpl, "AWS::CloudWatch::Alarm", m{
		"AlarmName": assertions.Match_StringLikeRegexp(jsii.String(string(sp.AlarmConservation))),
		"Metrics": arrayWith(obj(m{
			"Expression": "ABS(FILL(received, 0) - (FILL(succeeded, 0) + FILL(quarantined, 0) + FILL(failed, 0)))",
		})),
		"TreatMissingData": "notBreaching",
	})
	for _, name := range []string{contract.MetricRecordsReceived, contract.MetricRecordsSucceeded, contract.MetricRecordsQuarantined, contract.MetricRecordsFailed} {
		hasProps(t, tmpl, "AWS::CloudWatch::Alarm", m{
			"AlarmName": assertions.Match_StringLikeRegexp(jsii.String(string(sp.AlarmConservation))),
			"Metrics":   arrayWith(obj(m{"MetricStat": obj(m{"Metric": obj(m{"MetricName": name})})})),
		})
	}
}

// TestOnFailureValidation: record sizes and the destination they need.
func TestOnFailureValidation(t *testing.T) {
	app := awscdk.NewApp(nil)
	// A fresh asset per stack: valid combinations bind it.
	var code awslambda.Code
	mib := func(n float64) awscdk.Size { return awscdk.Size_Mebibytes(jsii.Number(n)) }
	for _, tc := range []struct {
		name  string
		props func(awscdk.Stack) *sp.StreamProcessorProps
		want  []string // every problem, in order; none for a valid combination
	}{
		{"10 MiB records with the default bucket", func(awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{Code: code, MaxRecordSize: mib(10)}
		}, nil},
		{"4.5 MiB records with SQS", func(stack awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{Code: code, MaxRecordSize: awscdk.Size_Kibibytes(jsii.Number(4608)),
				OnFailure: awslambdaeventsources.NewSqsDlq(awssqs.NewQueue(stack, jsii.String("Q"), nil))}
		}, nil},
		{"10 MiB records with SQS", func(stack awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{Code: code, MaxRecordSize: mib(10),
				OnFailure: awslambdaeventsources.NewSqsDlq(awssqs.NewQueue(stack, jsii.String("Q"), nil))}
		}, []string{"MaxRecordSize 10240 KiB lets records over 4608 KiB into the stream: Lambda cannot invoke the function with them (6 MB invoke limit), so they end at the on-failure destination, and the SQS destination in OnFailure keeps only a description of them: remove OnFailure (the construct's S3 bucket keeps them) or pass awslambdaeventsources.NewS3OnFailureDestination(bucket), or lower MaxRecordSize to 4608 KiB"}},
		{"out of range, and a retention in hours", func(awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{Code: code, MaxRecordSize: mib(20), FailedBatchRetention: awscdk.Duration_Hours(jsii.Number(36))}
		}, []string{
			"FailedBatchRetention 1d12h is invalid: use whole days of at least 1 (S3 lifecycle expiration counts days), e.g. awscdk.Duration_Days(jsii.Number(14))",
			"MaxRecordSize 20480 KiB is invalid: use whole KiB from 1 MiB (1024) to 10 MiB (10240), e.g. awscdk.Size_Mebibytes(jsii.Number(10))",
		}},
		{"existing stream", func(stack awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{Code: code, MaxRecordSize: mib(2), Stream: awskinesis.Stream_FromStreamArn(stack, jsii.String("Existing"), jsii.String(importedARN))}
		}, []string{"MaxRecordSize is set with an existing Stream: it configures a stream the construct makes; set MaxRecordSizeInKiB on your stream instead, or remove Stream"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code = awslambda.Code_FromAsset(jsii.String(prebuiltCode), nil)
			verr := newProcessor(t, app, "OnFailure"+strings.NewReplacer(" ", "", ".", "", ",", "").Replace(tc.name), tc.props)
			var got []string
			if verr != nil {
				got = verr.Problems
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
