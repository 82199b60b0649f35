package streamprocessor

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/functions/contract"
)

// ValidationError is the panic value of NewStreamProcessor when its props are
// invalid. It lists every problem found, each naming the bad value and the fix.
type ValidationError struct {
	// Path is the construct path the StreamProcessor would have had.
	Path string
	// Problems, one sentence each, lowercase.
	Problems []string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("streamprocessor %s: invalid props:\n  - %s", e.Path, strings.Join(e.Problems, "\n  - "))
}

// Limits from the AWS documentation (Lambda event source mappings for Kinesis,
// Lambda quotas, Kinesis quotas).
const (
	maxBatchSize             = 10000
	maxBatchingWindowSeconds = 300
	maxParallelization       = 10
	maxRetryAttempts         = 10000
	minRecordAgeSeconds      = 60
	maxRecordAgeSeconds      = 7 * 24 * 3600
	maxTumblingWindowSeconds = 900
	minRetentionHours        = 24
	maxRetentionHours        = 8760
	minMemory                = 128
	maxMemory                = 10240
	maxTimeoutSeconds        = 900
	maxEnvBytes              = 4096
	maxDescription           = 256
	maxLayers                = 5
	// constructEnvBudget is kept free in the 4 KB environment for the variables
	// the construct sets (the DLQ URL and the metrics namespace).
	constructEnvBudget = 512
)

