package streamprocessor

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/tools/dashpreview/cwdash"
)

// These tests call addMonitoring directly on hand-made resources, so they do
// not depend on how the construct wires them. All variants are stacks of one
// app, synthesized once for the package.

const (
	existingTopicArn  = "arn:aws:sns:eu-west-1:111111111111:ops-alarms"
	existingPagerArn  = "arn:aws:sns:eu-west-1:111111111111:pager"
	customNamespace   = "SensorPipeline"
	provisionedStack  = "MonProvisioned"
	onDemandStack     = "MonOnDemand"
	alarmsOffStack    = "MonAlarmsOff"
	pipelineConstruct = "Pipeline"
	efoConsumer       = "orders-efo"
)

type variant struct {
	stack    string
	onDemand bool
	target   func(*monitoringTargets)
	props    *MonitoringProps
}

var variants = []variant{
	{
		stack: provisionedStack,
		target: func(t *monitoringTargets) {
			t.MaxRecordAge = awscdk.Duration_Hours(jsii.Number(1))
			t.ReservedConcurrency = jsii.Number(10)
			t.MetricsNamespace = customNamespace
		},
		props: &MonitoringProps{AlarmEmail: jsii.String("oncall@example.com")},
	},
	{
		stack:    onDemandStack,
		onDemand: true,
		target: func(t *monitoringTargets) {
			t.Retention = awscdk.Duration_Hours(jsii.Number(48))
			t.MaxRecordAge = nil // retried until the records expire
			t.EnhancedFanOut = true
			t.ConsumerName = jsii.String(efoConsumer)
		},
		props: &MonitoringProps{
			DisabledAlarms:   []AlarmKind{AlarmRecordsQuarantined},
			ErrorRatePercent: jsii.Number(5),
		},
	},
	{
		stack:  alarmsOffStack,
		target: func(t *monitoringTargets) {},
		props:  &MonitoringProps{DisableAlarms: jsii.Bool(true), DashboardName: jsii.String("custom-dashboard")},
	},
}

type synthesized struct {
	tmpl     map[string]map[string]any // stack -> template
	cdk      map[string]assertions.Template
	results  map[string]*Monitoring
	callerPs map[string]MonitoringProps // copies taken before addMonitoring

	processors    map[string]*StreamProcessor
	constructTmpl map[string]map[string]any
	constructErr  error
}

func toMap(tpl assertions.Template, into *map[string]map[string]any, key string) error {
	raw, err := json.Marshal(tpl.ToJSON())
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	(*into)[key] = m
	return nil
}

var (
	synthOnce sync.Once
	synthRes  *synthesized
	synthErr  error
)

