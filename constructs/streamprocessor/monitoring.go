package streamprocessor

// Monitoring of a StreamProcessor: NewStreamProcessor calls addMonitoring
// once, after it has made the stream, function, mapping and DLQ, and exposes
// the result; the application adds its own alarms and graphs through
// Monitoring.AddAlarm and Monitoring.AddWidgets.
//
// What addMonitoring makes, under a child scope "Monitoring" of the construct:
//
//	Monitoring/Topic, Monitoring/TopicKey   alarm topic (KMS, TLS only) unless props.Topic is set
//	Monitoring/AlarmEmail                   e-mail subscription when props.AlarmEmail is set
//	Monitoring/<Kind>Alarm                  one CloudWatch alarm per AlarmKind (monitoring_alarms.go)
//	Monitoring/PipelineUnhealthy            composite alarm: any of the above, or of the application's alarms, in ALARM
//	Monitoring/Dashboard                    the pipeline dashboard (monitoring_dashboard.go)
//	Monitoring/DashboardUrl                 stack output with the console URL
//
// These ids are a public contract: renaming one replaces the resource.

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// AlarmKind names one of the alarms the construct creates. The value is also
// the alarm's construct id (with an "Alarm" suffix) and the suffix of its
// CloudWatch name.
type AlarmKind string

// The alarms. docs/operations.md documents each one: why it exists, its default
// threshold, its missing-data treatment and what to do when it fires.
const (
	// AlarmIteratorAge: the function's IteratorAge (AWS/Lambda, FunctionName).
	AlarmIteratorAge AlarmKind = "IteratorAge"
	// AlarmStreamIteratorAge: the stream's GetRecords.IteratorAgeMilliseconds (AWS/Kinesis, StreamName),
	// or SubscribeToShardEvent.MillisBehindLatest (StreamName, ConsumerName) with enhanced fan-out.
	AlarmStreamIteratorAge AlarmKind = "StreamIteratorAge"
	// AlarmErrorRate: Errors / Invocations of the function, in percent.
	AlarmErrorRate AlarmKind = "ErrorRate"
	// AlarmThrottles: invocations of the function that Lambda throttled.
	AlarmThrottles AlarmKind = "Throttles"
	// AlarmDuration: p99 Duration close to the function timeout.
	AlarmDuration AlarmKind = "DurationP99"
	// AlarmConcurrency: ConcurrentExecutions at the reserved limit (only with reserved concurrency).
	AlarmConcurrency AlarmKind = "Concurrency"
	// AlarmDLQMessages: messages visible in the DLQ.
	AlarmDLQMessages AlarmKind = "DLQMessagesVisible"
	// AlarmDLQAge: age of the oldest DLQ message against the time left to redrive it.
	AlarmDLQAge AlarmKind = "DLQOldestMessageAge"
	// AlarmDroppedEvents: the mapping's DroppedEventCount (records lost without a DLQ entry).
	AlarmDroppedEvents AlarmKind = "DroppedEvents"
	// AlarmOnFailureDelivered: the mapping's OnFailureDestinationDeliveredEventCount.
	AlarmOnFailureDelivered AlarmKind = "OnFailureDelivered"
	// AlarmRecordsQuarantined: the function's own RecordsQuarantined metric.
	AlarmRecordsQuarantined AlarmKind = "RecordsQuarantined"
	// AlarmWriteThrottled: the stream's WriteProvisionedThroughputExceeded.
	AlarmWriteThrottled AlarmKind = "WriteThrottled"
	// AlarmReadThrottled: the stream's ReadProvisionedThroughputExceeded.
	AlarmReadThrottled AlarmKind = "ReadThrottled"
	// AlarmConservation: the function's RecordsReceived differs from
	// RecordsSucceeded + RecordsQuarantined + RecordsFailed (metric math on
	// the toolkit's metrics): a record left an invocation unaccounted for.
	AlarmConservation AlarmKind = "RecordConservation"
)

// AllAlarmKinds lists every alarm kind in the order of the alarm-status widget.
var AllAlarmKinds = []AlarmKind{
	AlarmStreamIteratorAge, AlarmIteratorAge, AlarmDroppedEvents, AlarmOnFailureDelivered,
	AlarmDLQMessages, AlarmDLQAge, AlarmRecordsQuarantined, AlarmConservation, AlarmErrorRate, AlarmThrottles,
	AlarmDuration, AlarmConcurrency, AlarmWriteThrottled, AlarmReadThrottled,
}

