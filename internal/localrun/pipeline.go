package localrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/gobuild"
	"github.com/streamproc/streamproc/internal/localesm"
	"github.com/streamproc/streamproc/internal/sqsfake"
)

// The local Kinesis emulators (Options.Kinesis).
const (
	KinesisLocal = "kinesis-local"
	Kinesalite   = "kinesalite"
)

// Local identity of everything the run creates.
const (
	Region    = "us-east-1"
	AccountID = "000000000000"
)

// DefaultTemplate is the template `make synth` writes for the dev stage,
// relative to the repository root.
const DefaultTemplate = "cdk.out/StreamProc-dev.template.json"

// DefaultPackage is the example pipeline's function, relative to the
// repository root.
const DefaultPackage = "./functions/processor"

// Options configure a local pipeline.
type Options struct {
	// Root is the repository root.
	// Default: emulator.RepoRoot().
	Root string
	// Template is the synthesized template to run.
	// Default: Root/cdk.out/StreamProc-dev.template.json.
	Template string
	// Mapping picks the event source mapping when the template has several.
	Mapping string
	// Package is the function's main package: a directory relative to Root
	// (or absolute), built inside the Go module that holds it (see
	// BuildTarget), or an import path built in Root.
	// Default: DefaultPackage.
	Package string
	// Bootstrap is a prebuilt bootstrap for this machine; empty builds Package.
	Bootstrap string
	// Adjust may change the mapping's configuration before the poller starts
	// (tests shorten the poll interval). The template stays the source.
	Adjust func(*localesm.Config)
	// FunctionEnv adds variables to the function's environment.
	FunctionEnv []string
	// FunctionTimeout overrides the template's function timeout (tests that
	// exhaust retries against a failing sink would otherwise wait for the
	// processor to use most of a long timeout on every attempt).
	// Default: the template's Timeout.
	FunctionTimeout time.Duration
	// Shards overrides the stream's ShardCount (a case that needs several
	// shards against a one-shard dev stack).
	// Default: the template's ShardCount.
	Shards int
	// ParallelizationFactor, BatchSize and BatchingWindow override the
	// template's mapping (sizing runs); BatchingWindow applies when
	// BatchingWindowSet. Default: the template's values.
	ParallelizationFactor int
	BatchSize             int
	BatchingWindow        time.Duration
	BatchingWindowSet     bool
	// Kinesis is the local Kinesis: KinesisLocal (kinesis-local, the
	// kinesis-mock project LocalStack embeds: more APIs, slows down as a shard
	// fills) or Kinesalite (carries load: tens of thousands of records/s).
	// Default: KinesisLocal.
	Kinesis string
	// FireEvery plays the template's schedules (the event-time engine's fire
	// rule) at this period instead of their rate, so that windows close
	// within seconds of the watermark passing them locally; negative plays
	// them at the template's rate.
	// Default: 5 seconds
	FireEvery time.Duration
	// Logger receives the poller's decisions. Default: discard.
	Logger *slog.Logger
	// Progress receives start-up steps, one line each. Default: discard.
	Progress io.Writer
}

// Pipeline is a running local pipeline.
type Pipeline struct {
	Stack        *Stack
	StreamName   string
	StreamARN    string
	FunctionName string
	FunctionARN  string
	// TableName is the event-time engine's state table
	// (STREAMPROC_EVENTTIME_TABLE), else the template's first table.
	TableName string
	// ResultsStream is the event-time engine's results stream
	// (STREAMPROC_EVENTTIME_RESULTS_STREAM_ARN), if any.
	ResultsStream string
	// Fires and FireErrors count the schedule's invocations and those that
	// failed.
	Fires, FireErrors atomic.Int64
	// lastFireError is the latest failed fire request's error or answer.
	lastFireError atomic.Value
	DLQName       string // the on-failure queue
	DLQURL        string
	// FailedBucket is the S3 on-failure destination's bucket ("" with an
	// SQS destination), served by S3Server.
	FailedBucket string
	S3           *s3.Client
	S3Server     *emulator.S3Server

	Kinesis  *kinesis.Client
	DynamoDB *dynamodb.Client // straight to dynalite, never through the fault proxy
	SQS      *sqs.Client
	Poller   *localesm.Poller
	Pool     *localesm.RIEPool
	Sink     *SinkFaults
	SQSFake  *sqsfake.Server

	// Endpoints per service name as in AWS_ENDPOINT_URL_<SERVICE>.
	Endpoints map[string]string

	kin, ddb   *emulator.Process
	lambda     *lambdaAPI
	metrics    *emfSink
	tmp        string
	cancel     context.CancelFunc
	procCancel context.CancelFunc
	done       chan error
	stopOnce   sync.Once
	started    time.Time
}