func synth(t *testing.T) *synthesized {
	t.Helper()
	synthOnce.Do(func() {
		dir, err := os.MkdirTemp("", "monitoring-asset")
		if err != nil {
			synthErr = err
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			synthErr = err
			return
		}
		app := awscdk.NewApp(nil)
		s := &synthesized{tmpl: map[string]map[string]any{}, cdk: map[string]assertions.Template{}, results: map[string]*Monitoring{}, callerPs: map[string]MonitoringProps{}}
		var stacks, constructStacks []awscdk.Stack
		s.processors = map[string]*StreamProcessor{}
		s.constructTmpl = map[string]map[string]any{}
		for _, v := range variants {
			stack := awscdk.NewStack(app, jsii.String(v.stack), nil)
			pipeline := constructs.NewConstruct(stack, jsii.String(pipelineConstruct))
			mode := awskinesis.StreamMode_PROVISIONED
			var shards *float64 = jsii.Number(2)
			if v.onDemand {
				mode, shards = awskinesis.StreamMode_ON_DEMAND, nil
			}
			stream := awskinesis.NewStream(pipeline, jsii.String("Stream"), &awskinesis.StreamProps{StreamMode: mode, ShardCount: shards})
			fn := awslambda.NewFunction(pipeline, jsii.String("Function"), &awslambda.FunctionProps{
				Runtime: awslambda.Runtime_PROVIDED_AL2023(),
				Handler: jsii.String("bootstrap"),
				Code:    awslambda.Code_FromAsset(jsii.String(dir), nil),
				Timeout: awscdk.Duration_Minutes(jsii.Number(1)),
			})
			dlq := awssqs.NewQueue(pipeline, jsii.String("DLQ"), nil)
			mapping := awslambda.NewEventSourceMapping(pipeline, jsii.String("Mapping"), &awslambda.EventSourceMappingProps{
				Target:           fn,
				EventSourceArn:   stream.StreamArn(),
				StartingPosition: awslambda.StartingPosition_TRIM_HORIZON,
			})
			tg := &monitoringTargets{
				Stream: stream, StreamIsNew: true, OnDemand: v.onDemand,
				Retention: awscdk.Duration_Hours(jsii.Number(24)),
				Function:  fn, Mapping: mapping, DLQ: dlq,
				Timeout: awscdk.Duration_Minutes(jsii.Number(1)),
			}
			v.target(tg)
			props := v.props
			if v.stack == onDemandStack {
				props.Topic = awssns.Topic_FromTopicArn(stack, jsii.String("OpsTopic"), jsii.String(existingTopicArn))
				props.CompositeTopic = awssns.Topic_FromTopicArn(stack, jsii.String("Pager"), jsii.String(existingPagerArn))
			}
			before := *props
			before.DisabledAlarms = slices.Clone(props.DisabledAlarms)
			s.callerPs[v.stack] = before
			s.results[v.stack] = addMonitoring(pipeline, tg, props)
			stacks = append(stacks, stack)
		}
		// The same monitoring made by the construct itself. A panic
		// there fails only TestThroughConstruct.
		for _, c := range constructCases {
			stack := awscdk.NewStack(app, jsii.String(c.stack), nil)
			func() {
				defer func() {
					if r := recover(); r != nil {
						s.constructErr = fmt.Errorf("NewStreamProcessor: %v", r)
					}
				}()
				props := c.props(awslambda.Code_FromAsset(jsii.String(dir), nil))
				s.processors[c.stack] = NewStreamProcessor(stack, jsii.String(constructID), props)
				if c.after != nil {
					c.after(s.processors[c.stack])
				}
			}()
			constructStacks = append(constructStacks, stack)
		}
		for i, c := range constructCases {
			if s.constructErr != nil {
				break
			}
			if err := toMap(assertions.Template_FromStack(constructStacks[i], nil), &s.constructTmpl, c.stack); err != nil {
				synthErr = err
				return
			}
			if d := os.Getenv("MONITORING_TEMPLATE_DIR"); d != "" {
				raw, _ := json.Marshal(s.constructTmpl[c.stack])
				if err := os.WriteFile(filepath.Join(d, c.stack+".template.json"), raw, 0o644); err != nil {
					synthErr = err
					return
				}
			}
		}
		// Synthesize only after every stack is built.
		for i, v := range variants {
			tpl := assertions.Template_FromStack(stacks[i], nil)
			s.cdk[v.stack] = tpl
			raw, err := json.Marshal(tpl.ToJSON())
			if err != nil {
				synthErr = err
				return
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				synthErr = err
				return
			}
			s.tmpl[v.stack] = m
			// MONITORING_TEMPLATE_DIR=dir keeps the templates, e.g. to preview
			// the dashboard with dashpreview before the example stack exists.
			if d := os.Getenv("MONITORING_TEMPLATE_DIR"); d != "" {
				if err := os.WriteFile(filepath.Join(d, v.stack+".template.json"), raw, 0o644); err != nil {
					synthErr = err
					return
				}
			}
		}
		synthRes = s
	})
	if synthErr != nil {
		t.Fatal(synthErr)
	}
	return synthRes
}

// --- template helpers ---

func resources(tmpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range tmpl["Resources"].(map[string]any) {
		rm := r.(map[string]any)
		if rm["Type"] == typ {
			p, _ := rm["Properties"].(map[string]any)
			out[id] = p
		}
	}
	return out
}

func onlyID(t *testing.T, tmpl map[string]any, typ string) string {
	t.Helper()
	rs := resources(tmpl, typ)
	if len(rs) != 1 {
		t.Fatalf("want one %s, got %d", typ, len(rs))
	}
	for id := range rs {
		return id
	}
	return ""
}

func ref(id string) any          { return map[string]any{"Ref": id} }
func getAtt(id, attr string) any { return map[string]any{"Fn::GetAtt": []any{id, attr}} }
func jsonEq(a, b any) bool       { return reflect.DeepEqual(normalize(a), normalize(b)) }
func normalize(v any) any {
	raw, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(raw, &out)
	return out
}
func alarmsByKind(tmpl map[string]any) map[AlarmKind]map[string]any {
	out := map[AlarmKind]map[string]any{}
	for _, p := range resources(tmpl, "AWS::CloudWatch::Alarm") {
		name, _ := p["AlarmName"].(string)
		out[AlarmKind(name[strings.LastIndex(name, "-")+1:])] = p
	}
	return out
}

