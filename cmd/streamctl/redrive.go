package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamproc/streamproc/internal/cliout"
	"github.com/streamproc/streamproc/internal/redrive"
)

const redriveUsage = `usage: streamctl redrive --bucket NAME [--prefix P] [flags]   (S3 on-failure destination)
       streamctl redrive --queue URL|NAME [flags]              (dead-letter queue)

Replay what failed. Where it is depends on the pipeline's on-failure
destination (OnFailure prop of the StreamProcessor construct):

S3 (--bucket; the construct's default, FailedBatchBucket)
  Each object the event source mapping wrote holds a failed batch WITH its
  records (key aws/lambda/<mapping uuid>/<shard>/YYYY/MM/DD/<time>-<uuid>).
  redrive lists the objects under --prefix (default aws/lambda/), replays each
  object's records with their ORIGINAL shard, sequence numbers, event ids,
  partition keys and arrival times — nothing is read from the stream, so this
  works after the stream's retention — checks the function's answer (batch
  item failures are retried from the lowest failed sequence number,
  --retries) and deletes the object only after every record in it was applied
  (--keep-objects tags it streamproc-redriven instead; tagged objects are
  skipped later). A record larger than Lambda's 6 MB invoke limit can never
  be invoked: it is reported by id (KEPT-TOO-LARGE), the other records of its
  object are applied, and the object is kept; docs/redrive.md says how to
  handle such records. Objects are handled in key order (mapping, shard,
  time).

SQS (--queue). The DLQ has two kinds of message, and redrive handles both:

  batch info   The event source mapping's on-failure message. It describes a
               failed batch (stream ARN, shard, start and end sequence numbers,
               batch size) but does not contain the records. redrive reads the
               range back from the stream (GetShardIterator AT_SEQUENCE_NUMBER,
               up to the end sequence number) and invokes the processor
               synchronously with a Kinesis event holding the records with their
               ORIGINAL shard, sequence numbers, event ids ("shardId:seq"),
               partition keys and arrival times — so the processor's
               exactly-once scheme skips whatever it had already applied.
               Batch item failures are retried (--retries) from the lowest
               failed sequence number, as the mapping does. With
               ParallelizationFactor > 1 or filters on the mapping the range
               also holds records that were not in the batch; such a batch is
               kept unless --replay-range replays the whole range (safe for an
               idempotent processor such as streamproc's).
  quarantined  A record the processor rejected as invalid (message attribute
               streamproc-kind=quarantined; large payloads come in parts, which
               are reassembled and checked against their SHA-256). By default
               they are listed with their reasons and left alone; --reprocess
               replays them through the function once the cause is fixed;
               --discard deletes them (asks for confirmation, or --yes),
               also the parts of a record that cannot be reassembled (parts
               missing or corrupt), which would otherwise stay for ever.

Safety: a message (an object) is deleted only after every record it stands for was
applied (or discarded on request). Anything in doubt keeps the message and is
reported: records expired from the stream (past its retention period) or a
shard that is gone, a range that does not hold batchSize records, a function
that keeps failing, missing or corrupt parts (unless --discard), a message of
unknown shape.
Messages are hidden from other consumers while redrive works (--visibility,
extended as needed) and those kept are made visible again at the end.
Replaying twice is safe: the processor applies each record once.

Exit status: 0 when nothing needs attention; 1 when any message or object was
kept because of a problem (records too large to invoke included) (listed quarantined records and dry runs are not
problems); 2 for bad flags.

The function invoked is the one named in each message (functionArn of the
on-failure message, functionName of a quarantined record) unless --function
is given (functionArn of a failed-batch object). AWS configuration is the
standard one (AWS_PROFILE / --profile, AWS_REGION / --region,
AWS_ENDPOINT_URL_SQS, _S3, _KINESIS, _LAMBDA, ...; with AWS_ENDPOINT_URL_S3 set
S3 is addressed path-style, as local S3 servers expect).

flags (one or two dashes):
`

const redriveExamples = `
examples:
  streamctl redrive --bucket streamproc-dev-failedbatches --dry-run
  streamctl redrive --bucket streamproc-dev-failedbatches --json > redrive-report.json
  streamctl redrive --bucket streamproc-dev-failedbatches --keep-objects   # tag instead of delete
  streamctl redrive --queue StreamProc-dev-dlq --dry-run         # what is there, what would happen
  streamctl redrive --queue StreamProc-dev-dlq                   # replay failed batches, list quarantined records
  streamctl redrive --queue StreamProc-dev-dlq --only quarantined --reprocess --match "temperature"
  streamctl redrive --queue StreamProc-dev-dlq --only quarantined --discard --yes
`