// AWSConfig is an SDK configuration for the local identity (dummy static
// credentials, the local region); set BaseEndpoint per client.
func AWSConfig() aws.Config {
	return aws.Config{Region: Region, Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
}

// Start brings the pipeline up. On error everything already started is
// stopped. Stop it when done; cancelling ctx also stops the processes.
func Start(ctx context.Context, o Options) (_ *Pipeline, err error) {
	if o, err = o.withDefaults(); err != nil {
		return nil, err
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	step := func(format string, a ...any) { fmt.Fprintf(progress, format+"\n", a...) }

	st, err := loadStack(o)
	if err != nil {
		return nil, err
	}
	o.overrideStack(st)
	step("template   %s: mapping %s (batch %d, window %s, parallelization %d, bisect %v, retries %d, partial responses %v)",
		o.Template, st.Mapping.LogicalID, orInt(st.Mapping.Config.BatchSize, localesm.DefaultBatchSize), st.Mapping.Config.BatchingWindow,
		orInt(st.Mapping.Config.ParallelizationFactor, 1), st.Mapping.Config.BisectBatchOnFunctionError,
		retriesOf(st.Mapping.Config), st.Mapping.Config.ReportBatchItemFailures)

	p := &Pipeline{Stack: st, started: time.Now(), metrics: newEMFSink(), Endpoints: map[string]string{}}
	// The processes live until Stop, not until ctx ends: after Ctrl-C the
	// caller can still read the table and the DLQ for its summary. A ctx
	// that ends during start-up aborts the start.
	procCtx, procCancel := context.WithCancel(context.Background())
	p.procCancel = procCancel
	startDone := make(chan struct{})
	defer close(startDone)
	go func() {
		select {
		case <-ctx.Done():
			procCancel()
		case <-startDone:
		}
	}()
	defer func() {
		if err == nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		if err != nil {
			p.Stop()
		}
	}()

	bootstrap, err := p.startEmulatorsAndBuild(procCtx, o)
	if err != nil {
		return nil, err
	}
	step("emulators  %s %s, dynalite %s, SQS fake %s", p.kin.Name, p.kin.Endpoint, p.ddb.Endpoint, p.SQSFake.URL())
	step("function   %s built to %s", o.Package, bootstrap)
	if p.Sink, err = startSinkFaults(p.ddb.Endpoint); err != nil {
		return nil, err
	}
	p.connectClients()
	queueURL, err := p.createResources(procCtx)
	if err != nil {
		return nil, err
	}
	if p.FailedBucket != "" {
		step("resources  stream %s (%d shards), table %s, on-failure bucket %s, quarantine queue %s", p.StreamName, st.Stream.ShardCount, orStr(p.TableName, "(none)"), p.FailedBucket, orStr(p.DLQName, "(none)"))
	} else {
		step("resources  stream %s (%d shards), table %s, on-failure queue %s", p.StreamName, st.Stream.ShardCount, orStr(p.TableName, "(none)"), orStr(p.DLQName, "(none)"))
	}
	fnEnv, err := p.functionEnv(queueURL, o.FunctionEnv)
	if err != nil {
		return nil, err
	}
	mc := p.mappingConfig(o.Adjust)
	size, err := p.startFunction(procCtx, bootstrap, fnEnv, mc)
	if err != nil {
		return nil, err
	}
	step("function   %s: %d execution environments under aws-lambda-rie, Lambda API %s", p.FunctionName, size, p.lambda.URL)
	if err = p.startPoller(ctx, mc, o.Logger); err != nil {
		return nil, err
	}
	step("poller     polling %d shards from %s", st.Stream.ShardCount, mc.StartingPosition)
	for _, sc := range st.Schedules {
		every := o.FireEvery
		switch {
		case every == 0:
			every = 5 * time.Second
		case every < 0:
			every = sc.Rate
		}
		go p.playSchedule(procCtx, sc, every)
		step("schedule   %s (%s in the template) played every %s with %s", sc.LogicalID, sc.Rate, every, sc.Input)
	}
	return p, nil
}

// overrideStack applies the sizing flags (--shards, --parallelization-factor,
// --batch-size, --batching-window) and the function timeout over the
// template's values.
func (o Options) overrideStack(st *Stack) {
	if o.Shards > 0 {
		st.Stream.ShardCount = o.Shards
	}
	if o.FunctionTimeout > 0 {
		st.Func.Timeout = o.FunctionTimeout
		st.Mapping.Config.FunctionTimeout = o.FunctionTimeout
	}
	if o.ParallelizationFactor > 0 {
		st.Mapping.Config.ParallelizationFactor = o.ParallelizationFactor
	}
	if o.BatchSize > 0 {
		st.Mapping.Config.BatchSize = o.BatchSize
	}
	if o.BatchingWindowSet {
		st.Mapping.Config.BatchingWindow = o.BatchingWindow
	}
}

// withDefaults fills in Root, Template and Package.
func (o Options) withDefaults() (Options, error) {
	var err error
	if o.Root == "" {
		if o.Root, err = emulator.RepoRoot(); err != nil {
			return o, err
		}
	}
	if o.Template == "" {
		o.Template = filepath.Join(o.Root, DefaultTemplate)
	}
	if o.Package == "" {
		o.Package = DefaultPackage
	}
	return o, nil
}

// loadStack reads the template and applies the overrides of o.
func loadStack(o Options) (*Stack, error) {
	st, err := LoadStack(o.Template, o.Mapping)
	if err != nil {
		return nil, err
	}
	if o.Shards > 0 {
		st.Stream.ShardCount = o.Shards
	}
	if o.FunctionTimeout > 0 {
		st.Func.Timeout = o.FunctionTimeout
		st.Mapping.Config.FunctionTimeout = o.FunctionTimeout
	}
	return st, nil
}

// BuildTarget returns where to run `go build` for pkg and what to build
// there. A package given as a directory ("./examples/orders/functions/orders",
// relative to root, or absolute) is built inside the Go module that holds it,
// found by its nearest go.mod: a function in another module (an app with its
// own go.mod that depends on streamproc) builds with that module's
// dependencies. An import path is built in root.
func BuildTarget(root, pkg string) (dir, target string, err error) {
	if !strings.HasPrefix(pkg, ".") && !filepath.IsAbs(pkg) {
		return root, pkg, nil
	}
	abs := pkg
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(root, pkg)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return "", "", fmt.Errorf("localrun: package %s: %s is not a directory: give the directory of the function's main package", pkg, abs)
	}
	for dir = abs; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", fmt.Errorf("localrun: package %s: no go.mod in %s or above it", pkg, abs)
		}
		dir = parent
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil {
		return "", "", err
	}
	if rel == "." {
		return dir, ".", nil
	}
	return dir, "./" + filepath.ToSlash(rel), nil
}