type wantAlarm struct {
	kind       AlarmKind
	namespace  string
	metric     string
	dimName    string
	dimValue   any
	dims       []any  // all dimensions, when there is more than one
	stat       string // Statistic or ExtendedStatistic
	period     float64
	threshold  float64
	comparison string
	eval, dps  float64
	missing    string
}

func checkAlarm(t *testing.T, got map[string]any, w wantAlarm, action any) {
	t.Helper()
	if got == nil {
		t.Fatalf("alarm %s missing", w.kind)
	}
	check := func(field string, gotV, wantV any) {
		t.Helper()
		if !jsonEq(gotV, wantV) {
			t.Errorf("%s: %s = %v, want %v", w.kind, field, normalize(gotV), normalize(wantV))
		}
	}
	if w.namespace != "" {
		check("Namespace", got["Namespace"], w.namespace)
		check("MetricName", got["MetricName"], w.metric)
		dims := w.dims
		if dims == nil {
			dims = []any{map[string]any{"Name": w.dimName, "Value": w.dimValue}}
		}
		check("Dimensions", got["Dimensions"], dims)
		if strings.HasPrefix(w.stat, "p") {
			check("ExtendedStatistic", got["ExtendedStatistic"], w.stat)
		} else {
			check("Statistic", got["Statistic"], w.stat)
		}
		check("Period", got["Period"], w.period)
	}
	check("Threshold", got["Threshold"], w.threshold)
	check("ComparisonOperator", got["ComparisonOperator"], w.comparison)
	check("EvaluationPeriods", got["EvaluationPeriods"], w.eval)
	check("DatapointsToAlarm", got["DatapointsToAlarm"], w.dps)
	check("TreatMissingData", got["TreatMissingData"], w.missing)
	check("AlarmActions", got["AlarmActions"], []any{action})
	check("OKActions", got["OKActions"], []any{action})
	if d, _ := got["AlarmDescription"].(string); !strings.Contains(d, "Runbook: ") || len(d) > 1024 {
		t.Errorf("%s: description must carry a runbook and fit 1024 chars: %q", w.kind, d)
	}
}

const (
	gt   = "GreaterThanThreshold"
	gte  = "GreaterThanOrEqualToThreshold"
	nb   = "notBreaching"
	brch = "breaching"
)

