// Package streamprocessor is a CDK construct for a Kinesis -> Go Lambda
// pipeline with safe defaults: a stream (new or existing), a Go function built
// from a main package by the local go toolchain, an event source mapping with
// bounded retries, bisection, partial batch failures and enhanced metrics, an
// encrypted private S3 bucket as the on-failure destination that keeps failed
// batches with their records (or the caller's OnFailure), an encrypted TLS-only
// dead-letter queue for the records the function quarantines, and the alarms
// and dashboard of the monitoring that goes with them.
//
//	sp := streamprocessor.NewStreamProcessor(stack, jsii.String("Orders"), &streamprocessor.StreamProcessorProps{
//		Entry: jsii.String("./functions/orders"),
//	})
//	table.GrantReadWriteData(sp.Function())
//
// # Construct ids
//
// Ids are a public contract: renaming one replaces the resource (and loses the
// stream's records or the DLQ's messages) in every stack that uses the
// construct. The children of a StreamProcessor are:
//
//	Stream              awskinesis.Stream        (only when Stream is not passed)
//	Stream/Policy       awskinesis.ResourcePolicy (only with CrossAccountReaders)
//	Consumer            awskinesis.StreamConsumer (only with EnhancedFanOut)
//	Consumer/Policy     awskinesis.ResourcePolicy (with EnhancedFanOut and CrossAccountReaders)
//	DeadLetterQueueKey  awskms.Key, rotation on  (only when DeadLetterQueueEncryptionKey is not passed)
//	DeadLetterQueue     awssqs.Queue, SSE-KMS, TLS-only, 14 days, 1 MiB messages (the quarantine)
//	FailedBatchBucket   awss3.Bucket, SSE-KMS (the DLQ's key), TLS-only, private, objects expire (only when OnFailure is not passed)
//	LogGroup            awslogs.LogGroup
//	ServiceRole         awsiam.Role, the function's execution role
//	Function            awslambda.Function; Function/CurrentVersion with provisioned concurrency;
//	                    Function/SecurityGroup with Vpc and no SecurityGroups
//	Alias               awslambda.Alias          (only with ProvisionedConcurrentExecutions)
//	EventSourceMapping  awslambda.EventSourceMapping
//
// The alarms, alarm topic and dashboard are added by addMonitoring in
// monitoring.go, which documents their ids.
//
// # Permissions
//
// The function may read the stream (and use its key), write its own log group,
// send to the DLQ (and use its key), put failed-batch objects under aws/lambda/
// in FailedBatchBucket and list it (the mapping writes them with the function's
// role), put X-Ray traces and, with Vpc, manage its network interfaces.
// Nothing else: grant more through what the construct exposes, e.g.
// table.GrantReadWriteData(sp.Function()).
//
// # cdk-nag
//
// The few findings of cdk-nag's AwsSolutions and Serverless packs that are
// deliberate design choices carry their reasons on the resource (nag.go), so
// an application that runs cdk-nag needs no suppression of its own.
package streamprocessor

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/functions/contract"
)

// Construct ids of the children (see the package documentation).
const (
	IDStream             = "Stream"
	IDConsumer           = "Consumer"
	IDDeadLetterQueue    = "DeadLetterQueue"
	IDDeadLetterQueueKey = "DeadLetterQueueKey"
	IDLogGroup           = "LogGroup"
	IDServiceRole        = "ServiceRole"
	IDFunction           = "Function"
	IDAlias              = "Alias"
	IDEventSourceMapping = "EventSourceMapping"
)

// StreamProcessor is a Kinesis stream consumed by a Go Lambda function through
// an event source mapping whose failures land in a dead-letter queue. It is a
// construct: use it as a scope, and read what it made through its methods.
type StreamProcessor struct {
	constructs.Construct

	stream   awskinesis.IStream
	consumer awskinesis.StreamConsumer
	dlq      awssqs.Queue
	dlqKey   awskms.IKey
	// failedBatchBucket is the default on-failure destination (onfailure.go).
	failedBatchBucket awss3.Bucket
	logGroup          awslogs.LogGroup
	role              awsiam.Role
	function          awslambda.Function
	alias             awslambda.Alias
	mapping           awslambda.EventSourceMapping
	monitoring        *Monitoring

	metricsNamespace string
	vpc              awsec2.IVpc
}