// startEmulatorsAndBuild starts kinesis-local, dynalite and the SQS fake and
// builds the function for this machine, concurrently. It returns the
// bootstrap's path.
func (p *Pipeline) startEmulatorsAndBuild(ctx context.Context, o Options) (string, error) {
	var err error
	if p.tmp, err = os.MkdirTemp("", "streamproc-local-"); err != nil {
		return "", err
	}
	var wg sync.WaitGroup
	var kinErr, ddbErr, buildErr error
	bootstrap := o.Bootstrap
	wg.Add(3)
	go func() {
		defer wg.Done()
		switch o.Kinesis {
		case Kinesalite:
			p.kin, kinErr = emulator.StartKinesalite(ctx)
		case "", KinesisLocal:
			p.kin, kinErr = emulator.StartKinesis(ctx, emulator.KinesisOptions{})
		default:
			kinErr = fmt.Errorf("localrun: unknown local Kinesis %q: use %s or %s", o.Kinesis, Kinesalite, KinesisLocal)
		}
	}()
	go func() { defer wg.Done(); p.ddb, ddbErr = emulator.StartDynamo(ctx) }()
	go func() {
		defer wg.Done()
		if bootstrap != "" {
			return
		}
		dir, target, err := BuildTarget(o.Root, o.Package)
		if err != nil {
			buildErr = err
			return
		}
		bootstrap, buildErr = gobuild.Bootstrap(ctx, gobuild.Options{Package: target, Dir: dir, OutDir: filepath.Join(p.tmp, "fn"), Arch: gobuild.Host()})
	}()
	if p.SQSFake, err = sqsfake.StartWithOptions(sqsfake.Options{Region: Region, AccountID: AccountID}); err != nil {
		wg.Wait()
		return "", err
	}
	wg.Wait()
	return bootstrap, errors.Join(kinErr, ddbErr, buildErr)
}

