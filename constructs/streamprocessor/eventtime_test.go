package streamprocessor_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	sp "github.com/streamproc/streamproc/constructs/streamprocessor"
	"github.com/streamproc/streamproc/functions/contract"
)

// TestEventTime synthesizes one stack with two processors on the event-time
// engine — all defaults, and a bring-your-own table with results to an
// event bus, no schedule and a late-records alarm — under cdk-nag.
func TestEventTime(t *testing.T) {
	app := awscdk.NewApp(nil)
	addNagPacks(app)
	stack := awscdk.NewStack(app, jsii.String("EventTime"), nil)
	code := func() awslambda.Code { return awslambda.Code_FromAsset(jsii.String(prebuiltCode), nil) }

	def := sp.NewStreamProcessor(stack, jsii.String("Defaults"), &sp.StreamProcessorProps{Code: code()})
	props := &sp.EventTimeProps{}
	etDef := def.AddEventTime(props)
	if props.OutOfOrderness != nil || props.FireSchedule != nil {
		t.Errorf("AddEventTime changed the caller's props: %+v", props)
	}

	own := sp.NewStreamProcessor(stack, jsii.String("Own"), &sp.StreamProcessorProps{Code: code()})
	bus := awsevents.NewEventBus(stack, jsii.String("Bus"), nil)
	etOwn := own.AddEventTime(&sp.EventTimeProps{
		StateTable:           awsdynamodb.Table_FromTableName(stack, jsii.String("Existing"), jsii.String("existing-state")),
		ResultEventBus:       bus,
		DisableFireSchedule:  jsii.Bool(true),
		AllowedLateness:      awscdk.Duration_Minutes(jsii.Number(10)),
		LateRecordsThreshold: jsii.Number(100),
	})

	tmpl := assertions.Template_FromStack(stack, nil)
	if errs := annotations(stack); len(errs) > 0 {
		t.Errorf("cdk-nag findings:\n%s", strings.Join(errs, "\n"))
	}

	// Defaults: a table with TTL and PITR, an on-demand results stream, the
	// schedule, the environment.
	count(t, tmpl, "AWS::DynamoDB::Table", 1)
	hasProps(t, tmpl, "AWS::DynamoDB::Table", m{
		"KeySchema":                        []interface{}{m{"AttributeName": "pk", "KeyType": "HASH"}, m{"AttributeName": "sk", "KeyType": "RANGE"}},
		"BillingMode":                      "PAY_PER_REQUEST",
		"TimeToLiveSpecification":          m{"AttributeName": "ttl", "Enabled": true},
		"PointInTimeRecoverySpecification": m{"PointInTimeRecoveryEnabled": true},
	})
	tmpl.HasResource(jsii.String("AWS::DynamoDB::Table"), obj(m{"DeletionPolicy": "Retain"}))
	hasProps(t, tmpl, "AWS::Kinesis::Stream", m{"StreamModeDetails": m{"StreamMode": "ON_DEMAND"}, "StreamEncryption": m{"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}})
	count(t, tmpl, "AWS::Events::Rule", 1)
	hasProps(t, tmpl, "AWS::Events::Rule", m{"ScheduleExpression": "rate(1 minute)",
		"Targets": []interface{}{m{"Input": `{"eventtime":"fire"}`, "RetryPolicy": m{"MaximumRetryAttempts": 2}}}})
	hasProps(t, tmpl, "AWS::Lambda::Function", m{"Environment": m{"Variables": m{
		contract.EnvEventTimeOutOfOrderness:   "20s",
		contract.EnvEventTimeAllowedLateness:  "120s",
		contract.EnvEventTimeIdleTimeout:      "300s",
		contract.EnvEventTimeResultsStreamARN: assertions.Match_AnyValue(),
		contract.EnvEventTimeTable:            assertions.Match_AnyValue(),
	}}})
	// Own: the caller's table and bus, no stream of its own.
	hasProps(t, tmpl, "AWS::Lambda::Function", m{"Environment": m{"Variables": m{
		contract.EnvEventTimeTable:           "existing-state",
		contract.EnvEventTimeAllowedLateness: "600s",
		contract.EnvEventTimeEventBus:        assertions.Match_AnyValue(),
	}}})
	if etOwn.FireRule != nil || etOwn.ResultStream != nil || etDef.ResultEventBus != nil || etDef.FireRule == nil {
		t.Errorf("made: defaults %+v, own %+v", etDef, etOwn)
	}

	// Grants: the engine's DynamoDB calls, PutRecords, PutEvents.
	policies, _ := json.Marshal(resources(tmpl, "AWS::IAM::Policy"))
	for _, action := range []string{"dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "kinesis:PutRecords", "events:PutEvents"} {
		if !strings.Contains(string(policies), action) {
			t.Errorf("no policy grants %s", action)
		}
	}
	// Alarms: watermark lag and publishing failures each, late records for
	// Own; in the composite alarm; graphs on the dashboards.
	if len(etDef.Alarms) != 2 || len(etOwn.Alarms) != 3 {
		t.Errorf("%d and %d event-time alarms, want 2 and 3", len(etDef.Alarms), len(etOwn.Alarms))
	}
	alarm := func(metric string, want m) {
		t.Helper()
		for id, a := range resources(tmpl, "AWS::CloudWatch::Alarm") {
			raw, _ := json.Marshal(a)
			if !strings.Contains(string(raw), `"MetricName":"`+metric+`"`) {
				continue
			}
			props := a["Properties"].(m)
			ok := true
			for k, v := range want {
				ok = ok && props[k] == v
			}
			if ok {
				return
			}
			t.Logf("alarm %s on %s: %v", id, metric, props)
		}
		t.Errorf("no alarm on %s with %v", metric, want)
	}
	alarm(contract.MetricWatermarkLag, m{"Threshold": float64((20 + 120 + 300 + 600) * 1000), "TreatMissingData": "breaching", "EvaluationPeriods": float64(3)})
	alarm(contract.MetricWatermarkLag, m{"TreatMissingData": "notBreaching"})
	alarm(contract.MetricPublishFailures, m{"Threshold": float64(1), "EvaluationPeriods": float64(2)})
	alarm(contract.MetricLateRecords, m{"Threshold": float64(100)})
	composites, _ := json.Marshal(resources(tmpl, "AWS::CloudWatch::CompositeAlarm"))
	if !strings.Contains(string(composites), "WatermarkLagAlarm") {
		t.Errorf("the composite alarm does not include the watermark-lag alarm: %s", composites)
	}
	dashboards, _ := json.Marshal(resources(tmpl, "AWS::CloudWatch::Dashboard"))
	for _, metric := range []string{contract.MetricWatermarkLag, contract.MetricLateRecords, contract.MetricPublishFailures} {
		if !strings.Contains(string(dashboards), metric) {
			t.Errorf("no graph of %s", metric)
		}
	}
	// Named and described like the construct's own alarms, thresholds drawn.
	for _, a := range resources(tmpl, "AWS::CloudWatch::Alarm") {
		props := a["Properties"].(m)
		raw, _ := json.Marshal(props)
		if strings.Contains(string(raw), contract.MetricPublishFailures) {
			if name, _ := props["AlarmName"].(string); !strings.HasSuffix(name, "-PublishFailures") || !strings.Contains(props["AlarmDescription"].(string), "Runbook: ") {
				t.Errorf("publish-failures alarm named %q, described %q: want <prefix>-PublishFailures and a runbook", name, props["AlarmDescription"])
			}
		}
	}
	if !strings.Contains(string(dashboards), `WatermarkLag alarm: \u003e 17m20s\",\"value\":1040000`) {
		i := strings.Index(string(dashboards), "WatermarkLag alarm")
		t.Errorf("the watermark-lag graph lacks its threshold line: %.200s", string(dashboards)[max(i, 0):])
	}

	// Invalid props: every problem listed.
	func() {
		defer func() {
			v := recover()
			ve, ok := v.(*sp.ValidationError)
			if !ok || len(ve.Problems) != 3 {
				t.Errorf("panic %v, want a ValidationError with 3 problems", v)
			}
		}()
		s2 := awscdk.NewStack(app, jsii.String("Invalid"), nil)
		p := sp.NewStreamProcessor(s2, jsii.String("P"), &sp.StreamProcessorProps{Code: code()})
		p.AddEventTime(&sp.EventTimeProps{
			ResultStream:        def.Stream(),
			ResultEventBus:      bus,
			FireSchedule:        awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(5))),
			DisableFireSchedule: jsii.Bool(true),
			OutOfOrderness:      awscdk.Duration_Days(jsii.Number(3)),
		})
	}()
}