func TestAlarms(t *testing.T) {
	s := synth(t)
	for _, tc := range []struct {
		stack     string
		action    func(tmpl map[string]any) any
		namespace string
		iterMs    float64
		dlqAgeS   float64
		errPct    float64
		writeEval float64
		writeDps  float64
		absent    []AlarmKind
	}{
		{
			stack:  provisionedStack,
			action: func(tmpl map[string]any) any { return ref(onlyIDNoT(tmpl, "AWS::SNS::Topic")) },
			// retention 24h, max record age 1h: 1h*0.5 - 5m = 25m; DLQ: (24h-1h)/2 = 11h30m
			namespace: customNamespace, iterMs: 25 * 60 * 1000, dlqAgeS: 41400, errPct: 1,
			writeEval: 3, writeDps: 2,
		},
		{
			stack:  onDemandStack,
			action: func(map[string]any) any { return existingTopicArn },
			// retention 48h, no max record age: 24h - 5m; DLQ window 0 -> floor 5m
			namespace: contract.DefaultMetricsNamespace, iterMs: (24*60 - 5) * 60 * 1000, dlqAgeS: 300, errPct: 5,
			writeEval: 4, writeDps: 4,
			absent: []AlarmKind{AlarmConcurrency, AlarmRecordsQuarantined},
		},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			tmpl := s.tmpl[tc.stack]
			fn := onlyID(t, tmpl, "AWS::Lambda::Function")
			stream := onlyID(t, tmpl, "AWS::Kinesis::Stream")
			queue := onlyID(t, tmpl, "AWS::SQS::Queue")
			esm := onlyID(t, tmpl, "AWS::Lambda::EventSourceMapping")
			got := alarmsByKind(tmpl)
			action := tc.action(tmpl)
			// Shared polling is watched through GetRecords (no data = no reader);
			// enhanced fan-out through the consumer's MillisBehindLatest.
			streamLag := wantAlarm{AlarmStreamIteratorAge, "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", ref(stream), nil, "Maximum", 60, tc.iterMs, gt, 5, 5, brch}
			if tc.stack == onDemandStack {
				streamLag.metric, streamLag.missing = "SubscribeToShardEvent.MillisBehindLatest", nb
				streamLag.dims = []any{
					map[string]any{"Name": "ConsumerName", "Value": efoConsumer},
					map[string]any{"Name": "StreamName", "Value": ref(stream)},
				}
			}
			wants := []wantAlarm{
				streamLag,
				{AlarmIteratorAge, "AWS/Lambda", "IteratorAge", "FunctionName", ref(fn), nil, "Maximum", 60, tc.iterMs, gt, 5, 5, nb},
				{AlarmDroppedEvents, "AWS/Lambda", "DroppedEventCount", "EventSourceMappingUUID", ref(esm), nil, "Sum", 60, 0, gt, 1, 1, nb},
				{AlarmOnFailureDelivered, "AWS/Lambda", "OnFailureDestinationDeliveredEventCount", "EventSourceMappingUUID", ref(esm), nil, "Sum", 60, 0, gt, 1, 1, nb},
				{AlarmDLQMessages, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", getAtt(queue, "QueueName"), nil, "Maximum", 60, 0, gt, 1, 1, nb},
				{AlarmDLQAge, "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", getAtt(queue, "QueueName"), nil, "Maximum", 300, tc.dlqAgeS, gt, 1, 1, nb},
				{AlarmRecordsQuarantined, tc.namespace, contract.MetricRecordsQuarantined, contract.MetricDimension, ref(fn), nil, "Sum", 300, 0, gt, 1, 1, nb},
				{AlarmConservation, "", "", "", nil, nil, "", 0, 0, gt, 1, 1, nb}, // metric math, checked in onfailure_test.go
				{AlarmErrorRate, "", "", "", nil, nil, "", 0, tc.errPct, gt, 3, 2, nb},
				{AlarmThrottles, "AWS/Lambda", "Throttles", "FunctionName", ref(fn), nil, "Sum", 300, 0, gt, 3, 2, nb},
				{AlarmDuration, "AWS/Lambda", "Duration", "FunctionName", ref(fn), nil, "p99", 300, 48000, gt, 3, 3, nb},
				{AlarmConcurrency, "AWS/Lambda", "ConcurrentExecutions", "FunctionName", ref(fn), nil, "Maximum", 60, 9, gte, 5, 5, nb},
				{AlarmWriteThrottled, "AWS/Kinesis", "WriteProvisionedThroughputExceeded", "StreamName", ref(stream), nil, "Sum", 300, 0, gt, tc.writeEval, tc.writeDps, nb},
				{AlarmReadThrottled, "AWS/Kinesis", "ReadProvisionedThroughputExceeded", "StreamName", ref(stream), nil, "Sum", 300, 0, gt, 3, 2, nb},
			}
			seen := 0
			for _, w := range wants {
				if slices.Contains(tc.absent, w.kind) {
					if got[w.kind] != nil {
						t.Errorf("alarm %s should not exist", w.kind)
					}
					continue
				}
				seen++
				t.Run(string(w.kind), func(t *testing.T) { checkAlarm(t, got[w.kind], w, action) })
			}
			if len(got) != seen {
				t.Errorf("got %d alarms, want %d: %v", len(got), seen, keys(got))
			}
			// Error rate is metric math over the function's own Errors and Invocations.
			er := got[AlarmErrorRate]
			ms, _ := er["Metrics"].([]any)
			var expr string
			dims := map[string]any{}
			for _, m := range ms {
				mm := m.(map[string]any)
				if e, ok := mm["Expression"].(string); ok {
					expr = e
					continue
				}
				st := mm["MetricStat"].(map[string]any)
				metric := st["Metric"].(map[string]any)
				if metric["Namespace"] != "AWS/Lambda" || st["Stat"] != "Sum" || st["Period"] != float64(300) {
					t.Errorf("ErrorRate input %v", st)
				}
				dims[metric["MetricName"].(string)] = metric["Dimensions"]
			}
			if expr != "IF(invocations > 0, 100 * errors / invocations, 0)" {
				t.Errorf("ErrorRate expression %q", expr)
			}
			for _, n := range []string{"Errors", "Invocations"} {
				if !jsonEq(dims[n], []any{map[string]any{"Name": "FunctionName", "Value": ref(fn)}}) {
					t.Errorf("ErrorRate %s dimensions %v", n, dims[n])
				}
			}
		})
	}
}

