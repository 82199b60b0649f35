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

func TestTableAndFunction(t *testing.T) {
	hasProps(t, "AWS::DynamoDB::Table", m{
		"KeySchema":                        []interface{}{m{"AttributeName": config.TablePartitionKey, "KeyType": "HASH"}},
		"BillingMode":                      "PAY_PER_REQUEST",
		"PointInTimeRecoverySpecification": m{"PointInTimeRecoveryEnabled": true},
	})
	hasProps(t, "AWS::Lambda::Function", m{
		"Environment": m{"Variables": m{
			config.EnvTableName:            m{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^" + idTotals))},
			contract.EnvMetricsNamespace:   config.MetricsNamespace,
			contract.EnvQuarantineQueueURL: m{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^" + idOrders + "DeadLetterQueue"))},
		}},
	})
	hasProps(t, "AWS::Lambda::EventSourceMapping", m{"BatchSize": 500.0, "FunctionResponseTypes": []interface{}{"ReportBatchItemFailures"}})

	// The function may call exactly what totals.Store calls on the table.
	var got []string
	for _, r := range *template(t).FindResources(jsii.String("AWS::IAM::Policy"), nil) {
		for _, st := range (*r)["Properties"].(m)["PolicyDocument"].(m)["Statement"].([]interface{}) {
			if strings.Contains(fmt.Sprint(st.(m)["Resource"]), idTotals) {
				for _, a := range st.(m)["Action"].([]interface{}) {
					got = append(got, a.(string))
				}
			}
		}
	}
	sort.Strings(got)
	if want := []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("table actions %v, want %v", got, want)
	}
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
	hasProps(t, "AWS::CloudWatch::Alarm", m{
		"Namespace": config.MetricsNamespace, "MetricName": config.MetricDuplicateOrders, "Statistic": "Sum",
		"Dimensions": []interface{}{m{"Name": contract.MetricDimension, "Value": m{"Ref": fnID}}},
		"Threshold":  float64(DuplicateOrdersThreshold),
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
			for _, want := range []string{"ThrottledRequests", `"UpdateItem"`, `"GetItem"`, idTotals} {
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
		for _, want := range []string{config.MetricOrdersApplied, config.MetricDuplicateOrders, config.MetricRevenueCents, "ThrottledRequests"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("the dashboard does not graph %s", want)
			}
		}
	}
}