// NewStreamProcessor makes the pipeline in scope. It panics with a
// *ValidationError listing every invalid prop (tokens are not checked), before
// it adds anything to the tree.
func NewStreamProcessor(scope constructs.Construct, id *string, props *StreamProcessorProps) *StreamProcessor {
	r := resolve(props)
	if problems := validate(r, awscdk.Stack_Of(scope)); len(problems) > 0 {
		panic(&ValidationError{Path: *scope.Node().Path() + "/" + *id, Problems: problems})
	}
	code, cleanup := functionCode(r, awscdk.Stack_Of(scope))
	defer cleanup()

	sp := &StreamProcessor{metricsNamespace: *r.MetricsNamespace, vpc: r.Vpc}
	constructs.NewConstruct_Override(sp, scope, id)
	sp.addStream(r)
	sp.addDeadLetterQueue(r)
	sp.addFailedBatchBucket(r)
	sp.applyMaxRecordSize(r)
	sp.addFunction(r, code)
	sp.addEventSourceMapping(r)
	sp.monitoring = addMonitoring(sp, sp.monitoringTargets(r), r.Monitoring)
	sp.addNagSuppressions(r)
	sp.addOnFailureNag(r)
	return sp
}

// functionCode is the function's code: the caller's Code, or Entry built
// now when this stack is bundled (a failed build panics with the compiler's
// message before anything is added to the tree), or Entry as a bundled asset
// that CDK skips when the stack is not bundled. cleanup removes the build
// once the asset is staged.
func functionCode(r *resolved, stack awscdk.Stack) (awslambda.Code, func()) {
	if r.Code != nil {
		return r.Code, func() {}
	}
	if !*stack.BundlingRequired() {
		return GoCode(r.Entry, r.Architecture), func() {}
	}
	if err := requireGo(); err != nil {
		panic(err)
	}
	code, dir, err := prebuiltCode(*r.Entry, r.Architecture)
	if err != nil {
		panic(err)
	}
	return code, func() {
		// With asset staging disabled (e.g. under the SAM CLI) the asset
		// points at dir itself: keep it.
		if v := stack.Node().TryGetContext(jsii.String("aws:cdk:disable-asset-staging")); v != nil && v != false {
			return
		}
		_ = os.RemoveAll(dir)
	}
}

// addStream makes the stream (or takes the caller's) and, with
// EnhancedFanOut, its consumer.
func (sp *StreamProcessor) addStream(r *resolved) {
	p := &r.StreamProcessorProps
	if r.newStream {
		sp.stream = awskinesis.NewStream(sp, jsii.String(IDStream), streamProps(r))
	} else {
		sp.stream = p.Stream
	}
	if *p.EnhancedFanOut {
		name := p.ConsumerName
		if name == nil {
			name = awscdk.Names_UniqueResourceName(sp, &awscdk.UniqueResourceNameOptions{MaxLength: jsii.Number(128)})
		}
		sp.consumer = awskinesis.NewStreamConsumer(sp, jsii.String(IDConsumer), &awskinesis.StreamConsumerProps{
			Stream:             sp.stream,
			StreamConsumerName: name,
		})
	}
	sp.shareStream(r)
}

// Actions that Kinesis resource policies accept for reading a stream and for
// reading through an enhanced fan-out consumer (the Lambda developer guide's
// cross-account example for Kinesis event source mappings).
var (
	streamPolicyReadActions   = []string{"kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"}
	consumerPolicyReadActions = []string{"kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard"}
)