func onlyIDNoT(tmpl map[string]any, typ string) string {
	for id := range resources(tmpl, typ) {
		return id
	}
	return "<none>"
}

func keys[K comparable, V any](m map[K]V) []K {
	var out []K
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestTopic(t *testing.T) {
	s := synth(t)
	t.Run("created: KMS with a key CloudWatch may use, TLS only, e-mail", func(t *testing.T) {
		tpl := s.cdk[provisionedStack]
		tmpl := s.tmpl[provisionedStack]
		key := onlyID(t, tmpl, "AWS::KMS::Key")
		topic := onlyID(t, tmpl, "AWS::SNS::Topic")
		tpl.HasResourceProperties(jsii.String("AWS::SNS::Topic"), map[string]any{
			"KmsMasterKeyId": getAtt(key, "Arn"),
		})
		tpl.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{
			"EnableKeyRotation": true,
			"KeyPolicy": assertions.Match_ObjectLike(&map[string]any{
				"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
					"Effect":    "Allow",
					"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
					"Action":    []any{"kms:Decrypt", "kms:GenerateDataKey*"},
				})}),
			}),
		})
		tpl.HasResourceProperties(jsii.String("AWS::SNS::TopicPolicy"), map[string]any{
			"Topics": []any{ref(topic)},
			"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{
				"Statement": assertions.Match_ArrayWith(&[]any{
					assertions.Match_ObjectLike(&map[string]any{
						"Effect":    "Deny",
						"Action":    "sns:Publish",
						"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
					}),
					assertions.Match_ObjectLike(&map[string]any{
						"Effect":    "Allow",
						"Action":    "sns:Publish",
						"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
					}),
				}),
			}),
		})
		tpl.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{
			"Protocol": "email", "Endpoint": "oncall@example.com", "TopicArn": ref(topic),
		})
	})
	t.Run("caller's topic: nothing created", func(t *testing.T) {
		tpl := s.cdk[onDemandStack]
		for _, typ := range []string{"AWS::SNS::Topic", "AWS::KMS::Key", "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription"} {
			tpl.ResourceCountIs(jsii.String(typ), jsii.Number(0))
		}
	})
	t.Run("alarms off: no topic, no alarms", func(t *testing.T) {
		tpl := s.cdk[alarmsOffStack]
		for _, typ := range []string{"AWS::SNS::Topic", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"} {
			tpl.ResourceCountIs(jsii.String(typ), jsii.Number(0))
		}
		if r := s.results[alarmsOffStack]; r.Topic != nil || r.Composite != nil || len(r.Alarms) != 0 || r.Dashboard == nil {
			t.Errorf("alarms off: got %+v", r)
		}
	})
}

func TestCompositeAlarm(t *testing.T) {
	s := synth(t)
	for _, tc := range []struct {
		stack   string
		actions any // nil: no actions
	}{
		{provisionedStack, nil},
		{onDemandStack, []any{existingPagerArn}},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			tmpl := s.tmpl[tc.stack]
			id := onlyID(t, tmpl, "AWS::CloudWatch::CompositeAlarm")
			c := resources(tmpl, "AWS::CloudWatch::CompositeAlarm")[id]
			if !strings.HasSuffix(c["AlarmName"].(string), "-PipelineUnhealthy") {
				t.Errorf("composite name %v", c["AlarmName"])
			}
			if !jsonEq(c["AlarmActions"], tc.actions) {
				t.Errorf("composite actions %v, want %v", c["AlarmActions"], tc.actions)
			}
			// Every alarm appears in the rule as ALARM(<its ARN>), joined by OR.
			rule, _ := json.Marshal(c["AlarmRule"])
			for id := range resources(tmpl, "AWS::CloudWatch::Alarm") {
				if !strings.Contains(string(rule), `{"Fn::GetAtt":["`+id+`","Arn"]}`) {
					t.Errorf("composite rule lacks alarm %s: %s", id, rule)
				}
			}
			if n := strings.Count(string(rule), "ALARM("); n != len(resources(tmpl, "AWS::CloudWatch::Alarm")) || strings.Contains(string(rule), " AND ") {
				t.Errorf("composite rule should OR %d alarms: %s", n, rule)
			}
			for k, a := range s.results[tc.stack].ByKind {
				if !strings.HasSuffix(*a.Node().Path(), "/"+string(k)+"Alarm") {
					t.Errorf("ByKind[%s] is %s", k, *a.Node().Path())
				}
			}
			if got := len(s.results[tc.stack].ByKind); got != len(resources(tmpl, "AWS::CloudWatch::Alarm")) {
				t.Errorf("Monitoring.ByKind has %d, template %d", got, len(resources(tmpl, "AWS::CloudWatch::Alarm")))
			}
			if got := len(s.results[tc.stack].Alarms); got != len(resources(tmpl, "AWS::CloudWatch::Alarm")) {
				t.Errorf("Monitoring.Alarms has %d, template %d", got, len(resources(tmpl, "AWS::CloudWatch::Alarm")))
			}
		})
	}
}

