package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/streamproc/streamproc/functions/contract"

	"example.com/orders/config"
)

type m = map[string]interface{}

// The app as `cdk synth` runs it (cdk-nag on), synthesized once for every
// test. Bundling is skipped: `make test` synthesizes with the real build.
var (
	synthOnce sync.Once
	tmpl      assertions.Template
	nagErrs   []string
)

func template(t *testing.T) assertions.Template {
	t.Helper()
	synthOnce.Do(func() {
		app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]interface{}{"aws:cdk:bundling-stacks": []interface{}{}}})
		st := NewOrdersStack(app, StackName, &OrdersStackProps{})
		addNagChecks(app)
		tmpl = assertions.Template_FromStack(st.Stack, nil)
		ann := assertions.Annotations_FromStack(st.Stack)
		for _, none := range []func(*string, interface{}){ann.HasNoError, ann.HasNoWarning} {
			func() {
				defer func() {
					if r := recover(); r != nil {
						nagErrs = append(nagErrs, fmt.Sprint(r))
					}
				}()
				none(jsii.String("*"), assertions.Match_AnyValue())
			}()
		}
	})
	if tmpl == nil {
		t.Fatal("synthesis failed")
	}
	return tmpl
}

func hasProps(t *testing.T, typ string, props m) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", typ, r)
		}
	}()
	template(t).HasResourceProperties(jsii.String(typ), assertions.Match_ObjectLike(&props))
}

func TestNoNagFindings(t *testing.T) {
	template(t)
	if len(nagErrs) > 0 {
		t.Errorf("%d cdk-nag findings:\n%s", len(nagErrs), strings.Join(nagErrs, "\n"))
	}
}

// The engine's infrastructure from AddEventTime, and the app's hopping
// windows in the function's environment.
func TestEventTimeAndFunction(t *testing.T) {
	template(t).ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(1))
	template(t).ResourceCountIs(jsii.String("AWS::Kinesis::Stream"), jsii.Number(2)) // orders in, results out
	hasProps(t, "AWS::DynamoDB::Table", m{
		"KeySchema":   []interface{}{m{"AttributeName": "pk", "KeyType": "HASH"}, m{"AttributeName": "sk", "KeyType": "RANGE"}},
		"BillingMode": "PAY_PER_REQUEST", "TimeToLiveSpecification": m{"AttributeName": "ttl", "Enabled": true},
	})
	ref := func(prefix string) m { return m{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^" + prefix))} }
	hasProps(t, "AWS::Lambda::Function", m{
		"Environment": m{"Variables": m{
			config.EnvWindowSize:                  "5m0s",
			config.EnvWindowSlide:                 "1m0s",
			contract.EnvEventTimeTable:            ref(idOrders + "EventTimeState"),
			contract.EnvEventTimeResultsStreamARN: m{"Fn::GetAtt": []interface{}{assertions.Match_StringLikeRegexp(jsii.String("^" + idOrders + "EventTimeResults")), "Arn"}},
			contract.EnvEventTimeOutOfOrderness:   "30s",
			contract.EnvEventTimeAllowedLateness:  "120s",
			contract.EnvMetricsNamespace:          config.MetricsNamespace,
			contract.EnvQuarantineQueueURL:        ref(idOrders + "DeadLetterQueue"),
		}},
	})
	hasProps(t, "AWS::Lambda::EventSourceMapping", m{"BatchSize": 500.0, "FunctionResponseTypes": []interface{}{"ReportBatchItemFailures"}})
	hasProps(t, "AWS::Events::Rule", m{
		"ScheduleExpression": "rate(1 minute)",
		"Targets":            assertions.Match_ArrayWith(&[]interface{}{assertions.Match_ObjectLike(&map[string]interface{}{"Input": `{"eventtime":"fire"}`})}),
	})
}

// The app's alarms watch the metrics the function emits, in its namespace
// with its FunctionName dimension, and join the pipeline's composite alarm;
// its graphs are on the pipeline's dashboard.
func TestMonitoring(t *testing.T) {
	fn := template(t).FindResources(jsii.String("AWS::Lambda::Function"), nil)
	if len(*fn) != 1 {
		t.Fatalf("%d functions, want 1", len(*fn))
	}
	var fnID string
	for id := range *fn {
		fnID = id
	}
	dims := []interface{}{m{"Name": contract.MetricDimension, "Value": m{"Ref": fnID}}}
	hasProps(t, "AWS::CloudWatch::Alarm", m{
		"Namespace": config.MetricsNamespace, "MetricName": config.MetricDuplicateOrders, "Statistic": "Sum",
		"Dimensions": dims, "Threshold": float64(DuplicateOrdersThreshold),
	})
	// AddEventTime's late-records alarm, at the app's threshold.
	hasProps(t, "AWS::CloudWatch::Alarm", m{
		"Threshold": float64(LateOrdersThreshold),
		"Metrics": assertions.Match_ArrayWith(&[]interface{}{assertions.Match_ObjectLike(&map[string]interface{}{
			"MetricStat": m{"Metric": m{"Namespace": config.MetricsNamespace, "MetricName": config.MetricLateOrders, "Dimensions": dims}, "Period": 300.0, "Stat": "Sum"},
		})}),
	})

	var alarmIDs []string
	for id, a := range *template(t).FindResources(jsii.String("AWS::CloudWatch::Alarm"), nil) {
		if strings.Contains(id, idDuplicatesAlarm) {
			alarmIDs = append(alarmIDs, id)
		}
		if strings.Contains(id, idThrottlesAlarm) {
			alarmIDs = append(alarmIDs, id)
			// aws-cdk-lib's table helper: a sum over the operations' metrics.
			js, _ := json.Marshal((*a)["Properties"].(m)["Metrics"])
			for _, want := range []string{"ThrottledRequests", `"PutItem"`, `"BatchGetItem"`, `"Query"`, idOrders + "EventTimeState"} {
				if !strings.Contains(string(js), want) {
					t.Errorf("%s: metrics do not name %s: %s", id, want, js)
				}
			}
		}
	}
	if len(alarmIDs) != 2 {
		t.Fatalf("app alarms %v, want %s and %s", alarmIDs, idDuplicatesAlarm, idThrottlesAlarm)
	}
	composites := template(t).FindResources(jsii.String("AWS::CloudWatch::CompositeAlarm"), nil)
	if len(*composites) != 1 {
		t.Fatalf("%d composite alarms, want 1", len(*composites))
	}
	for _, c := range *composites {
		rule, _ := json.Marshal((*c)["Properties"].(m)["AlarmRule"])
		for _, id := range alarmIDs {
			if !strings.Contains(string(rule), id) {
				t.Errorf("the composite alarm's rule does not name %s: %s", id, rule)
			}
		}
	}

	for _, d := range *template(t).FindResources(jsii.String("AWS::CloudWatch::Dashboard"), nil) {
		body, _ := json.Marshal((*d)["Properties"].(m)["DashboardBody"])
		for _, want := range []string{config.MetricOrdersApplied, config.MetricDuplicateOrders, config.MetricLateOrders, config.MetricWatermarkLag, "ThrottledRequests"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("the dashboard does not graph %s", want)
			}
		}
	}
}