// shareStream adds the resource policies that let CrossAccountReaders read
// the new stream and its consumer.
func (sp *StreamProcessor) shareStream(r *resolved) {
	if r.CrossAccountReaders == nil || len(*r.CrossAccountReaders) == 0 || !r.newStream {
		return
	}
	sp.stream.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CrossAccountRead"),
		Principals: r.CrossAccountReaders,
		Actions:    jsii.Strings(streamPolicyReadActions...),
		Resources:  &[]*string{sp.stream.StreamArn()},
	}))
	if sp.consumer != nil {
		sp.consumer.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("CrossAccountConsumerRead"),
			Principals: r.CrossAccountReaders,
			Actions:    jsii.Strings(consumerPolicyReadActions...),
			Resources:  &[]*string{sp.consumer.StreamConsumerArn()},
		}))
	}
}

// addDeadLetterQueue makes the DLQ and its key: the queue receives the
// mapping's on-failure descriptions and the function's quarantined records.
func (sp *StreamProcessor) addDeadLetterQueue(r *resolved) {
	p := &r.StreamProcessorProps
	dlqKey := p.DeadLetterQueueEncryptionKey
	if dlqKey == nil {
		dlqKey = awskms.NewKey(sp, jsii.String(IDDeadLetterQueueKey), &awskms.KeyProps{
			Description:       jsii.String(fmt.Sprintf("Encrypts the dead-letter queue of %s", *sp.Node().Path())),
			EnableKeyRotation: jsii.Bool(true),
			RemovalPolicy:     p.RemovalPolicy,
		})
	}
	sp.dlqKey = dlqKey
	sp.dlq = awssqs.NewQueue(sp, jsii.String(IDDeadLetterQueue), &awssqs.QueueProps{
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: dlqKey,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(DefaultDeadLetterRetentionDays)),
		MaxMessageSizeBytes: jsii.Number(QuarantineMaxMessageBytes),
		RemovalPolicy:       p.RemovalPolicy,
	})
}

// addFunction makes the log group, the execution role, the function and,
// with provisioned concurrency, its alias.
func (sp *StreamProcessor) addFunction(r *resolved, code awslambda.Code) {
	p := &r.StreamProcessorProps
	sp.logGroup = awslogs.NewLogGroup(sp, jsii.String(IDLogGroup), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	})
	sp.role = awsiam.NewRole(sp, jsii.String(IDServiceRole), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String(fmt.Sprintf("Execution role of the %s stream processor", *sp.Node().Path())),
	})
	sp.logGroup.GrantWrite(sp.role)
	if p.Vpc != nil {
		sp.grantNetworkInterfaces()
	}

	sp.function = awslambda.NewFunction(sp, jsii.String(IDFunction), &awslambda.FunctionProps{
		Runtime:                      awslambda.Runtime_PROVIDED_AL2023(),
		Handler:                      jsii.String("bootstrap"),
		Code:                         code,
		Architecture:                 p.Architecture,
		FunctionName:                 p.FunctionName,
		MemorySize:                   p.MemorySize,
		Timeout:                      p.Timeout,
		Environment:                  sp.environment(r),
		ReservedConcurrentExecutions: p.ReservedConcurrentExecutions,
		Role:                         sp.role,
		Tracing:                      p.Tracing,
		Description:                  p.Description,
		Layers:                       p.Layers,
		Vpc:                          p.Vpc,
		VpcSubnets:                   p.VpcSubnets,
		SecurityGroups:               p.SecurityGroups,
		LoggingFormat:                awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2:        p.ApplicationLogLevel,
		SystemLogLevelV2:             awslambda.SystemLogLevel_INFO,
		LogGroup:                     sp.logGroup,
	})
	sp.grantSendToDLQ()
	if p.Code != nil && *awscdk.Stack_Of(sp).BundlingRequired() {
		if msg := bootstrapProblem(sp.function, p.Code); msg != "" {
			sp.Node().AddValidation(&staticError{msg: msg})
		}
	}

	if p.ProvisionedConcurrentExecutions != nil {
		sp.alias = awslambda.NewAlias(sp, jsii.String(IDAlias), &awslambda.AliasProps{
			AliasName:                       jsii.String(DefaultAliasName),
			Version:                         sp.function.CurrentVersion(),
			ProvisionedConcurrentExecutions: p.ProvisionedConcurrentExecutions,
		})
	}
}

