// Package localrun runs the example pipeline on this machine: kinesis-local,
// dynalite and the SQS fake on free loopback ports, the resources created as
// the synthesized CloudFormation template defines them, the processor
// bootstrap under aws-lambda-rie, and the local event source mapping poller
// (internal/localesm) configured from the same template.
package localrun

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/streamproc/streamproc/internal/localesm"
)

// Stack is what a local run needs from a synthesized template: the one Kinesis
// event source mapping and the resources around it.
type Stack struct {
	Path    string
	Mapping Mapping
	Stream  Stream
	Func    Function
	Queues  []Queue
	Tables  []Table
	// Streams are the template's other Kinesis streams (the event-time
	// engine's results stream): created locally and resolved in the
	// function's environment.
	Streams []Stream
	// Schedules are the EventBridge rules that invoke the function on a
	// rate (the event-time engine's fire schedule), played by the local run.
	Schedules []Schedule
}

// Schedule is an AWS::Events::Rule with a rate(...) ScheduleExpression and a
// target that is the mapping's function (or an alias of it).
type Schedule struct {
	LogicalID string
	Rate      time.Duration
	Input     string // the target's constant Input, sent as the invoke payload
}

// Mapping is the AWS::Lambda::EventSourceMapping.
type Mapping struct {
	LogicalID      string
	Config         localesm.Config // scalar settings; names and ARNs are filled in at start
	StreamID       string          // logical id of the source stream
	FunctionID     string          // logical id of the function
	OnFailureQueue string          // logical id of the on-failure SQS queue, if any
	// OnFailureBucket is the S3 on-failure destination, if any: the bucket
	// receives a failed-batch object (contract.FailedBatchObject) per
	// discarded batch, with its records.
	OnFailureBucket *Bucket
}

// Bucket is an AWS::S3::Bucket.
type Bucket struct {
	LogicalID string
	Name      string // BucketName, or the logical id in lower case (S3 names are lower case)
}

// Stream is the AWS::Kinesis::Stream.
type Stream struct {
	LogicalID      string
	Name           string
	ShardCount     int
	RetentionHours int
	// MaxRecordSizeKiB is the stream's MaxRecordSizeInKiB (0: Kinesis's
	// default, 1 MiB).
	MaxRecordSizeKiB int
}

// Function is the AWS::Lambda::Function the mapping invokes.
type Function struct {
	LogicalID string
	Name      string
	Timeout   time.Duration
	MemoryMB  int
	// Env is Environment.Variables as CloudFormation holds them: strings, or
	// intrinsics (Ref, Fn::GetAtt, Fn::Join) resolved at start.
	Env map[string]any
}

// Queue is an AWS::SQS::Queue.
type Queue struct {
	LogicalID  string
	Name       string
	Attributes map[string]string // SQS attributes set by the template (VisibilityTimeout, ...)
}

// Table is an AWS::DynamoDB::Table (or GlobalTable).
type Table struct {
	LogicalID  string
	Name       string
	Keys       []KeyElement
	Attributes map[string]string // attribute name -> type (S, N, B)
}

// KeyElement is one element of a table's key schema.
type KeyElement struct {
	Name string
	Type string // HASH or RANGE
}

type resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
}

// LoadStack reads a synthesized template. mapping picks the event source
// mapping by logical id when the template has several; "" takes the only one.
func LoadStack(path, mapping string) (*Stack, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("localrun: read template: %w (run `make synth` to produce it)", err)
	}
	st, err := ParseStack(b, mapping)
	if err != nil {
		return nil, fmt.Errorf("localrun: %s: %w", path, err)
	}
	st.Path = path
	return st, nil
}

