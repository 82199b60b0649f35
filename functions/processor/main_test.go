package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/functions/processor/config"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/gobuild"
	"github.com/streamproc/streamproc/internal/sqsfake"
	"github.com/streamproc/streamproc/internal/tools/bench/workload"
)

// TestLambdaBinaryHasNoCDK keeps aws-cdk-go and jsii out of the bootstrap
// (they would grow it from ~10 MB to ~70 MB and slow INIT).
func TestLambdaBinaryHasNoCDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "aws-cdk-go") || strings.Contains(dep, "jsii-runtime-go") || strings.Contains(dep, "constructs-go") {
			t.Errorf("the processor imports %s", dep)
		}
	}
}

func invoke(t *testing.T, url string, payload []byte) events.KinesisEventResponse {
	t.Helper()
	r, err := http.Post(url, "application/json", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	var resp events.KinesisEventResponse
	if err := json.Unmarshal(body, &resp); err != nil || r.StatusCode != 200 {
		t.Fatalf("invoke: %d %s (%v)", r.StatusCode, body, err)
	}
	return resp
}

// TestBootstrapUnderRIE runs the real bootstrap (configured only through
// the environment StreamProcessor.AddEventTime sets) under the Runtime Interface Emulator, against dynalite, kinesis-local
// (the results stream) and the SQS fake: a Kinesis event, its redelivery and
// the schedule's fire request; the final results read back from the results
// stream match the readings.
func TestBootstrapUnderRIE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	root, err := emulator.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	boot, err := gobuild.Bootstrap(ctx, gobuild.Options{Package: "./functions/processor", Dir: root, OutDir: t.TempDir(), Arch: gobuild.Host()})
	if err != nil {
		t.Fatal(err)
	}
	ddb, err := emulator.StartDynamo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ddb.Stop()
	kin, err := emulator.StartKinesis(ctx, emulator.KinesisOptions{Streams: []string{"results:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer kin.Stop()
	creds := awsjson.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	db := &awsjson.Client{Service: awsjson.DynamoDB, Region: "us-east-1", Endpoint: ddb.Endpoint, Credentials: creds}
	if err := eventtime.CreateDynamoTable(ctx, db, "state"); err != nil {
		t.Fatal(err)
	}
	fake, err := sqsfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	sqsc := &awsjson.Client{Service: awsjson.SQS, Region: fake.Region(), Endpoint: fake.URL(), Credentials: creds}
	if err := sqsc.Call(ctx, "CreateQueue", map[string]string{"QueueName": "quarantine"}, nil); err != nil {
		t.Fatal(err)
	}
	rie, err := emulator.StartRIE(ctx, boot, []string{
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_DYNAMODB=" + ddb.Endpoint,
		"AWS_ENDPOINT_URL_SQS=" + fake.URL(),
		"AWS_ENDPOINT_URL_KINESIS=" + kin.Endpoint,
		contract.EnvEventTimeTable + "=state",
		contract.EnvEventTimeResultsStreamARN + "=arn:aws:kinesis:us-east-1:000000000000:stream/results",
		contract.EnvEventTimeOutOfOrderness + "=20s",
		contract.EnvEventTimeAllowedLateness + "=0s",
		config.EnvWindowSize + "=1m",
		contract.EnvQuarantineQueueURL + "=" + fake.QueueURL("quarantine"),
		"AWS_LAMBDA_FUNCTION_NAME=processor",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=30",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rie.Stop()

	recs := workload.Records(workload.Options{Readings: 300, Sensors: 5, Start: time.Now().Add(-5 * time.Minute)})
	for range 2 { // the batch, then its redelivery
		if resp := invoke(t, rie.Endpoint+emulator.InvokePath, workload.Event(recs)); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("batch item failures %v\n%s", resp.BatchItemFailures, rie.Log())
		}
	}
	r, err := http.Post(rie.Endpoint+emulator.InvokePath, "application/json", strings.NewReader(eventtime.FireRequest))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || string(body) != "{}" {
		t.Fatalf("fire request: %d %s\n%s", r.StatusCode, body, rie.Log())
	}

	// Expected per (sensor, minute): the unique readings.
	type agg struct{ n, sum int64 }
	want := map[string]agg{}
	seen := map[string]bool{}
	for _, rc := range recs {
		if seen[rc.EventID] {
			continue
		}
		seen[rc.EventID] = true
		w := rc.EventTime.UTC().Truncate(time.Minute)
		a := want[rc.SensorID+"|"+w.Format(time.RFC3339)]
		a.n++
		a.sum += int64(math.Round(rc.Temperature * 1e6))
		want[rc.SensorID+"|"+w.Format(time.RFC3339)] = a
	}
	kc := &awsjson.Client{Service: awsjson.Kinesis, Region: "us-east-1", Endpoint: kin.Endpoint, Credentials: creds}
	var shards struct{ Shards []struct{ ShardId string } }
	if err := kc.Call(ctx, "ListShards", map[string]string{"StreamName": "results"}, &shards); err != nil {
		t.Fatal(err)
	}
	var it struct{ ShardIterator string }
	if err := kc.Call(ctx, "GetShardIterator", map[string]string{"StreamName": "results", "ShardId": shards.Shards[0].ShardId, "ShardIteratorType": "TRIM_HORIZON"}, &it); err != nil {
		t.Fatal(err)
	}
	var got struct{ Records []struct{ Data []byte } }
	if err := kc.Call(ctx, "GetRecords", map[string]string{"ShardIterator": it.ShardIterator}, &got); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	finals := map[string]bool{} // "sensor|window start"
	for _, rec := range got.Records {
		var m eventtime.ResultMessage[eventtime.Stats]
		if err := json.Unmarshal(rec.Data, &m); err != nil {
			t.Fatal(err)
		}
		if ids[m.ID] || m.Revision != 0 || !m.Last {
			t.Errorf("result %s: revision %d last %v, seen before %v", m.ID, m.Revision, m.Last, ids[m.ID])
		}
		ids[m.ID] = true
		finals[m.Key+"|"+m.WindowStart.UTC().Format(time.RFC3339)] = true
		w := want[m.Key+"|"+m.WindowStart.UTC().Format(time.RFC3339)]
		if m.Value.Count != w.n || int64(m.Value.Sum) != w.sum {
			t.Errorf("result %s: count %d sum %d, want %d and %d", m.ID, m.Value.Count, m.Value.Sum, w.n, w.sum)
		}
	}
	t.Logf("%d final results on the results stream for %d windows of readings", len(ids), len(want))
	// The watermark is the highest event time minus the 20s bound: every
	// window that ends before it is final, none that ends after it is (a
	// second of margin either side of the boundary).
	var maxET time.Time
	for _, rc := range recs {
		if rc.EventTime.After(maxET) {
			maxET = rc.EventTime
		}
	}
	wm := maxET.Add(-20 * time.Second)
	for k := range want {
		start, err := time.Parse(time.RFC3339, k[strings.LastIndex(k, "|")+1:])
		if err != nil {
			t.Fatal(err)
		}
		end, final := start.Add(time.Minute), finals[k]
		switch {
		case end.Before(wm.Add(-time.Second)) && !final:
			t.Errorf("window %s ends at %s, before the watermark %s, but has no final result", k, end, wm)
		case end.After(wm.Add(time.Second)) && final:
			t.Errorf("window %s ends at %s, after the watermark %s, but has a final result", k, end, wm)
		}
	}
	for _, s := range []string{`"LateRecords"`, `"ResultsPublished"`, `"WatermarkLag"`} {
		if !strings.Contains(rie.Log(), s) {
			t.Errorf("function output lacks %s", s)
		}
	}
	if m := regexp.MustCompile(`Init Duration: ([0-9.]+) ms`).FindStringSubmatch(rie.Log()); m != nil {
		t.Logf("INIT under aws-lambda-rie: %s ms", m[1])
	}
}