// environment is the caller's variables plus the construct's own.
func (sp *StreamProcessor) environment(r *resolved) *map[string]*string {
	env := map[string]*string{}
	if r.Environment != nil {
		for k, v := range *r.Environment {
			env[k] = v
		}
	}
	env[contract.EnvQuarantineQueueURL] = sp.dlq.QueueUrl()
	env[contract.EnvQuarantineMaxMessageBytes] = jsii.String(fmt.Sprint(QuarantineMaxMessageBytes))
	env[contract.EnvMetricsNamespace] = r.MetricsNamespace
	return &env
}

// addEventSourceMapping grants the role read access to the stream (or
// consumer) and connects it to the function (or its alias).
func (sp *StreamProcessor) addEventSourceMapping(r *resolved) {
	p := &r.StreamProcessorProps
	source := sp.stream.StreamArn()
	if sp.consumer != nil {
		sp.consumer.GrantRead(sp.role)
		source = sp.consumer.StreamConsumerArn()
	} else {
		sp.stream.GrantRead(sp.role)
	}
	var responseTypes *bool
	if *p.ReportBatchItemFailures {
		responseTypes = jsii.Bool(true)
	}
	sp.mapping = awslambda.NewEventSourceMapping(sp, jsii.String(IDEventSourceMapping), &awslambda.EventSourceMappingProps{
		Target:                    sp.invokeTarget(),
		EventSourceArn:            source,
		StartingPosition:          p.StartingPosition,
		StartingPositionTimestamp: p.StartingPositionTimestamp,
		BatchSize:                 p.BatchSize,
		MaxBatchingWindow:         p.MaxBatchingWindow,
		ParallelizationFactor:     p.ParallelizationFactor,
		BisectBatchOnError:        p.BisectBatchOnError,
		RetryAttempts:             p.RetryAttempts,
		MaxRecordAge:              p.MaxRecordAge,
		ReportBatchItemFailures:   responseTypes,
		TumblingWindow:            p.TumblingWindow,
		Filters:                   p.Filters,
		Enabled:                   p.Enabled,
		MetricsConfig:             &awslambda.MetricsConfig{Metrics: &[]awslambda.MetricType{awslambda.MetricType_EVENT_COUNT}},
		OnFailure:                 sp.onFailureDestination(r),
		// Kinesis mappings take S3 destinations (as KinesisEventSource says).
		SupportS3OnFailureDestination: jsii.Bool(true),
	})
	// The mapping validates its source when it is created; make sure the
	// role's policy exists before it.
	sp.mapping.Node().AddDependency(sp.role)
}

// invokeTarget is what the mapping (and the event-time schedule) invokes:
// the alias carrying provisioned concurrency, or else the function.
func (sp *StreamProcessor) invokeTarget() awslambda.IFunction {
	if sp.alias != nil {
		return sp.alias
	}
	return sp.function
}

// monitoringTargets is what the monitoring watches, with the resolved
// settings its thresholds derive from.
func (sp *StreamProcessor) monitoringTargets(r *resolved) *monitoringTargets {
	p := &r.StreamProcessorProps
	var reserved *float64
	if p.ReservedConcurrentExecutions != nil {
		v := *p.ReservedConcurrentExecutions
		reserved = &v
	}
	var consumerName *string
	if sp.consumer != nil {
		consumerName = sp.consumer.StreamConsumerName()
	}
	t := &monitoringTargets{
		Stream:              sp.stream,
		StreamIsNew:         r.newStream,
		OnDemand:            r.onDemand,
		Retention:           p.RetentionPeriod,
		Function:            sp.function,
		Mapping:             sp.mapping,
		DLQ:                 sp.dlq,
		FailedBatchBucket:   sp.FailedBatchBucket(),
		KeepsRecords:        r.keepsRecords(),
		MaxRecordAge:        p.MaxRecordAge,
		Timeout:             p.Timeout,
		ReservedConcurrency: reserved,
		MetricsNamespace:    *p.MetricsNamespace,
		EnhancedFanOut:      sp.consumer != nil,
		ConsumerName:        consumerName,
	}
	sp.applyStreamAccount(r, t)
	return t
}

