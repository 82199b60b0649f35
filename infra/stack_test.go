package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/functions/processor/config"
)

type m = map[string]interface{}

// One app with both stages and the cdk-nag packs, as `cdk synth` runs it,
// synthesized once. Bundling is skipped here (make synth builds the real
// bootstrap; the construct's tests check bundling).
var (
	appOnce   sync.Once
	templates map[string]assertions.Template
	nagErrs   map[string][]string
)

func synthApp(t *testing.T) {
	t.Helper()
	appOnce.Do(func() {
		app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]interface{}{
			"aws:cdk:bundling-stacks": []interface{}{},
		}})
		stacks := map[string]awscdk.Stack{}
		for _, name := range stageNames() {
			stacks[name] = NewPipelineStack(app, "StreamProc-"+name, &PipelineStackProps{
				Stage: stages[name],
				Entry: "../functions/processor",
			}).Stack
		}
		addNagChecks(app)
		templates, nagErrs = map[string]assertions.Template{}, map[string][]string{}
		for name, stack := range stacks {
			templates[name] = assertions.Template_FromStack(stack, nil)
			ann := assertions.Annotations_FromStack(stack)
			for _, assertNone := range []func(*string, interface{}){ann.HasNoError, ann.HasNoWarning} {
				func() {
					defer func() {
						if r := recover(); r != nil {
							nagErrs[name] = append(nagErrs[name], fmt.Sprint(r))
						}
					}()
					assertNone(jsii.String("*"), assertions.Match_AnyValue())
				}()
			}
		}
	})
	if templates == nil {
		t.Fatal("app synthesis failed")
	}
}

func hasProps(t *testing.T, tmpl assertions.Template, typ string, props m) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", typ, r)
		}
	}()
	tmpl.HasResourceProperties(jsii.String(typ), assertions.Match_ObjectLike(&props))
}

func hasResource(t *testing.T, tmpl assertions.Template, typ string, props m) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", typ, r)
		}
	}()
	tmpl.HasResource(jsii.String(typ), assertions.Match_ObjectLike(&props))
}

// TestNoNagFindings: no unsuppressed cdk-nag error or warning in any stage.
func TestNoNagFindings(t *testing.T) {
	synthApp(t)
	for _, name := range stageNames() {
		if errs := nagErrs[name]; len(errs) > 0 {
			t.Errorf("%s: %d findings:\n%s", name, len(errs), strings.Join(errs, "\n"))
		}
	}
}

// TestSuppressions: every suppression (all of them the construct's own)
// names one rule with a reason; the exact list is pinned so a new one is a
// reviewed change.
func TestSuppressions(t *testing.T) {
	synthApp(t)
	var got []string
	for id, r := range *templates["dev"].ToJSON() {
		if id != "Resources" {
			continue
		}
		for _, res := range r.(m) {
			md, _ := res.(m)["Metadata"].(m)
			nag, _ := md["cdk_nag"].(m)
			if nag == nil {
				continue
			}
			for _, s := range nag["rules_to_suppress"].([]interface{}) {
				s := s.(m)
				if reason, _ := s["reason"].(string); len(reason) < 80 {
					t.Errorf("suppression %v has no real reason: %q", s["id"], reason)
				}
				got = append(got, fmt.Sprintf("%s %v", res.(m)["Type"], s["id"]))
			}
		}
	}
	sort.Strings(got)
	// The construct's own reasons (cdk_nag metadata): IAM5 for X-Ray and for
	// the failed-batch bucket's aws/lambda/ prefix, S1 for that bucket;
	// EventBusDLQ for the event-time fire schedule (a constant payload).
	want := []string{
		"AWS::Events::Rule Serverless-EventBusDLQ",
		"AWS::IAM::Policy AwsSolutions-IAM5", "AWS::IAM::Policy AwsSolutions-IAM5",
		"AWS::Lambda::Function Serverless-LambdaDLQ",
		"AWS::S3::Bucket AwsSolutions-S1",
		"AWS::SQS::Queue AwsSolutions-SQS3",
		"AWS::SQS::Queue Serverless-SQSRedrivePolicy",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("suppressions:\n got %v\nwant %v", got, want)
	}
}