// MonitoringProps configures the alarms, the alarm topic and the dashboard of a
// StreamProcessor. Every field is optional; the zero value gives every alarm
// with derived thresholds, a new encrypted topic and a dashboard.
type MonitoringProps struct {
	// Create no alarms, no topic and no composite alarm; the dashboard is still made.
	// Default: false
	DisableAlarms *bool `field:"optional" json:"disableAlarms" yaml:"disableAlarms"`
	// Alarms not to create, e.g. []AlarmKind{AlarmRecordsQuarantined} for a
	// pipeline where bad input is expected.
	// Default: none (every alarm that applies is created)
	DisabledAlarms []AlarmKind `field:"optional" json:"disabledAlarms" yaml:"disabledAlarms"`
	// Topic that every alarm notifies (on ALARM and on OK). When set, the
	// construct creates no topic and does not change the topic's policy: it must
	// let cloudwatch.amazonaws.com publish (and, if encrypted, use its key).
	// The topic the construct makes is encrypted with a new customer-managed
	// KMS key that CloudWatch may use, and its policy denies publishing
	// without TLS.
	// Default: a new encrypted, TLS-only topic (Monitoring/Topic)
	Topic awssns.ITopic `field:"optional" json:"topic" yaml:"topic"`
	// E-mail address subscribed to the alarm topic (the recipient must confirm).
	// Default: no subscription
	AlarmEmail *string `field:"optional" json:"alarmEmail" yaml:"alarmEmail"`
	// Topic that the composite "pipeline unhealthy" alarm notifies, for paging
	// once per incident (e.g. a PagerDuty or Opsgenie integration) while the
	// detailed alarms go to Topic.
	// Default: the composite alarm has no actions
	CompositeTopic awssns.ITopic `field:"optional" json:"compositeTopic" yaml:"compositeTopic"`
	// Prefix of every alarm name ("<prefix>-<AlarmKind>") and of the composite
	// alarm ("<prefix>-PipelineUnhealthy").
	// Default: the dashboard name
	AlarmNamePrefix *string `field:"optional" json:"alarmNamePrefix" yaml:"alarmNamePrefix"`
	// Name of the CloudWatch dashboard (unique per account and region).
	// Default: "<stack name>-<construct path inside the stack>", e.g. "StreamProc-dev-Orders"
	DashboardName *string `field:"optional" json:"dashboardName" yaml:"dashboardName"`
	// Share of the time before records are discarded (min of max record age and
	// retention) at which the iterator-age alarms fire. Between 0 and 1.
	// Default: 0.5
	IteratorAgeFraction *float64 `field:"optional" json:"iteratorAgeFraction" yaml:"iteratorAgeFraction"`
	// Fixed threshold for both iterator-age alarms, instead of the derivation.
	// Default: derived from retention and max record age (see IteratorAgeFraction)
	IteratorAgeThreshold awscdk.Duration `field:"optional" json:"iteratorAgeThreshold" yaml:"iteratorAgeThreshold"`
	// Fixed threshold for the age of the oldest DLQ message.
	// Default: half the redrive window (retention minus max record age), at least 5 minutes
	DLQAgeThreshold awscdk.Duration `field:"optional" json:"dlqAgeThreshold" yaml:"dlqAgeThreshold"`
	// Function error rate, in percent of invocations, over 5 minutes.
	// Default: 1
	ErrorRatePercent *float64 `field:"optional" json:"errorRatePercent" yaml:"errorRatePercent"`
	// p99 duration, in percent of the function timeout.
	// Default: 80
	DurationPercentOfTimeout *float64 `field:"optional" json:"durationPercentOfTimeout" yaml:"durationPercentOfTimeout"`
	// Concurrent executions, in percent of the reserved concurrency.
	// Default: 90
	ConcurrencyPercentOfReserved *float64 `field:"optional" json:"concurrencyPercentOfReserved" yaml:"concurrencyPercentOfReserved"`
	// Records the function may quarantine in 5 minutes before the alarm fires.
	// Default: 0 (any quarantined record)
	QuarantinedRecordsThreshold *float64 `field:"optional" json:"quarantinedRecordsThreshold" yaml:"quarantinedRecordsThreshold"`
	// For an existing stream in another account (or whose account cannot be
	// told at synth because the stack's account is not set): read the
	// stream's own metrics (AWS/Kinesis) from the stream's account, through
	// CloudWatch cross-account observability. This stack's account must be a
	// monitoring account linked to the stream's account; the alarms and
	// graphs then carry the stream's account id (AccountId). Without it, such
	// a stream gets no stream-side alarm or graph: an alarm here would watch
	// a metric that never arrives in this account. Ignored for a stream in
	// this stack's account.
	// Default: false
	CrossAccountStreamMetrics *bool `field:"optional" json:"crossAccountStreamMetrics" yaml:"crossAccountStreamMetrics"`
}

