package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamproc/streamproc/internal/cliout"
	"github.com/streamproc/streamproc/internal/producer"
)

const putUsage = `usage: streamctl put --stream NAME|ARN (--count N | --duration D) [flags]
       streamctl put --stream NAME|ARN --from FILE|- [flags]

Send sensor readings to a Kinesis data stream with PutRecords.

Generated readings follow the processor's input contract,
  {"event_id":"<run>-<n>","sensor_id":"sensor-0042","ts":<epoch ms>,"temperature":21.37,"humidity":48.2}
with the sensor id as partition key. With --from, each line of an NDJSON file
(or standard input) is sent as it is; its partition key is the line's
"sensor_id" when it has one, else the MD5 of the line.

Records go in batches within the API limits (500 records, 5 MiB per call, and
the stream's own record limit: its MaxRecordSizeInKiB, 1 MiB by default and up
to 10 MiB, read with DescribeStreamSummary, or --max-record-size; a record
larger than 5 MiB goes alone). Records the stream throttles are retried with exponential
backoff and jitter until sent or --retry-timeout passes. A record is sent twice
only when an answer was ambiguous (a 5xx or a dropped connection after the
request went out); those are counted as "ambiguous" in the report.

A progress line is drawn on a terminal (standard error); when output is piped
only the final report is printed (standard output, or JSON with --json).
Ctrl-C stops generating; batches already formed get up to 10 s to finish.
Exit status: 0 when every record was acknowledged, 1 when any was not (failed,
or interrupted by Ctrl-C), 2 for bad flags.

AWS configuration is the standard one: AWS_PROFILE / --profile, AWS_REGION /
--region, credentials from the usual chain, and AWS_ENDPOINT_URL or
AWS_ENDPOINT_URL_KINESIS to point at another endpoint (e.g. kinesis-local).

flags (one or two dashes):
`

const putExamples = `
examples:
  streamctl put --stream readings --count 100000
  streamctl put --stream readings --rate 500/s --duration 10m --sensors 200
  streamctl put --stream readings --count 10000 --out-of-order 0.2 --duplicates 0.05 --invalid 0.01
  streamctl put --stream readings --count 5000 --seed 42     # the same records every time
  streamctl put --stream readings --count 100000 --aggregate 100   # as a KPL producer would
  jq -c '.[]' readings.json | streamctl put --stream readings --from -
`

type putFlags struct {
	stream       string
	count        int64
	rate         string
	duration     time.Duration
	sensors      int
	seed         string
	runID        string
	outOfOrder   float64
	duplicates   float64
	invalid      float64
	maxLateness  time.Duration
	from         string
	concurrency  int
	retryTimeout time.Duration
	aggregate    int
	jsonOut      bool
	noProgress   bool
	profile      string
	region       string
	maxRecord    int // KiB; 0: ask the stream
}

