package emulator_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamproc/streamproc/internal/emulator"
)

func awsConfig() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
}

// TestEmulatorsSpeakTheRealProtocol starts both npm emulators side by side (their
// default ports clash, so this also proves the free-port choice) and talks to
// them with the real SDK clients.
func TestEmulatorsSpeakTheRealProtocol(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	kin, err := emulator.StartKinesis(ctx, emulator.KinesisOptions{Streams: []string{"probe:2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer kin.Stop()
	ddb, err := emulator.StartDynamo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ddb.Stop()

	kc := kinesis.NewFromConfig(awsConfig(), func(o *kinesis.Options) { o.BaseEndpoint = aws.String(kin.Endpoint) })
	var status string
	for i := 0; i < 100; i++ { // INITIALIZE_STREAMS creates the stream asynchronously
		out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("probe")})
		if err == nil {
			status = string(out.StreamDescriptionSummary.StreamStatus)
			if status == "ACTIVE" {
				if n := aws.ToInt32(out.StreamDescriptionSummary.OpenShardCount); n != 2 {
					t.Fatalf("open shards = %d, want 2", n)
				}
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if status != "ACTIVE" {
		t.Fatalf("stream probe never became ACTIVE (last status %q):\n%s", status, kin.Log())
	}

	dc := dynamodb.NewFromConfig(awsConfig(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(ddb.Endpoint) })
	if _, err := dc.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("dynalite ListTables: %v", err)
	}

	kin.Stop()
	if !kin.Exited() {
		t.Fatal("kinesis-local still running after Stop")
	}
}

func TestMissingInstallIsAClearError(t *testing.T) {
	t.Setenv("STREAMPROC_ROOT", t.TempDir())
	_, err := emulator.StartDynamo(context.Background())
	if err == nil || !strings.Contains(err.Error(), "make setup") {
		t.Fatalf("want an error that says to run make setup, got %v", err)
	}
}
