package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/gobuild"
)

// TestRedriveS3CLI runs the real binary against an S3 server (gofakes3 on
// loopback, through AWS_ENDPOINT_URL_S3) and redrive's test function under
// aws-lambda-rie: no Kinesis at all, as after the stream's retention.
func TestRedriveS3CLI(t *testing.T) {
	bin := buildCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := emulator.StartS3("failed")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	boot, err := gobuild.Bootstrap(ctx, gobuild.Options{Package: "./internal/redrive/testdata/fn", Dir: "../..", OutDir: t.TempDir(), Arch: gobuild.Host()})
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "seen.ndjson")
	rie, err := emulator.StartRIE(context.Background(), boot, []string{"FN_LOG=" + log})
	if err != nil {
		t.Fatal(err)
	}
	defer rie.Stop()
	sc := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true,
		Credentials: aws.AnonymousCredentials{}})

	put := func(shard string, datas ...[]byte) string {
		var ev contract.KinesisEvent
		for i, d := range datas {
			seq := fmt.Sprintf("4960118965842235937883629852182763847532018901230970%04d", i)
			ev.Records = append(ev.Records, contract.KinesisEventRecord{EventID: shard + ":" + seq, EventSourceARN: "arn:aws:kinesis:us-east-1:000000000000:stream/gone",
				AWSRegion: "us-east-1", Kinesis: contract.KinesisRecord{SequenceNumber: seq, PartitionKey: "sensor-1", Data: d,
					ApproximateArrivalTimestamp: contract.EpochSeconds{Time: time.UnixMilli(1764065223123)}}})
		}
		evJSON, _ := json.Marshal(ev)
		var m contract.OnFailureMessage
		m.RequestContext.FunctionARN = "arn:aws:lambda:us-east-1:000000000000:function:processor"
		m.RequestContext.Condition = "RecordAgeExceeded"
		m.KinesisBatchInfo = contract.KinesisBatchInfo{ShardID: shard, StartSequenceNumber: ev.Records[0].Kinesis.SequenceNumber,
			EndSequenceNumber: ev.Records[len(datas)-1].Kinesis.SequenceNumber, BatchSize: len(datas), StreamARN: "arn:aws:kinesis:us-east-1:000000000000:stream/gone"}
		obj, _ := contract.NewFailedBatchObject(m, evJSON)
		body, _ := json.Marshal(obj)
		key := contract.FailedBatchKey("14e0db71-5d35-4eb5-b481-8945cf9d10c2", shard, time.Now(), fmt.Sprintf("0f8fad5b-d9cb-469f-a165-%012d", len(datas)))
		if _, err := sc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("failed"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
		return key
	}
	put("shardId-000000000000", []byte(`{"event_id":"a"}`), []byte(`{"event_id":"b"}`), []byte(`{"event_id":"c"}`))
	huge := put("shardId-000000000001", []byte(`{"event_id":"d"}`), bytes.Repeat([]byte("x"), 6<<20))

	env := []string{"AWS_ENDPOINT_URL_S3=" + srv.Endpoint, "AWS_ENDPOINT_URL_LAMBDA=" + rie.Endpoint,
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_PROFILE=",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}

	stdout, stderr, code := runCLI(t, bin, env, "", "redrive", "--bucket", "failed", "--function", "function", "--dry-run", "--no-progress")
	t.Logf("dry run (exit %d):\n%s%s", code, stdout, stderr)
	if strings.Count(stdout, "WOULD-REPLAY") != 2 || !strings.Contains(stdout, "too large to invoke: shardId-000000000001/") || code != 0 {
		t.Fatalf("dry run: exit %d", code)
	}

	stdout, stderr, code = runCLI(t, bin, env, "", "redrive", "--bucket", "failed", "--function", "function", "--no-progress")
	t.Logf("redrive (exit %d):\n%s%s", code, stdout, stderr)
	if !strings.Contains(stdout, "REPLAYED") || !strings.Contains(stdout, "KEPT-TOO-LARGE") || code != 1 || !strings.Contains(stderr, "1 object(s) kept") {
		t.Fatalf("redrive: exit %d", code)
	}
	list, err := sc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("failed")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != huge {
		t.Fatalf("objects left: %+v, want only %s", list.Contents, huge)
	}
	f, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var seen []string
	sc2 := bufio.NewScanner(f)
	sc2.Buffer(nil, 16<<20)
	for sc2.Scan() {
		var s struct{ EventID, Data string }
		_ = json.Unmarshal(sc2.Bytes(), &s)
		seen = append(seen, s.EventID+"="+s.Data)
	}
	// a, b, c and d, each once; never the oversized record.
	if len(seen) != 4 || !strings.HasPrefix(seen[0], "shardId-000000000000:") || !strings.HasSuffix(seen[3], `{"event_id":"d"}`) {
		t.Fatalf("the function saw %v", seen)
	}

	// --bucket and --queue are one or the other.
	if _, stderr, code := runCLI(t, bin, env, "", "redrive", "--bucket", "failed", "--queue", "q"); code != 2 || !strings.Contains(stderr, "exclude each other") {
		t.Fatalf("--bucket with --queue: exit %d %s", code, stderr)
	}
}