var (
	streamNameRE   = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)
	consumerNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)
	functionNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	envKeyRE       = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]+$`)
)

// lambdaReservedEnv are the variables the Lambda runtime sets; a function that
// sets one fails to deploy.
// https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
var lambdaReservedEnv = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_DEFAULT_REGION": true, "AWS_REGION": true,
	"AWS_EXECUTION_ENV": true, "AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true, "AWS_LAMBDA_LOG_GROUP_NAME": true,
	"AWS_LAMBDA_LOG_STREAM_NAME": true, "AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true,
	"AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true, "AWS_LAMBDA_RUNTIME_API": true,
	"LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true,
}

// validate returns every problem with the resolved props. Values that are
// unresolved tokens are skipped: they are only known at deploy time.
func validate(r *resolved, stack awscdk.Stack) []string {
	v := &checker{}
	v.checkCode(r)
	v.checkStream(r)
	v.checkStreamPlacement(r, stack)
	v.checkReaders(r)
	v.checkFunction(r)
	v.checkMapping(r)
	v.checkConcurrency(r)
	v.checkExpectedLoad(r)
	v.checkOnFailure(r)
	// Monitoring (monitoring_validate.go), reported with the rest before
	// anything is added to the tree.
	v.problems = append(v.problems, monitoringProblems(r.Monitoring, r.RetentionPeriod, r.MaxRecordAge)...)
	return v.problems
}

// checkCode: exactly one of Entry and Code, a main package, a supported
// architecture.
func (v *checker) checkCode(r *resolved) {
	p := &r.StreamProcessorProps
	switch {
	case p.Entry == nil && p.Code == nil:
		v.addf("neither Entry nor Code is set: set Entry to the directory of a Go main package (e.g. \"./functions/processor\") or Code to a prebuilt bootstrap")
	case p.Entry != nil && p.Code != nil:
		v.addf("Entry (%q) and Code are both set: set only one", *p.Entry)
	case p.Entry != nil:
		if msg := checkEntry(*p.Entry); msg != "" {
			v.addf("%s", msg)
		}
	}
	if r.archName != "arm64" && r.archName != "x86_64" {
		v.addf("Architecture %q is not supported: use awslambda.Architecture_ARM_64() or awslambda.Architecture_X86_64()", r.archName)
	}

}

// checkStream: the new stream's settings, or none of them with an existing
// stream; the retention.
func (v *checker) checkStream(r *resolved) {
	p := &r.StreamProcessorProps
	if !r.newStream {
		for _, f := range []struct {
			name string
			set  bool
			val  string
		}{
			{"StreamName", p.StreamName != nil, strOr(p.StreamName)},
			{"StreamMode", p.StreamMode != "", string(p.StreamMode)},
			{"ShardCount", p.ShardCount != nil, numOr(p.ShardCount)},
			{"StreamEncryptionKey", p.StreamEncryptionKey != nil, "a key"},
		} {
			if f.set {
				v.addf("Stream (an existing stream) and %s (%s) are both set: %s configures a stream the construct makes; remove %s, or remove Stream to let the construct make the stream", f.name, f.val, f.name, f.name)
			}
		}
	}
	if r.newStream {
		if p.StreamMode != awskinesis.StreamMode_PROVISIONED && p.StreamMode != awskinesis.StreamMode_ON_DEMAND {
			v.addf("StreamMode %q is not supported here: use awskinesis.StreamMode_PROVISIONED or awskinesis.StreamMode_ON_DEMAND", p.StreamMode)
		}
		if r.onDemand && p.ShardCount != nil {
			v.addf("ShardCount (%s) is set with StreamMode ON_DEMAND: an on-demand stream manages its own shards; remove ShardCount, or use StreamMode_PROVISIONED", numOr(p.ShardCount))
		}
		if n, ok := v.num(p.ShardCount); ok && (n < 1 || n != math.Trunc(n)) {
			v.addf("ShardCount %s is invalid: use a whole number of at least 1", fmtNum(n))
		}
		if s, ok := v.str(p.StreamName); ok && !streamNameRE.MatchString(s) {
			v.addf("StreamName %q is invalid: use 1 to 128 characters from a-z, A-Z, 0-9, _ . -", s)
		}
	}
	if retention, ok := v.secs(p.RetentionPeriod); ok {
		h := retention / 3600
		if h < minRetentionHours || h > maxRetentionHours || h != math.Trunc(h) {
			v.addf("RetentionPeriod %s is invalid: use whole hours from 24 hours to 365 days (8760 hours)", secsDur(retention))
		}
	}

}

// checkFunction: the function's own settings and environment.
func (v *checker) checkFunction(r *resolved) {
	p := &r.StreamProcessorProps
	if s, ok := v.str(p.FunctionName); ok && !functionNameRE.MatchString(s) {
		v.addf("FunctionName %q is invalid: use 1 to 64 characters from a-z, A-Z, 0-9, _ -", s)
	}
	if n, ok := v.num(p.MemorySize); ok && (n < minMemory || n > maxMemory || n != math.Trunc(n)) {
		v.addf("MemorySize %s is invalid: use whole MiB from 128 to 10240", fmtNum(n))
	}
	if timeout, ok := v.secs(p.Timeout); ok && (timeout < 1 || timeout > maxTimeoutSeconds) {
		v.addf("Timeout %s is invalid: use 1 second to 15 minutes", secsDur(timeout))
	}
	v.checkEnvironment(p.Environment)
	if s, ok := v.str(p.Description); ok && len(s) > maxDescription {
		v.addf("Description is %d characters: Lambda allows at most %d; shorten it", len(s), maxDescription)
	}
	switch p.Tracing {
	case awslambda.Tracing_ACTIVE, awslambda.Tracing_PASS_THROUGH, awslambda.Tracing_DISABLED:
	default:
		v.addf("Tracing %q is not a tracing mode: use awslambda.Tracing_ACTIVE (the default), Tracing_PASS_THROUGH or Tracing_DISABLED", p.Tracing)
	}
	if p.Layers != nil {
		if n := len(*p.Layers); n > maxLayers {
			v.addf("Layers has %d layers: Lambda allows at most %d; merge layers or drop some", n, maxLayers)
		}
		for i, l := range *p.Layers {
			if l == nil {
				v.addf("Layers[%d] is nil: remove it, or pass a layer such as awslambda.LayerVersion_FromLayerVersionArn(...)", i)
			}
		}
	}
	if p.Vpc == nil {
		if p.VpcSubnets != nil {
			v.addf("VpcSubnets is set without Vpc: set Vpc to the VPC those subnets belong to, or remove VpcSubnets")
		}
		if p.SecurityGroups != nil {
			v.addf("SecurityGroups (%d) is set without Vpc: set Vpc to the VPC of the security groups, or remove SecurityGroups", len(*p.SecurityGroups))
		}
	}
	if s, ok := v.str(p.MetricsNamespace); ok && (s == "" || len(s) > 255 || strings.HasPrefix(s, "AWS/")) {
		v.addf("MetricsNamespace %q is invalid: use 1 to 255 characters that do not start with \"AWS/\"", s)
	}

}

// checkMapping: the event source mapping's settings, and MaxRecordAge against
// the stream's retention and the time the retries take.
func (v *checker) checkMapping(r *resolved) {
	p := &r.StreamProcessorProps
	retention, retentionKnown := v.secs(p.RetentionPeriod)
	timeout, timeoutKnown := v.secs(p.Timeout)
	switch p.StartingPosition {
	case awslambda.StartingPosition_TRIM_HORIZON, awslambda.StartingPosition_LATEST, awslambda.StartingPosition_AT_TIMESTAMP:
	default:
		v.addf("StartingPosition %q is not valid for Kinesis: use StartingPosition_TRIM_HORIZON, StartingPosition_LATEST or StartingPosition_AT_TIMESTAMP", p.StartingPosition)
	}
	if p.StartingPosition == awslambda.StartingPosition_AT_TIMESTAMP && p.StartingPositionTimestamp == nil {
		v.addf("StartingPosition AT_TIMESTAMP needs StartingPositionTimestamp: set it to the Unix time in seconds to start reading from")
	}
	if p.StartingPosition != awslambda.StartingPosition_AT_TIMESTAMP && p.StartingPositionTimestamp != nil {
		v.addf("StartingPositionTimestamp (%s) is only used with StartingPosition AT_TIMESTAMP, not %s: set StartingPosition to StartingPosition_AT_TIMESTAMP or remove the timestamp", numOr(p.StartingPositionTimestamp), p.StartingPosition)
	}
	if n, ok := v.num(p.BatchSize); ok && (n < 1 || n > maxBatchSize || n != math.Trunc(n)) {
		v.addf("BatchSize %s is invalid: use a whole number from 1 to 10000", fmtNum(n))
	}
	window, windowKnown := v.secs(p.MaxBatchingWindow)
	if windowKnown && window > maxBatchingWindowSeconds {
		v.addf("MaxBatchingWindow %s is invalid: use 0 to 300 seconds", secsDur(window))
	}
	if factor, ok := v.num(p.ParallelizationFactor); ok && (factor < 1 || factor > maxParallelization || factor != math.Trunc(factor)) {
		v.addf("ParallelizationFactor %s is invalid: use a whole number from 1 to 10", fmtNum(factor))
	}
	retries, retriesKnown := v.num(p.RetryAttempts)
	if retriesKnown {
		switch {
		case retries == -1:
			v.addf("RetryAttempts -1 retries a failing batch until its records expire, blocking the shard for the whole retention period: use a bound from 0 to 10000 (default %d)", DefaultRetryAttempts)
		case retries < 0 || retries > maxRetryAttempts || retries != math.Trunc(retries):
			v.addf("RetryAttempts %s is invalid: use a whole number from 0 to 10000", fmtNum(retries))
		}
	}
	age, ageKnown := v.secs(p.MaxRecordAge)
	if ageKnown && (age < minRecordAgeSeconds || age > maxRecordAgeSeconds) {
		v.addf("MaxRecordAge %s is invalid: use 60 seconds to 7 days", secsDur(age))
	}
	redrive, redriveKnown := v.secs(p.RedriveWindow) // a Duration is never negative
	// The DLQ only describes a failed batch; the records must be re-read from
	// the stream. If they age out of the stream first, they are lost.
	if ageKnown && retentionKnown && redriveKnown && age+redrive > retention {
		limit := retention - redrive
		fix := fmt.Sprintf("lower MaxRecordAge to at most %s, or raise RetentionPeriod to at least %s", secsDur(limit), secsDur(age+redrive))
		if limit < minRecordAgeSeconds {
			fix = fmt.Sprintf("raise RetentionPeriod to at least %s", secsDur(age+redrive))
		}
		v.addf("MaxRecordAge (%s) leaves %s of the stream's %s retention to redrive a failed batch from the DLQ, less than RedriveWindow (%s): %s", secsDur(age), secsDur(math.Max(retention-age, 0)), secsDur(retention), secsDur(redrive), fix)
	}
	// A batch that keeps timing out is retried RetryAttempts times, each after
	// up to MaxBatchingWindow of gathering and Timeout of running. If that
	// exceeds MaxRecordAge, the records expire before the retries configured
	// for them can run.
	if ageKnown && windowKnown && timeoutKnown && retriesKnown && retries >= 0 && retries <= maxRetryAttempts {
		need := window + timeout*(retries+1)
		if need > age {
			v.addf("MaxRecordAge (%s) is shorter than the time the configured retries can take: MaxBatchingWindow (%s) + Timeout (%s) x (RetryAttempts %s + 1) = %s, so a batch that times out expires before its retries run; raise MaxRecordAge to at least %s, or lower RetryAttempts, Timeout or MaxBatchingWindow", secsDur(age), secsDur(window), secsDur(timeout), fmtNum(retries), secsDur(need), secsDur(need))
		}
	}
	tumbling, tumblingKnown := v.secs(p.TumblingWindow)
	if tumblingKnown && tumbling > maxTumblingWindowSeconds {
		v.addf("TumblingWindow %s is invalid: use 0 to 900 seconds", secsDur(tumbling))
	}
	if p.Filters != nil {
		for i, f := range *p.Filters {
			if f == nil || len(*f) == 0 {
				v.addf("Filters[%d] is empty: build filters with awslambda.FilterCriteria_Filter", i)
			}
		}
	}
	efo := p.EnhancedFanOut != nil && *p.EnhancedFanOut
	if p.ConsumerName != nil && !efo {
		v.addf("ConsumerName (%q) is set without EnhancedFanOut: set EnhancedFanOut to true, or remove ConsumerName", *p.ConsumerName)
	}
	if s, ok := v.str(p.ConsumerName); ok && !consumerNameRE.MatchString(s) {
		v.addf("ConsumerName %q is invalid: use 1 to 128 characters from a-z, A-Z, 0-9, _ . -", s)
	}
}

// checkConcurrency: reserved and provisioned concurrency against each other
// and against the pollers the mapping runs.
func (v *checker) checkConcurrency(r *resolved) {
	p := &r.StreamProcessorProps
	reserved, reservedKnown := v.num(p.ReservedConcurrentExecutions)
	if reservedKnown && (reserved < 1 || reserved != math.Trunc(reserved)) {
		v.addf("ReservedConcurrentExecutions %s would throttle every invocation and stall the stream: to pause processing set Enabled to false; otherwise use a whole number of at least 1, or leave it unset", fmtNum(reserved))
	}
	provisioned, provisionedKnown := v.num(p.ProvisionedConcurrentExecutions)
	if provisionedKnown && (provisioned < 1 || provisioned != math.Trunc(provisioned)) {
		v.addf("ProvisionedConcurrentExecutions %s is invalid: use a whole number of at least 1, or leave it unset", fmtNum(provisioned))
	}
	if provisionedKnown && reservedKnown && provisioned > reserved {
		v.addf("ProvisionedConcurrentExecutions (%s) is above ReservedConcurrentExecutions (%s): Lambda rejects provisioned concurrency the reservation cannot hold; lower ProvisionedConcurrentExecutions to at most %s or raise ReservedConcurrentExecutions", fmtNum(provisioned), fmtNum(reserved), fmtNum(reserved))
	}
	factor, factorKnown := v.num(p.ParallelizationFactor)
	// Every shard runs ParallelizationFactor concurrent batches, with shared
	// polling and with enhanced fan-out alike. A reservation below that
	// throttles pollers: batches are retried until MaxRecordAge and go to the DLQ.
	if r.newStream && !r.onDemand && reservedKnown && factorKnown && reserved >= 1 {
		if shards, ok := v.num(p.ShardCount); ok && shards >= 1 && reserved < shards*factor {
			v.addf("ReservedConcurrentExecutions (%s) is below the %s concurrent batches the mapping runs (ShardCount %s x ParallelizationFactor %s): throttled batches are retried until MaxRecordAge and then sent to the DLQ; raise ReservedConcurrentExecutions to at least %s, or lower ParallelizationFactor", fmtNum(reserved), fmtNum(shards*factor), fmtNum(shards), fmtNum(factor), fmtNum(shards*factor))
		}
	}
}

// checkStreamPlacement: an event source mapping reads only streams in its own
// region, so an existing stream whose ARN names another region than the
// stack's cannot be consumed. Unresolved regions (an environment-agnostic
// stack, an ARN built from tokens) are skipped.
func (v *checker) checkStreamPlacement(r *resolved, stack awscdk.Stack) {
	if r.newStream || stack == nil {
		return
	}
	streamRegion, ok1 := v.str(r.Stream.Env().Region)
	stackRegion, ok2 := v.str(stack.Region())
	if ok1 && ok2 && streamRegion != stackRegion {
		v.addf("Stream %s is in region %s but the stack %s is in region %s: a Lambda event source mapping can only read a stream in its own region; put this StreamProcessor in a stack with Env.Region %q (in the stream's account or another one), or replicate the stream into %s",
			strOr(r.Stream.StreamArn()), streamRegion, *stack.StackName(), stackRegion, streamRegion, stackRegion)
	}
}

// checkReaders: CrossAccountReaders only for a stream the construct makes,
// and each principal names an account.
func (v *checker) checkReaders(r *resolved) {
	if r.CrossAccountReaders == nil {
		return
	}
	if !r.newStream {
		v.addf("CrossAccountReaders (%d) is set with an existing Stream: the account that owns a stream sets its resource policy; grant the readers there, or remove CrossAccountReaders", len(*r.CrossAccountReaders))
	}
	for i, pr := range *r.CrossAccountReaders {
		if pr == nil {
			v.addf("CrossAccountReaders[%d] is nil: remove it", i)
			continue
		}
		if msg := readerProblem(pr); msg != "" {
			v.addf("CrossAccountReaders[%d] (%s) %s: use awsiam.NewAccountPrincipal(\"<12-digit account id>\") or awsiam.NewArnPrincipal(\"<ARN of a role in the reading account>\")", i, principalText(pr), msg)
		}
	}
}

var (
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	// iamArnRE also matches an account's arn:<partition>:iam::<id>:root.
	iamArnRE = regexp.MustCompile(`^arn:[a-z-]+:(iam|sts)::[0-9]{12}:.+`)
)

// readerProblem says why a principal cannot be a cross-account reader, or "".
// Only AWS principals that name one account (an account, or an IAM role or
// user ARN) are accepted: a service principal or "*" would open the stream
// beyond the named accounts.
func readerProblem(pr awsiam.IPrincipal) string {
	j := pr.PolicyFragment().PrincipalJson()
	if j == nil || len(*j) == 0 {
		return "names no principal"
	}
	for kind, vals := range *j {
		if kind != "AWS" {
			return fmt.Sprintf("is a %s principal, not an account or role", kind)
		}
		if vals == nil {
			continue
		}
		for _, val := range *vals {
			if val == nil || *awscdk.Token_IsUnresolved(val) {
				continue // e.g. an AccountPrincipal's arn:${Partition}:iam::<id>:root
			}
			switch s := *val; {
			case s == "*":
				return "is \"*\", which would let every AWS account read the stream"
			case accountRE.MatchString(s), iamArnRE.MatchString(s):
			default:
				return fmt.Sprintf("names %q, which is neither an account id nor an IAM ARN", s)
			}
		}
	}
	if a := pr.PrincipalAccount(); a != nil && !*awscdk.Token_IsUnresolved(a) && !accountRE.MatchString(*a) {
		return fmt.Sprintf("names account %q, not a 12-digit account id", *a)
	}
	return ""
}

// principalText names a principal in a message.
func principalText(p awsiam.IPrincipal) string {
	j := p.PolicyFragment().PrincipalJson()
	if j == nil {
		return "a principal"
	}
	var parts []string
	for k, vs := range *j {
		if vs == nil {
			continue
		}
		for _, v := range *vs {
			if v != nil {
				parts = append(parts, k+": "+*v)
			}
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// checker collects problems and reads values, skipping unresolved tokens.
type checker struct{ problems []string }

func (c *checker) addf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *checker) num(p *float64) (float64, bool) {
	if p == nil || *awscdk.Token_IsUnresolved(p) {
		return 0, false
	}
	return *p, true
}

func (c *checker) str(p *string) (string, bool) {
	if p == nil || *awscdk.Token_IsUnresolved(p) {
		return "", false
	}
	return *p, true
}

func (c *checker) secs(d awscdk.Duration) (float64, bool) {
	if d == nil || *d.IsUnresolved() {
		return 0, false
	}
	return *d.ToSeconds(&awscdk.TimeConversionOptions{Integral: jsii.Bool(false)}), true
}

func (c *checker) checkEnvironment(env *map[string]*string) {
	if env == nil {
		return
	}
	size := 0
	for k, val := range *env {
		switch {
		case k == contract.EnvQuarantineQueueURL, k == contract.EnvQuarantineMaxMessageBytes:
			c.addf("Environment sets %s: remove it from Environment; the construct always sets it for its DLQ", k)
		case k == contract.EnvMetricsNamespace:
			c.addf("Environment sets %s, which the construct sets itself: remove it from Environment (configure it through MetricsNamespace)", k)
		case lambdaReservedEnv[k]:
			c.addf("Environment sets %s, which Lambda reserves: the deployment would fail; remove it or rename it", k)
		case !envKeyRE.MatchString(k):
			c.addf("Environment key %q is invalid: start with a letter and use letters, digits and _ (at least 2 characters)", k)
		}
		if val == nil {
			c.addf("Environment[%q] is nil: set a value or remove the key", k)
			continue
		}
		if !*awscdk.Token_IsUnresolved(val) {
			size += len(k) + len(*val)
		}
	}
	if size > maxEnvBytes-constructEnvBudget {
		c.addf("Environment is %d bytes, over the %d bytes left of Lambda's 4 KB limit after the construct's own variables: move large values to SSM Parameter Store or S3", size, maxEnvBytes-constructEnvBudget)
	}
}

// secsDur formats a number of seconds with human, as every other message of
// the construct does (1h10m, 1d2h, 90s reads 1m30s).
func secsDur(seconds float64) string {
	return human(time.Duration(seconds * float64(time.Second)))
}

func fmtNum(n float64) string { return strconv.FormatFloat(n, 'f', -1, 64) }

func numOr(p *float64) string {
	if p == nil {
		return "unset"
	}
	return fmtNum(*p)
}

func strOr(p *string) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprintf("%q", *p)
}
