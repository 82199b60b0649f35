package streamprocessor_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	sp "github.com/streamproc/streamproc/constructs/streamprocessor"
)

// TestExpectedLoad: unset ShardCount and ParallelizationFactor are sized
// from the load; set values that cannot carry it fail synth, each message
// naming the value to set.
func TestExpectedLoad(t *testing.T) {
	app := awscdk.NewApp(nil)
	code := awslambda.Code_FromAsset(jsii.String(prebuiltCode), nil)
	// 5,000 records/s of 200 B: ceil(5000 / 800) = 7 shards. A full batch of
	// 100 takes 50 ms + 100 x 1 ms = 150 ms (666.7 records/s a lane, 466.7 at
	// 70 % busy); 714 records/s a shard need 2 lanes.
	load := func() *sp.ExpectedLoad {
		return &sp.ExpectedLoad{RecordsPerSecond: jsii.Number(5000), RecordBytes: jsii.Number(200), FunctionMillisPerRecord: jsii.Number(1)}
	}
	props := &sp.StreamProcessorProps{Code: code, ExpectedLoad: load()}
	stack := awscdk.NewStack(app, jsii.String("Sized"), nil)
	sp.NewStreamProcessor(stack, jsii.String("Orders"), props)
	if props.ShardCount != nil || props.ParallelizationFactor != nil {
		t.Fatal("the caller's props were changed")
	}
	tmpl := assertions.Template_FromStack(stack, nil)
	tmpl.HasResourceProperties(jsii.String("AWS::Kinesis::Stream"), map[string]any{"ShardCount": 7})
	tmpl.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), map[string]any{"ParallelizationFactor": 2, "BatchSize": 100})

	for _, c := range []struct {
		name  string
		props sp.StreamProcessorProps
		want  []string
	}{
		{"FewShards", sp.StreamProcessorProps{ShardCount: jsii.Number(2), ExpectedLoad: load()},
			[]string{"ShardCount 2 carries 1600 records/s", "peak of 5000 records/s", "set ShardCount to at least 7"}},
		{"SlowMapping", sp.StreamProcessorProps{ParallelizationFactor: jsii.Number(1), ExpectedLoad: load()},
			[]string{"ParallelizationFactor 1 with BatchSize 100 carries 3266 records/s", "set ParallelizationFactor to at least 2"}},
		{"FactorTenIsNotEnough", sp.StreamProcessorProps{ShardCount: jsii.Number(7), ExpectedLoad: &sp.ExpectedLoad{
			RecordsPerSecond: jsii.Number(5000), RecordBytes: jsii.Number(200), FunctionMillisPerRecord: jsii.Number(20)}},
			[]string{"ParallelizationFactor 10 is not enough", "raise BatchSize (up to 7786 records", "or ShardCount to at least 15"}},
		{"SmallReservation", sp.StreamProcessorProps{ReservedConcurrentExecutions: jsii.Number(5), ExpectedLoad: load()},
			[]string{"ReservedConcurrentExecutions (5) is below the 14 concurrent batches", "at least 14"}},
		{"NoRate", sp.StreamProcessorProps{ExpectedLoad: &sp.ExpectedLoad{RecordBytes: jsii.Number(200)}},
			[]string{"ExpectedLoad.RecordsPerSecond is not set"}},
		{"BadPeak", sp.StreamProcessorProps{ExpectedLoad: &sp.ExpectedLoad{RecordsPerSecond: jsii.Number(100), PeakRecordsPerSecond: jsii.Number(10)}},
			[]string{"ExpectedLoad (RecordsPerSecond 100, PeakRecordsPerSecond 10", "a peak at least the average"}},
	} {
		p := c.props
		p.Code = code
		verr := newProcessor(t, app, c.name, func(awscdk.Stack) *sp.StreamProcessorProps { return &p })
		if verr == nil {
			t.Errorf("%s: synth succeeded, want %q", c.name, c.want)
			continue
		}
		msg := strings.Join(verr.Problems, "\n")
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: problems lack %q:\n%s", c.name, w, msg)
			}
		}
	}
}
