package streamprocessor

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func TestMonitoringProblems(t *testing.T) {
	hours := func(h float64) awscdk.Duration { return awscdk.Duration_Hours(jsii.Number(h)) }
	for _, tc := range []struct {
		name  string
		props *MonitoringProps
		want  []string // substrings, one per problem, in order
	}{
		{"nil", nil, nil},
		{"zero value", &MonitoringProps{}, nil},
		{"all valid", &MonitoringProps{
			IteratorAgeFraction: jsii.Number(0.3), ErrorRatePercent: jsii.Number(100), DurationPercentOfTimeout: jsii.Number(90),
			ConcurrencyPercentOfReserved: jsii.Number(100), QuarantinedRecordsThreshold: jsii.Number(0),
			DisabledAlarms: []AlarmKind{AlarmReadThrottled}, AlarmEmail: jsii.String("oncall@example.com"),
			DashboardName: jsii.String("orders_dash-1"), IteratorAgeThreshold: awscdk.Duration_Minutes(jsii.Number(59)),
			DLQAgeThreshold: hours(24),
		}, nil},
		{"fraction", &MonitoringProps{IteratorAgeFraction: jsii.Number(1)}, []string{"IteratorAgeFraction 1 must be between 0 and 1"}},
		{"percentages", &MonitoringProps{ErrorRatePercent: jsii.Number(0), DurationPercentOfTimeout: jsii.Number(100), ConcurrencyPercentOfReserved: jsii.Number(120)},
			[]string{"ErrorRatePercent 0", "DurationPercentOfTimeout 100 is not a percentage the alarm can reach: use more than 0 and below 100", "ConcurrencyPercentOfReserved 120"}},
		{"negative quarantine", &MonitoringProps{QuarantinedRecordsThreshold: jsii.Number(-1)}, []string{"QuarantinedRecordsThreshold -1"}},
		{"unknown kind", &MonitoringProps{DisabledAlarms: []AlarmKind{"IteratorAgee"}}, []string{`unknown alarm "IteratorAgee"`}},
		{"e-mail", &MonitoringProps{AlarmEmail: jsii.String("a@b.c, d@e.f")}, []string{`AlarmEmail "a@b.c, d@e.f"`}},
		{"dashboard name", &MonitoringProps{DashboardName: jsii.String("orders dashboard")}, []string{`DashboardName "orders dashboard"`}},
		{"prefix too long", &MonitoringProps{AlarmNamePrefix: jsii.String(strings.Repeat("x", 240))}, []string{"AlarmNamePrefix"}},
		{"alarms off with a topic", &MonitoringProps{DisableAlarms: jsii.Bool(true), AlarmEmail: jsii.String("a@b.c")}, []string{"nothing would ever notify"}},
		{"iterator threshold past the discard time", &MonitoringProps{IteratorAgeThreshold: hours(1)}, []string{"IteratorAgeThreshold 1h would fire only after records are discarded at 1h"}},
		{"DLQ threshold beyond SQS retention", &MonitoringProps{DLQAgeThreshold: hours(24 * 14)}, []string{"DLQAgeThreshold 14d can never fire"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := monitoringProblems(tc.props, hours(24), hours(1))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems %q, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d %q lacks %q", i, got[i], w)
				}
			}
		})
	}
}
