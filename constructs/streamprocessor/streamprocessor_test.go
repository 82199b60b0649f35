package streamprocessor_test

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	sp "github.com/streamproc/streamproc/constructs/streamprocessor"
	"github.com/streamproc/streamproc/functions/contract"
)

// Test fixtures: two tiny main packages in testdata/ (this module, no
// dependence on functions/).
const (
	handlerEntry = "testdata/handler"
	otherEntry   = "testdata/other"
	prebuiltCode = "testdata/prebuilt" // a directory holding an executable bootstrap
	brokenEntry  = "testdata/broken"   // a main package that does not compile
	importedARN  = "arn:aws:kinesis:eu-west-1:123456789012:stream/existing-orders"
)

type m = map[string]interface{}

func obj(v m) assertions.Matcher { return assertions.Match_ObjectLike(&v) }

func arrayWith(v ...interface{}) assertions.Matcher { return assertions.Match_ArrayWith(&v) }

// branch is one stack of the shared app: props for the construct and what
// the template must show.
type branch struct {
	name  string
	props func(stack awscdk.Stack) *sp.StreamProcessorProps
	check func(t *testing.T, tmpl assertions.Template, f *fixture)
}

// fixture is one app holding every stack the template tests read, synthesized
// once per test binary: each Go CDK test process pays for one node start and
// one synthesis, and bundling runs once per entry and architecture.
type fixture struct {
	app       awscdk.App
	outdir    string
	stacks    map[string]awscdk.Stack
	templates map[string]assertions.Template
	procs     map[string]*sp.StreamProcessor
	// findings are the error and warning annotations of each stack (cdk-nag
	// runs on the whole app, as an application that applies it does), as
	// "<construct path>: <message>".
	findings map[string][]string
}

var (
	fixtureOnce sync.Once
	shared      *fixture
	fixtureErr  interface{}
)

func getFixture(t *testing.T) *fixture {
	t.Helper()
	fixtureOnce.Do(func() {
		defer func() { fixtureErr = recover() }()
		dir, err := os.MkdirTemp("", "streamprocessor-test-")
		if err != nil {
			panic(err)
		}
		f := &fixture{
			outdir:    dir,
			stacks:    map[string]awscdk.Stack{},
			templates: map[string]assertions.Template{},
			procs:     map[string]*sp.StreamProcessor{},
			findings:  map[string][]string{},
		}
		f.app = awscdk.NewApp(&awscdk.AppProps{
			Outdir: jsii.String(dir),
			// aws:cdk:path metadata, as the CDK CLI synthesizes, to find
			// resources by construct path instead of hashed logical ids.
			Context: &map[string]interface{}{"aws:cdk:enable-path-metadata": true},
		})
		for _, b := range branches() {
			stack := awscdk.NewStack(f.app, jsii.String(b.name), &awscdk.StackProps{Env: branchEnv[b.name]})
			f.stacks[b.name] = stack
			f.procs[b.name] = sp.NewStreamProcessor(stack, jsii.String("Orders"), b.props(stack))
		}
		addNagPacks(f.app)
		for _, b := range branches() {
			f.templates[b.name] = assertions.Template_FromStack(f.stacks[b.name], nil)
			f.findings[b.name] = annotations(f.stacks[b.name])
		}
		shared = f
	})
	if fixtureErr != nil {
		t.Fatalf("building the test app: %v", fixtureErr)
	}
	return shared
}

// match runs a jsii assertion, turning its panic into a test error.
func match(t *testing.T, what string, assert func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	assert()
}

func hasProps(t *testing.T, tmpl assertions.Template, typ string, props m) {
	t.Helper()
	match(t, typ, func() { tmpl.HasResourceProperties(jsii.String(typ), obj(props)) })
}

func hasResource(t *testing.T, tmpl assertions.Template, typ string, props m) {
	t.Helper()
	match(t, typ, func() { tmpl.HasResource(jsii.String(typ), obj(props)) })
}

func count(t *testing.T, tmpl assertions.Template, typ string, n int) {
	t.Helper()
	match(t, typ, func() { tmpl.ResourceCountIs(jsii.String(typ), jsii.Number(n)) })
}