func TestStages(t *testing.T) {
	synthApp(t)
	for _, tc := range []struct {
		stage                string
		retention, shards    float64
		maxAge, memory, logs float64
		deletion             string
	}{
		{"dev", 24, 1, 3600, 256, 7, "Delete"},
		{"prod", 168, 2, 86400, 512, 90, "Retain"},
	} {
		t.Run(tc.stage, func(t *testing.T) {
			tmpl := templates[tc.stage]
			hasResource(t, tmpl, "AWS::Kinesis::Stream", m{
				"Properties":     m{"RetentionPeriodHours": tc.retention, "ShardCount": tc.shards},
				"DeletionPolicy": tc.deletion,
			})
			hasProps(t, tmpl, "AWS::Lambda::EventSourceMapping", m{"MaximumRecordAgeInSeconds": tc.maxAge, "BatchSize": 1000, "MaximumBatchingWindowInSeconds": 1})
			hasProps(t, tmpl, "AWS::Lambda::Function", m{
				"MemorySize": tc.memory,
				"Environment": m{"Variables": m{
					config.EnvWindowSize:                 config.DefaultWindowSize.String(),
					contract.EnvEventTimeTable:           m{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^PipelineEventTimeState"))},
					contract.EnvEventTimeOutOfOrderness:  "30s",
					contract.EnvEventTimeAllowedLateness: "120s",
					contract.EnvEventTimeIdleTimeout:     "120s",
				}},
			})
			hasProps(t, tmpl, "AWS::Logs::LogGroup", m{"RetentionInDays": tc.logs})
			hasResource(t, tmpl, "AWS::Kinesis::Stream", m{
				"Properties": m{"StreamModeDetails": m{"StreamMode": "ON_DEMAND"}},
			})
			hasProps(t, tmpl, "AWS::Events::Rule", m{"ScheduleExpression": "rate(1 minute)"})
			outputs := *tmpl.ToJSON()
			for _, o := range []string{"StreamName", "StreamArn", "FunctionName", "DeadLetterQueueUrl", "ResultStreamName", "StateTableName"} {
				if _, ok := outputs["Outputs"].(m)[o]; !ok {
					t.Errorf("no stack output %s", o)
				}
			}
		})
	}
}

func TestStageFromContext(t *testing.T) {
	for _, tc := range []struct {
		ctx     interface{}
		want    string
		wantErr string
	}{
		{nil, "dev", ""},
		{"prod", "prod", ""},
		{"qa", "", `unknown stage "qa": pass -c stage=<dev|prod>`},
	} {
		props := &awscdk.AppProps{}
		if tc.ctx != nil {
			props.Context = &map[string]interface{}{"stage": tc.ctx}
		}
		st, err := stageFromContext(awscdk.NewApp(props))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("stage=%v: err %v, want %q", tc.ctx, err, tc.wantErr)
			}
			continue
		}
		if err != nil || st.Name != tc.want {
			t.Errorf("stage=%v: got %q, %v; want %q", tc.ctx, st.Name, err, tc.want)
		}
	}
}

// TestProcessorGraphs: the processor's own metrics are on the pipeline
// dashboard (added through the construct's monitoring API), in the pipeline's
// namespace.
func TestProcessorGraphs(t *testing.T) {
	synthApp(t)
	dashboards := *templates["dev"].FindResources(jsii.String("AWS::CloudWatch::Dashboard"), nil)
	if len(dashboards) != 1 {
		t.Fatalf("%d dashboards, want 1", len(dashboards))
	}
	for _, d := range dashboards {
		raw, err := json.Marshal((*d)["Properties"])
		if err != nil {
			t.Fatal(err)
		}
		body := string(raw)
		for _, name := range []string{config.MetricDuplicatesSkipped, config.MetricLateRecords, config.MetricWatermarkLag,
			config.MetricResultsPublished, "## Application"} {
			if !strings.Contains(body, name) {
				t.Errorf("dashboard has no %s", name)
			}
		}
	}
}
