package streamprocessor

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
)

var (
	dashboardNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	// the longest suffix added to AlarmNamePrefix
	longestAlarmSuffix = len("-PipelineUnhealthy")
)

// maxDLQAgeThreshold is SQS's longest message retention: an older message
// cannot exist, so the alarm could never fire.
const maxDLQAgeThreshold = 14 * 24 * time.Hour

// monitoringProblems returns every invalid MonitoringProps value, each naming
// the bad value and the fix (lowercase, like the construct's own validation).
// retention and maxRecordAge are the resolved stream and mapping settings the
// thresholds derive from (nil maxRecordAge: no maximum). Tokens are skipped.
//
// addMonitoring panics with these; the construct's validate() should append
// them too, so that a bad MonitoringProps is reported with the other props
// before anything is added to the tree.
func monitoringProblems(p *MonitoringProps, retention, maxRecordAge awscdk.Duration) []string {
	if p == nil {
		return nil
	}
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	pct := func(name string, v *float64, allowHundred bool) {
		if v == nil {
			return
		}
		if *v <= 0 || *v > 100 || (!allowHundred && *v == 100) {
			limit := "at most 100"
			if !allowHundred {
				limit = "below 100"
			}
			add("Monitoring.%s %g is not a percentage the alarm can reach: use more than 0 and %s, or leave it unset", name, *v, limit)
		}
	}
	if f := p.IteratorAgeFraction; f != nil && (*f <= 0 || *f >= 1) {
		add("Monitoring.IteratorAgeFraction %g must be between 0 and 1 (exclusive), e.g. 0.5 to alarm halfway to the time records are discarded", *f)
	}
	pct("ErrorRatePercent", p.ErrorRatePercent, true)
	pct("DurationPercentOfTimeout", p.DurationPercentOfTimeout, false) // a duration never exceeds the timeout
	pct("ConcurrencyPercentOfReserved", p.ConcurrencyPercentOfReserved, true)
	if q := p.QuarantinedRecordsThreshold; q != nil && *q < 0 {
		add("Monitoring.QuarantinedRecordsThreshold %g is negative: use 0 to alarm on any quarantined record, or a higher count", *q)
	}
	for _, k := range p.DisabledAlarms {
		if !slices.Contains(AllAlarmKinds, k) {
			add("Monitoring.DisabledAlarms has unknown alarm %q: use one of the AlarmKind constants (%s)", k, kindList())
		}
	}
	if e := p.AlarmEmail; e != nil && !*awscdk.Token_IsUnresolved(*e) {
		at := strings.Index(*e, "@")
		if at <= 0 || at == len(*e)-1 || strings.Count(*e, "@") != 1 || strings.ContainsAny(*e, " ,;") {
			add("Monitoring.AlarmEmail %q is not one e-mail address: use a single address like oncall@example.com", *e)
		}
	}
	if n := p.DashboardName; n != nil && !*awscdk.Token_IsUnresolved(*n) && !dashboardNameRE.MatchString(*n) {
		add("Monitoring.DashboardName %q is not a valid dashboard name: use 1 to 255 of A-Z, a-z, 0-9, - and _", *n)
	}
	if n := p.AlarmNamePrefix; n != nil && !*awscdk.Token_IsUnresolved(*n) && (len(*n) == 0 || len(*n)+longestAlarmSuffix > 255) {
		add("Monitoring.AlarmNamePrefix %q must be 1 to %d characters so that alarm names fit CloudWatch's 255", *n, 255-longestAlarmSuffix)
	}
	if boolValue(p.DisableAlarms) && (p.Topic != nil || p.CompositeTopic != nil || p.AlarmEmail != nil) {
		add("Monitoring.DisableAlarms is true but Topic, CompositeTopic or AlarmEmail is set: nothing would ever notify them; remove them or enable the alarms")
	}
	if d := p.IteratorAgeThreshold; d != nil && !*awscdk.Token_IsUnresolved(d) {
		v := goDuration(d)
		ret := goDuration(retention)
		if ret <= 0 {
			ret = defaultRetention
		}
		discard := deriveThresholds(ret, goDuration(maxRecordAge), defaultIteratorAgeFraction, 0).TimeToDiscard
		if v <= 0 || v >= discard {
			add("Monitoring.IteratorAgeThreshold %s would fire only after records are discarded at %s (min of MaxRecordAge and retention): use more than 0 and less than %s, or leave it unset to derive it", human(v), human(discard), human(discard))
		}
	}
	if d := p.DLQAgeThreshold; d != nil && !*awscdk.Token_IsUnresolved(d) {
		if v := goDuration(d); v <= 0 || v >= maxDLQAgeThreshold {
			add("Monitoring.DLQAgeThreshold %s can never fire: SQS keeps messages at most 14 days; use more than 0 and less than 14d, or leave it unset to derive it", human(v))
		}
	}
	return out
}

func kindList() string {
	s := make([]string, len(AllAlarmKinds))
	for i, k := range AllAlarmKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