// monitoringTargets is what the construct hands to addMonitoring: the resources
// it made and the resolved settings the thresholds derive from.
type monitoringTargets struct {
	Stream      awskinesis.IStream
	StreamIsNew bool // false when the caller passed an existing stream
	OnDemand    bool // stream capacity mode (only meaningful when StreamIsNew)
	Retention   awscdk.Duration
	Function    awslambda.IFunction
	Mapping     awslambda.EventSourceMapping
	DLQ         awssqs.IQueue
	// FailedBatchBucket is the construct's S3 on-failure destination (nil
	// when the caller passed OnFailure); KeepsRecords says whether the
	// on-failure destination, whichever it is, keeps the records (S3).
	FailedBatchBucket   awss3.IBucket
	KeepsRecords        bool
	MaxRecordAge        awscdk.Duration // nil when records are retried until they expire
	Timeout             awscdk.Duration
	ReservedConcurrency *float64 // nil when unset
	MetricsNamespace    string   // of the function's own EMF metrics
	EnhancedFanOut      bool     // the mapping reads through an enhanced fan-out consumer
	ConsumerName        *string  // name of that consumer (only with EnhancedFanOut)
	// NoStreamMetrics: the stream's own metrics (AWS/Kinesis) cannot be read
	// in this account (a stream in another account, without
	// CrossAccountStreamMetrics): no stream-side alarm or graph.
	NoStreamMetrics bool
	// StreamAccount, when set, is the account the stream's metrics are read
	// from (cross-account observability).
	StreamAccount *string
}

// streamOpts are metric options for the stream's own metrics: in the
// stream's account when it is read across accounts.
func (t *monitoringTargets) streamOpts(stat string, period time.Duration, label string) *awscloudwatch.MetricOptions {
	o := opts(stat, period, label)
	o.Account = t.StreamAccount
	return o
}

// Monitoring is what addMonitoring made, and where the application adds its
// own alarms (AddAlarm) and graphs (AddWidgets).
type Monitoring struct {
	// Alarms in AllAlarmKinds order (those that apply and are not disabled).
	// Alarms added with AddAlarm are not in this list.
	Alarms []awscloudwatch.IAlarm
	// ByKind is Alarms by kind, e.g. to add a paging action to ByKind[AlarmDroppedEvents] only.
	ByKind map[AlarmKind]awscloudwatch.IAlarm
	// Composite "pipeline unhealthy" alarm: any of Alarms, or of the alarms
	// added with AddAlarm, in ALARM. Nil when alarms are disabled, or until
	// the first alarm exists.
	Composite awscloudwatch.IAlarm
	// Topic the alarms notify. Nil when alarms are disabled.
	Topic awssns.ITopic
	// Dashboard of the pipeline.
	Dashboard awscloudwatch.Dashboard
	// DashboardURL is the console URL of the dashboard (a token).
	DashboardURL *string

	scope      constructs.Construct // the "Monitoring" child
	prefix     string               // of alarm names
	disabled   bool                 // MonitoringProps.DisableAlarms
	action     awscloudwatch.IAlarmAction
	page       awssns.ITopic // MonitoringProps.CompositeTopic
	appAlarms  []awscloudwatch.IAlarm
	appSection bool // the "Application" section title is on the dashboard
}

// AddAlarm makes an alarm of the application part of the pipeline's health:
// it joins the composite alarm (whose rule is rendered at synthesis, so
// alarms added after the construct are included) and, when it is an
// awscloudwatch.Alarm, notifies the alarm topic on ALARM and on OK like the
// construct's own alarms. With MonitoringProps.DisableAlarms there is no
// topic and no composite: the alarm is left as it is.
func (m *Monitoring) AddAlarm(alarm awscloudwatch.IAlarm) {
	if alarm == nil || m.disabled {
		return
	}
	m.appAlarms = append(m.appAlarms, alarm)
	if a, ok := alarm.(awscloudwatch.Alarm); ok && m.action != nil {
		a.AddAlarmAction(m.action)
		a.AddOkAction(m.action)
	}
	if m.Composite == nil {
		m.Composite = compositeAlarm(m.scope, m.prefix, m, m.page)
	}
}