// connectClients makes the SDK clients of the emulators.
func (p *Pipeline) connectClients() {
	cfg := AWSConfig()
	p.Kinesis = kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(p.kin.Endpoint) })
	p.DynamoDB = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(p.ddb.Endpoint) })
	p.SQS = sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(p.SQSFake.URL()) })
	p.Endpoints["KINESIS"] = p.kin.Endpoint
	p.Endpoints["DYNAMODB"] = p.ddb.Endpoint
	p.Endpoints["SQS"] = p.SQSFake.URL()
}

// createResources creates the stream, queues and tables as the template
// defines them. It returns the queue URLs by logical id.
func (p *Pipeline) createResources(ctx context.Context) (map[string]string, error) {
	st := p.Stack
	p.StreamName = st.Stream.Name
	p.StreamARN = streamARN(p.StreamName)
	if err := p.createStream(ctx, st.Stream); err != nil {
		return nil, err
	}
	for _, o := range st.Streams {
		if err := p.createStream(ctx, o); err != nil {
			return nil, err
		}
	}
	queueURL := map[string]string{}
	for _, q := range st.Queues {
		out, err := p.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(q.Name), Attributes: q.Attributes})
		if err != nil {
			return nil, fmt.Errorf("localrun: create queue %s: %w", q.Name, err)
		}
		queueURL[q.LogicalID] = aws.ToString(out.QueueUrl)
	}
	for _, tb := range st.Tables {
		if err := p.createTable(ctx, tb); err != nil {
			return nil, err
		}
	}
	if len(st.Tables) > 0 {
		p.TableName = st.Tables[0].Name
	}
	if q := st.Mapping.OnFailureQueue; q != "" {
		for _, qq := range st.Queues {
			if qq.LogicalID == q {
				p.DLQName = qq.Name
			}
		}
		p.DLQURL = queueURL[q]
	}
	if b := st.Mapping.OnFailureBucket; b != nil {
		// The quarantine queue stays the DLQ that DLQ() and redrive read.
		if q := quarantineQueue(st); q != nil {
			p.DLQName, p.DLQURL = q.Name, queueURL[q.LogicalID]
		}
		var err error
		if p.S3Server, err = emulator.StartS3(b.Name); err != nil {
			return nil, err
		}
		p.FailedBucket = b.Name
		p.Endpoints["S3"] = p.S3Server.Endpoint
		p.S3 = s3.NewFromConfig(AWSConfig(), func(o *s3.Options) {
			o.BaseEndpoint = aws.String(p.S3Server.Endpoint)
			o.UsePathStyle = true
			o.DisableLogOutputChecksumValidationSkipped = true
		})
	}
	return queueURL, nil
}

// functionEnv is the function's environment: the template's variables
// resolved to the local resources, the variables Lambda sets, the SDK
// endpoint variables, then extra.
func (p *Pipeline) functionEnv(queueURL map[string]string, extra []string) ([]string, error) {
	st := p.Stack
	p.FunctionName = st.Func.Name
	p.FunctionARN = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", Region, AccountID, p.FunctionName)
	resolve := func(id, attr string) (string, bool) {
		switch {
		case id == "AWS::Region":
			return Region, true
		case id == "AWS::AccountId":
			return AccountID, true
		case id == st.Stream.LogicalID && attr == "":
			return p.StreamName, true
		case id == st.Stream.LogicalID && attr == "Arn":
			return p.StreamARN, true
		case id == st.Func.LogicalID && attr == "":
			return p.FunctionName, true
		case id == st.Func.LogicalID && attr == "Arn":
			return p.FunctionARN, true
		}
		for _, o := range st.Streams {
			if o.LogicalID == id {
				switch attr {
				case "":
					return o.Name, true
				case "Arn":
					return streamARN(o.Name), true
				}
			}
		}
		for _, q := range st.Queues {
			if q.LogicalID == id {
				switch attr {
				case "", "QueueUrl":
					return queueURL[id], true
				case "Arn":
					return p.SQSFake.QueueARN(q.Name), true
				case "QueueName":
					return q.Name, true
				}
			}
		}
		if b := st.Mapping.OnFailureBucket; b != nil && id == b.LogicalID {
			switch attr {
			case "":
				return b.Name, true
			case "Arn":
				return "arn:aws:s3:::" + b.Name, true
			}
		}
		for _, tb := range st.Tables {
			if tb.LogicalID == id {
				switch attr {
				case "":
					return tb.Name, true
				case "Arn":
					return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", Region, AccountID, tb.Name), true
				}
			}
		}
		return "", false
	}
	env, err := st.Func.ResolveEnv(resolve)
	if err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	if t := env[contract.EnvEventTimeTable]; t != "" {
		p.TableName = t
	}
	if arn := env[contract.EnvEventTimeResultsStreamARN]; arn != "" {
		p.ResultsStream = arn[strings.LastIndex(arn, "/")+1:]
	}
	fnEnv := []string{
		"AWS_REGION=" + Region, "AWS_DEFAULT_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_SESSION_TOKEN=",
		"AWS_ENDPOINT_URL_KINESIS=" + p.kin.Endpoint,
		"AWS_ENDPOINT_URL_DYNAMODB=" + p.Sink.URL, // through the fault proxy
		"AWS_ENDPOINT_URL_SQS=" + p.SQSFake.URL(),
	}
	if p.S3Server != nil {
		fnEnv = append(fnEnv, "AWS_ENDPOINT_URL_S3="+p.S3Server.Endpoint)
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fnEnv = append(fnEnv, k+"="+env[k])
	}
	return append(fnEnv, extra...), nil
}

