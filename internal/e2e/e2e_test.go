//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/gobuild"
	"github.com/streamproc/streamproc/internal/localesm"
	"github.com/streamproc/streamproc/internal/localrun"
	"github.com/streamproc/streamproc/internal/producer"
)

// Shared by every case: the processor bootstrap, streamctl, the template.
var (
	root      string
	bootstrap string
	streamctl string
	template  string
)

func TestMain(m *testing.M) {
	if err := prepare(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func prepare() error {
	var err error
	if root, err = emulator.RepoRoot(); err != nil {
		return err
	}
	template = os.Getenv("STREAMPROC_TEMPLATE")
	if template == "" {
		template = filepath.Join(root, localrun.DefaultTemplate)
	}
	if _, err := os.Stat(template); err != nil {
		// Never silently: the table says which template ran.
		fmt.Fprintf(os.Stderr, "e2e: WARNING: %s not found (run `make synth`); using the hand-written fixture internal/localrun/testdata/stack.template.json\n", template)
		template = filepath.Join(root, "internal/localrun/testdata/stack.template.json")
	}
	dir, err := os.MkdirTemp("", "streamproc-e2e-")
	if err != nil {
		return err
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	var berr, serr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		bootstrap, berr = gobuild.Bootstrap(ctx, gobuild.Options{Package: "./functions/processor", Dir: root, OutDir: filepath.Join(dir, "processor"), Arch: gobuild.Host()})
	}()
	go func() {
		defer wg.Done()
		streamctl = filepath.Join(dir, "streamctl")
		cmd := exec.Command("go", "build", "-o", streamctl, "./cmd/streamctl")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			serr = fmt.Errorf("build streamctl: %v\n%s", err, out)
		}
	}()
	wg.Wait()
	if berr != nil {
		return berr
	}
	return serr
}

// row is one line of the suite's table.
type row struct {
	name     string
	v        verdict
	stats    localesm.Stats
	fault    string
	result   string
	elapsed  time.Duration
	produced int
}

var (
	rowsMu sync.Mutex
	rows   []row
)

func record(r row) {
	rowsMu.Lock()
	defer rowsMu.Unlock()
	rows = append(rows, r)
}

func printTable(t *testing.T) {
	rowsMu.Lock()
	defer rowsMu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "\nend-to-end fault suite (template %s)\n\n", rel(template))
	fmt.Fprintf(&b, "| %-40s | %8s | %7s | %5s | %7s | %8s | %11s | %-13s | %-17s | %-42s | %-6s | %6s |\n",
		"case", "produced", "unique", "dups", "invalid", "applied", "quarantined", "DLQ left/sent", "invokes (failed)", "fault", "result", "time")
	fmt.Fprintf(&b, "|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", dash(42), dash(10), dash(9), dash(7), dash(9), dash(10), dash(13), dash(15), dash(19), dash(44), dash(8), dash(8))
	for _, r := range rows {
		fmt.Fprintf(&b, "| %-40s | %8d | %7d | %5d | %7d | %8d | %11d | %-13s | %-17s | %-42s | %-6s | %5.1fs |\n",
			r.name, r.produced, r.v.Unique, r.v.Duplicates, r.v.Invalid, r.v.Applied, r.v.Quarantined,
			fmt.Sprintf("%d/%d", r.v.DLQMessages, r.stats.OnFailureRecords), fmt.Sprintf("%d (%d)", r.stats.Invocations, r.stats.FailedInvocations),
			r.fault, r.result, r.elapsed.Seconds())
	}
	fmt.Println(b.String())
}

func dash(n int) string { return strings.Repeat("-", n) }

func rel(p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}

// TestEndToEnd runs the cases in order and prints the table.
func TestEndToEnd(t *testing.T) {
	suiteStart := time.Now()
	t.Cleanup(func() {
		printTable(t)
		t.Logf("suite took %s", time.Since(suiteStart).Round(time.Second))
	})
	for _, c := range append(slices.Clone(cases), eventTimeCases...) {
		t.Run(c.name, func(t *testing.T) { runCase(t, c) })
	}
}