func runPut(ctx context.Context, args []string) error {
	var f putFlags
	fs := flag.NewFlagSet("put", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), putUsage)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), putExamples)
	}
	fs.StringVar(&f.stream, "stream", "", "stream name or ARN (required)")
	fs.Int64Var(&f.count, "count", 0, "send this many records, then stop")
	fs.StringVar(&f.rate, "rate", "", "records per second, e.g. 500 or 500/s (default: as fast as the stream accepts)")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long, e.g. 30s or 10m (with --count: whichever comes first)")
	fs.IntVar(&f.sensors, "sensors", 100, "number of distinct sensors (partition keys) in generated readings")
	fs.StringVar(&f.seed, "seed", "", "seed for generated readings: the same seed gives the same records and event ids, so the processor treats a repeat as duplicates (default: random, printed in the report)")
	fs.StringVar(&f.runID, "run-id", "", "prefix of generated event ids (default: derived from the seed)")
	fs.Float64Var(&f.outOfOrder, "out-of-order", 0, "fraction `F` (0-1) of readings whose event time is moved back by up to --max-lateness")
	fs.Float64Var(&f.duplicates, "duplicates", 0, "fraction `F` (0-1) of records that re-send an earlier reading with the same event_id")
	fs.Float64Var(&f.invalid, "invalid", 0, "fraction `F` (0-1) of records that are invalid readings (the processor quarantines them)")
	fs.DurationVar(&f.maxLateness, "max-lateness", 30*time.Second, "largest event-time shift of out-of-order readings")
	fs.StringVar(&f.from, "from", "", "send the lines of this NDJSON `FILE` (- for standard input) instead of generated readings")
	fs.IntVar(&f.concurrency, "concurrency", 4, "PutRecords calls in flight (1-64)")
	fs.DurationVar(&f.retryTimeout, "retry-timeout", 2*time.Minute, "give up on a record that still fails this long after its first failure")
	fs.IntVar(&f.aggregate, "aggregate", 0, "pack up to `N` records into each Kinesis record with the KPL aggregation format, as KPL producers do (0 or 1: one record each; at most 1 MiB per Kinesis record)")
	fs.BoolVar(&f.jsonOut, "json", false, "print the final report as JSON")
	fs.BoolVar(&f.noProgress, "no-progress", false, "do not draw the progress line even on a terminal")
	fs.StringVar(&f.profile, "profile", "", "AWS shared config profile (default: AWS_PROFILE or default)")
	fs.StringVar(&f.region, "region", "", "AWS region (default: AWS_REGION or the profile's)")
	fs.IntVar(&f.maxRecord, "max-record-size", 0, "the stream's record size limit in `KiB` (1024-10240); records above it are rejected before sending (default: the stream's MaxRecordSizeInKiB from DescribeStreamSummary)")
	if !parseFlags(fs, args) {
		return nil // --help: the usage is printed
	}
	cfg, gen, seed, err := f.validate(fs)
	if err != nil {
		exitUsage("put", err)
	}
	if f.maxRecord != 0 && (f.maxRecord < 1024 || f.maxRecord > 10240) {
		exitUsage("put", fmt.Errorf("--max-record-size %d is not valid: use the stream's MaxRecordSizeInKiB, 1024 to 10240", f.maxRecord))
	}
	awsCfg, err := loadAWSConfig(ctx, f.profile, f.region, f.concurrency)
	if err != nil {
		return err
	}
	kc := kinesis.NewFromConfig(awsCfg)
	cfg.MaxRecordBytes = f.maxRecord << 10
	if f.maxRecord == 0 {
		cfg.MaxRecordBytes = streamRecordLimit(ctx, kc, f.stream)
	}

	var src producer.Source
	var tally genTally
	if f.from != "" {
		in := io.Reader(os.Stdin)
		if f.from != "-" {
			file, err := os.Open(f.from)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			defer file.Close()
			in = file
		}
		src = producer.NDJSONSourceMax(in, cfg.MaxRecordBytes)
	} else {
		src = producer.GeneratorSource(producer.NewGenerator(gen), tally.observe)
	}

	p := producer.New(kc, cfg)
	bar := cliout.StartProgress(os.Stderr, !f.noProgress, func(el time.Duration) string {
		return putProgress(p.Stats(), cfg, el)
	})
	rep, runErr := p.Run(ctx, src)
	bar.Stop()

	if f.jsonOut {
		out := struct {
			producer.Report
			Stream    string            `json:"stream"`
			Seed      *uint64           `json:"seed,omitempty"`
			Generated *genTallySnapshot `json:"generated,omitempty"`
		}{Report: rep, Stream: f.stream}
		if f.from == "" {
			out.Seed = &seed
			s := tally.snapshot()
			out.Generated = &s
		}
		_ = writeJSON(os.Stdout, out)
	} else {
		printPutReport(os.Stdout, f, rep, seed, &tally)
	}
	switch {
	case runErr != nil:
		return runErr
	case rep.Failed > 0:
		return fmt.Errorf("%s of %s records were not sent (see the errors above)", cliout.Count(rep.Failed), cliout.Count(rep.Read))
	case rep.Interrupted:
		return errors.New("interrupted: stopped before every record was generated")
	}
	return nil
}

