package localrun_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/streamproc/streamproc/internal/localrun"
)

// The fixture with its mapping's on-failure destination switched to an S3
// bucket and a 10 MiB record limit on the stream, as the construct
// synthesizes by default.
func TestParseStackS3Destination(t *testing.T) {
	b, err := os.ReadFile("testdata/stack.template.json")
	if err != nil {
		t.Fatal(err)
	}
	var tpl map[string]any
	if err := json.Unmarshal(b, &tpl); err != nil {
		t.Fatal(err)
	}
	res := tpl["Resources"].(map[string]any)
	res["PipelineFailedBatchBucket1A2B3C4D"] = map[string]any{"Type": "AWS::S3::Bucket", "Properties": map[string]any{}}
	for _, r := range res {
		rm := r.(map[string]any)
		props, _ := rm["Properties"].(map[string]any)
		switch rm["Type"] {
		case "AWS::Lambda::EventSourceMapping":
			props["DestinationConfig"] = map[string]any{"OnFailure": map[string]any{"Destination": map[string]any{"Fn::GetAtt": []any{"PipelineFailedBatchBucket1A2B3C4D", "Arn"}}}}
		case "AWS::Kinesis::Stream":
			props["MaxRecordSizeInKiB"] = 10240
		}
	}
	doc, _ := json.Marshal(tpl)
	st, err := localrun.ParseStack(doc, "")
	if err != nil {
		t.Fatal(err)
	}
	if b := st.Mapping.OnFailureBucket; b == nil || b.LogicalID != "PipelineFailedBatchBucket1A2B3C4D" || b.Name != "pipelinefailedbatchbucket1a2b3c4d" || st.Mapping.OnFailureQueue != "" {
		t.Fatalf("mapping %+v", st.Mapping)
	}
	if st.Stream.MaxRecordSizeKiB != 10240 {
		t.Fatalf("stream %+v", st.Stream)
	}
	// An SNS topic is still refused, by name.
	res["Topic"] = map[string]any{"Type": "AWS::SNS::Topic"}
	for _, r := range res {
		if rm := r.(map[string]any); rm["Type"] == "AWS::Lambda::EventSourceMapping" {
			rm["Properties"].(map[string]any)["DestinationConfig"] = map[string]any{"OnFailure": map[string]any{"Destination": map[string]any{"Ref": "Topic"}}}
		}
	}
	doc, _ = json.Marshal(tpl)
	if _, err := localrun.ParseStack(doc, ""); err == nil {
		t.Fatal("an SNS destination was accepted")
	}
}
