package streamprocessor

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/tools/dashpreview/cwdash"
)

// Monitoring as the StreamProcessor construct wires it. The stacks are built
// and synthesized with the others in synth().

const constructID = "Orders"

var constructCases = []struct {
	stack string
	props func(code awslambda.Code) *StreamProcessorProps
	after func(sp *StreamProcessor) // the application's additions, after the construct
}{
	{"MonConstructDefaults", func(code awslambda.Code) *StreamProcessorProps {
		return &StreamProcessorProps{Code: code, ReservedConcurrentExecutions: jsii.Number(4)}
	}, nil},
	{"MonConstructFanOut", func(code awslambda.Code) *StreamProcessorProps {
		return &StreamProcessorProps{
			Code:            code,
			EnhancedFanOut:  jsii.Bool(true),
			RetentionPeriod: awscdk.Duration_Hours(jsii.Number(48)),
			MaxRecordAge:    awscdk.Duration_Hours(jsii.Number(2)),
			Monitoring:      &MonitoringProps{DisabledAlarms: []AlarmKind{AlarmReadThrottled}},
		}
	}, nil},
	// An application that graphs and alarms on its own metric through the
	// monitoring API, after the construct is made.
	{appStack, func(code awslambda.Code) *StreamProcessorProps {
		return &StreamProcessorProps{Code: code, MetricsNamespace: jsii.String(appNamespace)}
	}, func(sp *StreamProcessor) {
		m := sp.Metric(jsii.String(appMetric), &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum")})
		alarm := m.CreateAlarm(sp, jsii.String("AppAlarm"), &awscloudwatch.CreateAlarmOptions{
			Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
		})
		sp.Monitoring().AddAlarm(alarm)
		sp.Monitoring().AddWidgets(awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(appGraph), Left: &[]awscloudwatch.IMetric{m}, Width: jsii.Number(12),
		}))
	}},
}

const (
	appStack     = "MonConstructApp"
	appNamespace = "Orders"
	appMetric    = "OrdersWritten"
	appGraph     = "Orders written"
)

// TestMonitoringAPI: an alarm added after the construct joins the composite
// alarm's rule and notifies the topic; the application's graph is in an
// "Application" section after the construct's rows; Metric pins namespace and
// FunctionName dimension.
func TestMonitoringAPI(t *testing.T) {
	s := synth(t)
	if s.constructErr != nil {
		t.Fatal(s.constructErr)
	}
	tmpl := s.constructTmpl[appStack]
	sp := s.processors[appStack]
	if got := *sp.MetricsNamespace(); got != appNamespace {
		t.Errorf("MetricsNamespace() = %q, want %q", got, appNamespace)
	}
	fn := onlyID(t, tmpl, "AWS::Lambda::Function")
	var app map[string]any
	var appID string
	for id, a := range resources(tmpl, "AWS::CloudWatch::Alarm") {
		if a["MetricName"] == appMetric {
			app, appID = a, id
		}
	}
	if app == nil {
		t.Fatalf("no alarm on %s in the template", appMetric)
	}
	if app["Namespace"] != appNamespace || !jsonEq(app["Dimensions"], []any{map[string]any{"Name": contract.MetricDimension, "Value": ref(fn)}}) {
		t.Errorf("application alarm metric: namespace %v dimensions %v, want %s and FunctionName=%s", app["Namespace"], app["Dimensions"], appNamespace, fn)
	}
	topic := onlyID(t, tmpl, "AWS::SNS::Topic")
	if !jsonEq(app["AlarmActions"], []any{ref(topic)}) || !jsonEq(app["OKActions"], []any{ref(topic)}) {
		t.Errorf("application alarm actions %v / %v, want the alarm topic %s", app["AlarmActions"], app["OKActions"], topic)
	}
	c := resources(tmpl, "AWS::CloudWatch::CompositeAlarm")[onlyID(t, tmpl, "AWS::CloudWatch::CompositeAlarm")]
	rule, _ := json.Marshal(c["AlarmRule"])
	if !strings.Contains(string(rule), `{"Fn::GetAtt":["`+appID+`","Arn"]}`) {
		t.Errorf("composite rule lacks the application's alarm %s: %s", appID, rule)
	}
	if n, want := strings.Count(string(rule), "ALARM("), len(resources(tmpl, "AWS::CloudWatch::Alarm")); n != want {
		t.Errorf("composite rule ORs %d alarms, want all %d: %s", n, want, rule)
	}
	d := dashboard(t, tmpl)
	if errs := cwdash.CheckLayout(d.Body.Widgets); len(errs) > 0 {
		t.Error(errs)
	}
	raw, _ := json.Marshal(d.Body.Widgets)
	body := string(raw)
	sec, graph := strings.Index(body, "## Application"), strings.Index(body, appGraph)
	if sec < 0 || graph < sec || strings.LastIndex(body, "## ") != sec {
		t.Errorf("the application's graph should follow an Application section at the end of the dashboard (section at %d, graph at %d)", sec, graph)
	}
}