type redriveFlags struct {
	bucket      string
	prefix      string
	keepObjects bool
	queue       string
	function    string
	stream      string
	dryRun      bool
	replayRange bool
	reprocess   bool
	discard     bool
	yes         bool
	match       string
	only        string
	maxMessages int
	visibility  time.Duration
	retries     int
	jsonOut     bool
	noProgress  bool
	profile     string
	region      string
}

func runRedrive(ctx context.Context, args []string) error {
	var f redriveFlags
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), redriveUsage)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), redriveExamples)
	}
	fs.StringVar(&f.bucket, "bucket", "", "the failed-batch bucket of an S3 on-failure destination (or give --queue)")
	fs.StringVar(&f.prefix, "prefix", "aws/lambda/", "with --bucket: only objects whose key starts with this (e.g. aws/lambda/<mapping uuid>/<shard>/2026/12/)")
	fs.BoolVar(&f.keepObjects, "keep-objects", false, "with --bucket: tag an object streamproc-redriven instead of deleting it once its records are applied")
	fs.StringVar(&f.queue, "queue", "", "the DLQ: queue URL or name (or give --bucket)")
	fs.StringVar(&f.function, "function", "", "function to invoke: name, ARN or partial ARN (default: the one named in each message)")
	fs.StringVar(&f.stream, "stream", "", "read batch ranges from this stream name (default: the stream in each message's streamArn)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "read and report only: no invoke, no delete")
	fs.BoolVar(&f.replayRange, "replay-range", false, "replay a batch whose range holds more records than its batchSize (ParallelizationFactor > 1 or filters on the mapping) as the whole range; safe only for an idempotent processor, and with filters it also sends the records they dropped")
	fs.BoolVar(&f.reprocess, "reprocess", false, "replay quarantined records through the function and delete their messages once accepted")
	fs.BoolVar(&f.discard, "discard", false, "delete quarantined records without replaying them (asks for confirmation; see --yes)")
	fs.BoolVar(&f.yes, "yes", false, "confirm --discard without asking (required when not on a terminal)")
	fs.StringVar(&f.match, "match", "", "only quarantined records whose record id or reason contains this `TEXT`")
	fs.StringVar(&f.only, "only", "", "handle only one kind of message: batches or quarantined")
	fs.IntVar(&f.maxMessages, "max-messages", 1000, "take at most this many messages from the queue (objects from the bucket) in one run")
	fs.DurationVar(&f.visibility, "visibility", 5*time.Minute, "hide received messages from other consumers this long (extended while working)")
	fs.IntVar(&f.retries, "retries", 3, "invoke records that failed again this many times before keeping the message")
	fs.BoolVar(&f.jsonOut, "json", false, "print the report as JSON")
	fs.BoolVar(&f.noProgress, "no-progress", false, "do not draw the progress line even on a terminal")
	fs.StringVar(&f.profile, "profile", "", "AWS shared config profile (default: AWS_PROFILE or default)")
	fs.StringVar(&f.region, "region", "", "AWS region (default: AWS_REGION or the profile's)")
	if !parseFlags(fs, args) {
		return nil // --help: the usage is printed
	}
	cfg, err := f.validate()
	if err != nil {
		exitUsage("redrive", err)
	}
	if f.discard && !f.dryRun && !f.yes {
		if !cliout.IsTerminal(os.Stdin) || !cliout.IsTerminal(os.Stderr) {
			exitUsage("redrive", errors.New("--discard deletes quarantined records for good: add --yes to confirm when not running on a terminal"))
		}
		if !confirm(os.Stdin, os.Stderr, f) {
			return errors.New("not confirmed: nothing was discarded")
		}
	}

	awsCfg, err := loadAWSConfig(ctx, f.profile, f.region, 4)
	if err != nil {
		return err
	}
	cfg.Region = awsCfg.Region
	if f.bucket != "" {
		return runRedriveS3(ctx, f, cfg, awsCfg)
	}
	sq := sqs.NewFromConfig(awsCfg)
	cfg.QueueURL, err = queueURL(ctx, sq, f.queue)
	if err != nil {
		return err
	}
	bar := startRedriveProgress(f, &cfg, "receiving messages from the DLQ...", "handled")
	r := redrive.New(sq, kinesis.NewFromConfig(awsCfg), lambda.NewFromConfig(awsCfg), cfg)
	rep, runErr := r.Run(ctx)
	bar.Stop()

	if f.jsonOut {
		_ = writeJSON(os.Stdout, struct {
			Queue string `json:"queue"`
			redrive.Report
		}{cfg.QueueURL, rep})
	} else {
		printRedriveReport(os.Stdout, cfg.QueueURL, rep)
	}
	if runErr != nil {
		return runErr
	}
	if n := rep.Problems(); n > 0 {
		return fmt.Errorf("%d message(s) kept in the DLQ because of a problem (see above)", n)
	}
	return nil
}