func TestCallerPropsNotMutated(t *testing.T) {
	s := synth(t)
	for _, v := range variants {
		if !reflect.DeepEqual(*v.props, s.callerPs[v.stack]) {
			t.Errorf("%s: addMonitoring changed the caller's props: %+v -> %+v", v.stack, s.callerPs[v.stack], *v.props)
		}
	}
}

func dashboard(t *testing.T, tmpl map[string]any) cwdash.Dashboard {
	t.Helper()
	raw, _ := json.Marshal(tmpl)
	ds, err := cwdash.FromTemplateWith(raw, cwdash.Options{RawTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("want one dashboard, got %d", len(ds))
	}
	return ds[0]
}

func TestDashboard(t *testing.T) {
	s := synth(t)
	for _, tc := range []struct {
		stack, name string
		alarmWidget bool
	}{
		{provisionedStack, provisionedStack + "-" + pipelineConstruct, true},
		{onDemandStack, onDemandStack + "-" + pipelineConstruct, true},
		{alarmsOffStack, "custom-dashboard", false},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			tmpl := s.tmpl[tc.stack]
			d := dashboard(t, tmpl)
			if d.Name != tc.name {
				t.Errorf("dashboard name %q, want %q", d.Name, tc.name)
			}
			if d.Body.Start != "-PT3H" {
				t.Errorf("default interval %q", d.Body.Start)
			}
			for _, err := range cwdash.CheckLayout(d.Body.Widgets) {
				t.Error(err)
			}
			// Every graph, in reading order, with the metrics it must show.
			type line struct{ ns, name, dim string }
			fnDim := func(n string) line { return line{"AWS/Lambda", n, "FunctionName"} }
			emf := func(n string) line {
				ns := contract.DefaultMetricsNamespace
				if tc.stack == provisionedStack {
					ns = customNamespace
				}
				return line{ns, n, contract.MetricDimension}
			}
			kin := func(n string) line { return line{"AWS/Kinesis", n, "StreamName"} }
			esm := func(n string) line { return line{"AWS/Lambda", n, "EventSourceMappingUUID"} }
			sqs := func(n string) line { return line{"AWS/SQS", n, "QueueName"} }
			streamLag := kin("GetRecords.IteratorAgeMilliseconds")
			if tc.stack == onDemandStack { // enhanced fan-out
				streamLag = line{"AWS/Kinesis", "SubscribeToShardEvent.MillisBehindLatest", "ConsumerName+StreamName"}
			}
			want := []struct {
				title string
				lines []line
			}{
				{"Incoming records and bytes", []line{kin("IncomingRecords"), kin("IncomingBytes")}},
				{"Put latency and failed records", []line{kin("PutRecords.Latency"), kin("PutRecord.Latency"), kin("PutRecords.FailedRecords")}},
				{"Stream throttles", []line{kin("WriteProvisionedThroughputExceeded"), kin("ReadProvisionedThroughputExceeded")}},
				{"Iterator age (ms, max)", []line{streamLag, fnDim("IteratorAge")}},
				{"Mapping event counts", []line{esm("PolledEventCount"), esm("FilteredOutEventCount"), esm("InvokedEventCount"), esm("FailedInvokeEventCount")}},
				{"Dropped and sent to the failure destination (events)", []line{esm("DroppedEventCount"), esm("OnFailureDestinationDeliveredEventCount")}},
				{"Invocations and errors", []line{fnDim("Invocations"), fnDim("Errors")}}, // the error-rate expression reuses these two
				{"Throttles", []line{fnDim("Throttles")}},
				{"Duration (ms)", []line{fnDim("Duration"), fnDim("Duration"), fnDim("Duration"), fnDim("Duration")}},
				{"Concurrent executions", []line{fnDim("ConcurrentExecutions")}},
				{"DLQ depth (messages)", []line{sqs("ApproximateNumberOfMessagesVisible"), sqs("ApproximateNumberOfMessagesNotVisible")}},
				{"DLQ oldest message age (s)", []line{sqs("ApproximateAgeOfOldestMessage")}},
				{"Records off the happy path", []line{emf(contract.MetricRecordsQuarantined), emf(contract.MetricRecordsFailed), emf(contract.MetricRecordsRetried)}},
				{"Records unaccounted for (received - succeeded - quarantined - failed)", []line{emf(contract.MetricRecordsFailed), emf(contract.MetricRecordsQuarantined), emf(contract.MetricRecordsReceived), emf(contract.MetricRecordsSucceeded)}},
				{"Batches sent to the on-failure destination (events)", []line{esm("OnFailureDestinationDeliveredEventCount")}},
				{"Records processed", []line{emf(contract.MetricRecordsReceived), emf(contract.MetricRecordsSucceeded)}},
				{"Batch duration (ms)", []line{emf(contract.MetricBatchDuration)}},
			}
			// Every dimension value is the token of the resource the construct made.
			resName := map[string]string{
				"FunctionName":           "${Ref:" + onlyID(t, tmpl, "AWS::Lambda::Function") + "}",
				"StreamName":             "${Ref:" + onlyID(t, tmpl, "AWS::Kinesis::Stream") + "}",
				"EventSourceMappingUUID": "${Ref:" + onlyID(t, tmpl, "AWS::Lambda::EventSourceMapping") + "}",
				"QueueName":              "${GetAtt:" + onlyID(t, tmpl, "AWS::SQS::Queue") + ".QueueName}",
				"ConsumerName":           efoConsumer,
			}
			var graphs, singles []cwdash.Widget
			for _, w := range cwdash.InReadingOrder(d.Body.Widgets) {
				switch {
				case w.Type == "metric" && w.Properties.View == "singleValue":
					singles = append(singles, w)
				case w.Type == "metric":
					graphs = append(graphs, w)
				}
			}
			// "Now": single values right under the header, each tied to its resource.
			if len(singles) != 1 || singles[0].Y != 6 || singles[0].Width != 24 {
				t.Fatalf("want one full-width single-value row under the header, got %+v", singles)
			}
			sv, err := singles[0].Metrics()
			if err != nil {
				t.Fatal(err)
			}
			var svNames []string
			for _, m := range sv {
				if m.Expression != "" {
					svNames = append(svNames, "expr")
					continue
				}
				for _, dm := range m.Dimensions {
					if dm[1] != resName[dm[0]] {
						t.Errorf("Now: %s %s = %q, want %q", m.Name, dm[0], dm[1], resName[dm[0]])
					}
				}
				if m.Visible {
					svNames = append(svNames, m.Name)
				}
			}
			wantSV := []string{"IncomingRecords", streamLag.name, "IteratorAge", "expr", "ApproximateNumberOfMessagesVisible", "DroppedEventCount"}
			if !reflect.DeepEqual(svNames, wantSV) {
				t.Errorf("Now shows %v, want %v", svNames, wantSV)
			}
			if len(graphs) != len(want) {
				t.Fatalf("got %d graphs, want %d", len(graphs), len(want))
			}
			for i, w := range want {
				g := graphs[i]
				if g.Properties.Title != w.title {
					t.Errorf("graph %d is %q, want %q", i, g.Properties.Title, w.title)
					continue
				}
				ms, err := g.Metrics()
				if err != nil {
					t.Fatal(err)
				}
				var got []line
				for _, m := range ms {
					if m.Expression != "" {
						continue
					}
					var names []string
					for _, d := range m.Dimensions {
						names = append(names, d[0])
						if v := d[1]; v != resName[d[0]] {
							t.Errorf("%s: %s %s = %q, want %q", w.title, m.Name, d[0], v, resName[d[0]])
						}
					}
					if len(names) == 0 {
						t.Errorf("%s: %s has no dimension", w.title, m.Name)
					}
					got = append(got, line{m.Namespace, m.Name, strings.Join(names, "+")})
					if m.Stat == "" || m.Period == 0 {
						t.Errorf("%s: %s has no stat/period", w.title, m.Name)
					}
				}
				if !reflect.DeepEqual(got, w.lines) {
					t.Errorf("%s: metrics\n got %v\nwant %v", w.title, got, w.lines)
				}
			}
			// The alarm-status widget lists the composite and every alarm.
			var alarmWidgets []cwdash.Widget
			for _, w := range d.Body.Widgets {
				if w.Type == "alarm" {
					alarmWidgets = append(alarmWidgets, w)
				}
			}
			nAlarms := len(resources(tmpl, "AWS::CloudWatch::Alarm")) + len(resources(tmpl, "AWS::CloudWatch::CompositeAlarm"))
			if !tc.alarmWidget {
				if len(alarmWidgets) != 0 {
					t.Errorf("alarm widget without alarms")
				}
				return
			}
			if len(alarmWidgets) != 1 || len(alarmWidgets[0].Properties.Alarms) != nAlarms {
				t.Fatalf("want one alarm widget with %d alarms, got %+v", nAlarms, alarmWidgets)
			}
			for _, typ := range []string{"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"} {
				for id := range resources(tmpl, typ) {
					if !slices.Contains(alarmWidgets[0].Properties.Alarms, "${GetAtt:"+id+".Arn}") {
						t.Errorf("alarm widget lacks %s", id)
					}
				}
			}
			// The error-rate graph shows the expression on the right axis with the alarm's line.
			ms, _ := graphs[6].Metrics()
			if len(ms) != 3 || ms[2].Expression == "" || ms[2].YAxis != "right" {
				t.Errorf("error rate line: %+v", ms)
			}
			// Threshold lines follow the alarms.
			iter := graphs[3].Properties.Annotations
			wantIter := map[string]float64{provisionedStack: 25 * 60 * 1000, onDemandStack: (24*60 - 5) * 60 * 1000}[tc.stack]
			if iter == nil || len(iter.Horizontal) != 2 || iter.Horizontal[0].Value != wantIter {
				t.Errorf("iterator age graph annotations %+v, want alarm line at %v", iter, wantIter)
			}
			dur := graphs[8].Properties.Annotations
			if dur == nil || len(dur.Horizontal) != 2 || dur.Horizontal[0].Value != 48000 || dur.Horizontal[1].Value != 60000 {
				t.Errorf("duration graph annotations %+v, want alarm at 48000 and timeout at 60000", dur)
			}
		})
	}
}