// mappingConfig is the template's mapping configuration with the local names
// and ARNs, after adjust.
func (p *Pipeline) mappingConfig(adjust func(*localesm.Config)) localesm.Config {
	mc := p.Stack.Mapping.Config
	mc.StreamName, mc.StreamARN, mc.FunctionARN, mc.Region = p.StreamName, p.StreamARN, p.FunctionARN, Region
	if p.DLQURL != "" {
		mc.OnFailureARN = p.SQSFake.QueueARN(p.DLQName)
	}
	if p.FailedBucket != "" {
		mc.OnFailureARN = "arn:aws:s3:::" + p.FailedBucket
	}
	if adjust != nil {
		adjust(&mc)
	}
	return mc
}

// startFunction runs the bootstrap under aws-lambda-rie: one execution
// environment per concurrent batch (shards x parallelization factor), and
// one for synchronous invocations through the local Lambda API (redrive).
// It returns the number of environments.
func (p *Pipeline) startFunction(ctx context.Context, bootstrap string, env []string, mc localesm.Config) (int, error) {
	size := p.Stack.Stream.ShardCount*orInt(mc.ParallelizationFactor, 1) + 1
	var err error
	if p.Pool, err = localesm.NewRIEPool(ctx, localesm.RIEOptions{Bootstrap: bootstrap, Env: env, Size: size, Timeout: p.Stack.Func.Timeout, Output: p.metrics}); err != nil {
		return 0, err
	}
	if p.lambda, err = startLambdaAPI(p.Pool, p.FunctionName); err != nil {
		return 0, err
	}
	p.Endpoints["LAMBDA"] = p.lambda.URL
	return size, nil
}

// startPoller starts the local event source mapping; it runs until ctx ends
// or Stop.
func (p *Pipeline) startPoller(ctx context.Context, mc localesm.Config, logger *slog.Logger) error {
	var dest localesm.Destination
	switch {
	case p.FailedBucket != "":
		dest = localesm.S3Destination{Client: p.S3, Bucket: p.FailedBucket}
	case p.DLQURL != "":
		dest = localesm.SQSDestination{Client: p.SQS, QueueURL: p.DLQURL}
	}
	var err error
	if p.Poller, err = localesm.New(mc, localesm.Options{Kinesis: p.Kinesis, Invoker: p.Pool, Destination: dest, Logger: logger}); err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(ctx)
	p.cancel = cancel
	p.done = make(chan error, 1)
	go func() { p.done <- p.Poller.Run(pctx) }()
	return nil
}

// playSchedule invokes the function with the schedule's payload every
// period until ctx ends, as EventBridge would (one invoke at a time).
func (p *Pipeline) playSchedule(ctx context.Context, sc Schedule, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ictx, cancel := context.WithTimeout(ctx, p.Stack.Func.Timeout+5*time.Second)
		out, err := p.Pool.Invoke(ictx, []byte(sc.Input))
		cancel()
		p.Fires.Add(1)
		switch {
		case err != nil:
			p.FireErrors.Add(1)
			p.lastFireError.Store(err.Error())
		case bytes.Contains(out, []byte(`"errorMessage"`)):
			p.FireErrors.Add(1)
			p.lastFireError.Store(string(out))
		}
	}
}