// startRedriveProgress draws a run's progress from cfg.Progress: waiting
// until the first count arrives, then done/total items.
func startRedriveProgress(f redriveFlags, cfg *redrive.Config, waiting, items string) *cliout.Progress {
	var done, total atomic.Int64
	cfg.Progress = func(d, t int) { done.Store(int64(d)); total.Store(int64(t)) }
	return cliout.StartProgress(os.Stderr, !f.noProgress, func(el time.Duration) string {
		t := total.Load()
		if t == 0 {
			return waiting + " " + cliout.Duration(el)
		}
		return fmt.Sprintf("%s %s/%s %s  %s", cliout.Bar(float64(done.Load())/float64(t), 24), cliout.Count(done.Load()), cliout.Count(t), items, cliout.Duration(el))
	})
}

func (f *redriveFlags) validate() (redrive.Config, error) {
	var cfg redrive.Config
	switch {
	case f.queue == "" && f.bucket == "":
		return cfg, errors.New("give --bucket (the failed-batch bucket of an S3 on-failure destination) or --queue (the DLQ's URL or name)")
	case f.queue != "" && f.bucket != "":
		return cfg, errors.New("--bucket and --queue exclude each other: run redrive once for each")
	case f.bucket != "" && (f.reprocess || f.discard || f.match != "" || f.only != "" || f.replayRange || f.stream != ""):
		return cfg, errors.New("--reprocess, --discard, --match, --only, --replay-range and --stream act on DLQ messages: with --bucket use --function, --prefix, --keep-objects, --dry-run, --retries, --max-messages")
	case f.bucket == "" && f.keepObjects:
		return cfg, errors.New("--keep-objects acts on failed-batch objects: give --bucket")
	}
	if f.reprocess && f.discard {
		return cfg, errors.New("--reprocess and --discard exclude each other: choose what to do with quarantined records")
	}
	if f.yes && !f.discard {
		return cfg, errors.New("--yes only confirms --discard")
	}
	switch f.only {
	case "", "batches", "quarantined":
	default:
		return cfg, fmt.Errorf("--only %q is not valid: use batches or quarantined", f.only)
	}
	if f.only == "quarantined" && f.replayRange {
		return cfg, errors.New("--replay-range acts on batch info messages, which --only quarantined skips")
	}
	if f.only == "batches" && (f.reprocess || f.discard || f.match != "") {
		return cfg, errors.New("--reprocess, --discard and --match act on quarantined records, which --only batches skips")
	}
	if f.maxMessages < 1 || f.maxMessages > 100_000 {
		return cfg, fmt.Errorf("--max-messages %d is not valid: use 1 to 100000", f.maxMessages)
	}
	if f.visibility < 30*time.Second || f.visibility > 12*time.Hour {
		return cfg, fmt.Errorf("--visibility %s is not valid: use 30s to 12h", f.visibility)
	}
	if f.retries < 0 || f.retries > 100 {
		return cfg, fmt.Errorf("--retries %d is not valid: use 0 to 100", f.retries)
	}
	cfg = redrive.Config{Bucket: f.bucket, Prefix: f.prefix, TagDone: f.keepObjects, Function: f.function, Stream: f.stream, DryRun: f.dryRun, ReplayRange: f.replayRange, Match: f.match,
		SkipBatches: f.only == "quarantined", SkipQuarantined: f.only == "batches",
		MaxMessages: f.maxMessages, Visibility: f.visibility, Retries: f.retries}
	if f.retries == 0 {
		cfg.Retries = -1 // the package's zero means its default
	}
	switch {
	case f.reprocess:
		cfg.Quarantined = redrive.Reprocess
	case f.discard:
		cfg.Quarantined = redrive.Discard
	}
	return cfg, nil
}

func confirm(in io.Reader, out io.Writer, f redriveFlags) bool {
	what := "every quarantined record"
	if f.match != "" {
		what = fmt.Sprintf("every quarantined record matching %q", f.match)
	}
	fmt.Fprintf(out, "This deletes %s in %s without replaying it.\nType discard to continue: ", what, f.queue)
	line, _ := bufio.NewReader(in).ReadString('\n')
	return strings.TrimSpace(line) == "discard"
}