func TestThroughConstruct(t *testing.T) {
	s := synth(t)
	if s.constructErr != nil {
		t.Fatal(s.constructErr)
	}
	for _, tc := range []struct {
		stack     string
		iterMs    float64 // derived from the construct's resolved retention and max record age
		dlqAgeS   float64
		streamLag string
		nAlarms   int
	}{
		// defaults: retention 24h, max record age 1h -> 25m; DLQ (24h-1h)/2
		{"MonConstructDefaults", 25 * 60 * 1000, 41400, "GetRecords.IteratorAgeMilliseconds", 14},
		// 48h, 2h -> 55m; DLQ (48h-2h)/2 = 23h; fan-out lag; no concurrency alarm; read throttles off
		{"MonConstructFanOut", 55 * 60 * 1000, 23 * 3600, "SubscribeToShardEvent.MillisBehindLatest", 12},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			tmpl := s.constructTmpl[tc.stack]
			sp := s.processors[tc.stack]
			mon := sp.Monitoring()
			if mon == nil || len(mon.Alarms) != tc.nAlarms || mon.Topic == nil || mon.Composite == nil || mon.Dashboard == nil {
				t.Fatalf("Monitoring() = %+v, want %d alarms, topic, composite, dashboard", mon, tc.nAlarms)
			}
			alarms := alarmsByKind(tmpl)
			if len(alarms) != tc.nAlarms {
				t.Errorf("%d alarms in the template, want %d", len(alarms), tc.nAlarms)
			}
			fn := onlyID(t, tmpl, "AWS::Lambda::Function")
			esm := onlyID(t, tmpl, "AWS::Lambda::EventSourceMapping")
			queue := onlyID(t, tmpl, "AWS::SQS::Queue")
			for kind, dim := range map[AlarmKind]any{
				AlarmIteratorAge:   ref(fn),
				AlarmDroppedEvents: ref(esm),
				AlarmDLQMessages:   getAtt(queue, "QueueName"),
			} {
				ds, _ := alarms[kind]["Dimensions"].([]any)
				if len(ds) != 1 || !jsonEq(ds[0].(map[string]any)["Value"], dim) {
					t.Errorf("%s dimensions %v, want the construct's resource %v", kind, ds, dim)
				}
			}
			if alarms[AlarmIteratorAge]["Threshold"] != tc.iterMs || alarms[AlarmStreamIteratorAge]["Threshold"] != tc.iterMs {
				t.Errorf("iterator thresholds %v/%v, want %v", alarms[AlarmIteratorAge]["Threshold"], alarms[AlarmStreamIteratorAge]["Threshold"], tc.iterMs)
			}
			if alarms[AlarmDLQAge]["Threshold"] != tc.dlqAgeS {
				t.Errorf("DLQ age threshold %v, want %v", alarms[AlarmDLQAge]["Threshold"], tc.dlqAgeS)
			}
			if got := alarms[AlarmStreamIteratorAge]["MetricName"]; got != tc.streamLag {
				t.Errorf("stream lag metric %v, want %v", got, tc.streamLag)
			}
			if tc.stack == "MonConstructDefaults" && alarms[AlarmConcurrency]["Threshold"] != float64(4) {
				t.Errorf("concurrency threshold %v, want 4 (90%% of 4, rounded up)", alarms[AlarmConcurrency]["Threshold"])
			}
			// The mapping emits the EventCount metrics the alarms watch.
			m := resources(tmpl, "AWS::Lambda::EventSourceMapping")[esm]
			if !jsonEq(m["MetricsConfig"], map[string]any{"Metrics": []any{"EventCount"}}) {
				t.Errorf("mapping MetricsConfig %v", m["MetricsConfig"])
			}
			// Ids live under <construct>/Monitoring and the dashboard is named after the stack and construct.
			d := dashboard(t, tmpl)
			if d.Name != tc.stack+"-"+constructID {
				t.Errorf("dashboard name %q", d.Name)
			}
			if errs := cwdash.CheckLayout(d.Body.Widgets); len(errs) > 0 {
				t.Error(errs)
			}
			for _, n := range []string{"Monitoring/Dashboard", "Monitoring/Topic", "Monitoring/PipelineUnhealthy", "Monitoring/IteratorAgeAlarm"} {
				if sp.Node().TryFindChild(jsii.String(strings.Split(n, "/")[0])) == nil ||
					sp.Node().FindChild(jsii.String("Monitoring")).Node().TryFindChild(jsii.String(strings.Split(n, "/")[1])) == nil {
					t.Errorf("no construct %s/%s", constructID, n)
				}
			}
		})
	}
}
