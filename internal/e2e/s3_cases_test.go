//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamproc/streamproc/internal/localesm"
	"github.com/streamproc/streamproc/internal/producer"
)

// Cases of the S3 on-failure destination (the construct's default): failed
// batches keep their records, so redrive needs no stream.
func init() {
	cases = append(cases,
		testCase{
			name: "S3: past MaxRecordAge, stream gone, redrive",
			// As in "retries exhausted": a short timeout keeps each invocation
			// of the throttled phase short.
			functionTimeout: 4 * time.Second,
			adjust: func(c *localesm.Config) {
				// Retried until the records are 60 s old (the smallest age
				// AWS accepts), then discarded as RecordAgeExceeded.
				c.MaximumRetryAttempts = nil
				c.MaximumRecordAge = localesm.MinRecordAge
			},
			run: func(c *caseCtx) {
				c.needS3()
				c.produce(producer.GenOptions{Seed: 21, Sensors: 30}, 500, 0, nil)
				c.settle()
				c.p.Sink.Throttle(time.Hour, 1)
				c.produce(producer.GenOptions{Seed: 22, Sensors: 30, OutOfOrder: 0.2}, 300, 0, nil)
				c.settle() // every batch of this phase ages out into the bucket
				c.p.Sink.Recover()
				d := c.p.DLQ()
				if len(d.Objects) == 0 {
					c.t.Fatalf("no failed-batch object after MaximumRecordAge")
				}
				for k, o := range d.Objects {
					if o.RequestContext.Condition != localesm.ConditionRecordAgeExceeded {
						c.t.Errorf("object %s: condition %q, want RecordAgeExceeded", k, o.RequestContext.Condition)
					}
				}
				v, err := check(c.ctx, c.p, c.produced, c.window)
				if err != nil {
					c.t.Fatal(err)
				}
				for _, p := range v.Problems {
					c.t.Errorf("before redrive: %s", p)
				}
				c.before = &v
				c.fault = fmt.Sprintf("%d objects (%d records) aged out", len(d.Objects), len(d.KeptRecords()))
				// The stream's records are gone for redrive: its Kinesis
				// endpoint is a closed port, so any stream read would fail.
				out, code := c.runRedrive("AWS_ENDPOINT_URL_KINESIS=" + deadEndpoint(c))
				if code != 0 || !strings.Contains(out, "REPLAYED") {
					c.t.Fatalf("streamctl redrive --bucket: exit %d", code)
				}
				// Again: nothing left, nothing applied twice.
				if out, code := c.runRedrive("AWS_ENDPOINT_URL_KINESIS=" + deadEndpoint(c)); code != 0 || !strings.Contains(out, "0 objects received") {
					c.t.Fatalf("second redrive: exit %d", code)
				}
				c.fault += ", redriven without the stream"
			},
			expect: func(c *caseCtx, v verdict) {
				if v.DLQMessages != 0 || v.Covered != 0 || v.Applied != int64(v.Unique) {
					c.t.Errorf("after redrive: %d objects left, %d records covered, applied %d of %d", v.DLQMessages, v.Covered, v.Applied, v.Unique)
				}
			},
		},
		testCase{
			name:   "S3: record over the invoke limit",
			adjust: func(c *localesm.Config) { c.MaximumRetryAttempts = localesm.Retries(1) },
			run: func(c *caseCtx) {
				c.needS3()
				// The stream takes records up to 10 MiB (MaxRecordSizeInKiB).
				if _, err := c.p.Kinesis.UpdateMaxRecordSize(c.ctx, &kinesis.UpdateMaxRecordSizeInput{StreamARN: aws.String(c.p.StreamARN), MaxRecordSizeInKiB: aws.Int32(10240)}); err != nil {
					c.t.Fatalf("UpdateMaxRecordSize: %v", err)
				}
				c.produce(producer.GenOptions{Seed: 31, Sensors: 20}, 300, 0, nil)
				// 5 MiB of data is about 6.7 MB as base64 in an event.
				big := append([]byte(`{"event_id":"big","sensor_id":"sensor-0001","ts":1,"temperature":20,"pad":"`), bytes.Repeat([]byte("z"), 5<<20)...)
				big = append(big, `"}`...)
				// streamctl put reads the stream's limit (DescribeStreamSummary)
				// and sends the 5 MiB line.
				c.putWithStreamctl(big)
				c.produced = append(c.produced, producer.Record{Entry: producer.Entry{PartitionKey: "sensor-0001", Data: big}, Kind: producer.Invalid, Reason: "5 MiB record"})
				c.produce(producer.GenOptions{Seed: 32, Sensors: 20}, 300, 0, nil)
				c.settle()
				s := c.p.Poller.Stats()
				if s.TooLarge == 0 || s.OnFailureRecords != 1 {
					c.t.Fatalf("the record did not go to the bucket alone: %+v", s)
				}
				out, code := c.runRedrive()
				if code != 1 || !strings.Contains(out, "KEPT-TOO-LARGE") || !strings.Contains(out, "too large to invoke: shardId-") {
					c.t.Fatalf("streamctl redrive --bucket: exit %d, want 1 with the record reported", code)
				}
				c.fault = fmt.Sprintf("5 MiB record: %d refused invokes, kept in S3", s.TooLarge)
			},
			expect: func(c *caseCtx, v verdict) {
				if v.DLQMessages != 1 || v.Covered != 1 || v.Applied != int64(v.Unique) {
					c.t.Errorf("want the one object kept with its record and every other reading applied: %d objects, %d covered, applied %d of %d", v.DLQMessages, v.Covered, v.Applied, v.Unique)
				}
			},
		},
	)
}

// needS3 stops a case that needs the S3 destination when the template has
// another one.
func (c *caseCtx) needS3() {
	c.t.Helper()
	if c.p.FailedBucket == "" {
		c.t.Fatalf("the template's mapping has no S3 on-failure destination (template %s): re-synthesize with the construct's default OnFailure", rel(template))
	}
}

// putWithStreamctl sends one NDJSON line with `streamctl put --from`, as an
// operator would (its partition key is the line's sensor_id).
func (c *caseCtx) putWithStreamctl(line []byte) {
	c.t.Helper()
	file := filepath.Join(c.t.TempDir(), "big.ndjson")
	if err := os.WriteFile(file, append(line, '\n'), 0o644); err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.CommandContext(c.ctx, streamctl, "put", "--stream", c.p.StreamName, "--from", file, "--no-progress")
	cmd.Env = append(cmd.Environ(), c.p.Env()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("streamctl put: %v\n%s", err, out)
	}
}

// runRedrive runs `streamctl redrive --bucket` against the local pipeline
// and returns its output and exit code.
func (c *caseCtx) runRedrive(env ...string) (string, int) {
	c.t.Helper()
	cmd := exec.CommandContext(c.ctx, streamctl, "redrive", "--bucket", c.p.FailedBucket, "--no-progress")
	cmd.Env = append(append(cmd.Environ(), c.p.Env()...), env...)
	out, err := cmd.CombinedOutput()
	c.t.Logf("streamctl redrive --bucket %s:\n%s", c.p.FailedBucket, out)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	c.t.Fatalf("streamctl redrive: %v", err)
	return "", -1
}

// deadEndpoint is a loopback URL nothing listens on.
func deadEndpoint(c *caseCtx) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr
}
