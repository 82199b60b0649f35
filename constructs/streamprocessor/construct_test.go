package streamprocessor_test

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	sp "github.com/streamproc/streamproc/constructs/streamprocessor"
	"github.com/streamproc/streamproc/functions/contract"
)

// TestDefaults: every default of StreamProcessorProps as it lands in the
// template of a construct given only an Entry.
func TestDefaults(t *testing.T) {
	f := getFixture(t)
	tmpl := f.templates["Defaults"]
	for _, tc := range []struct {
		name  string
		typ   string
		props m // Match_ObjectLike on Properties
		whole m // Match_ObjectLike on the whole resource (policies)
	}{
		{"stream: provisioned, 1 shard, 24h, aws/kinesis key", "AWS::Kinesis::Stream", m{
			"ShardCount":           sp.DefaultShardCount,
			"RetentionPeriodHours": sp.DefaultRetentionHours,
			"StreamModeDetails":    m{"StreamMode": "PROVISIONED"},
			"StreamEncryption":     m{"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
		}, m{"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}},
		{"function: provided.al2023 arm64, 256 MiB, 60 s, X-Ray, JSON logs", "AWS::Lambda::Function", m{
			"Runtime":       "provided.al2023",
			"Handler":       "bootstrap",
			"Architectures": []interface{}{"arm64"},
			"MemorySize":    sp.DefaultMemorySize,
			"Timeout":       sp.DefaultTimeoutSeconds,
			"TracingConfig": m{"Mode": "Active"},
			"LoggingConfig": m{"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO",
				"LogGroup": assertions.Match_AnyValue()},
			"ReservedConcurrentExecutions": assertions.Match_Absent(),
			"Environment": m{"Variables": m{
				contract.EnvMetricsNamespace:   contract.DefaultMetricsNamespace,
				contract.EnvQuarantineQueueURL: m{"Ref": assertions.Match_StringLikeRegexp(jsii.String("DeadLetterQueue"))},
			}},
		}, nil},
		{"mapping: bounded retries, bisect, partial failures, EventCount, failed-batch bucket", "AWS::Lambda::EventSourceMapping", m{
			"StartingPosition":               "TRIM_HORIZON",
			"BatchSize":                      sp.DefaultBatchSize,
			"MaximumBatchingWindowInSeconds": 0,
			"ParallelizationFactor":          sp.DefaultParallelizationFactor,
			"BisectBatchOnFunctionError":     true,
			"MaximumRetryAttempts":           sp.DefaultRetryAttempts,
			"MaximumRecordAgeInSeconds":      sp.DefaultMaxRecordAgeSeconds,
			"FunctionResponseTypes":          []interface{}{"ReportBatchItemFailures"},
			"MetricsConfig":                  m{"Metrics": []interface{}{"EventCount"}},
			"Enabled":                        true,
			"TumblingWindowInSeconds":        assertions.Match_Absent(),
			"FilterCriteria":                 assertions.Match_Absent(),
			"DestinationConfig": m{"OnFailure": m{"Destination": m{
				"Fn::GetAtt": arrayWith(assertions.Match_StringLikeRegexp(jsii.String("FailedBatchBucket")), "Arn")}}},
			"EventSourceArn": m{"Fn::GetAtt": arrayWith(assertions.Match_StringLikeRegexp(jsii.String("OrdersStream")), "Arn")},
		}, nil},
		{"dlq: 14 days, own key", "AWS::SQS::Queue", m{
			"MessageRetentionPeriod": sp.DefaultDeadLetterRetentionDays * 24 * 3600,
			"KmsMasterKeyId":         m{"Fn::GetAtt": arrayWith(assertions.Match_StringLikeRegexp(jsii.String("DeadLetterQueueKey")), "Arn")},
		}, m{"DeletionPolicy": "Retain"}},
		{"dlq: TLS only", "AWS::SQS::QueuePolicy", m{
			"PolicyDocument": m{"Statement": arrayWith(obj(m{
				"Effect":    "Deny",
				"Action":    "sqs:*",
				"Condition": m{"Bool": m{"aws:SecureTransport": "false"}},
			}))},
		}, nil},
		{"dlq key: rotation on", "AWS::KMS::Key", m{"EnableKeyRotation": true}, m{"DeletionPolicy": "Retain"}},
		{"log group: one month", "AWS::Logs::LogGroup", m{"RetentionInDays": 30}, m{"DeletionPolicy": "Retain"}},
		{"role: no managed policies", "AWS::IAM::Role", m{
			"ManagedPolicyArns":        assertions.Match_Absent(),
			"AssumeRolePolicyDocument": m{"Statement": arrayWith(obj(m{"Principal": m{"Service": "lambda.amazonaws.com"}}))},
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hasProps(t, tmpl, tc.typ, tc.props)
			if tc.whole != nil {
				hasResource(t, tmpl, tc.typ, tc.whole)
			}
		})
	}
	t.Run("no version, alias or consumer", func(t *testing.T) {
		for _, typ := range []string{"AWS::Lambda::Version", "AWS::Lambda::Alias", "AWS::Kinesis::StreamConsumer"} {
			count(t, tmpl, typ, 0)
		}
	})
	t.Run("least privilege", func(t *testing.T) {
		got := policyActions(tmpl)
		want := append([]string(nil), leastPrivilege...)
		sort.Strings(want)
		if !reflect.DeepEqual(keys(got), want) {
			t.Errorf("role actions:\n got %v\nwant %v", keys(got), want)
		}
		for a, rs := range got {
			if strings.HasPrefix(a, "xray:") {
				continue // X-Ray has no resource-level permissions
			}
			for _, r := range rs {
				if r == "*" {
					t.Errorf("%s is granted on *", a)
				}
			}
		}
	})
	t.Run("exposed resources", func(t *testing.T) {
		p := f.procs["Defaults"]
		if p.Stream() == nil || p.Function() == nil || p.EventSourceMapping() == nil || p.DeadLetterQueue() == nil ||
			p.DeadLetterQueueKey() == nil || p.LogGroup() == nil || p.Role() == nil || p.Monitoring() == nil {
			t.Fatal("an exposed resource is nil")
		}
		if p.Alias() != nil || p.Version() != nil || p.Consumer() != nil {
			t.Error("Alias/Version/Consumer should be nil by default")
		}
		if got := *p.Node().Path(); got != "Defaults/Orders" {
			t.Errorf("path = %q", got)
		}
		// construct ids are a public contract
		for _, id := range []string{sp.IDStream, sp.IDDeadLetterQueueKey, sp.IDDeadLetterQueue, sp.IDLogGroup,
			sp.IDServiceRole, sp.IDFunction, sp.IDEventSourceMapping} {
			if p.Node().TryFindChild(jsii.String(id)) == nil {
				t.Errorf("no child %q", id)
			}
		}
		// a StreamProcessor is a real construct: usable as a scope
		found := f.stacks["Defaults"].Node().FindChild(jsii.String("Orders"))
		if got, ok := found.(*sp.StreamProcessor); !ok || got != p {
			t.Errorf("FindChild returned %T, not the StreamProcessor", found)
		}
	})
}

// TestPropBranches: each prop that changes the template, in its own stack.
func TestPropBranches(t *testing.T) {
	f := getFixture(t)
	for _, b := range branches() {
		if b.check == nil {
			continue
		}
		t.Run(b.name, func(t *testing.T) { b.check(t, f.templates[b.name], f) })
	}
}

// TestReuse: the construct in a second stack with another entry and an
// imported stream, as another app would use it.
func TestReuse(t *testing.T) {
	f := getFixture(t)
	tmpl := f.templates["Reuse"]
	count(t, tmpl, "AWS::Kinesis::Stream", 0)
	hasProps(t, tmpl, "AWS::Lambda::EventSourceMapping", m{"EventSourceArn": importedARN})
	got := policyActions(tmpl)
	for _, a := range streamReadActions {
		if fmt.Sprint(got[a]) != fmt.Sprint([]interface{}{importedARN}) {
			t.Errorf("%s granted on %v, want only %s", a, got[a], importedARN)
		}
	}
	if f.procs["Reuse"].Stream().StreamArn() == nil || *f.procs["Reuse"].Stream().StreamArn() != importedARN {
		t.Error("Stream() is not the imported stream")
	}
	if a, b := assetKey(t, f.templates["Defaults"]), assetKey(t, tmpl); a == b {
		t.Errorf("different entries gave the same asset %s", a)
	}
}

// assetKey is the S3 key of the only function's code.
func assetKey(t *testing.T, tmpl assertions.Template) string {
	t.Helper()
	for _, r := range resources(tmpl, "AWS::Lambda::Function") {
		return fmt.Sprint(r["Properties"].(m)["Code"].(m)["S3Key"])
	}
	t.Fatal("no function")
	return ""
}

// TestBundling: the asset is a linux `bootstrap` for the function's
// architecture, and a second, independent synthesis gives the same hash.
func TestBundling(t *testing.T) {
	f := getFixture(t)
	for _, tc := range []struct {
		stack   string
		machine elf.Machine
	}{
		{"Defaults", elf.EM_AARCH64},
		{"X86", elf.EM_X86_64},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			key := assetKey(t, f.templates[tc.stack])
			hash := strings.TrimSuffix(key, ".zip")
			entries, _ := os.ReadDir(filepath.Join(f.outdir, "asset."+hash))
			if len(entries) != 1 || entries[0].Name() != "bootstrap" {
				t.Fatalf("asset.%s holds %v, want exactly [bootstrap]", hash, entries)
			}
			bin := filepath.Join(f.outdir, "asset."+hash, "bootstrap")
			e, err := elf.Open(bin)
			if err != nil {
				t.Fatalf("bootstrap is not an ELF binary: %v", err)
			}
			defer e.Close()
			if e.Machine != tc.machine || e.Class != elf.ELFCLASS64 || e.Type != elf.ET_EXEC {
				t.Errorf("bootstrap is %v %v %v, want %v ELFCLASS64 ET_EXEC", e.Machine, e.Class, e.Type, tc.machine)
			}
			if st, _ := os.Stat(bin); st.Mode()&0o111 == 0 {
				t.Errorf("bootstrap is not executable: %v", st.Mode())
			}
			if e.Section(".interp") != nil {
				t.Error("bootstrap is dynamically linked: not built with CGO_ENABLED=0")
			}
			if e.Section(".symtab") != nil {
				t.Error("bootstrap has a symbol table: not built with -ldflags -s")
			}
		})
	}
	t.Run("reproducible", func(t *testing.T) {
		// A second app, with CDK's in-process asset cache cleared, so the
		// entry is really built again.
		awscdk.AssetStaging_ClearAssetHashCache()
		dir := t.TempDir()
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir)})
		stack := awscdk.NewStack(app, jsii.String("Again"), nil)
		sp.NewStreamProcessor(stack, jsii.String("Orders"), &sp.StreamProcessorProps{Entry: jsii.String(handlerEntry)})
		again := assetKey(t, assertions.Template_FromStack(stack, nil))
		if first := assetKey(t, f.templates["Defaults"]); again != first {
			t.Errorf("asset hash changed between syntheses of the same source: %s then %s", first, again)
		}
	})
}

// TestPropsNotMutated: defaults are resolved on a copy.
func TestPropsNotMutated(t *testing.T) {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("S"), nil)
	props := &sp.StreamProcessorProps{Code: awslambda.Code_FromAsset(jsii.String(prebuiltCode), nil)}
	before := *props
	sp.NewStreamProcessor(stack, jsii.String("Orders"), props)
	if !reflect.DeepEqual(before, *props) {
		t.Errorf("props changed: %+v", *props)
	}
}
