package streamprocessor

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/functions/contract"
)

// Defaults the construct applies. They are exported so callers and tests can
// refer to them instead of repeating numbers.
const (
	// DefaultShardCount is the shard count of a new provisioned stream.
	DefaultShardCount = 1
	// DefaultRetentionHours is the retention of a new stream, and the retention
	// assumed for an existing stream whose RetentionPeriod is not declared (the
	// Kinesis minimum, so the checks err on the safe side).
	DefaultRetentionHours = 24
	// DefaultMemorySize of the function, in MiB.
	DefaultMemorySize = 256
	// DefaultTimeoutSeconds of the function.
	DefaultTimeoutSeconds = 60
	// DefaultBatchSize of the event source mapping.
	DefaultBatchSize = 100
	// DefaultParallelizationFactor of the event source mapping.
	DefaultParallelizationFactor = 1
	// DefaultRetryAttempts of the event source mapping. AWS defaults to -1
	// (retry until the record expires), which lets one bad record block a shard
	// for the whole retention period; the construct never allows that.
	DefaultRetryAttempts = 3
	// DefaultMaxRecordAgeSeconds of the event source mapping (1 hour). AWS
	// defaults to -1 (no limit).
	DefaultMaxRecordAgeSeconds = 3600
	// DefaultRedriveWindowHours is the time that must remain between a record
	// reaching MaxRecordAge (and its batch being described in the DLQ) and the
	// record leaving the stream, so an operator can still re-read and redrive it.
	DefaultRedriveWindowHours = 6
	// DefaultDeadLetterRetentionDays is the DLQ's message retention (the SQS
	// maximum).
	DefaultDeadLetterRetentionDays = 14
	// DefaultAliasName is the alias made when ProvisionedConcurrentExecutions
	// is set.
	DefaultAliasName = "live"
)