// exitUsage reports a bad command line and exits with status 2, before
// anything was sent or opened.
func exitUsage(cmd string, err error) {
	if !errors.Is(err, errFlagParse) { // the flag package printed those with the usage
		fmt.Fprintf(os.Stderr, "streamctl %s: %v\nRun 'streamctl %s --help' for usage.\n", cmd, err, cmd)
	}
	os.Exit(2)
}

// errFlagParse stands for errors the flag package has already printed.
var errFlagParse = errors.New("flag parse error")

func (f *putFlags) validate(fs *flag.FlagSet) (producer.Config, producer.GenOptions, uint64, error) {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var cfg producer.Config
	var gen producer.GenOptions
	if f.stream == "" {
		return cfg, gen, 0, errors.New("--stream is required: give the stream name or ARN, e.g. --stream readings")
	}
	if f.count != 0 || set["count"] {
		if err := checkCount(f.count); err != nil {
			return cfg, gen, 0, err
		}
	}
	if f.duration < 0 || (set["duration"] && f.duration == 0) {
		return cfg, gen, 0, fmt.Errorf("--duration %s is not valid: give a positive duration such as 30s or 10m", f.duration)
	}
	rate, err := parseRate(f.rate)
	if err != nil {
		return cfg, gen, 0, err
	}
	if f.concurrency < 1 || f.concurrency > 64 {
		return cfg, gen, 0, fmt.Errorf("--concurrency %d is not valid: use 1 to 64", f.concurrency)
	}
	if f.retryTimeout <= 0 {
		return cfg, gen, 0, fmt.Errorf("--retry-timeout %s is not valid: give a positive duration such as 2m", f.retryTimeout)
	}
	if err := checkAggregate(f.aggregate); err != nil {
		return cfg, gen, 0, err
	}
	if f.from != "" {
		for _, g := range []string{"sensors", "seed", "run-id", "out-of-order", "duplicates", "invalid", "max-lateness"} {
			if set[g] {
				return cfg, gen, 0, fmt.Errorf("--%s shapes generated readings and cannot be used with --from (which sends the file as it is)", g)
			}
		}
	} else if f.count == 0 && f.duration == 0 {
		return cfg, gen, 0, errors.New("say when to stop: give --count N or --duration D (or send a file with --from FILE)")
	}
	if err := checkFractions(f.outOfOrder, f.duplicates, f.invalid); err != nil {
		return cfg, gen, 0, err
	}
	if err := checkSensors(f.sensors); err != nil {
		return cfg, gen, 0, err
	}
	if f.maxLateness <= 0 {
		return cfg, gen, 0, fmt.Errorf("--max-lateness %s is not valid: give a positive duration such as 30s", f.maxLateness)
	}
	seed := rand.Uint64() >> 1
	if f.seed != "" {
		if seed, err = strconv.ParseUint(f.seed, 10, 64); err != nil {
			return cfg, gen, 0, fmt.Errorf("--seed %q is not valid: give a non-negative integer", f.seed)
		}
	}
	runID := f.runID
	if runID == "" {
		runID = "r" + strconv.FormatUint(seed, 36)
	}
	for _, r := range runID {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return cfg, gen, 0, fmt.Errorf("--run-id %q is not valid: use letters, digits, '-', '_' and '.'", runID)
		}
	}
	cfg = producer.Config{Stream: f.stream, Count: f.count, Duration: f.duration, Rate: rate,
		Concurrency: f.concurrency, RetryTimeout: f.retryTimeout, Aggregate: f.aggregate}
	gen = producer.GenOptions{Seed: seed, RunID: runID, Sensors: f.sensors, OutOfOrder: f.outOfOrder,
		MaxLateness: f.maxLateness, Duplicates: f.duplicates, Invalid: f.invalid}
	return cfg, gen, seed, nil
}

// The checks below are shared by put and local (the flags they have in
// common). Comparisons are written so that NaN fails them.

// checkCount: a positive number of records.
func checkCount(n int64) error {
	if !(n > 0) {
		return fmt.Errorf("--count %d is not valid: give a positive number of records", n)
	}
	return nil
}

