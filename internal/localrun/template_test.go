package localrun_test

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/streamproc/streamproc/internal/localesm"
	"github.com/streamproc/streamproc/internal/localrun"
)

func TestParseStackFixture(t *testing.T) {
	st, err := localrun.LoadStack("testdata/stack.template.json", "")
	if err != nil {
		t.Fatal(err)
	}
	c := st.Mapping.Config
	want := localesm.Config{
		BatchSize: 500, BatchingWindow: time.Second, StartingPosition: "TRIM_HORIZON", ParallelizationFactor: 2,
		BisectBatchOnFunctionError: true, MaximumRetryAttempts: localesm.Retries(3), MaximumRecordAge: 86400 * time.Second,
		ReportBatchItemFailures: true, FunctionTimeout: 30 * time.Second,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("config\n got %+v\nwant %+v", c, want)
	}
	if st.Stream.ShardCount != 2 || st.Stream.Name != "PipelineStream2E6B5B1C" || st.Mapping.OnFailureQueue != "PipelineDeadLetterQueueA1B2C3D4" {
		t.Fatalf("stack %+v", st)
	}
	if len(st.Tables) != 1 || st.Tables[0].Keys[0].Name != "pk" || st.Tables[0].Keys[1].Type != "RANGE" || st.Tables[0].Attributes["sk"] != "S" {
		t.Fatalf("tables %+v", st.Tables)
	}
	if len(st.Streams) != 1 || st.Streams[0].LogicalID != "PipelineEventTimeResults70CEC95D" || st.Streams[0].ShardCount != 4 {
		t.Fatalf("other streams %+v", st.Streams)
	}
	if want := []localrun.Schedule{{LogicalID: "PipelineEventTimeFireSchedule429B6392", Rate: time.Minute, Input: `{"eventtime":"fire"}`}}; !reflect.DeepEqual(st.Schedules, want) {
		t.Fatalf("schedules %+v, want %+v", st.Schedules, want)
	}
	if st.Queues[0].Attributes["VisibilityTimeout"] != "60" || st.Queues[0].Attributes["MessageRetentionPeriod"] != "1209600" {
		t.Fatalf("queues %+v", st.Queues)
	}
	env, err := st.Func.ResolveEnv(func(id, attr string) (string, bool) {
		switch {
		case id == "PipelineEventTimeState64F858A6" && attr == "":
			return "state", true
		case id == "PipelineEventTimeResults70CEC95D" && attr == "Arn":
			return "arn:results", true
		case id == "PipelineDeadLetterQueueA1B2C3D4" && attr == "":
			return "http://q/dlq", true
		case id == "PipelineDeadLetterQueueA1B2C3D4" && attr == "Arn":
			return "arn:dlq", true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	if env["STREAMPROC_EVENTTIME_TABLE"] != "state" || env["STREAMPROC_EVENTTIME_RESULTS_STREAM_ARN"] != "arn:results" || env["STREAMPROC_QUARANTINE_QUEUE_URL"] != "http://q/dlq" || env["DEAD_LETTER_ARN"] != "arn:dlq" || env["WINDOW_SIZE"] != "1m" {
		t.Fatalf("env %v", env)
	}
	_, err = st.Func.ResolveEnv(func(string, string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "STREAMPROC_QUARANTINE_QUEUE_URL") && !strings.Contains(err.Error(), "DEAD_LETTER_ARN") {
		t.Fatalf("want an error naming the variable, got %v", err)
	}
}

func TestParseStackRejectsWhatItCannotRunFaithfully(t *testing.T) {
	for name, tc := range map[string]struct{ doc, want string }{
		"no mapping":        {`{"Resources":{}}`, "no AWS::Lambda::EventSourceMapping"},
		"tumbling window":   {mapping(`"TumblingWindowInSeconds": 60, "ParallelizationFactor": 2`), "tumbling windows"},
		"disabled":          {mapping(`"Enabled": false`), "disabled"},
		"bad batch size":    {mapping(`"BatchSize": 20000`), "batch size 20000"},
		"unresolved number": {mapping(`"BatchSize": {"Ref": "P"}`), "not a literal number"},
		"cron schedule":     {mapping(`"BatchSize": 10}}, "R":{"Type":"AWS::Events::Rule","Properties":{"ScheduleExpression":"cron(0 * * * ? *)","Targets":[{"Arn":{"Fn::GetAtt":["F","Arn"]}}]`), "only rate(...) schedules"},
	} {
		t.Run(name, func(t *testing.T) {
			st, err := localrun.ParseStack([]byte(tc.doc), "")
			if err == nil {
				err = st.Mapping.Config.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func mapping(extra string) string {
	return `{"Resources":{
 "S":{"Type":"AWS::Kinesis::Stream","Properties":{"ShardCount":1}},
 "F":{"Type":"AWS::Lambda::Function","Properties":{"Timeout":10}},
 "M":{"Type":"AWS::Lambda::EventSourceMapping","Properties":{"EventSourceArn":{"Fn::GetAtt":["S","Arn"]},"FunctionName":{"Ref":"F"},"StartingPosition":"LATEST",` + extra + `}}}}`
}

// TestParseSynthesizedTemplate reads the real `make synth` output when it
// exists: the local run must understand every setting the construct emits.
func TestParseSynthesizedTemplate(t *testing.T) {
	path := "../../" + localrun.DefaultTemplate
	st, err := localrun.LoadStack(path, "")
	if err != nil {
		if _, statErr := os.Stat(path); statErr != nil {
			t.Skipf("%s not synthesized (run make synth): %v", path, statErr)
		}
		t.Fatal(err)
	}
	c := st.Mapping.Config
	c.StreamName = st.Stream.Name
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// The example's failed batches go to the construct's S3 bucket.
	if st.Mapping.OnFailureBucket == nil || st.Mapping.OnFailureQueue != "" || len(st.Tables) == 0 || st.Stream.ShardCount < 1 {
		t.Fatalf("stack %+v", st)
	}
	// Every function variable resolves against the resources a local run creates.
	known := map[string]bool{st.Stream.LogicalID: true, st.Func.LogicalID: true}
	for _, q := range st.Queues {
		known[q.LogicalID] = true
	}
	for _, tb := range st.Tables {
		known[tb.LogicalID] = true
	}
	for _, o := range st.Streams {
		known[o.LogicalID] = true
	}
	if len(st.Schedules) != 1 || st.Schedules[0].Input != `{"eventtime":"fire"}` {
		t.Fatalf("schedules %+v: want the event-time fire rule", st.Schedules)
	}
	known[st.Mapping.OnFailureBucket.LogicalID] = true
	if _, err := st.Func.ResolveEnv(func(id, attr string) (string, bool) { return id + "." + attr, known[id] }); err != nil {
		t.Fatal(err)
	}
}