// StreamProcessorProps configures a StreamProcessor. Every field is optional
// except the function's code: set exactly one of Entry or Code. nil means
// "use the default" written on the field.
type StreamProcessorProps struct {
	// ---------------------------------------------------------------- stream

	// An existing stream to consume, e.g. from awskinesis.Stream_FromStreamArn.
	//
	// When set, the construct makes no stream and StreamName, StreamMode,
	// ShardCount, StreamEncryptionKey and CrossAccountReaders must be unset.
	// The stream must be in the stack's region.
	// To read a stream encrypted with a customer-managed key, import it with
	// awskinesis.Stream_FromStreamAttributes including EncryptionKey so the
	// function is granted kms:Decrypt.
	// Default: - a new stream is created.
	Stream awskinesis.IStream
	// Name of the new stream.
	// Default: - CloudFormation generates a unique name.
	StreamName *string
	// Capacity mode of the new stream.
	// Default: StreamMode_PROVISIONED.
	StreamMode awskinesis.StreamMode
	// Number of shards of a new provisioned stream. Must be unset for on-demand.
	// Default: 1.
	ShardCount *float64
	// How long the stream keeps records (24 hours to 365 days). For an existing
	// stream, declare its retention here: the stream is not changed, but the
	// MaxRecordAge/redrive check and the alarms use it.
	// Default: Duration.hours(24).
	RetentionPeriod awscdk.Duration
	// Customer-managed KMS key for the new stream's server-side encryption.
	// Default: - the AWS-managed key aws/kinesis.
	StreamEncryptionKey awskms.IKey
	// Accounts or roles of other accounts that may read the new stream, e.g.
	// awsiam.NewAccountPrincipal(jsii.String("222233334444")) or
	// awsiam.NewArnPrincipal(jsii.String("arn:aws:iam::222233334444:role/orders-consumer")).
	// The construct adds a resource policy to the stream (and, with
	// EnhancedFanOut, to its consumer) that lets them read it; the other
	// account must still grant its own role the same actions. Each principal
	// must name an account: no service principals and no "*". Not with an
	// existing Stream (its owner sets its policy). With StreamEncryptionKey,
	// the key's policy must also let the readers use kms:Decrypt (the
	// construct does not change a key it did not make).
	// Default: - no resource policy; only this account can read the stream.
	CrossAccountReaders *[]awsiam.IPrincipal

	// -------------------------------------------------------------- function

	// Directory of the Go main package to build into the function, e.g.
	// "./functions/processor". A relative path is resolved against the working
	// directory of the CDK app (the directory holding cdk.json when run by the
	// CDK CLI). It is built with the go toolchain on this machine (no Docker):
	// GOOS=linux, GOARCH from Architecture, CGO_ENABLED=0, -tags lambda.norpc,
	// -trimpath, -ldflags "-s -w -buildid=", so the same source gives the same
	// asset hash. Set exactly one of Entry or Code.
	// Default: - none; Code must be set.
	Entry *string
	// Prebuilt code holding a `bootstrap` executable for provided.al2023, e.g.
	// awslambda.Code_FromAsset("dist/processor", nil) or GoCode(...).
	// Set exactly one of Entry or Code.
	// Default: - none; Entry must be set.
	Code awslambda.Code
	// Instruction set of the function (and of the Entry build).
	// Default: Architecture_ARM_64().
	Architecture awslambda.Architecture
	// Name of the function.
	// Default: - CloudFormation generates a unique name.
	FunctionName *string
	// Memory of the function in MiB (128 to 10240).
	// Default: 256.
	MemorySize *float64
	// Function timeout (1 second to 15 minutes). It also bounds how long a
	// failing batch is retried: see MaxRecordAge.
	// Default: Duration.seconds(60).
	Timeout awscdk.Duration
	// Extra environment variables for the function. The construct sets
	// STREAMPROC_QUARANTINE_QUEUE_URL and STREAMPROC_METRICS_NAMESPACE itself;
	// they, and the variables Lambda reserves (AWS_REGION, _HANDLER, ...),
	// cannot be set here.
	// Default: - none.
	Environment *map[string]*string
	// Concurrency reserved for the function. Must cover every shard's pollers
	// (ShardCount x ParallelizationFactor) for a provisioned stream.
	// Default: - no reservation; the function uses the account's unreserved pool.
	ReservedConcurrentExecutions *float64
	// Provisioned concurrency. When set, the construct publishes a version and
	// an alias (DefaultAliasName) carrying it, and the mapping targets the alias.
	// Default: - none; no version or alias is made and the mapping targets $LATEST.
	ProvisionedConcurrentExecutions *float64
	// Retention of the function's log group.
	// Default: RetentionDays_ONE_MONTH.
	LogRetention awslogs.RetentionDays
	// Lowest level of the application's JSON log lines that Lambda keeps.
	// Default: ApplicationLogLevel_INFO.
	ApplicationLogLevel awslambda.ApplicationLogLevel
	// CloudWatch namespace of the function's own Embedded Metric Format
	// metrics, passed as STREAMPROC_METRICS_NAMESPACE.
	// Default: "StreamProc".
	MetricsNamespace *string
	// Description of the function (at most 256 characters).
	// Default: - no description.
	Description *string
	// X-Ray tracing of the function: Tracing_ACTIVE, Tracing_PASS_THROUGH or
	// Tracing_DISABLED. Anything but ACTIVE is reported by cdk-nag's
	// Serverless-LambdaTracing rule, which the application then suppresses
	// with its own reason.
	// Default: Tracing_ACTIVE.
	Tracing awslambda.Tracing
	// Layers added to the function, e.g. the Lambda Insights or a secrets
	// extension layer, built for Architecture.
	// Default: - no layers.
	Layers *[]awslambda.ILayerVersion
	// VPC to run the function in, to reach private resources. The construct
	// grants the role the network-interface actions Lambda needs (inline, no
	// managed policy) and the construct's Connections() is then the function's.
	// The subnets must reach Kinesis, SQS, CloudWatch Logs and X-Ray: through
	// a NAT gateway or interface VPC endpoints.
	// Default: - the function is not in a VPC.
	Vpc awsec2.IVpc
	// Subnets of Vpc for the function's network interfaces. Only with Vpc.
	// Default: - the VPC's private subnets (CDK's default selection).
	VpcSubnets *awsec2.SubnetSelection
	// Security groups of the function's network interfaces. Only with Vpc.
	// Default: - a new security group that allows all outbound traffic.
	SecurityGroups *[]awsec2.ISecurityGroup

	// ------------------------------------------------- event source mapping

	// Where the mapping starts reading a shard the first time.
	// Default: StartingPosition_TRIM_HORIZON.
	StartingPosition awslambda.StartingPosition
	// Unix time in seconds to start from; required with, and only allowed
	// with, StartingPosition_AT_TIMESTAMP.
	// Default: - none.
	StartingPositionTimestamp *float64
	// Most records per invocation (1 to 10000).
	// Default: 100.
	BatchSize *float64
	// How long to gather records before invoking (0 to 300 seconds).
	// Default: Duration.seconds(0).
	MaxBatchingWindow awscdk.Duration
	// Concurrent batches per shard (1 to 10).
	// Default: 1.
	ParallelizationFactor *float64
	// Split a failing batch in two and retry the halves (bisection does not
	// count as a retry).
	// Default: true.
	BisectBatchOnError *bool
	// Retries of a failing batch before it is described in the DLQ (0 to
	// 10000). -1 (forever) is rejected.
	// Default: 3.
	RetryAttempts *float64
	// Oldest record the mapping still sends to the function (60 seconds to 7
	// days); older ones are described in the DLQ. It must leave RedriveWindow
	// before the stream's retention expires, and room for every retry:
	// MaxBatchingWindow + Timeout x (RetryAttempts + 1).
	// Default: Duration.hours(1).
	MaxRecordAge awscdk.Duration
	// Time that must remain between MaxRecordAge and the stream's retention so
	// a batch described in the DLQ can still be re-read and redriven.
	// Default: Duration.hours(6).
	RedriveWindow awscdk.Duration
	// Let the function return events.KinesisEventResponse with
	// BatchItemFailures so only the failed part of a batch is retried.
	//
	// WARNING: do not set false with a kinesisbatch handler (functions/
	// kinesisbatch, and the example processor built on it). kinesisbatch
	// reports failed records only in batchItemFailures and never returns a
	// function error for them; with false, Lambda ignores batchItemFailures,
	// treats every invocation as a success and checkpoints past the records
	// kinesisbatch reported as failed (transient failures, and permanent ones
	// it could not quarantine): they are never retried, never described in
	// the DLQ, and lost.
	// false is only for a handler that fails the whole invocation (returns an
	// error) when any record fails.
	// Default: true.
	ReportBatchItemFailures *bool
	// Tumbling window for stateful aggregation (0 to 900 seconds).
	// Default: - no tumbling window.
	TumblingWindow awscdk.Duration
	// Event filters, e.g. awslambda.FilterCriteria_Filter(...). Records that
	// match no filter are dropped by Lambda (counted as FilteredOutEventCount).
	// Default: - every record is delivered.
	Filters *[]*map[string]interface{}
	// Read through a dedicated enhanced fan-out consumer (2 MB/s per shard,
	// push delivery) instead of shared polling.
	// Default: false.
	EnhancedFanOut *bool
	// Name of the enhanced fan-out consumer (1 to 128 of [a-zA-Z0-9_.-]).
	// Only with EnhancedFanOut.
	// Default: - a name derived from the construct path.
	ConsumerName *string
	// Whether the mapping polls. false keeps the checkpoint and pauses.
	// Default: true.
	Enabled *bool

	// ------------------------------------------------------------------ DLQ

	// Customer-managed key for the DLQ (and for the failed-batch bucket the
	// construct makes when OnFailure is not set).
	// Default: - a new customer-managed key with rotation enabled.
	DeadLetterQueueEncryptionKey awskms.IKey

	// ----------------------------------------------- on-failure destination

	// Where the event source mapping sends the batches it gives up on, as
	// aws-cdk-lib's KinesisEventSource takes it:
	// awslambdaeventsources.NewS3OnFailureDestination(bucket) keeps each
	// batch WITH its records (an object per batch); awslambdaeventsources.
	// NewSqsDlq(queue) (or NewSnsDlq) receives only a description of the
	// batch, whose records must be re-read from the stream before they
	// expire. The construct grants the mapping what the destination needs
	// (aws-cdk-lib's own grant when binding). Records quarantined by the
	// function always go to DeadLetterQueue. The default bucket is
	// KMS-encrypted with the DLQ's key, TLS only, private, its objects expire
	// after FailedBatchRetention, and the role may only put objects under
	// aws/lambda/ and list it.
	// Default: - a new S3 bucket, FailedBatchBucket.
	OnFailure awslambda.IEventSourceDlq
	// How long the failed-batch bucket the construct makes keeps an object.
	// Ignored when OnFailure is set.
	// Default: Duration.days(14).
	FailedBatchRetention awscdk.Duration
	// Largest record the new stream accepts (Kinesis MaxRecordSizeInKiB),
	// 1 MiB to 10 MiB, e.g. awscdk.Size_Mebibytes(jsii.Number(10)). A record
	// over about 4.5 MiB (its base64 in the event then passes Lambda's 6 MB
	// invoke limit) can never reach the function: it ends at the on-failure
	// destination, so such a size needs an S3 destination (the default).
	// Only for a stream the construct makes.
	// Default: - Kinesis's default, 1 MiB.
	MaxRecordSize awscdk.Size

	// ------------------------------------------------------------ lifecycle

	// What happens to the stream, DLQ, its key and the log group when they
	// leave the stack. Use RemovalPolicy_DESTROY for throwaway stages.
	// Default: RemovalPolicy_RETAIN.
	RemovalPolicy awscdk.RemovalPolicy

	// ----------------------------------------------------------- monitoring

	// Alarms, alarm topic and dashboard.
	// Default: - MonitoringProps{} (every default of MonitoringProps).
	Monitoring *MonitoringProps

	// The load the pipeline must carry (expectedload.go): ShardCount and
	// ParallelizationFactor left unset are sized for it, and synthesis fails
	// when the stream, the mapping or ReservedConcurrentExecutions cannot
	// carry it.
	// Default: - none; nothing is sized or checked against a load.
	ExpectedLoad *ExpectedLoad
}