// checkFractions: the generator's fractions, each from 0 to 1, duplicates and
// invalid together at most 1.
func checkFractions(outOfOrder, duplicates, invalid float64) error {
	for _, x := range []struct {
		name string
		v    float64
	}{{"out-of-order", outOfOrder}, {"duplicates", duplicates}, {"invalid", invalid}} {
		if !(x.v >= 0 && x.v <= 1) {
			return fmt.Errorf("--%s %g is not valid: give a fraction from 0 to 1, e.g. 0.05 for 5%%", x.name, x.v)
		}
	}
	if !(duplicates+invalid <= 1) {
		return fmt.Errorf("--duplicates %g plus --invalid %g is more than 1: lower one of them", duplicates, invalid)
	}
	return nil
}

// checkAggregate: 0 (off) to 10,000 records per Kinesis record.
func checkAggregate(n int) error {
	if n < 0 || n > 10_000 {
		return fmt.Errorf("--aggregate %d is not valid: give the records per Kinesis record, 2 to 10000 (0 or 1: no aggregation)", n)
	}
	return nil
}

// checkSensors: 1 to 1,000,000 distinct sensors.
func checkSensors(n int) error {
	if n < 1 || n > 1_000_000 {
		return fmt.Errorf("--sensors %d is not valid: use 1 to 1000000", n)
	}
	return nil
}

// maxRate is the highest --rate accepted, in records per second.
const maxRate = 10_000_000

// validRate: a positive rate up to maxRate (false for NaN and infinities).
func validRate(r float64) bool {
	return r > 0 && r <= maxRate
}

// parseRate reads "500", "500/s" or "2.5k/s".
func parseRate(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	v := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	mult := 1.0
	if strings.HasSuffix(v, "k") {
		v, mult = strings.TrimSuffix(v, "k"), 1000
	}
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || !validRate(r*mult) {
		return 0, fmt.Errorf("--rate %q is not valid: give records per second, e.g. 500 or 500/s or 2k/s", s)
	}
	return r * mult, nil
}

// loadAWSConfig loads the standard AWS configuration (environment, shared
// files, AWS_ENDPOINT_URL*), with an HTTP client that keeps enough idle
// connections for `conns` concurrent calls.
func loadAWSConfig(ctx context.Context, profile, region string, conns int) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = max(conns, 10)
		})),
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return cfg, errors.New("no AWS region: set AWS_REGION, give --region, or set a region in the profile")
	}
	return cfg, nil
}

func putProgress(s producer.Stats, cfg producer.Config, el time.Duration) string {
	rate := 0.0
	if el > 0 {
		rate = float64(s.Sent) / el.Seconds()
	}
	frac := -1.0
	switch {
	case cfg.Count > 0:
		frac = float64(s.Sent+s.Failed) / float64(cfg.Count)
	case cfg.Duration > 0:
		frac = el.Seconds() / cfg.Duration.Seconds()
	}
	line := ""
	if frac >= 0 {
		line = fmt.Sprintf("%s %3.0f%% ", cliout.Bar(frac, 24), 100*min(frac, 1))
	}
	line += fmt.Sprintf("sent %s", cliout.Count(s.Sent))
	if cfg.Count > 0 {
		line += "/" + cliout.Count(cfg.Count)
	}
	line += fmt.Sprintf("  %s rec/s  %s", cliout.Rate(rate), cliout.Bytes(s.Bytes))
	if s.ThrottledRecords > 0 {
		line += "  throttled " + cliout.Count(s.ThrottledRecords)
	}
	if s.Retried > 0 {
		line += "  retries " + cliout.Count(s.Retried)
	}
	if s.Failed > 0 {
		line += "  FAILED " + cliout.Count(s.Failed)
	}
	if cfg.Count > 0 && rate > 0 && s.Sent < cfg.Count {
		eta := time.Duration(float64(cfg.Count-s.Sent) / rate * float64(time.Second))
		line += "  ETA " + cliout.Duration(eta)
	}
	return line
}

