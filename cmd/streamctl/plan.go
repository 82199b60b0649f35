package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/streamproc/streamproc/internal/plan"
	"github.com/streamproc/streamproc/internal/sim"
)

// runPlan is `streamctl plan`: size a pipeline for a load and price it.
func runPlan(_ context.Context, args []string) error {
	return planMain(args, os.Stdout)
}

func planMain(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: streamctl plan --records-per-second N [flags]

Sizes a StreamProcessor for a load — shards, batch size, batching window,
ParallelizationFactor, concurrency, DynamoDB capacity — says what saturates
first and what it costs a month from a dated price table (us-east-1 unless
--prices), next to the seed-style design (one DynamoDB write per record).
Nothing is deployed or called. See docs/scale.md for the model.

flags (one or two dashes):
`)
		fs.PrintDefaults()
	}
	d := plan.DefaultCosts()
	var in plan.Input
	var mode, pricesFile string
	var asJSON, printPrices, simulate bool
	var sc sim.Config
	var window time.Duration
	fs.Float64Var(&in.RecordsPerSecond, "records-per-second", 0, "average records per second (required)")
	fs.Float64Var(&in.PeakRecordsPerSecond, "peak-records-per-second", 0, "peak records per second (default: the average)")
	fs.IntVar(&in.RecordBytes, "record-bytes", 200, "bytes per record")
	fs.IntVar(&in.Keys, "keys", 1000, "distinct partition keys (sensors)")
	fs.Float64Var(&in.HotKeyShare, "hot-key-share", 0, "share of records on the busiest key (default: 1/keys, uniform)")
	fs.IntVar(&in.Aggregation, "aggregation", 1, "user records per Kinesis record (KPL aggregation; 1: none)")
	fs.IntVar(&in.Consumers, "consumers", 1, "consumers reading the stream")
	fs.DurationVar(&in.Retention, "retention", 24*time.Hour, "stream retention")
	fs.DurationVar(&in.Window, "window", time.Minute, "event-time window size")
	fs.DurationVar(&in.Lateness, "lateness", 0, "allowed lateness")
	fs.DurationVar(&in.DueBucket, "due-bucket", time.Minute, "the engine's due-index bucket (eventtime.DynamoConfig.DueBucket)")
	fs.Float64Var(&in.OutOfOrderShare, "out-of-order", 0, "share of records that land in an earlier window (within --lateness)")
	fs.DurationVar(&in.FireSchedule, "fire-schedule", time.Minute, "period of the engine's fire schedule (EventTimeProps.FireSchedule; negative: none)")
	fs.Float64Var(&in.InvalidShare, "invalid-share", 0.001, "share of records quarantined to SQS")
	fs.DurationVar(&in.TargetIteratorAge, "target-iterator-age", time.Minute, "largest acceptable iterator age at peak")
	fs.StringVar(&mode, "stream-mode", "provisioned", "provisioned, on-demand or auto (the cheaper)")
	fs.StringVar(&in.Region, "region", "us-east-1", "region (shard quota; prices come from --prices)")
	fs.IntVar(&in.Shards, "shards", 0, "shards (default: sized)")
	fs.IntVar(&in.MemoryMB, "memory", 256, "function memory, MB")
	fs.IntVar(&in.BatchSize, "batch-size", 0, "mapping batch size (default: the largest a 6 MB payload holds)")
	fs.DurationVar(&window, "batching-window", -1, "mapping batching window (default: half the target iterator age, at most 300s)")
	fs.IntVar(&in.ParallelizationFactor, "parallelization-factor", 0, "1-10 (default: the smallest that keeps up)")
	fs.Float64Var(&in.Utilization, "utilization", 0.8, "share of a shard's write limits filled at peak")
	fs.DurationVar(&d.CPUPerRecord, "cpu-per-record", d.CPUPerRecord, "function CPU per record on one vCPU (make bench)")
	fs.DurationVar(&d.SeedCPUPerRecord, "seed-cpu-per-record", d.SeedCPUPerRecord, "seed-style handler CPU per record on one vCPU (make bench, Python)")
	fs.DurationVar(&d.InvokeOverhead, "invoke-overhead", d.InvokeOverhead, "fixed time per invocation")
	fs.DurationVar(&d.DynamoDBLatency, "dynamodb-latency", d.DynamoDBLatency, "one DynamoDB call")
	fs.IntVar(&in.EngineConcurrency, "engine-concurrency", 0, "windows the engine writes or fires at the same time (eventtime.Config.Concurrency; default: 16, doubled up to 256 while the firing of a window boundary misses the target iterator age)")
	fs.IntVar(&d.KeyBytes, "key-bytes", d.KeyBytes, "partition key length")
	fs.StringVar(&pricesFile, "prices", "", "JSON price table over the us-east-1 defaults (see --print-prices)")
	fs.BoolVar(&printPrices, "print-prices", false, "print the price table in use as JSON and exit")
	fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	fs.BoolVar(&simulate, "simulate", false, "also simulate the plan at 1,000 to 1,000,000 records/s (and the given rate) and print planned/simulated figures")
	fs.DurationVar(&sc.Duration, "sim-duration", 300*time.Second, "simulated time per rate")
	fs.DurationVar(&sc.Backlog, "sim-backlog", 0, "start the simulation this far behind (a catch-up after an outage)")
	fs.Float64Var(&sc.TableWCU, "sim-table-wcu", 0, "table write throughput quota in the simulation (0: what the plan asks for, its partitions x 1,000, at least the on-demand default 40,000)")
	fs.IntVar(&sc.ConcurrencyLimit, "sim-concurrency-limit", 0, "function concurrency in the simulation (0: unlimited; the account default is 1000)")
	if !parseFlags(fs, args) {
		return nil
	}
	in.Costs = d
	in.StreamMode = plan.StreamMode(mode)
	if window >= 0 {
		in.BatchingWindow, in.BatchingWindowSet = window, true
	}
	in.Prices = plan.DefaultPrices()
	if pricesFile != "" {
		p, err := plan.LoadPrices(pricesFile)
		if err != nil {
			exitUsage("plan", err)
		}
		in.Prices = p
	}
	if printPrices {
		return writeJSON(out, in.Prices)
	}
	if in.RecordsPerSecond == 0 {
		exitUsage("plan", fmt.Errorf("--records-per-second is required: give the average records per second"))
	}
	r, err := plan.Compute(in)
	if err != nil {
		exitUsage("plan", err)
	}
	if simulate {
		if sc.Duration < 2*time.Minute {
			exitUsage("plan", fmt.Errorf("--sim-duration %s is not valid: give at least 2m (the first minute is warm-up)", sc.Duration))
		}
		rates := append([]float64(nil), sim.DefaultRates...)
		if !slices.Contains(rates, in.RecordsPerSecond) {
			rates = append(rates, in.RecordsPerSecond)
			slices.Sort(rates)
		}
		rows, err := sim.Sweep(in, rates, sc)
		if err != nil {
			return err
		}
		if asJSON {
			return writeJSON(out, rows)
		}
		_, err = io.WriteString(out, sim.Table(rows))
		return err
	}
	if asJSON {
		return writeJSON(out, r)
	}
	_, err = io.WriteString(out, r.Table())
	return err
}