// ParseStack parses a template (see LoadStack).
func ParseStack(doc []byte, mapping string) (*Stack, error) {
	var t struct {
		Resources map[string]resource `json:"Resources"`
	}
	if err := json.Unmarshal(doc, &t); err != nil {
		return nil, fmt.Errorf("not a CloudFormation template: %w", err)
	}
	var mappings []string
	for id, r := range t.Resources {
		if r.Type == "AWS::Lambda::EventSourceMapping" {
			if isKinesis(t.Resources, r) {
				mappings = append(mappings, id)
			}
		}
	}
	sort.Strings(mappings)
	var mid string
	switch {
	case mapping != "":
		for _, id := range mappings {
			if id == mapping {
				mid = id
			}
		}
		if mid == "" {
			return nil, fmt.Errorf("no Kinesis event source mapping %q (found %v)", mapping, mappings)
		}
	case len(mappings) == 1:
		mid = mappings[0]
	case len(mappings) == 0:
		return nil, fmt.Errorf("no AWS::Lambda::EventSourceMapping with a Kinesis stream source")
	default:
		return nil, fmt.Errorf("several Kinesis event source mappings %v: choose one", mappings)
	}
	m := t.Resources[mid]
	cfg, err := localesm.FromProperties(m.Properties)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mid, err)
	}
	st := &Stack{Mapping: Mapping{LogicalID: mid, Config: cfg}}

	sid, _ := refID(m.Properties["EventSourceArn"])
	sr, ok := t.Resources[sid]
	if !ok || sr.Type != "AWS::Kinesis::Stream" {
		return nil, fmt.Errorf("%s: EventSourceArn %v does not reference an AWS::Kinesis::Stream of the template", mid, m.Properties["EventSourceArn"])
	}
	st.Mapping.StreamID = sid
	st.Stream = streamOf(sid, sr)

	fid, _ := refID(m.Properties["FunctionName"])
	fr, ok := t.Resources[fid]
	if !ok || fr.Type != "AWS::Lambda::Function" {
		return nil, fmt.Errorf("%s: FunctionName %v does not reference an AWS::Lambda::Function of the template", mid, m.Properties["FunctionName"])
	}
	st.Mapping.FunctionID = fid
	st.Func = Function{LogicalID: fid, Name: nameOr(fr.Properties["FunctionName"], fid),
		Timeout: time.Duration(intOr(fr.Properties["Timeout"], 3)) * time.Second, MemoryMB: intOr(fr.Properties["MemorySize"], 128), Env: map[string]any{}}
	if env, ok := fr.Properties["Environment"].(map[string]any); ok {
		if vars, ok := env["Variables"].(map[string]any); ok {
			st.Func.Env = vars
		}
	}
	st.Mapping.Config.FunctionTimeout = st.Func.Timeout
	// Lambda turns LoggingConfig into these variables for the runtime.
	if lc, ok := fr.Properties["LoggingConfig"].(map[string]any); ok {
		if f, ok := lc["LogFormat"].(string); ok {
			st.Func.Env["AWS_LAMBDA_LOG_FORMAT"] = f
		}
		if l, ok := lc["ApplicationLogLevel"].(string); ok {
			st.Func.Env["AWS_LAMBDA_LOG_LEVEL"] = l
		}
	}

	if dc, ok := m.Properties["DestinationConfig"].(map[string]any); ok {
		if of, ok := dc["OnFailure"].(map[string]any); ok {
			id, _ := refID(of["Destination"])
			switch r := t.Resources[id]; r.Type {
			case "AWS::SQS::Queue":
				st.Mapping.OnFailureQueue = id
			case "AWS::S3::Bucket":
				name := strings.ToLower(nameOr(r.Properties["BucketName"], id))
				if len(name) > 63 {
					name = name[:63]
				}
				st.Mapping.OnFailureBucket = &Bucket{LogicalID: id, Name: name}
			default:
				return nil, fmt.Errorf("%s: the on-failure destination %v is not an SQS queue or S3 bucket of the template (SNS destinations are not supported locally)", mid, of["Destination"])
			}
		}
	}

	ids := make([]string, 0, len(t.Resources))
	for id := range t.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := t.Resources[id]
		switch r.Type {
		case "AWS::SQS::Queue":
			q := Queue{LogicalID: id, Name: nameOr(r.Properties["QueueName"], id), Attributes: map[string]string{}}
			for _, a := range []string{"VisibilityTimeout", "MessageRetentionPeriod", "MaximumMessageSize", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"} {
				if v, ok := r.Properties[a]; ok {
					q.Attributes[a] = scalar(v)
				}
			}
			st.Queues = append(st.Queues, q)
		case "AWS::Kinesis::Stream":
			if id != st.Stream.LogicalID {
				st.Streams = append(st.Streams, streamOf(id, r))
			}
		case "AWS::Events::Rule":
			sc, ok, err := scheduleOf(id, r, t.Resources, st.Func.LogicalID)
			if err != nil {
				return nil, err
			}
			if ok {
				st.Schedules = append(st.Schedules, sc)
			}
		case "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable":
			tb := Table{LogicalID: id, Name: nameOr(r.Properties["TableName"], id), Attributes: map[string]string{}}
			ks, _ := r.Properties["KeySchema"].([]any)
			for _, k := range ks {
				km, _ := k.(map[string]any)
				tb.Keys = append(tb.Keys, KeyElement{Name: fmt.Sprint(km["AttributeName"]), Type: fmt.Sprint(km["KeyType"])})
			}
			ads, _ := r.Properties["AttributeDefinitions"].([]any)
			for _, a := range ads {
				am, _ := a.(map[string]any)
				tb.Attributes[fmt.Sprint(am["AttributeName"])] = fmt.Sprint(am["AttributeType"])
			}
			if len(tb.Keys) == 0 {
				return nil, fmt.Errorf("table %s has no KeySchema", id)
			}
			st.Tables = append(st.Tables, tb)
		}
	}
	return st, nil
}