// AddWidgets adds the application's graphs to the pipeline dashboard, in an
// "Application" section below the construct's own rows. Each call adds one
// row, laid out left to right (a row wraps at the dashboard's 24 columns).
func (m *Monitoring) AddWidgets(widgets ...awscloudwatch.IWidget) {
	if len(widgets) == 0 {
		return
	}
	if !m.appSection {
		m.Dashboard.AddWidgets(section("Application", "metrics of the application")...)
		m.appSection = true
	}
	m.Dashboard.AddWidgets(widgets...)
}

// compositeAlarms is every alarm the composite alarm ORs: the construct's,
// then the application's.
func (m *Monitoring) compositeAlarms() []awscloudwatch.IAlarm {
	return append(append([]awscloudwatch.IAlarm{}, m.Alarms...), m.appAlarms...)
}

// Statistics used by alarms and graphs.
const (
	statSum     = "Sum"
	statMax     = "Maximum"
	statAverage = "Average"
	statP99     = "p99"
)

// addMonitoring adds the alarms and dashboard of the pipeline t. Its only
// caller is NewStreamProcessor, after validate (which checks props with
// monitoringProblems) and with the mapping's EventCount metrics and the
// fan-out consumer already in t.
func addMonitoring(scope constructs.Construct, t *monitoringTargets, props *MonitoringProps) *Monitoring {
	p := MonitoringProps{}
	if props != nil {
		p = *props // defaults are resolved on a copy; the caller's struct is never mutated
	}
	m := constructs.NewConstruct(scope, jsii.String("Monitoring"))
	name := dashboardName(scope, p.DashboardName)
	prefix := name
	if p.AlarmNamePrefix != nil {
		prefix = *p.AlarmNamePrefix
	}

	res := &Monitoring{
		ByKind:   map[AlarmKind]awscloudwatch.IAlarm{},
		scope:    m,
		prefix:   prefix,
		disabled: boolValue(p.DisableAlarms),
		page:     p.CompositeTopic,
	}
	specs := alarmSpecs(t, &p)
	var alarms []builtAlarm
	if !res.disabled {
		res.Topic = alarmTopic(m, &p)
		res.action = awscloudwatchactions.NewSnsAction(res.Topic)
		for _, s := range specs {
			a := s.build(m, prefix)
			a.AddAlarmAction(res.action)
			a.AddOkAction(res.action)
			alarms = append(alarms, builtAlarm{spec: s, alarm: a})
			res.Alarms = append(res.Alarms, a)
			res.ByKind[s.Kind] = a
		}
		if len(res.Alarms) > 0 {
			res.Composite = compositeAlarm(m, prefix, res, p.CompositeTopic)
		}
	}
	res.Dashboard = pipelineDashboard(m, name, t, specs, alarms, res.Composite)
	stack := awscdk.Stack_Of(scope)
	res.DashboardURL = jsii.String(fmt.Sprintf(
		"https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#dashboards/dashboard/%s",
		*stack.Region(), *stack.Region(), name))
	awscdk.NewCfnOutput(m, jsii.String("DashboardUrl"), &awscdk.CfnOutputProps{
		Value:       res.DashboardURL,
		Description: jsii.String("CloudWatch dashboard of the " + *scope.Node().Path() + " pipeline"),
	})
	return res
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// dashboardName is "<stack name>-<path of scope inside the stack>", which is
// unique per stack (and so per stage, whose name is part of the stack name).
func dashboardName(scope constructs.Construct, override *string) string {
	if override != nil {
		return *override
	}
	stack := awscdk.Stack_Of(scope)
	rel := strings.TrimPrefix(*scope.Node().Path(), *stack.Node().Path()+"/")
	n := *stack.StackName() + "-" + strings.ReplaceAll(rel, "/", "-")
	n = unsafeName.ReplaceAllString(n, "-")
	if len(n) > 255 {
		n = n[:255]
	}
	return n
}

// alarmTopic returns the caller's topic or makes one: encrypted with a
// customer-managed key (CloudWatch cannot publish to a topic encrypted with the
// AWS-managed alias/aws/sns key, whose policy it cannot be added to) and with
// a policy that denies publishing without TLS and lets CloudWatch alarms of
// this account publish.
func alarmTopic(scope constructs.Construct, p *MonitoringProps) awssns.ITopic {
	topic := p.Topic
	if topic == nil {
		key := awskms.NewKey(scope, jsii.String("TopicKey"), &awskms.KeyProps{
			Description:       jsii.String("Encrypts the alarm topic of " + *scope.Node().Scope().Node().Path()),
			EnableKeyRotation: jsii.Bool(true),
		})
		cw := awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)
		key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("AllowCloudWatchAlarmsToUseTheKey"),
			Principals: &[]awsiam.IPrincipal{cw},
			Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
			Resources:  jsii.Strings("*"),
			Conditions: &map[string]interface{}{
				"StringEquals": map[string]interface{}{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
			},
		}), nil)
		t := awssns.NewTopic(scope, jsii.String("Topic"), &awssns.TopicProps{
			DisplayName: jsii.String("StreamProcessor alarms"),
			MasterKey:   key,
			EnforceSSL:  jsii.Bool(true),
		})
		t.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("AllowCloudWatchAlarmsToPublish"),
			Principals: &[]awsiam.IPrincipal{cw},
			Actions:    jsii.Strings("sns:Publish"),
			Resources:  &[]*string{t.TopicArn()},
			Conditions: &map[string]interface{}{
				"StringEquals": map[string]interface{}{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
			},
		}))
		topic = t
	}
	if p.AlarmEmail != nil {
		awssns.NewSubscription(scope, jsii.String("AlarmEmail"), &awssns.SubscriptionProps{
			Topic:    topic,
			Protocol: awssns.SubscriptionProtocol_EMAIL,
			Endpoint: p.AlarmEmail,
		})
	}
	return topic
}