// grantSendToDLQ lets the function's role send to the DLQ: the mapping sends
// failed-batch descriptions with it, and the function quarantines records
// with it. Exactly sqs:SendMessage on the queue and the two KMS actions an
// SSE-KMS producer needs on its key (CDK's grantSendMessages would add
// kms:Encrypt, kms:ReEncrypt* and kms:GenerateDataKey*).
func (sp *StreamProcessor) grantSendToDLQ() {
	sp.dlq.Grant(sp.role, jsii.String("sqs:SendMessage"))
	sp.dlqKey.Grant(sp.role, jsii.String("kms:GenerateDataKey"), jsii.String("kms:Decrypt"))
}

// grantNetworkInterfaces lets Lambda create and delete the function's network
// interfaces in the VPC: the actions of the AWS-managed
// AWSLambdaVPCAccessExecutionRole policy, inline so that no managed policy is
// attached to the role. The Describe actions support no resource-level
// permissions, and Lambda checks the others against "*" when the function is
// created, so the statement is on "*".
func (sp *StreamProcessor) grantNetworkInterfaces() {
	sp.role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings(
			"ec2:CreateNetworkInterface",
			"ec2:DescribeNetworkInterfaces",
			"ec2:DescribeSubnets",
			"ec2:DeleteNetworkInterface",
			"ec2:AssignPrivateIpAddresses",
			"ec2:UnassignPrivateIpAddresses",
		),
		Resources: jsii.Strings("*"),
	}))
}

// dlqDestination is the mapping's on-failure destination: the DLQ. It
// implements awslambda.IEventSourceDlq without granting anything itself;
// grantSendToDLQ has already granted exactly what sending needs.
type dlqDestination struct{ queue awssqs.IQueue }

func (d *dlqDestination) Bind(_ awslambda.IEventSourceMapping, _ awslambda.IFunction) *awslambda.DlqDestinationConfig {
	return &awslambda.DlqDestinationConfig{Destination: d.queue.QueueArn()}
}

func streamProps(r *resolved) *awskinesis.StreamProps {
	p := &r.StreamProcessorProps
	sp := &awskinesis.StreamProps{
		StreamName:      p.StreamName,
		StreamMode:      p.StreamMode,
		RetentionPeriod: p.RetentionPeriod,
		RemovalPolicy:   p.RemovalPolicy,
	}
	if !r.onDemand {
		sp.ShardCount = p.ShardCount
	}
	if p.StreamEncryptionKey != nil {
		sp.Encryption = awskinesis.StreamEncryption_KMS
		sp.EncryptionKey = p.StreamEncryptionKey
	} else {
		sp.Encryption = awskinesis.StreamEncryption_MANAGED
	}
	return sp
}

// Stream is the stream the function consumes: the one the construct made, or
// the one passed as StreamProcessorProps.Stream. Grant producers with
// Stream().GrantWrite(...).
func (sp *StreamProcessor) Stream() awskinesis.IStream { return sp.stream }

// Consumer is the enhanced fan-out consumer, or nil without EnhancedFanOut.
func (sp *StreamProcessor) Consumer() awskinesis.StreamConsumer { return sp.consumer }

// Function is the Lambda function. Grant it more with e.g.
// table.GrantReadWriteData(sp.Function()).
func (sp *StreamProcessor) Function() awslambda.Function { return sp.function }