func printPutReport(w io.Writer, f putFlags, rep producer.Report, seed uint64, tally *genTally) {
	status := "done"
	switch {
	case rep.Failed > 0:
		status = "INCOMPLETE"
	case rep.Interrupted:
		status = "interrupted"
	}
	fmt.Fprintf(w, "streamctl put: %s — stream %s\n", status, f.stream)
	fmt.Fprintf(w, "  sent        %s records, %s, in %s\n", cliout.Count(rep.Sent), cliout.Bytes(rep.Bytes), cliout.Duration(rep.Elapsed))
	if f.aggregate > 1 {
		fmt.Fprintf(w, "  aggregated  into %s Kinesis records (KPL format, up to %d records each)\n", cliout.Count(rep.KinesisRecords), f.aggregate)
	}
	fmt.Fprintf(w, "  throughput  %s records/s, %.2f MB/s\n", cliout.Rate(rep.RecordsPerSec), rep.MBPerSec)
	fmt.Fprintf(w, "  calls       %s PutRecords, %s throttled\n", cliout.Count(rep.Calls), cliout.Count(rep.ThrottledCalls))
	fmt.Fprintf(w, "  retried     %s record sends (%s throttled records)\n", cliout.Count(rep.Retried), cliout.Count(rep.ThrottledRecords))
	fmt.Fprintf(w, "  ambiguous   %s (re-sent after an unclear answer: may be in the stream twice)\n", cliout.Count(rep.Ambiguous))
	fmt.Fprintf(w, "  failed      %s\n", cliout.Count(rep.Failed))
	if len(rep.PerShard) > 0 {
		var parts []string
		for _, id := range producer.SortedShards(rep.PerShard) {
			parts = append(parts, fmt.Sprintf("%s %s", strings.TrimPrefix(id, "shardId-"), cliout.Count(rep.PerShard[id])))
		}
		fmt.Fprintf(w, "  per shard   %s\n", strings.Join(parts, ", "))
	}
	if f.from == "" {
		s := tally.snapshot()
		fmt.Fprintf(w, "  generated   %s valid (%s out of order), %s duplicates, %s invalid; seed %d (repeat with --seed %d)\n",
			cliout.Count(s.Valid), cliout.Count(s.Late), cliout.Count(s.Duplicates), cliout.Count(s.Invalid), seed, seed)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "  error       %s\n", e)
	}
}

// genTally counts generated records by kind (observed before sending).
type genTally struct {
	mu sync.Mutex
	s  genTallySnapshot
}

type genTallySnapshot struct {
	Valid      int64 `json:"valid"`
	Late       int64 `json:"late"`
	Duplicates int64 `json:"duplicates"`
	Invalid    int64 `json:"invalid"`
}

func (t *genTally) observe(r producer.Record) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch r.Kind {
	case producer.Valid:
		t.s.Valid++
		if r.Late {
			t.s.Late++
		}
	case producer.Duplicate:
		t.s.Duplicates++
	case producer.Invalid:
		t.s.Invalid++
	}
}

func (t *genTally) snapshot() genTallySnapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.s
}

// streamRecordLimit is the stream's record size limit in bytes: its
// MaxRecordSizeInKiB, or Kinesis's default 1 MiB when the stream does not say
// or cannot be described (a warning then names --max-record-size).
func streamRecordLimit(ctx context.Context, kc *kinesis.Client, stream string) int {
	in := &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)}
	if strings.HasPrefix(stream, "arn:") {
		in = &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String(stream)}
	}
	out, err := kc.DescribeStreamSummary(ctx, in)
	if err != nil {
		fmt.Fprintf(os.Stderr, "streamctl put: cannot read the stream's record size limit (%v): assuming 1 MiB; give --max-record-size for a larger one\n", err)
		return producer.MaxRecordBytes
	}
	if kib := out.StreamDescriptionSummary.MaxRecordSizeInKiB; kib != nil && *kib > 0 {
		return int(*kib) << 10
	}
	return producer.MaxRecordBytes
}
