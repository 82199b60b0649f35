package streamprocessor

import (
	"fmt"
	"math"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/functions/contract"
)

// The on-failure destination: by default an S3 bucket that keeps each failed
// batch with its records (contract.FailedBatchObject), so a batch can be
// redriven after the stream's retention (`streamctl redrive --bucket`). The
// DLQ stays the quarantine queue of the function.

const (
	// IDFailedBatchBucket is the id of the bucket the construct makes when
	// OnFailure is not set.
	IDFailedBatchBucket = "FailedBatchBucket"
	// DefaultFailedBatchRetentionDays is how long that bucket keeps an
	// object: the DLQ's retention, so both failure stores age alike.
	DefaultFailedBatchRetentionDays = DefaultDeadLetterRetentionDays
	// MaxInvokableRecordKiB is the largest record Lambda can still invoke a
	// function with: its data goes into the event as base64 (4/3), which
	// must stay within the 6 MB synchronous invoke limit with the record's
	// envelope. Larger records end at the on-failure destination.
	MaxInvokableRecordKiB = 4608
	// QuarantineMaxMessageBytes is the DLQ's MaximumMessageSize (SQS's
	// largest, 1 MiB): the function's quarantine sizes its parts for it
	// (contract.EnvQuarantineMaxMessageBytes).
	QuarantineMaxMessageBytes = 1024 * 1024
	minRecordSizeKiB          = 1024
	maxRecordSizeKiB          = 10240
)

func resolveOnFailure(r *resolved) {
	p := &r.StreamProcessorProps
	r.failedBatchBucket = p.OnFailure == nil
	if p.FailedBatchRetention == nil {
		p.FailedBatchRetention = awscdk.Duration_Days(jsii.Number(DefaultFailedBatchRetentionDays))
	}
}

// destinationKind tells an on-failure destination's service: "s3", "sqs",
// "sns" or "" when unknown. jsii interfaces are structural in Go (every
// destination has only Bind), so aws-cdk-lib's classes are told apart by the
// name of their proxy type.
func destinationKind(d awslambda.IEventSourceDlq) string {
	switch d.(type) {
	case nil:
		return ""
	case *failedBatchDestination:
		return "s3"
	case *dlqDestination:
		return "sqs"
	}
	n := fmt.Sprintf("%T", d)
	switch {
	case strings.Contains(n, "S3OnFailureDestination"):
		return "s3"
	case strings.Contains(n, "SqsDlq"):
		return "sqs"
	case strings.Contains(n, "SnsDlq"):
		return "sns"
	}
	return ""
}

// keepsRecords: the destination is S3 (the construct's bucket or the caller's).
func (r *resolved) keepsRecords() bool {
	return r.failedBatchBucket || destinationKind(r.OnFailure) == "s3"
}

func (v *checker) checkOnFailure(r *resolved) {
	p := &r.StreamProcessorProps
	if d, ok := v.secs(p.FailedBatchRetention); ok && r.failedBatchBucket {
		days := d / 86400
		if days < 1 || days != math.Trunc(days) {
			v.addf("FailedBatchRetention %s is invalid: use whole days of at least 1 (S3 lifecycle expiration counts days), e.g. awscdk.Duration_Days(jsii.Number(14))", secsDur(d))
		}
	}
	if p.MaxRecordSize == nil || *p.MaxRecordSize.IsUnresolved() {
		return
	}
	if !r.newStream {
		v.addf("MaxRecordSize is set with an existing Stream: it configures a stream the construct makes; set MaxRecordSizeInKiB on your stream instead, or remove Stream")
		return
	}
	kib := *p.MaxRecordSize.ToKibibytes(&awscdk.SizeConversionOptions{Rounding: awscdk.SizeRoundingBehavior_NONE})
	if kib < minRecordSizeKiB || kib > maxRecordSizeKiB || kib != math.Trunc(kib) {
		v.addf("MaxRecordSize %s KiB is invalid: use whole KiB from 1 MiB (1024) to 10 MiB (10240), e.g. awscdk.Size_Mebibytes(jsii.Number(10))", fmtNum(kib))
		return
	}
	if kib > MaxInvokableRecordKiB && !r.keepsRecords() {
		v.addf("MaxRecordSize %s KiB lets records over %d KiB into the stream: Lambda cannot invoke the function with them (6 MB invoke limit), so they end at the on-failure destination, "+
			"and the %s destination in OnFailure keeps only a description of them: remove OnFailure (the construct's S3 bucket keeps them) or pass awslambdaeventsources.NewS3OnFailureDestination(bucket), "+
			"or lower MaxRecordSize to %d KiB", fmtNum(kib), MaxInvokableRecordKiB, orWord(destinationKind(r.OnFailure), "given"), MaxInvokableRecordKiB)
	}
}

func orWord(s, def string) string {
	if s == "" {
		return def
	}
	return strings.ToUpper(s)
}

// addFailedBatchBucket makes the default on-failure destination.
func (sp *StreamProcessor) addFailedBatchBucket(r *resolved) {
	if !r.failedBatchBucket {
		return
	}
	p := &r.StreamProcessorProps
	sp.failedBatchBucket = awss3.NewBucket(sp, jsii.String(IDFailedBatchBucket), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_KMS,
		EncryptionKey:     sp.dlqKey,
		BucketKeyEnabled:  jsii.Bool(true), // one data key per bucket, not one KMS call per object
		EnforceSSL:        jsii.Bool(true),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("ExpireFailedBatches"),
			Expiration:                          p.FailedBatchRetention,
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
		RemovalPolicy: p.RemovalPolicy,
	})
	suppressNag(sp.failedBatchBucket, nagRule{
		id: "AwsSolutions-S1",
		reason: "the bucket only receives failed batches from the event source mapping (role limited to s3:PutObject under aws/lambda/ and s3:ListBucket) " +
			"and is read and emptied by streamctl redrive; its objects expire after FailedBatchRetention. Object-level access is auditable " +
			"with CloudTrail data events; a server-access-log bucket per pipeline would be one more bucket needing this same exception.",
	})
}