// Alias is the alias carrying provisioned concurrency that the mapping
// targets, or nil without ProvisionedConcurrentExecutions.
func (sp *StreamProcessor) Alias() awslambda.Alias { return sp.alias }

// Version is the published version behind Alias, or nil without
// ProvisionedConcurrentExecutions.
func (sp *StreamProcessor) Version() awslambda.IVersion {
	if sp.alias == nil {
		return nil
	}
	return sp.alias.Version()
}

// EventSourceMapping connects the stream (or consumer) to the function.
func (sp *StreamProcessor) EventSourceMapping() awslambda.EventSourceMapping { return sp.mapping }

// DeadLetterQueueKey encrypts the DLQ: grant consumers of the queue
// kms:Decrypt on it (DeadLetterQueue().GrantConsumeMessages does).
func (sp *StreamProcessor) DeadLetterQueueKey() awskms.IKey { return sp.dlqKey }

// DeadLetterQueue receives the records the function quarantines, with their
// payload. Failed batches go to the on-failure destination instead:
// FailedBatchBucket (with their records) by default, or OnFailure (see
// docs/redrive.md). Its URL is in the function's environment
// as STREAMPROC_QUARANTINE_QUEUE_URL.
func (sp *StreamProcessor) DeadLetterQueue() awssqs.IQueue { return sp.dlq }

// LogGroup holds the function's JSON logs.
func (sp *StreamProcessor) LogGroup() awslogs.ILogGroup { return sp.logGroup }

// Connections are the function's security groups, to allow traffic to the
// resources it reaches in its VPC, e.g. db.Connections().AllowDefaultPortFrom(sp, ...).
// It panics with a clear message when Vpc is not set: a function outside a
// VPC has no security groups.
func (sp *StreamProcessor) Connections() awsec2.Connections {
	if sp.vpc == nil {
		panic(fmt.Errorf("streamprocessor %s: Connections: the function is not in a VPC, so it has no security groups: set StreamProcessorProps.Vpc", *sp.Node().Path()))
	}
	return sp.function.Connections()
}

// Role is the function's execution role.
func (sp *StreamProcessor) Role() awsiam.IRole { return sp.role }

// Monitoring is what the monitoring made: alarms, composite alarm, topic and
// dashboard.
func (sp *StreamProcessor) Monitoring() *Monitoring { return sp.monitoring }

// Alarms are the individual alarms.
func (sp *StreamProcessor) Alarms() []awscloudwatch.IAlarm { return sp.monitoring.Alarms }

// CompositeAlarm fires when any alarm of the pipeline fires.
func (sp *StreamProcessor) CompositeAlarm() awscloudwatch.IAlarm { return sp.monitoring.Composite }

// AlarmTopic receives the alarm notifications.
func (sp *StreamProcessor) AlarmTopic() awssns.ITopic { return sp.monitoring.Topic }

// Dashboard shows the pipeline.
func (sp *StreamProcessor) Dashboard() awscloudwatch.Dashboard { return sp.monitoring.Dashboard }

// MetricsNamespace is the CloudWatch namespace of the function's own Embedded
// Metric Format metrics (StreamProcessorProps.MetricsNamespace, resolved).
func (sp *StreamProcessor) MetricsNamespace() *string { return jsii.String(sp.metricsNamespace) }

// Metric is one of the function's own Embedded Metric Format metrics: the
// toolkit's (contract.MetricRecordsReceived, ...) or the application's, in
// MetricsNamespace with the function's name as its contract.MetricDimension
// dimension, which the function's metrics carry. props may add dimensions,
// statistic, period, label, ...; the FunctionName dimension always wins.
// Like aws-cdk-lib's metric helpers, the statistic defaults to Average and
// the period to 5 minutes.
func (sp *StreamProcessor) Metric(metricName *string, props *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return emfMetric(sp.metricsNamespace, sp.function, metricName, props)
}
