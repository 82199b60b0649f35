package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc/functions/kinesisbatch/kpl"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/producer"
)

// buildCLI builds streamctl once per test binary.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "streamctl")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func runCLI(t *testing.T, bin string, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// TestPutCLI runs the real binary against kinesis-local through the standard
// AWS_ENDPOINT_URL_KINESIS variable.
func TestPutCLI(t *testing.T) {
	bin := buildCLI(t)
	kin, err := emulator.StartKinesis(context.Background(), emulator.KinesisOptions{Streams: []string{"readings:2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer kin.Stop()
	env := []string{"AWS_ENDPOINT_URL_KINESIS=" + kin.Endpoint, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test", "AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}
	kc := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(kin.Endpoint), Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("readings")})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("stream never active")
		}
		time.Sleep(100 * time.Millisecond)
	}

	stdout, stderr, code := runCLI(t, bin, env, "", "put", "--stream", "readings", "--count", "300", "--seed", "42",
		"--out-of-order", "0.1", "--duplicates", "0.05", "--invalid", "0.02")
	t.Logf("put report:\n%s", stdout)
	if code != 0 || !strings.Contains(stdout, "sent        300 records") || stderr != "" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	stdout, _, code = runCLI(t, bin, env, "{\"sensor_id\":\"a\",\"x\":1}\n{\"sensor_id\":\"b\",\"x\":2}\n", "put", "--stream", "readings", "--from", "-", "--json")
	var rep struct {
		Sent   int64  `json:"Sent"`
		Stream string `json:"stream"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != 0 || rep.Sent != 2 || rep.Stream != "readings" {
		t.Fatalf("--from - --json: exit %d, %v\n%s", code, err, stdout)
	}

	// A stream that does not exist: a clear error and exit status 1.
	stdout, stderr, code = runCLI(t, bin, env, "", "put", "--stream", "nope", "--count", "10")
	if code != 1 || !strings.Contains(stderr, "nope") || !strings.Contains(stdout, "INCOMPLETE") {
		t.Fatalf("missing stream: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	t.Logf("missing stream:\n%s%s", stdout, stderr)

	// Bad flags: exit 2 with the value and the fix.
	_, stderr, code = runCLI(t, bin, env, "", "put", "--stream", "readings", "--count", "10", "--duplicates", "2")
	if code != 2 || !strings.Contains(stderr, "--duplicates 2 is not valid") {
		t.Fatalf("bad flag: exit %d, %s", code, stderr)
	}

	// --aggregate: KPL aggregated records that decode to every reading.
	stdout, stderr, code = runCLI(t, bin, env, "", "put", "--stream", "readings", "--count", "300", "--seed", "43", "--aggregate", "25")
	if code != 0 || !strings.Contains(stdout, "sent        300 records") || !strings.Contains(stdout, "aggregated  into") || stderr != "" {
		t.Fatalf("--aggregate: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	plain, aggregated, users := 0, 0, 0
	for _, data := range readStream(ctx, t, kc, "readings") {
		if !kpl.IsAggregated(data) {
			plain++
			continue
		}
		us, err := kpl.Decode(nil, data)
		if err != nil {
			t.Fatalf("an aggregated record does not decode: %v", err)
		}
		aggregated++
		users += len(us)
	}
	if plain != 302 || users != 300 || aggregated < 12 || aggregated > 150 {
		t.Fatalf("stream holds %d plain records and %d aggregated ones with %d readings; want 302 plain and 300 readings in 12 or more", plain, aggregated, users)
	}
}

// readStream returns the data of every record in every shard of stream.
func readStream(ctx context.Context, t *testing.T, kc *kinesis.Client, stream string) [][]byte {
	t.Helper()
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, sh := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			res, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Records {
				out = append(out, r.Data)
			}
			if len(res.Records) == 0 || aws.ToInt64(res.MillisBehindLatest) == 0 && len(res.Records) < 1000 {
				break
			}
			iter = res.NextShardIterator
		}
	}
	return out
}

// TestPutValidate checks flag validation without running anything; NaN and
// infinities must be refused (comparisons with NaN are false).
func TestPutValidate(t *testing.T) {
	base := func() putFlags {
		return putFlags{stream: "readings", count: 10, sensors: 100, concurrency: 4, retryTimeout: time.Minute, maxLateness: time.Second}
	}
	if _, _, _, err := func() (producer.Config, producer.GenOptions, uint64, error) {
		f := base()
		f.rate, f.duplicates, f.invalid, f.outOfOrder = "500/s", 0.5, 0.5, 1
		return f.validate(flag.NewFlagSet("put", flag.ContinueOnError))
	}(); err != nil {
		t.Fatalf("valid flags refused: %v", err)
	}
	cases := []struct {
		name string
		set  func(*putFlags)
		want string
	}{
		{"rate NaN", func(f *putFlags) { f.rate = "NaN" }, `--rate "NaN" is not valid`},
		{"rate nan/s", func(f *putFlags) { f.rate = "nan/s" }, `--rate "nan/s" is not valid`},
		{"rate Inf", func(f *putFlags) { f.rate = "Inf" }, `--rate "Inf" is not valid`},
		{"rate +Inf k", func(f *putFlags) { f.rate = "+Infk/s" }, `--rate "+Infk/s" is not valid`},
		{"rate zero", func(f *putFlags) { f.rate = "0" }, `--rate "0" is not valid`},
		{"rate negative", func(f *putFlags) { f.rate = "-5" }, `--rate "-5" is not valid`},
		{"duplicates NaN", func(f *putFlags) { f.duplicates = math.NaN() }, "--duplicates NaN is not valid"},
		{"invalid NaN", func(f *putFlags) { f.invalid = math.NaN() }, "--invalid NaN is not valid"},
		{"out-of-order NaN", func(f *putFlags) { f.outOfOrder = math.NaN() }, "--out-of-order NaN is not valid"},
		{"duplicates Inf", func(f *putFlags) { f.duplicates = math.Inf(1) }, "--duplicates +Inf is not valid"},
		{"duplicates plus invalid", func(f *putFlags) { f.duplicates, f.invalid = 0.6, 0.5 }, "is more than 1"},
		{"negative count", func(f *putFlags) { f.count = -1 }, "--count -1 is not valid"},
		{"sensors", func(f *putFlags) { f.sensors = 0 }, "--sensors 0 is not valid"},
		{"aggregate negative", func(f *putFlags) { f.aggregate = -1 }, "--aggregate -1 is not valid"},
		{"aggregate too many", func(f *putFlags) { f.aggregate = 10_001 }, "--aggregate 10001 is not valid"},
	}
	for _, c := range cases {
		f := base()
		c.set(&f)
		_, _, _, err := f.validate(flag.NewFlagSet("put", flag.ContinueOnError))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