// resources returns the template's resources of a type, by logical id.
func resources(tmpl assertions.Template, typ string) map[string]m {
	out := map[string]m{}
	for id, r := range *tmpl.FindResources(jsii.String(typ), nil) {
		out[id] = *r
	}
	return out
}

// logicalID returns the logical id of the only resource of typ whose path
// ends with suffix (never a hard-coded hash).
func logicalID(t *testing.T, tmpl assertions.Template, typ, suffix string) string {
	t.Helper()
	var ids []string
	for id, r := range resources(tmpl, typ) {
		if md, ok := r["Metadata"].(m); ok && strings.HasSuffix(fmt.Sprint(md["aws:cdk:path"]), suffix) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%s with path suffix %q: found %v, want exactly one", typ, suffix, ids)
	}
	return ids[0]
}

// policyActions returns every action the stack's IAM policies allow, with the
// resources each is allowed on.
func policyActions(tmpl assertions.Template) map[string][]interface{} {
	out := map[string][]interface{}{}
	for _, r := range resources(tmpl, "AWS::IAM::Policy") {
		doc := r["Properties"].(m)["PolicyDocument"].(m)
		for _, st := range doc["Statement"].([]interface{}) {
			s := st.(m)
			var actions []interface{}
			switch a := s["Action"].(type) {
			case string:
				actions = []interface{}{a}
			case []interface{}:
				actions = a
			}
			for _, a := range actions {
				out[a.(string)] = append(out[a.(string)], s["Resource"])
			}
		}
	}
	return out
}