type caseCtx struct {
	t        *testing.T
	ctx      context.Context
	p        *localrun.Pipeline
	produced []producer.Record
	fault    string
	window   time.Duration
	before   *verdict // a verdict taken inside the case (shown if the case stops early)
}

type testCase struct {
	name string
	// functionTimeout overrides the template's function timeout.
	functionTimeout time.Duration
	// shards overrides the stream's shard count.
	shards int
	// adjust changes the mapping's settings from the template's.
	adjust func(*localesm.Config)
	// env overrides function variables (the engine's bounds, shorter than
	// the template's so a case closes windows in seconds).
	env []string
	run func(c *caseCtx)
	// expect checks the case's own promises beyond conservation.
	expect func(c *caseCtx, v verdict)
}

func runCase(t *testing.T, tc testCase) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := localrun.Start(ctx, localrun.Options{
		Root: root, Template: template, Bootstrap: bootstrap, FunctionTimeout: tc.functionTimeout, Shards: tc.shards,
		FunctionEnv: tc.env,
		// The template's fire schedule, played every second.
		FireEvery: time.Second,
		// Poll idle shards every 200ms instead of AWS's 1s, so a case
		// settles faster; every other setting is the template's.
		Adjust: func(c *localesm.Config) {
			c.PollInterval = 200 * time.Millisecond
			if tc.adjust != nil {
				tc.adjust(c)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	t.Logf("pipeline up in %s", time.Since(start).Round(100*time.Millisecond))
	c := &caseCtx{t: t, ctx: ctx, p: p, window: windowSize(p)}
	r := row{name: tc.name, result: "FAIL"}
	defer func() {
		r.elapsed = time.Since(start)
		r.stats = p.Poller.Stats()
		r.fault = c.fault
		r.produced = len(c.produced)
		if r.v.InStream == 0 && c.before != nil {
			r.v = *c.before
		}
		if !t.Failed() && !t.Skipped() {
			r.result = "ok"
		} else if t.Skipped() {
			r.result = "skip"
		}
		record(r)
		if t.Failed() {
			t.Logf("function log tail:\n%s", p.FunctionLogTail())
		}
	}()
	tc.run(c)
	c.settle()
	// One more fire request, answered before the check: every window that
	// is due has its results published.
	c.fire()
	v, err := check(ctx, p, c.produced, c.window)
	if err != nil {
		t.Fatal(err)
	}
	r.v = v
	for _, pr := range v.Problems {
		t.Errorf("conservation: %s", pr)
	}
	if tc.expect != nil {
		tc.expect(c, v)
	}
	// Every invocation's EMF says received = succeeded + quarantined + failed
	// (what the RecordConservation alarm watches in production).
	if m := p.Metrics(); m[contract.MetricRecordsReceived] != m[contract.MetricRecordsSucceeded]+m[contract.MetricRecordsQuarantined]+m[contract.MetricRecordsFailed] {
		t.Errorf("EMF conservation: received %v != succeeded %v + quarantined %v + failed %v", m[contract.MetricRecordsReceived],
			m[contract.MetricRecordsSucceeded], m[contract.MetricRecordsQuarantined], m[contract.MetricRecordsFailed])
	}
	if len(c.produced) > 0 && v.InStream < len(c.produced) {
		t.Errorf("%d records produced, %d in the stream", len(c.produced), v.InStream)
	}
	t.Logf("verdict %+v\npoller %+v\nmetrics %v", v, p.Poller.Stats(), p.Metrics())
}

func windowSize(p *localrun.Pipeline) time.Duration {
	if s, ok := p.Stack.Func.Env["WINDOW_SIZE"].(string); ok {
		if d, err := time.ParseDuration(s); err == nil {
			return d
		}
	}
	return time.Minute
}

// settle waits until the poller has drained the stream.
func (c *caseCtx) settle() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 3*time.Minute)
	defer cancel()
	if err := c.p.WaitIdle(ctx, time.Second); err != nil {
		c.t.Fatalf("pipeline did not settle: %v", err)
	}
}

// produce generates n records with o and puts them (rate 0: as fast as the
// stream takes them). extra records are inserted at the given positions.
func (c *caseCtx) produce(o producer.GenOptions, n int, rate float64, extra map[int]producer.Record) {
	c.t.Helper()
	if o.RunID == "" {
		o.RunID = fmt.Sprintf("%s-%d", strings.ReplaceAll(c.t.Name(), "/", "-"), len(c.produced))
	}
	g := producer.NewGenerator(o)
	var recs []producer.Record
	for i := range n {
		if x, ok := extra[i]; ok {
			recs = append(recs, x)
		}
		recs = append(recs, g.Next())
	}
	prod := producer.New(c.p.Kinesis, producer.Config{Stream: c.p.StreamName, Rate: rate})
	rep, err := prod.Run(c.ctx, producer.SliceSource(producer.Entries(recs)))
	if err != nil || rep.Failed > 0 {
		c.t.Fatalf("producer: %v (report %+v)", err, rep)
	}
	c.produced = append(c.produced, recs...)
}

// fire sends the schedule's payload through the local Lambda Invoke API.
func (c *caseCtx) fire() {
	c.t.Helper()
	lc := lambda.NewFromConfig(localrun.AWSConfig(), func(o *lambda.Options) { o.BaseEndpoint = aws.String(c.p.Endpoints["LAMBDA"]) })
	out, err := lc.Invoke(c.ctx, &lambda.InvokeInput{FunctionName: aws.String(c.p.FunctionName), Payload: []byte(eventtime.FireRequest)})
	if err != nil {
		c.t.Fatal(err)
	}
	if out.FunctionError != nil {
		c.t.Fatalf("fire request: function error %s: %s", aws.ToString(out.FunctionError), out.Payload)
	}
}

// redeliver invokes the function through the local Lambda Invoke API with a
// Kinesis event of stream records [from, to) of one shard, as the event
// source mapping does when it retries a batch.
func (c *caseCtx) redeliver(shardIndex, from, to int) {
	c.t.Helper()
	recs, err := readStream(c.ctx, c.p.Kinesis, c.p.StreamName)
	if err != nil {
		c.t.Fatal(err)
	}
	var shard []streamRecord
	want := fmt.Sprintf("shardId-%012d", shardIndex)
	for _, r := range recs {
		if r.Shard == want {
			shard = append(shard, r)
		}
	}
	to = min(to, len(shard))
	var ev events.KinesisEvent
	for _, r := range shard[from:to] {
		ev.Records = append(ev.Records, events.KinesisEventRecord{
			AwsRegion: localrun.Region, EventID: r.Shard + ":" + r.Seq, EventName: "aws:kinesis:record", EventSource: "aws:kinesis",
			EventSourceArn: c.p.StreamARN, EventVersion: "1.0",
			Kinesis: events.KinesisRecord{Data: r.Data, SequenceNumber: r.Seq, PartitionKey: "redelivery", KinesisSchemaVersion: "1.0",
				ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: time.Now()}},
		})
	}
	payload, _ := json.Marshal(ev)
	lc := lambda.NewFromConfig(localrun.AWSConfig(), func(o *lambda.Options) { o.BaseEndpoint = aws.String(c.p.Endpoints["LAMBDA"]) })
	out, err := lc.Invoke(c.ctx, &lambda.InvokeInput{FunctionName: aws.String(c.p.FunctionName), Payload: payload})
	if err != nil {
		c.t.Fatal(err)
	}
	if out.FunctionError != nil {
		c.t.Fatalf("redelivery: function error %s: %s", aws.ToString(out.FunctionError), out.Payload)
	}
	var resp events.KinesisEventResponse
	_ = json.Unmarshal(out.Payload, &resp)
	if len(resp.BatchItemFailures) > 0 {
		c.t.Fatalf("redelivery: %d batch item failures", len(resp.BatchItemFailures))
	}
}