// onFailureDestination is what the mapping gets: the caller's destination, or
// the construct's bucket with exact grants.
func (sp *StreamProcessor) onFailureDestination(r *resolved) awslambda.IEventSourceDlq {
	if r.OnFailure != nil {
		return r.OnFailure
	}
	return &failedBatchDestination{sp: sp}
}

// failedBatchDestination is the construct's bucket as the mapping's
// on-failure destination. Unlike aws-cdk-lib's S3OnFailureDestination (which
// grants read and write on the whole bucket), it grants exactly what the
// mapping's writes need: s3:PutObject under aws/lambda/ and s3:ListBucket
// (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html),
// and kms:GenerateDataKey on the bucket's key, which the role already holds
// because it is the DLQ's key (grantSendToDLQ).
type failedBatchDestination struct{ sp *StreamProcessor }

func (d *failedBatchDestination) Bind(_ awslambda.IEventSourceMapping, _ awslambda.IFunction) *awslambda.DlqDestinationConfig {
	b := d.sp.failedBatchBucket
	d.sp.role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:PutObject"),
		Resources: jsii.Strings(*b.ArnForObjects(jsii.String(contract.FailedBatchKeyPrefix + "*"))),
	}))
	d.sp.role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:ListBucket"),
		Resources: jsii.Strings(*b.BucketArn()),
	}))
	suppressNag(d.sp.rolePolicy(), nagRule{
		id: "AwsSolutions-IAM5",
		reason: "s3:PutObject on the failed-batch bucket's aws/lambda/ prefix only: the event source mapping writes one object per failed " +
			"batch under aws/lambda/<mapping uuid>/<shard>/<date>/..., keys it chooses at run time " +
			"(https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html).",
		appliesToRegex: []string{`/^Resource::<[A-Za-z0-9]*` + IDFailedBatchBucket + `[0-9A-F]{8}\.Arn>\/aws\/lambda\/\*$/g`},
	})
	return &awslambda.DlqDestinationConfig{Destination: b.BucketArn()}
}

// applyMaxRecordSize sets MaxRecordSizeInKiB on the new stream (the L2
// awskinesis.StreamProps has no such prop in aws-cdk-lib 2.276).
func (sp *StreamProcessor) applyMaxRecordSize(r *resolved) {
	if r.MaxRecordSize == nil || !r.newStream {
		return
	}
	if cfn, ok := sp.stream.Node().DefaultChild().(awskinesis.CfnStream); ok {
		cfn.SetMaxRecordSizeInKiB(r.MaxRecordSize.ToKibibytes(nil))
	}
}

// FailedBatchBucket is the on-failure destination the construct made, or
// nil when OnFailure was given. Each object is a failed batch with its
// records (contract.FailedBatchObject); `streamctl redrive --bucket` replays
// them. Grant an operator role redrive's access with
// FailedBatchBucket().GrantRead(role) and GrantDelete(role), plus
// DeadLetterQueueKey().GrantDecrypt(role).
func (sp *StreamProcessor) FailedBatchBucket() awss3.IBucket {
	// awss3.Bucket is an interface: nil converts to a nil IBucket.
	return sp.failedBatchBucket
}

// addOnFailureNag records why the role holds aws-cdk-lib's grant on a
// caller's S3 on-failure destination. S3OnFailureDestination grants
// read and write on the whole bucket when it binds (bucket.grantReadWrite),
// wildcard actions included, where the mapping only writes objects and lists
// the bucket; the construct cannot narrow a grant made by aws-cdk-lib's
// class, so it names it. Leaving OnFailure unset gives the construct's bucket
// with exact grants.
func (sp *StreamProcessor) addOnFailureNag(r *resolved) {
	if r.OnFailure == nil || destinationKind(r.OnFailure) != "s3" {
		return
	}
	policy := sp.rolePolicy()
	if policy == nil {
		return
	}
	applies := []string{"Action::s3:Abort*", "Action::s3:DeleteObject*", "Action::s3:GetBucket*", "Action::s3:GetObject*", "Action::s3:List*"}
	if cfn, ok := sp.mapping.Node().DefaultChild().(awslambda.CfnEventSourceMapping); ok {
		if dc, ok := awscdk.Stack_Of(sp).Resolve(cfn.DestinationConfig()).(map[string]interface{}); ok {
			if of, ok := dc["onFailure"].(map[string]interface{}); ok {
				switch d := of["destination"].(type) {
				case string:
					applies = append(applies, "Resource::"+d+"/*")
				case map[string]interface{}:
					if ga, ok := d["Fn::GetAtt"].([]interface{}); ok && len(ga) == 2 {
						applies = append(applies, fmt.Sprintf("Resource::<%v.%v>/*", ga[0], ga[1]))
					}
				}
			}
		}
	}
	suppressNag(policy, nagRule{
		id: "AwsSolutions-IAM5",
		reason: "aws-cdk-lib's S3OnFailureDestination (the OnFailure given) grants the mapping's role read and write on the whole bucket " +
			"when it binds (bucket.grantReadWrite, wildcard actions on bucket/*); the mapping itself writes failed-batch objects and lists the bucket. " +
			"Leave OnFailure unset for the construct's FailedBatchBucket, whose grants are exactly s3:PutObject under aws/lambda/ and s3:ListBucket.",
		appliesTo: applies,
	})
}