// resolved is StreamProcessorProps with every default filled in. It is built
// from a copy: the caller's struct is never written to.
type resolved struct {
	StreamProcessorProps
	newStream         bool
	onDemand          bool
	archName          string // "arm64" or "x86_64"
	retentionDeclared bool
	// set by the user, not sized from ExpectedLoad
	shardCountDeclared, factorDeclared bool
	failedBatchBucket                  bool // OnFailure not set: the construct makes FailedBatchBucket
}

func resolve(in *StreamProcessorProps) *resolved {
	r := &resolved{}
	if in != nil {
		r.StreamProcessorProps = *in // shallow copy; only top-level fields are replaced below
	}
	p := &r.StreamProcessorProps
	r.newStream = p.Stream == nil
	r.retentionDeclared = p.RetentionPeriod != nil
	r.shardCountDeclared, r.factorDeclared = p.ShardCount != nil, p.ParallelizationFactor != nil

	if r.newStream {
		if p.StreamMode == "" {
			p.StreamMode = awskinesis.StreamMode_PROVISIONED
		}
		r.onDemand = p.StreamMode == awskinesis.StreamMode_ON_DEMAND
		if !r.onDemand && p.ShardCount == nil {
			p.ShardCount = jsii.Number(DefaultShardCount)
		}
	}
	if p.RetentionPeriod == nil {
		p.RetentionPeriod = awscdk.Duration_Hours(jsii.Number(DefaultRetentionHours))
	}
	resolveOnFailure(r)
	if p.Architecture == nil {
		p.Architecture = awslambda.Architecture_ARM_64()
	}
	r.archName = *p.Architecture.Name()
	if p.MemorySize == nil {
		p.MemorySize = jsii.Number(DefaultMemorySize)
	}
	if p.Timeout == nil {
		p.Timeout = awscdk.Duration_Seconds(jsii.Number(DefaultTimeoutSeconds))
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_ONE_MONTH
	}
	if p.Tracing == "" {
		p.Tracing = awslambda.Tracing_ACTIVE
	}
	if p.ApplicationLogLevel == "" {
		p.ApplicationLogLevel = awslambda.ApplicationLogLevel_INFO
	}
	if p.MetricsNamespace == nil {
		p.MetricsNamespace = jsii.String(contract.DefaultMetricsNamespace)
	}
	if p.StartingPosition == "" {
		p.StartingPosition = awslambda.StartingPosition_TRIM_HORIZON
	}
	if p.BatchSize == nil {
		p.BatchSize = jsii.Number(DefaultBatchSize)
	}
	if p.MaxBatchingWindow == nil {
		p.MaxBatchingWindow = awscdk.Duration_Seconds(jsii.Number(0))
	}
	if p.ParallelizationFactor == nil {
		p.ParallelizationFactor = jsii.Number(DefaultParallelizationFactor)
	}
	if p.BisectBatchOnError == nil {
		p.BisectBatchOnError = jsii.Bool(true)
	}
	if p.RetryAttempts == nil {
		p.RetryAttempts = jsii.Number(DefaultRetryAttempts)
	}
	if p.MaxRecordAge == nil {
		p.MaxRecordAge = awscdk.Duration_Seconds(jsii.Number(DefaultMaxRecordAgeSeconds))
	}
	if p.RedriveWindow == nil {
		p.RedriveWindow = awscdk.Duration_Hours(jsii.Number(DefaultRedriveWindowHours))
	}
	if p.ReportBatchItemFailures == nil {
		p.ReportBatchItemFailures = jsii.Bool(true)
	}
	if p.EnhancedFanOut == nil {
		p.EnhancedFanOut = jsii.Bool(false)
	}
	if p.Enabled == nil {
		p.Enabled = jsii.Bool(true)
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	if p.Monitoring == nil {
		p.Monitoring = &MonitoringProps{}
	} else {
		m := *p.Monitoring
		p.Monitoring = &m
	}
	sizeForLoad(r)
	return r
}