func TestDashboardURLOutput(t *testing.T) {
	s := synth(t)
	r := s.results[provisionedStack]
	if r.DashboardURL == nil || !strings.Contains(*r.DashboardURL, "#dashboards/dashboard/"+provisionedStack+"-"+pipelineConstruct) {
		t.Errorf("DashboardURL %v", *r.DashboardURL)
	}
	outs := s.tmpl[provisionedStack]["Outputs"].(map[string]any)
	found := false
	for id := range outs {
		if strings.Contains(id, "DashboardUrl") {
			found = true
		}
	}
	if !found {
		t.Errorf("no DashboardUrl output in %v", keys(outs))
	}
}

// TestCompositeAlarmLimit: more alarms than a composite rule may name fail
// synthesis with the count and the fix, not the deployment.
func TestCompositeAlarmLimit(t *testing.T) {
	m := &Monitoring{Alarms: make([]awscloudwatch.IAlarm, 15), appAlarms: make([]awscloudwatch.IAlarm, maxCompositeAlarms-15)}
	if errs := *(&compositeLimit{m: m}).Validate(); len(errs) != 0 {
		t.Errorf("%d alarms: %v, want no error", maxCompositeAlarms, errs)
	}
	m.appAlarms = append(m.appAlarms, nil)
	errs := *(&compositeLimit{m: m}).Validate()
	if len(errs) != 1 || !strings.Contains(*errs[0], "would name 101 alarms (86 of them added with Monitoring.AddAlarm, the event-time ones included)") || !strings.Contains(*errs[0], "composite alarm of their own") {
		t.Errorf("101 alarms: %v, want one error with the count and the fix", errs)
	}
}