func keys(mp map[string][]interface{}) []string {
	var ks []string
	for k := range mp {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

var streamReadActions = []string{
	"kinesis:DescribeStream", "kinesis:DescribeStreamConsumer", "kinesis:DescribeStreamSummary",
	"kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:ListStreams",
	"kinesis:SubscribeToShard",
}

// leastPrivilege is every action the function's role gets by default.
var leastPrivilege = append([]string{
	"kms:Decrypt", "kms:GenerateDataKey", // the DLQ's key (and nothing broader)
	"logs:CreateLogStream", "logs:PutLogEvents",
	"s3:ListBucket", "s3:PutObject", // the failed-batch bucket (onfailure.go)
	"sqs:SendMessage",
	"xray:PutTelemetryRecords", "xray:PutTraceSegments",
}, streamReadActions...)

func branches() []branch {
	code := func() awslambda.Code { return awslambda.Code_FromAsset(jsii.String(prebuiltCode), nil) }
	base := []branch{
		{"Defaults", func(awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{Entry: jsii.String(handlerEntry)}
		}, nil},
		{"OnDemand", func(awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{Code: code(), StreamMode: awskinesis.StreamMode_ON_DEMAND}
		}, func(t *testing.T, tmpl assertions.Template, _ *fixture) {
			hasProps(t, tmpl, "AWS::Kinesis::Stream", m{
				"StreamModeDetails": m{"StreamMode": "ON_DEMAND"},
				"ShardCount":        assertions.Match_Absent(),
			})
		}},
		{"StreamSettings", func(stack awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{
				Code:                code(),
				StreamName:          jsii.String("orders"),
				ShardCount:          jsii.Number(4),
				RetentionPeriod:     awscdk.Duration_Hours(jsii.Number(48)),
				StreamEncryptionKey: awskms.NewKey(stack, jsii.String("StreamKey"), &awskms.KeyProps{EnableKeyRotation: jsii.Bool(true)}),
				RemovalPolicy:       awscdk.RemovalPolicy_DESTROY,
			}
		}, func(t *testing.T, tmpl assertions.Template, _ *fixture) {
			key := logicalID(t, tmpl, "AWS::KMS::Key", "/StreamKey/Resource")
			hasResource(t, tmpl, "AWS::Kinesis::Stream", m{
				"Properties": m{
					"Name":                 "orders",
					"ShardCount":           4,
					"RetentionPeriodHours": 48,
					"StreamEncryption":     m{"EncryptionType": "KMS", "KeyId": m{"Fn::GetAtt": []interface{}{key, "Arn"}}},
				},
				"DeletionPolicy": "Delete",
			})
			hasResource(t, tmpl, "AWS::SQS::Queue", m{"DeletionPolicy": "Delete"})
			hasResource(t, tmpl, "AWS::Logs::LogGroup", m{"DeletionPolicy": "Delete"})
			// the function may decrypt the stream with its key
			if rs := policyActions(tmpl)["kms:Decrypt"]; len(rs) != 2 {
				t.Errorf("kms:Decrypt granted on %v, want the DLQ key and the stream key", rs)
			}
		}},
		{"X86", func(awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{Entry: jsii.String(handlerEntry), Architecture: awslambda.Architecture_X86_64()}
		}, func(t *testing.T, tmpl assertions.Template, _ *fixture) {
			hasProps(t, tmpl, "AWS::Lambda::Function", m{"Architectures": []interface{}{"x86_64"}})
		}},
		{"FunctionSettings", func(awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{
				Code:                         code(),
				FunctionName:                 jsii.String("orders-processor"),
				MemorySize:                   jsii.Number(1024),
				Timeout:                      awscdk.Duration_Seconds(jsii.Number(120)),
				Environment:                  &map[string]*string{"TABLE_NAME": jsii.String("t")},
				ReservedConcurrentExecutions: jsii.Number(5),
				LogRetention:                 awslogs.RetentionDays_ONE_WEEK,
				ApplicationLogLevel:          awslambda.ApplicationLogLevel_DEBUG,
				MetricsNamespace:             jsii.String("Orders"),
			}
		}, func(t *testing.T, tmpl assertions.Template, _ *fixture) {
			hasProps(t, tmpl, "AWS::Lambda::Function", m{
				"FunctionName":                 "orders-processor",
				"MemorySize":                   1024,
				"Timeout":                      120,
				"ReservedConcurrentExecutions": 5,
				"LoggingConfig":                m{"ApplicationLogLevel": "DEBUG"},
				"Environment": m{"Variables": m{
					"TABLE_NAME":                   "t",
					contract.EnvMetricsNamespace:   "Orders",
					contract.EnvQuarantineQueueURL: assertions.Match_AnyValue(),
				}},
			})
			hasProps(t, tmpl, "AWS::Logs::LogGroup", m{"RetentionInDays": 7})
		}},
		{"ProvisionedConcurrency", func(awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{Code: code(), ProvisionedConcurrentExecutions: jsii.Number(2)}
		}, func(t *testing.T, tmpl assertions.Template, f *fixture) {
			count(t, tmpl, "AWS::Lambda::Version", 1)
			alias := logicalID(t, tmpl, "AWS::Lambda::Alias", "/Orders/Alias/Resource")
			hasProps(t, tmpl, "AWS::Lambda::Alias", m{
				"Name":                         sp.DefaultAliasName,
				"ProvisionedConcurrencyConfig": m{"ProvisionedConcurrentExecutions": 2},
			})
			// the mapping invokes the alias (function-name:live), not $LATEST
			for _, r := range resources(tmpl, "AWS::Lambda::EventSourceMapping") {
				fn := fmt.Sprint(r["Properties"].(m)["FunctionName"])
				if !strings.Contains(fn, ":"+sp.DefaultAliasName) {
					t.Errorf("mapping FunctionName = %s, want the %s alias", fn, sp.DefaultAliasName)
				}
			}
			_ = alias
			p := f.procs["ProvisionedConcurrency"]
			if p.Alias() == nil || p.Version() == nil {
				t.Errorf("Alias() = %v, Version() = %v; want both", p.Alias(), p.Version())
			}
		}},
		{"MappingSettings", func(awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{
				Code:                    code(),
				StartingPosition:        awslambda.StartingPosition_LATEST,
				BatchSize:               jsii.Number(500),
				MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(5)),
				ParallelizationFactor:   jsii.Number(2),
				BisectBatchOnError:      jsii.Bool(false),
				RetryAttempts:           jsii.Number(5),
				MaxRecordAge:            awscdk.Duration_Hours(jsii.Number(2)),
				ReportBatchItemFailures: jsii.Bool(false),
				TumblingWindow:          awscdk.Duration_Seconds(jsii.Number(60)),
				Enabled:                 jsii.Bool(false),
				Filters: &[]*map[string]interface{}{awslambda.FilterCriteria_Filter(&map[string]interface{}{
					"data": m{"kind": awslambda.FilterRule_IsEqual("reading")},
				})},
			}
		}, func(t *testing.T, tmpl assertions.Template, _ *fixture) {
			hasProps(t, tmpl, "AWS::Lambda::EventSourceMapping", m{
				"StartingPosition":               "LATEST",
				"BatchSize":                      500,
				"MaximumBatchingWindowInSeconds": 5,
				"ParallelizationFactor":          2,
				"BisectBatchOnFunctionError":     false,
				"MaximumRetryAttempts":           5,
				"MaximumRecordAgeInSeconds":      7200,
				"FunctionResponseTypes":          assertions.Match_Absent(),
				"TumblingWindowInSeconds":        60,
				"Enabled":                        false,
				"FilterCriteria":                 m{"Filters": []interface{}{m{"Pattern": `{"data":{"kind":["reading"]}}`}}},
			})
		}},
		{"AtTimestamp", func(awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{
				Code:                      code(),
				StartingPosition:          awslambda.StartingPosition_AT_TIMESTAMP,
				StartingPositionTimestamp: jsii.Number(1764000000),
			}
		}, func(t *testing.T, tmpl assertions.Template, _ *fixture) {
			hasProps(t, tmpl, "AWS::Lambda::EventSourceMapping", m{
				"StartingPosition":          "AT_TIMESTAMP",
				"StartingPositionTimestamp": 1764000000,
			})
		}},
		{"FanOut", func(awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{Code: code(), EnhancedFanOut: jsii.Bool(true), ConsumerName: jsii.String("orders-efo")}
		}, func(t *testing.T, tmpl assertions.Template, f *fixture) {
			consumer := logicalID(t, tmpl, "AWS::Kinesis::StreamConsumer", "/Orders/Consumer/Resource")
			hasProps(t, tmpl, "AWS::Kinesis::StreamConsumer", m{"ConsumerName": "orders-efo"})
			hasProps(t, tmpl, "AWS::Lambda::EventSourceMapping", m{
				"EventSourceArn": m{"Fn::GetAtt": []interface{}{consumer, "ConsumerARN"}},
			})
			got := policyActions(tmpl)
			for _, a := range []string{"kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"} {
				if !strings.Contains(fmt.Sprint(got[a]), consumer) {
					t.Errorf("%s granted on %v, want the consumer %s", a, got[a], consumer)
				}
			}
			if f.procs["FanOut"].Consumer() == nil {
				t.Error("Consumer() = nil with EnhancedFanOut")
			}
		}},
		{"DLQKey", func(stack awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{
				Code:                         code(),
				DeadLetterQueueEncryptionKey: awskms.NewKey(stack, jsii.String("MyKey"), &awskms.KeyProps{EnableKeyRotation: jsii.Bool(true)}),
			}
		}, func(t *testing.T, tmpl assertions.Template, _ *fixture) {
			key := logicalID(t, tmpl, "AWS::KMS::Key", "/MyKey/Resource")
			hasProps(t, tmpl, "AWS::SQS::Queue", m{"KmsMasterKeyId": m{"Fn::GetAtt": []interface{}{key, "Arn"}}})
			for id, r := range resources(tmpl, "AWS::KMS::Key") {
				if strings.Contains(fmt.Sprint(r["Metadata"]), "DeadLetterQueueKey") {
					t.Errorf("made its own DLQ key %s although one was passed", id)
				}
			}
		}},
		{"NoAlarms", func(awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{Code: code(), Monitoring: &sp.MonitoringProps{DisableAlarms: jsii.Bool(true)}}
		}, func(t *testing.T, tmpl assertions.Template, _ *fixture) {
			count(t, tmpl, "AWS::CloudWatch::Alarm", 0)
			count(t, tmpl, "AWS::CloudWatch::Dashboard", 1)
		}},
		{"Reuse", func(stack awscdk.Stack) *sp.StreamProcessorProps {
			return &sp.StreamProcessorProps{
				Stream: awskinesis.Stream_FromStreamArn(stack, jsii.String("Existing"), jsii.String(importedARN)),
				Entry:  jsii.String(otherEntry),
			}
		}, nil}, // checked by TestReuse
	}
	base = append(base, onFailureBranches()...) // onfailure_test.go
	return append(base, reuseBranches(code)...)
}