// compositeAlarm makes the "pipeline unhealthy" alarm. Its rule is rendered
// when the stack is synthesized, so alarms added with AddAlarm after the
// construct are part of it.
func compositeAlarm(scope constructs.Construct, prefix string, m *Monitoring, page awssns.ITopic) awscloudwatch.IAlarm {
	c := awscloudwatch.NewCompositeAlarm(scope, jsii.String("PipelineUnhealthy"), &awscloudwatch.CompositeAlarmProps{
		CompositeAlarmName: jsii.String(prefix + "-PipelineUnhealthy"),
		AlarmDescription: jsii.String("The stream pipeline is unhealthy: at least one of its alarms is in ALARM. " +
			"The notification names the alarms that triggered it; each one's description has its runbook."),
		AlarmRule: &anyOfRule{m: m},
	})
	c.Node().AddValidation(&compositeLimit{m: m})
	if page != nil {
		action := awscloudwatchactions.NewSnsAction(page)
		c.AddAlarmAction(action)
		c.AddOkAction(action)
	}
	return c
}

// anyOfRule is "any alarm of m in ALARM", rendered as a lazy string: the
// composite alarm renders its rule when it is constructed, before the
// application has added its alarms.
type anyOfRule struct{ m *Monitoring }

func (r *anyOfRule) RenderAlarmRule() *string {
	return awscdk.Lazy_UncachedString(r, &awscdk.LazyStringValueOptions{DisplayHint: jsii.String("PipelineUnhealthyRule")})
}

// Produce implements awscdk.IStringProducer.
func (r *anyOfRule) Produce(awscdk.IResolveContext) *string {
	alarms := r.m.compositeAlarms()
	rules := make([]awscloudwatch.IAlarmRule, 0, len(alarms))
	for _, a := range alarms {
		rules = append(rules, awscloudwatch.AlarmRule_FromAlarm(a, awscloudwatch.AlarmState_ALARM))
	}
	return awscloudwatch.AlarmRule_AnyOf(rules...).RenderAlarmRule()
}

// maxCompositeAlarms is CloudWatch's limit on the alarms one composite
// alarm's rule names (PutCompositeAlarm: "as many as 100 underlying alarms").
const maxCompositeAlarms = 100

// compositeLimit fails synthesis, rather than the deployment, when the
// application has added more alarms than the composite rule can name.
type compositeLimit struct{ m *Monitoring }

func (v *compositeLimit) Validate() *[]*string {
	n := len(v.m.compositeAlarms())
	if n <= maxCompositeAlarms {
		return &[]*string{}
	}
	return &[]*string{jsii.String(fmt.Sprintf("the PipelineUnhealthy composite alarm would name %d alarms (%d of them added with Monitoring.AddAlarm, the event-time ones included); CloudWatch allows %d: "+
		"group the application's alarms in a composite alarm of their own and add that one instead", n, len(v.m.appAlarms), maxCompositeAlarms))}
}

func boolValue(b *bool) bool { return b != nil && *b }
