package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/streamproc/streamproc/constructs/streamprocessor/sizing"
	"github.com/streamproc/streamproc/internal/localrun"
)

// runLocal is `streamctl local`: the whole pipeline on this machine.
func runLocal(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: streamctl local [flags]

Runs a pipeline on this machine without Docker or an AWS account: a local
Kinesis (kinesalite by default), dynalite and an SQS fake on free loopback
ports; the stream, tables and queues created as the synthesized template
defines them; the function's bootstrap under aws-lambda-rie; a local event
source mapping poller
configured from the template's AWS::Lambda::EventSourceMapping. It sends a
bounded load, shows progress, prints a summary and stops everything it started
(also on Ctrl-C).

By default it runs the example pipeline with generated sensor readings. For
another application give its template, its function's directory and its
payloads, e.g. the orders example:

  streamctl local --template examples/orders/cdk.out/OrdersApp.template.json \
    --package ./examples/orders/functions/orders --from examples/orders/testdata/orders.ndjson

--package is built inside the Go module that holds it (its nearest go.mod).

Exit status: 0 when the run completed, 1 when it failed, did not drain (within
--settle, or without progress for 2 minutes) or was interrupted, 2 for bad
flags (checked before anything is started).

flags (one or two dashes):
`)
		fs.PrintDefaults()
	}
	var o localrun.LocalOptions
	var verbose bool
	fs.StringVar(&o.Template, "template", "", "synthesized template (default cdk.out/StreamProc-dev.template.json; run `make synth`)")
	fs.StringVar(&o.Mapping, "mapping", "", "logical id of the event source mapping, when the template has several")
	fs.StringVar(&o.Package, "package", localrun.DefaultPackage, "directory of the function's main package, relative to the repository root")
	fs.StringVar(&o.From, "from", "", "send the lines of this NDJSON file as they are, instead of generated readings")
	fs.Int64Var(&o.Count, "count", 3000, "readings to send")
	fs.Float64Var(&o.Rate, "rate", 100, "records per second (0: as fast as the stream accepts)")
	fs.IntVar(&o.Sensors, "sensors", 50, "distinct sensors (partition keys)")
	fs.Float64Var(&o.Duplicates, "duplicates", 0.02, "fraction of producer re-sends of an earlier reading")
	fs.Float64Var(&o.Invalid, "invalid", 0.01, "fraction of invalid readings (quarantined by the processor)")
	fs.Float64Var(&o.OutOfOrder, "out-of-order", 0.1, "fraction of late readings")
	fs.IntVar(&o.Aggregate, "aggregate", 0, "pack up to `N` readings into each Kinesis record with the KPL aggregation format (0: one each)")
	fs.Uint64Var(&o.Seed, "seed", 1, "generator seed")
	fs.DurationVar(&o.Settle, "settle", 0, "longest wait for the pipeline to drain after the load (default 0: as long as records keep settling, ending after 2m without progress)")
	fs.BoolVar(&o.Hold, "hold", false, "keep the pipeline up after the summary until Ctrl-C, printing its endpoints")
	fs.BoolVar(&verbose, "v", false, "log every poller decision")
	fs.StringVar(&o.Kinesis, "kinesis", localrun.Kinesalite, "local Kinesis: kinesalite (carries load) or kinesis-local (more APIs; slows down as a shard fills)")
	fs.IntVar(&o.Shards, "shards", 0, "stream shards (default: the template's ShardCount)")
	fs.IntVar(&o.ParallelizationFactor, "parallelization-factor", 0, "concurrent batches per shard, 1-10 (default: the template's)")
	fs.IntVar(&o.BatchSize, "batch-size", 0, "records per batch, 1-10000 (default: the template's)")
	var window time.Duration
	fs.DurationVar(&window, "batching-window", -1, "batching window, 0s-300s (default: the template's)")
	if !parseFlags(fs, args) {
		return nil // --help: the usage is printed
	}
	if window >= 0 {
		o.BatchingWindow, o.BatchingWindowSet = window, true
	}
	if err := validateLocal(o); err != nil {
		exitUsage("local", err)
	}
	if o.From != "" {
		if err := generatorFlagsUnset(fs); err != nil {
			exitUsage("local", err)
		}
		if _, err := os.Stat(o.From); err != nil {
			exitUsage("local", fmt.Errorf("--from: %w", err))
		}
	}
	if verbose {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return localrun.RunLocal(ctx, o, os.Stdout)
}

// validateLocal checks the flags before anything is started, with put's
// checks for the flags the two share.
func validateLocal(o localrun.LocalOptions) error {
	if err := checkCount(o.Count); err != nil {
		return err
	}
	if o.Rate != 0 && !validRate(o.Rate) {
		return fmt.Errorf("--rate %g is not valid: give records per second up to %d, or 0 for as fast as the stream accepts", o.Rate, maxRate)
	}
	if err := checkAggregate(o.Aggregate); err != nil {
		return err
	}
	if err := checkSensors(o.Sensors); err != nil {
		return err
	}
	if err := checkFractions(o.OutOfOrder, o.Duplicates, o.Invalid); err != nil {
		return err
	}
	if o.Kinesis != "" && o.Kinesis != localrun.Kinesalite && o.Kinesis != localrun.KinesisLocal {
		return fmt.Errorf("--kinesis %q is not valid: give %s or %s", o.Kinesis, localrun.Kinesalite, localrun.KinesisLocal)
	}
	if o.Shards < 0 || o.Shards > 64 {
		return fmt.Errorf("--shards %d is not valid: give 1 to 64 (each shard and batch gets its own execution environment)", o.Shards)
	}
	if o.ParallelizationFactor < 0 || o.ParallelizationFactor > sizing.MaxFactor {
		return fmt.Errorf("--parallelization-factor %d is not valid: give 1 to %d", o.ParallelizationFactor, sizing.MaxFactor)
	}
	if o.BatchSize < 0 || o.BatchSize > sizing.MaxBatchSize {
		return fmt.Errorf("--batch-size %d is not valid: give 1 to %d", o.BatchSize, sizing.MaxBatchSize)
	}
	if o.BatchingWindowSet && o.BatchingWindow > 300*time.Second {
		return fmt.Errorf("--batching-window %s is not valid: give 0s to 300s", o.BatchingWindow)
	}
	if o.Settle < 0 {
		return fmt.Errorf("--settle %s is not valid: give 0 (as long as the pipeline makes progress) or a positive duration such as 20m", o.Settle)
	}
	return nil
}

// generatorFlagsUnset refuses the flags that shape generated readings next to
// --from, which sends the file as it is.
func generatorFlagsUnset(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "count", "sensors", "duplicates", "invalid", "out-of-order", "seed":
			if err == nil {
				err = fmt.Errorf("--%s shapes generated readings and cannot be used with --from (which sends the file as it is)", f.Name)
			}
		}
	})
	return err
}
