package streamprocessor_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	sp "github.com/streamproc/streamproc/constructs/streamprocessor"
)

// newProcessor runs NewStreamProcessor in a fresh stack and returns its
// *ValidationError (nil when it did not panic).
func newProcessor(t *testing.T, app awscdk.App, name string, props func(awscdk.Stack) *sp.StreamProcessorProps) (verr *sp.ValidationError) {
	t.Helper()
	stack := awscdk.NewStack(app, jsii.String(name), nil)
	p := props(stack)
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		err, ok := r.(error)
		if !ok || !errors.As(err, &verr) {
			t.Fatalf("panicked with %T %v, want *ValidationError", r, r)
		}
	}()
	sp.NewStreamProcessor(stack, jsii.String("Orders"), p)
	return nil
}

// TestValidation: every rejected value or combination, and its message. Each
// message must name the bad value and say how to fix it.
func TestValidation(t *testing.T) {
	app := awscdk.NewApp(nil)
	code := awslambda.Code_FromAsset(jsii.String(prebuiltCode), nil)
	withCode := func(p sp.StreamProcessorProps) func(awscdk.Stack) *sp.StreamProcessorProps {
		return func(awscdk.Stack) *sp.StreamProcessorProps {
			if p.Code == nil && p.Entry == nil {
				p.Code = code
			}
			return &p
		}
	}
	imported := func(p sp.StreamProcessorProps) func(awscdk.Stack) *sp.StreamProcessorProps {
		return func(stack awscdk.Stack) *sp.StreamProcessorProps {
			p.Code = code
			p.Stream = awskinesis.Stream_FromStreamArn(stack, jsii.String("Existing"), jsii.String(importedARN))
			return &p
		}
	}
	hours := func(h float64) awscdk.Duration { return awscdk.Duration_Hours(jsii.Number(h)) }
	secs := func(s float64) awscdk.Duration { return awscdk.Duration_Seconds(jsii.Number(s)) }
	env := func(kv ...string) *map[string]*string {
		e := map[string]*string{}
		for i := 0; i < len(kv); i += 2 {
			e[kv[i]] = jsii.String(kv[i+1])
		}
		return &e
	}

	for i, tc := range []struct {
		name  string
		props func(awscdk.Stack) *sp.StreamProcessorProps
		want  string // substring of the only problem
	}{
		// code
		{"no code", func(awscdk.Stack) *sp.StreamProcessorProps { return &sp.StreamProcessorProps{} },
			`neither Entry nor Code is set: set Entry to the directory of a Go main package`},
		{"entry and code", withCode(sp.StreamProcessorProps{Entry: jsii.String(handlerEntry), Code: code}),
			`Entry ("testdata/handler") and Code are both set: set only one`},
		{"entry missing", withCode(sp.StreamProcessorProps{Entry: jsii.String("testdata/nope")}),
			`Entry "testdata/nope" does not exist`},
		{"entry is a file", withCode(sp.StreamProcessorProps{Entry: jsii.String("testdata/handler/main.go")}),
			`Entry "testdata/handler/main.go" is a file: point Entry at the directory of the Go main package ("testdata/handler")`},
		{"entry not main", withCode(sp.StreamProcessorProps{Entry: jsii.String("testdata/notmain")}),
			`Entry "testdata/notmain" is package notmain, not a main package`},
		{"entry without go files", withCode(sp.StreamProcessorProps{Entry: jsii.String("testdata")}),
			`Entry "testdata" holds no Go files`},
		{"architecture", withCode(sp.StreamProcessorProps{Architecture: awslambda.Architecture_Custom(jsii.String("riscv64"), nil)}),
			`Architecture "riscv64" is not supported: use awslambda.Architecture_ARM_64() or awslambda.Architecture_X86_64()`},
		// existing stream versus new-stream props
		{"stream and shard count", imported(sp.StreamProcessorProps{ShardCount: jsii.Number(2)}),
			`Stream (an existing stream) and ShardCount (2) are both set: ShardCount configures a stream the construct makes; remove ShardCount, or remove Stream`},
		{"stream and name", imported(sp.StreamProcessorProps{StreamName: jsii.String("x")}),
			`Stream (an existing stream) and StreamName ("x") are both set`},
		{"stream and mode", imported(sp.StreamProcessorProps{StreamMode: awskinesis.StreamMode_ON_DEMAND}),
			`Stream (an existing stream) and StreamMode (ON_DEMAND) are both set`},
		{"stream and key", func(stack awscdk.Stack) *sp.StreamProcessorProps {
			p := imported(sp.StreamProcessorProps{})(stack)
			p.StreamEncryptionKey = awskms.NewKey(stack, jsii.String("K"), nil)
			return p
		}, `Stream (an existing stream) and StreamEncryptionKey (a key) are both set`},
		// new stream
		{"shard count on demand", withCode(sp.StreamProcessorProps{StreamMode: awskinesis.StreamMode_ON_DEMAND, ShardCount: jsii.Number(2)}),
			`ShardCount (2) is set with StreamMode ON_DEMAND: an on-demand stream manages its own shards; remove ShardCount, or use StreamMode_PROVISIONED`},
		{"stream mode", withCode(sp.StreamProcessorProps{StreamMode: awskinesis.StreamMode("SERVERLESS")}),
			`StreamMode "SERVERLESS" is not supported here`},
		{"shard count zero", withCode(sp.StreamProcessorProps{ShardCount: jsii.Number(0)}),
			`ShardCount 0 is invalid: use a whole number of at least 1`},
		{"stream name", withCode(sp.StreamProcessorProps{StreamName: jsii.String("my stream")}),
			`StreamName "my stream" is invalid: use 1 to 128 characters`},
		{"retention short", withCode(sp.StreamProcessorProps{RetentionPeriod: hours(12)}),
			`RetentionPeriod 12h is invalid: use whole hours from 24 hours to 365 days`},
		{"retention long", withCode(sp.StreamProcessorProps{RetentionPeriod: hours(9000), MaxRecordAge: hours(1)}),
			`RetentionPeriod 375d is invalid`},
		// function
		{"function name", withCode(sp.StreamProcessorProps{FunctionName: jsii.String("orders:v1")}),
			`FunctionName "orders:v1" is invalid: use 1 to 64 characters`},
		{"memory", withCode(sp.StreamProcessorProps{MemorySize: jsii.Number(64)}),
			`MemorySize 64 is invalid: use whole MiB from 128 to 10240`},
		{"timeout", withCode(sp.StreamProcessorProps{Timeout: awscdk.Duration_Minutes(jsii.Number(16)), MaxRecordAge: hours(2)}),
			`Timeout 16m is invalid: use 1 second to 15 minutes`},
		{"env reserved by lambda", withCode(sp.StreamProcessorProps{Environment: env("AWS_REGION", "x")}),
			`Environment sets AWS_REGION, which Lambda reserves: the deployment would fail; remove it or rename it`},
		{"env set by the construct", withCode(sp.StreamProcessorProps{Environment: env("STREAMPROC_QUARANTINE_QUEUE_URL", "x")}),
			`Environment sets STREAMPROC_QUARANTINE_QUEUE_URL: remove it from Environment; the construct always sets it for its DLQ`},
		{"env metrics namespace set by the construct", withCode(sp.StreamProcessorProps{Environment: env("STREAMPROC_METRICS_NAMESPACE", "x")}),
			`Environment sets STREAMPROC_METRICS_NAMESPACE, which the construct sets itself: remove it from Environment (configure it through MetricsNamespace)`},
		{"env key", withCode(sp.StreamProcessorProps{Environment: env("1X", "x")}),
			`Environment key "1X" is invalid: start with a letter`},
		{"env nil value", withCode(sp.StreamProcessorProps{Environment: &map[string]*string{"A_B": nil}}),
			`Environment["A_B"] is nil: set a value or remove the key`},
		{"env too big", withCode(sp.StreamProcessorProps{Environment: env("BIG", strings.Repeat("x", 4000))}),
			`Environment is 4003 bytes, over the 3584 bytes left of Lambda's 4 KB limit`},
		{"reserved zero", withCode(sp.StreamProcessorProps{ReservedConcurrentExecutions: jsii.Number(0)}),
			`ReservedConcurrentExecutions 0 would throttle every invocation and stall the stream: to pause processing set Enabled to false`},
		{"provisioned zero", withCode(sp.StreamProcessorProps{ProvisionedConcurrentExecutions: jsii.Number(0)}),
			`ProvisionedConcurrentExecutions 0 is invalid`},
		{"provisioned above reserved", withCode(sp.StreamProcessorProps{ReservedConcurrentExecutions: jsii.Number(5), ProvisionedConcurrentExecutions: jsii.Number(10)}),
			`ProvisionedConcurrentExecutions (10) is above ReservedConcurrentExecutions (5): Lambda rejects provisioned concurrency the reservation cannot hold; lower ProvisionedConcurrentExecutions to at most 5`},
		{"reserved below shards x parallelization", withCode(sp.StreamProcessorProps{ShardCount: jsii.Number(2), ParallelizationFactor: jsii.Number(3), ReservedConcurrentExecutions: jsii.Number(5)}),
			`ReservedConcurrentExecutions (5) is below the 6 concurrent batches the mapping runs (ShardCount 2 x ParallelizationFactor 3)`},
		{"reserved below parallelization with fan-out", withCode(sp.StreamProcessorProps{EnhancedFanOut: jsii.Bool(true), ParallelizationFactor: jsii.Number(4), ReservedConcurrentExecutions: jsii.Number(2)}),
			`ReservedConcurrentExecutions (2) is below the 4 concurrent batches the mapping runs (ShardCount 1 x ParallelizationFactor 4)`},
		{"metrics namespace", withCode(sp.StreamProcessorProps{MetricsNamespace: jsii.String("AWS/Lambda")}),
			`MetricsNamespace "AWS/Lambda" is invalid: use 1 to 255 characters that do not start with "AWS/"`},
		// event source mapping
		{"starting position", withCode(sp.StreamProcessorProps{StartingPosition: awslambda.StartingPosition("EARLIEST")}),
			`StartingPosition "EARLIEST" is not valid for Kinesis`},
		{"at timestamp without timestamp", withCode(sp.StreamProcessorProps{StartingPosition: awslambda.StartingPosition_AT_TIMESTAMP}),
			`StartingPosition AT_TIMESTAMP needs StartingPositionTimestamp`},
		{"timestamp without at timestamp", withCode(sp.StreamProcessorProps{StartingPosition: awslambda.StartingPosition_LATEST, StartingPositionTimestamp: jsii.Number(1764000000)}),
			`StartingPositionTimestamp (1764000000) is only used with StartingPosition AT_TIMESTAMP, not LATEST`},
		{"batch size", withCode(sp.StreamProcessorProps{BatchSize: jsii.Number(20000)}),
			`BatchSize 20000 is invalid: use a whole number from 1 to 10000`},
		{"batching window", withCode(sp.StreamProcessorProps{MaxBatchingWindow: secs(301)}),
			`MaxBatchingWindow 5m1s is invalid: use 0 to 300 seconds`},
		{"parallelization", withCode(sp.StreamProcessorProps{ParallelizationFactor: jsii.Number(11)}),
			`ParallelizationFactor 11 is invalid: use a whole number from 1 to 10`},
		{"retry forever", withCode(sp.StreamProcessorProps{RetryAttempts: jsii.Number(-1)}),
			`RetryAttempts -1 retries a failing batch until its records expire, blocking the shard for the whole retention period: use a bound from 0 to 10000`},
		{"retry too many", withCode(sp.StreamProcessorProps{RetryAttempts: jsii.Number(10001)}),
			`RetryAttempts 10001 is invalid: use a whole number from 0 to 10000`},
		{"max record age short", withCode(sp.StreamProcessorProps{MaxRecordAge: secs(30), Timeout: secs(5)}),
			`MaxRecordAge 30s is invalid: use 60 seconds to 7 days`},
		{"max record age long", withCode(sp.StreamProcessorProps{MaxRecordAge: hours(192), RetentionPeriod: hours(240)}),
			`MaxRecordAge 8d is invalid: use 60 seconds to 7 days`},
		{"max record age leaves no time to redrive", withCode(sp.StreamProcessorProps{MaxRecordAge: hours(20)}),
			`MaxRecordAge (20h) leaves 4h of the stream's 1d retention to redrive a failed batch from the DLQ, less than RedriveWindow (6h): lower MaxRecordAge to at most 18h, or raise RetentionPeriod to at least 1d2h`},
		{"redrive check on an existing stream assumes 24h", imported(sp.StreamProcessorProps{MaxRecordAge: hours(20)}),
			`of the stream's 1d retention`},
		{"redrive window larger than retention", withCode(sp.StreamProcessorProps{RedriveWindow: hours(24)}),
			`raise RetentionPeriod to at least 1d1h`},
		{"retries cannot run before max record age", withCode(sp.StreamProcessorProps{Timeout: awscdk.Duration_Minutes(jsii.Number(15)), RetryAttempts: jsii.Number(10)}),
			`MaxRecordAge (1h) is shorter than the time the configured retries can take: MaxBatchingWindow (0s) + Timeout (15m) x (RetryAttempts 10 + 1) = 2h45m`},
		{"batching window and timeout against max record age", withCode(sp.StreamProcessorProps{MaxBatchingWindow: secs(300), Timeout: secs(900), RetryAttempts: jsii.Number(3), MaxRecordAge: hours(1)}),
			`MaxBatchingWindow (5m) + Timeout (15m) x (RetryAttempts 3 + 1) = 1h5m`},
		// Durations whose text ends in 0s or 0m (a trimming formatter once
		// printed 1h10m as "1h1" and 1m30s as "1m3").
		{"durations ending in zero", withCode(sp.StreamProcessorProps{Timeout: awscdk.Duration_Minutes(jsii.Number(10)), RetryAttempts: jsii.Number(6)}),
			`MaxBatchingWindow (0s) + Timeout (10m) x (RetryAttempts 6 + 1) = 1h10m, so a batch that times out expires before its retries run; raise MaxRecordAge to at least 1h10m,`},
		{"seconds ending in zero", withCode(sp.StreamProcessorProps{MaxRecordAge: secs(90), Timeout: secs(30), RetryAttempts: jsii.Number(3)}),
			`MaxRecordAge (1m30s) is shorter than the time the configured retries can take: MaxBatchingWindow (0s) + Timeout (30s) x (RetryAttempts 3 + 1) = 2m,`},
		{"tumbling window", withCode(sp.StreamProcessorProps{TumblingWindow: secs(901)}),
			`TumblingWindow 15m1s is invalid: use 0 to 900 seconds`},
		{"empty filter", withCode(sp.StreamProcessorProps{Filters: &[]*map[string]interface{}{{}}}),
			`Filters[0] is empty: build filters with awslambda.FilterCriteria_Filter`},
		{"consumer name without fan-out", withCode(sp.StreamProcessorProps{ConsumerName: jsii.String("c")}),
			`ConsumerName ("c") is set without EnhancedFanOut: set EnhancedFanOut to true, or remove ConsumerName`},
		{"monitoring props", withCode(sp.StreamProcessorProps{Monitoring: &sp.MonitoringProps{ErrorRatePercent: jsii.Number(-1)}}),
			`ErrorRatePercent`},
		{"consumer name", withCode(sp.StreamProcessorProps{EnhancedFanOut: jsii.Bool(true), ConsumerName: jsii.String("bad name")}),
			`ConsumerName "bad name" is invalid`},
		// function: reuse props
		{"description", withCode(sp.StreamProcessorProps{Description: jsii.String(strings.Repeat("d", 257))}),
			`Description is 257 characters: Lambda allows at most 256; shorten it`},
		{"tracing", withCode(sp.StreamProcessorProps{Tracing: awslambda.Tracing("ON")}),
			`Tracing "ON" is not a tracing mode: use awslambda.Tracing_ACTIVE (the default), Tracing_PASS_THROUGH or Tracing_DISABLED`},
		{"subnets without vpc", withCode(sp.StreamProcessorProps{VpcSubnets: &awsec2.SubnetSelection{}}),
			`VpcSubnets is set without Vpc: set Vpc to the VPC those subnets belong to, or remove VpcSubnets`},
		{"security groups without vpc", withCode(sp.StreamProcessorProps{SecurityGroups: &[]awsec2.ISecurityGroup{}}),
			`SecurityGroups (0) is set without Vpc`},
		{"nil layer", withCode(sp.StreamProcessorProps{Layers: &[]awslambda.ILayerVersion{nil}}),
			`Layers[0] is nil`},
		// cross-account readers
		{"readers of an existing stream", imported(sp.StreamProcessorProps{CrossAccountReaders: &[]awsiam.IPrincipal{awsiam.NewAccountPrincipal(jsii.String("222222222222"))}}),
			`CrossAccountReaders (1) is set with an existing Stream: the account that owns a stream sets its resource policy`},
		{"reader is a service", withCode(sp.StreamProcessorProps{CrossAccountReaders: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil)}}),
			`is a Service principal, not an account or role: use awsiam.NewAccountPrincipal`},
		{"reader is everyone", withCode(sp.StreamProcessorProps{CrossAccountReaders: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()}}),
			`which would let every AWS account read the stream`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verr := newProcessor(t, app, fmt.Sprintf("V%d", i), tc.props)
			if verr == nil {
				t.Fatalf("accepted; want %q", tc.want)
			}
			if len(verr.Problems) != 1 || !strings.Contains(verr.Problems[0], tc.want) {
				t.Fatalf("problems:\n  %s\nwant exactly one containing:\n  %s", strings.Join(verr.Problems, "\n  "), tc.want)
			}
			if want := fmt.Sprintf("V%d/Orders", i); verr.Path != want || !strings.Contains(verr.Error(), "streamprocessor "+want+": invalid props") {
				t.Errorf("path %q, error %q", verr.Path, verr.Error())
			}
		})
	}

	t.Run("every problem at once", func(t *testing.T) {
		verr := newProcessor(t, app, "Many", withCode(sp.StreamProcessorProps{BatchSize: jsii.Number(0), MemorySize: jsii.Number(1)}))
		if verr == nil || len(verr.Problems) != 2 {
			t.Fatalf("got %v, want two problems", verr)
		}
	})

	t.Run("nothing is added to the tree", func(t *testing.T) {
		stack := awscdk.NewStack(app, jsii.String("Clean"), nil)
		func() {
			defer func() { _ = recover() }()
			sp.NewStreamProcessor(stack, jsii.String("Orders"), &sp.StreamProcessorProps{})
		}()
		if stack.Node().TryFindChild(jsii.String("Orders")) != nil {
			t.Error("a rejected StreamProcessor left a construct in the tree")
		}
	})

	t.Run("tokens are skipped", func(t *testing.T) {
		verr := newProcessor(t, app, "Tokens", func(stack awscdk.Stack) *sp.StreamProcessorProps {
			param := func(id string) *float64 {
				return awscdk.NewCfnParameter(stack, jsii.String(id), &awscdk.CfnParameterProps{Type: jsii.String("Number")}).ValueAsNumber()
			}
			return &sp.StreamProcessorProps{
				Code:                         code,
				ShardCount:                   param("Shards"),
				MemorySize:                   param("Memory"),
				BatchSize:                    param("Batch"),
				RetryAttempts:                param("Retries"),
				ParallelizationFactor:        param("Factor"),
				ReservedConcurrentExecutions: param("Reserved"),
				FunctionName:                 awscdk.NewCfnParameter(stack, jsii.String("Name"), nil).ValueAsString(),
			}
		})
		if verr != nil {
			t.Fatalf("tokens were validated: %v", verr)
		}
	})

	t.Run("go missing", func(t *testing.T) {
		stack := awscdk.NewStack(app, jsii.String("NoGo"), nil)
		t.Setenv("PATH", t.TempDir())
		defer func() {
			r := recover()
			if r == nil || !strings.Contains(fmt.Sprint(r), "the go toolchain was not found on PATH") ||
				!strings.Contains(fmt.Sprint(r), "pass a prebuilt bootstrap as Code") {
				t.Fatalf("got %v, want the missing-go error", r)
			}
		}()
		sp.NewStreamProcessor(stack, jsii.String("Orders"), &sp.StreamProcessorProps{Entry: jsii.String(handlerEntry)})
	})
}

// TestStreamInAnotherRegion: an event source mapping cannot read a stream in
// another region; the message names both regions.
func TestStreamInAnotherRegion(t *testing.T) {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Virginia"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("111111111111"), Region: jsii.String("us-east-1")},
	})
	var verr *sp.ValidationError
	func() {
		defer func() {
			if r := recover(); r != nil {
				err, _ := r.(error)
				if !errors.As(err, &verr) {
					t.Fatalf("panicked with %T %v, want *ValidationError", r, r)
				}
			}
		}()
		sp.NewStreamProcessor(stack, jsii.String("Orders"), &sp.StreamProcessorProps{
			Code:   awslambda.Code_FromAsset(jsii.String(prebuiltCode), nil),
			Stream: awskinesis.Stream_FromStreamArn(stack, jsii.String("Ireland"), jsii.String(importedARN)),
		})
	}()
	want := `Stream ` + `"` + importedARN + `" is in region eu-west-1 but the stack Virginia is in region us-east-1: a Lambda event source mapping can only read a stream in its own region`
	if verr == nil || len(verr.Problems) != 1 || !strings.Contains(verr.Problems[0], want) {
		t.Fatalf("got %v, want one problem containing %q", verr, want)
	}
}