func streamOf(id string, r resource) Stream {
	s := Stream{LogicalID: id, Name: nameOr(r.Properties["Name"], id), ShardCount: intOr(r.Properties["ShardCount"], 0), RetentionHours: intOr(r.Properties["RetentionPeriodHours"], 24),
		MaxRecordSizeKiB: intOr(r.Properties["MaxRecordSizeInKiB"], 0)}
	if s.ShardCount == 0 {
		mode, _ := r.Properties["StreamModeDetails"].(map[string]any)
		if mode != nil && mode["StreamMode"] == "ON_DEMAND" {
			s.ShardCount = 4 // on-demand streams start with 4 shards
		} else {
			s.ShardCount = 1 // CloudFormation's default
		}
	}
	return s
}

var rateExpr = regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`)

// scheduleOf reads a rule that invokes fn (directly or through an alias) on
// a rate; ok is false for rules that do neither. A cron rule targeting fn is
// an error: the local run plays rates only and says so rather than skip it.
func scheduleOf(id string, r resource, res map[string]resource, fn string) (Schedule, bool, error) {
	expr, _ := r.Properties["ScheduleExpression"].(string)
	if expr == "" {
		return Schedule{}, false, nil
	}
	targets, _ := r.Properties["Targets"].([]any)
	for _, t := range targets {
		tm, _ := t.(map[string]any)
		tid, _ := refID(tm["Arn"])
		if tr, ok := res[tid]; ok && tr.Type == "AWS::Lambda::Alias" {
			tid, _ = refID(tr.Properties["FunctionName"])
		}
		if tid != fn {
			continue
		}
		m := rateExpr.FindStringSubmatch(expr)
		if m == nil {
			return Schedule{}, false, fmt.Errorf("rule %s invokes the function on %q: only rate(...) schedules run locally", id, expr)
		}
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"minute": time.Minute, "minutes": time.Minute, "hour": time.Hour, "hours": time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour}[m[2]]
		input, _ := tm["Input"].(string)
		if input == "" {
			input = "{}" // EventBridge would send the scheduled event; the function only needs a payload
		}
		return Schedule{LogicalID: id, Rate: time.Duration(n) * unit, Input: input}, true, nil
	}
	return Schedule{}, false, nil
}

func isKinesis(res map[string]resource, m resource) bool {
	id, _ := refID(m.Properties["EventSourceArn"])
	return res[id].Type == "AWS::Kinesis::Stream"
}

// refID returns the logical id an intrinsic points at: {"Ref": id} or
// {"Fn::GetAtt": [id, attr]} (or "id.attr"); attr is "" for Ref.
func refID(v any) (id, attr string) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", ""
	}
	if r, ok := m["Ref"].(string); ok {
		return r, ""
	}
	switch g := m["Fn::GetAtt"].(type) {
	case []any:
		if len(g) == 2 {
			return fmt.Sprint(g[0]), fmt.Sprint(g[1])
		}
	case string:
		id, attr, _ := strings.Cut(g, ".")
		return id, attr
	}
	return "", ""
}

func nameOr(v any, logicalID string) string {
	if s, ok := v.(string); ok && s != "" {
		return s
	}
	// CloudFormation would generate "<stack>-<id>-<suffix>"; locally the
	// logical id is unique and readable.
	n := logicalID
	if len(n) > 60 {
		n = n[:60]
	}
	return n
}

// scalar renders a template scalar as CloudFormation would pass it on
// (1209600, not 1.2096e+06).
func scalar(v any) string {
	if f, ok := v.(float64); ok && f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	return fmt.Sprint(v)
}

func intOr(v any, def int) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case string:
		var i int
		if _, err := fmt.Sscanf(n, "%d", &i); err == nil {
			return i
		}
	}
	return def
}

// Resolver gives the local value of a reference to a template resource.
type Resolver func(logicalID, attr string) (string, bool)

// ResolveEnv turns the function's environment into concrete values. A value
// that references something the local run did not create is an error naming
// the variable: a silently missing setting would make a local run lie.
func (f Function) ResolveEnv(resolve Resolver) (map[string]string, error) {
	out := map[string]string{}
	keys := make([]string, 0, len(f.Env))
	for k := range f.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := resolveValue(f.Env[k], resolve)
		if err != nil {
			return nil, fmt.Errorf("environment variable %s of %s: %w", k, f.LogicalID, err)
		}
		out[k] = v
	}
	return out, nil
}

func resolveValue(v any, resolve Resolver) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case float64, bool:
		return scalar(x), nil
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			sep, _ := j[0].(string)
			parts, _ := j[1].([]any)
			var ss []string
			for _, p := range parts {
				s, err := resolveValue(p, resolve)
				if err != nil {
					return "", err
				}
				ss = append(ss, s)
			}
			return strings.Join(ss, sep), nil
		}
		id, attr := refID(x)
		if id == "" {
			return "", fmt.Errorf("unsupported intrinsic %v", x)
		}
		if s, ok := resolve(id, attr); ok {
			return s, nil
		}
		return "", fmt.Errorf("references %s %s, which the local run does not provide", id, attr)
	}
	return "", fmt.Errorf("unsupported value %v", v)
}