// Env is the environment for a client process (streamctl put, redrive) to
// reach the local pipeline: region, dummy credentials, AWS_ENDPOINT_URL_*.
func (p *Pipeline) Env() []string {
	env := []string{"AWS_REGION=" + Region, "AWS_DEFAULT_REGION=" + Region, "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local"}
	for svc, url := range p.Endpoints {
		env = append(env, "AWS_ENDPOINT_URL_"+svc+"="+url)
	}
	return env
}

// Metrics returns the totals of the function's EMF metrics so far.
func (p *Pipeline) Metrics() map[string]float64 { return p.metrics.Sums() }

// FunctionLogTail returns the function's last output lines.
func (p *Pipeline) FunctionLogTail() string { return p.metrics.Tail() }

// WaitIdle waits until the poller has read everything and settled every batch.
func (p *Pipeline) WaitIdle(ctx context.Context, quiet time.Duration) error {
	select {
	case err := <-p.done:
		p.done <- err
		return fmt.Errorf("localrun: the poller stopped: %v", err)
	default:
	}
	return p.Poller.WaitIdle(ctx, quiet)
}

// Stop stops the poller and every process and server the pipeline started.
// It is safe to call more than once.
func (p *Pipeline) Stop() {
	p.stopOnce.Do(func() {
		if p.cancel != nil {
			p.cancel()
			<-p.done
		}
		if p.lambda != nil {
			p.lambda.close()
		}
		if p.Pool != nil {
			p.Pool.Stop()
		}
		if p.Sink != nil {
			p.Sink.close()
		}
		if p.SQSFake != nil {
			_ = p.SQSFake.Close()
		}
		if p.S3Server != nil {
			p.S3Server.Stop()
		}
		if p.kin != nil {
			p.kin.Stop()
		}
		if p.ddb != nil {
			p.ddb.Stop()
		}
		if p.procCancel != nil {
			p.procCancel()
		}
		if p.tmp != "" {
			_ = os.RemoveAll(p.tmp)
		}
	})
}

func streamARN(name string) string {
	return fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", Region, AccountID, name)
}

func (p *Pipeline) createStream(ctx context.Context, st Stream) error {
	in := &kinesis.CreateStreamInput{StreamName: aws.String(st.Name), ShardCount: aws.Int32(int32(st.ShardCount))}
	if n := st.MaxRecordSizeKiB; n > 0 {
		in.MaxRecordSizeInKiB = aws.Int32(int32(n))
	}
	_, err := p.Kinesis.CreateStream(ctx, in)
	if err != nil {
		return fmt.Errorf("localrun: create stream %s: %w", st.Name, err)
	}
	w := kinesis.NewStreamExistsWaiter(p.Kinesis, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(st.Name)}, time.Minute); err != nil {
		return fmt.Errorf("localrun: stream %s never became ACTIVE: %w", st.Name, err)
	}
	return nil
}

func (p *Pipeline) createTable(ctx context.Context, tb Table) error {
	in := &dynamodb.CreateTableInput{TableName: aws.String(tb.Name), BillingMode: ddbtypes.BillingModePayPerRequest}
	for _, k := range tb.Keys {
		in.KeySchema = append(in.KeySchema, ddbtypes.KeySchemaElement{AttributeName: aws.String(k.Name), KeyType: ddbtypes.KeyType(k.Type)})
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(k.Name), AttributeType: ddbtypes.ScalarAttributeType(orStr(tb.Attributes[k.Name], "S"))})
	}
	if _, err := p.DynamoDB.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("localrun: create table %s: %w", tb.Name, err)
	}
	w := dynamodb.NewTableExistsWaiter(p.DynamoDB, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tb.Name)}, time.Minute); err != nil {
		return fmt.Errorf("localrun: table %s never became ACTIVE: %w", tb.Name, err)
	}
	return nil
}

func orInt(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

func orStr(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func retriesOf(c localesm.Config) int {
	if c.MaximumRetryAttempts == nil {
		return -1
	}
	return *c.MaximumRetryAttempts
}

// quarantineQueue is the queue the function's quarantine variable points
// at, if any.
func quarantineQueue(st *Stack) *Queue {
	id, _ := refID(st.Func.Env[contract.EnvQuarantineQueueURL])
	for i, q := range st.Queues {
		if q.LogicalID == id {
			return &st.Queues[i]
		}
	}
	return nil
}