// queueURL accepts a queue URL or a queue name.
func queueURL(ctx context.Context, c *sqs.Client, q string) (string, error) {
	if strings.HasPrefix(q, "https://") || strings.HasPrefix(q, "http://") {
		return q, nil
	}
	out, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(q)})
	if err != nil {
		return "", fmt.Errorf("--queue %q: %w", q, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

func printRedriveReport(w io.Writer, queue string, rep redrive.Report) {
	mode := ""
	if rep.DryRun {
		mode = " (dry run: nothing invoked, nothing deleted)"
	}
	fmt.Fprintf(w, "streamctl redrive: %s%s\n", queue, mode)
	for _, r := range rep.Results {
		mark := "  "
		if r.Outcome.Problem() {
			mark = "! "
		}
		switch r.Kind {
		case "batch":
			fmt.Fprintf(w, "%sbatch        %-22s %s %s..%s (%d records)\n", mark, strings.ToUpper(string(r.Outcome)), r.ShardID, r.Start, r.End, r.BatchSize)
			if r.Condition != "" {
				fmt.Fprintf(w, "               failed with %s; stream %s\n", r.Condition, r.StreamARN)
			}
		case "quarantined":
			fmt.Fprintf(w, "%squarantined  %-22s %s (%s) %q\n", mark, strings.ToUpper(string(r.Outcome)), r.RecordID, cliout.Bytes(int64(r.Size)), r.Reason)
			if !r.QuarantinedAt.IsZero() {
				fmt.Fprintf(w, "               quarantined %s", r.QuarantinedAt.UTC().Format(time.RFC3339))
				if r.Preview != "" {
					fmt.Fprintf(w, "; payload %s", r.Preview)
				}
				fmt.Fprintln(w)
			}
		case "object":
			fmt.Fprintf(w, "%sobject       %-22s %s\n", mark, strings.ToUpper(string(r.Outcome)), r.Key)
			if r.Start != "" {
				fmt.Fprintf(w, "               %s %s..%s (%d records)", r.ShardID, r.Start, r.End, r.Records)
				if r.Condition != "" {
					fmt.Fprintf(w, ", failed with %s", r.Condition)
				}
				fmt.Fprintln(w)
			}
			for _, tl := range r.TooLarge {
				fmt.Fprintf(w, "               too large to invoke: %s (%s of data, %s as an event)\n", tl.RecordID, cliout.Bytes(int64(tl.Size)), cliout.Bytes(int64(tl.EventBytes)))
			}
			if r.Preview != "" {
				fmt.Fprintf(w, "               %s\n", r.Preview)
			}
		default:
			fmt.Fprintf(w, "%sunknown      %-22s message %s: %s\n", mark, strings.ToUpper(string(r.Outcome)), strings.Join(r.MessageIDs, ","), r.Preview)
		}
		if r.Detail != "" {
			fmt.Fprintf(w, "               %s\n", r.Detail)
		}
		if len(r.FailedSeqs) > 0 {
			fmt.Fprintf(w, "               not applied: %s\n", strings.Join(limit(r.FailedSeqs, 5), ", "))
		}
	}
	unit := "messages"
	if strings.HasPrefix(queue, "s3://") {
		unit = "objects"
	}
	tagged := ""
	if rep.Tagged > 0 {
		tagged = fmt.Sprintf(", %d tagged", rep.Tagged)
	}
	fmt.Fprintf(w, "summary: %d %s received, %d deleted%s, %d invokes, %d records replayed\n",
		rep.Received, unit, rep.Deleted, tagged, rep.Invokes, rep.Replayed)
	var parts []string
	for _, o := range []redrive.Outcome{redrive.Replayed, redrive.WouldReplay, redrive.Reprocessed, redrive.Discarded, redrive.Listed, redrive.AlreadyRedriven,
		redrive.KeptExpired, redrive.KeptFailed, redrive.KeptTooLarge, redrive.KeptIncomplete, redrive.KeptUnknown, redrive.KeptError, redrive.ReplayedNotDeleted} {
		if n := rep.Count(o); n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", o, n))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing to redrive (empty)")
	}
	fmt.Fprintf(w, "         %s\n", strings.Join(parts, ", "))
}

func limit(s []string, n int) []string {
	if len(s) > n {
		return append(append([]string(nil), s[:n]...), fmt.Sprintf("... (%d in all)", len(s)))
	}
	return s
}
