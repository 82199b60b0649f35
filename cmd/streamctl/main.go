// Command streamctl is the operator's CLI for a streamproc pipeline: send load
// (put), replay what failed (redrive), and run the whole pipeline on this
// machine (local), and size it for a load (plan).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands = []command{
	{"put", "send sensor readings (generated or NDJSON) to a Kinesis stream", runPut},
	{"redrive", "replay failed batches and quarantined records from the DLQ", runRedrive},
	{"local", "run the whole pipeline on this machine with emulators", runLocal},
	{"plan", "size shards, concurrency and DynamoDB for a load and price it", runPlan},
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: streamctl <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'streamctl <command> --help' for a command's flags.")
}

// parseFlags parses a command's flags (the FlagSet is named after the
// command). Usage errors exit with status 2 through exitUsage; it returns
// false when --help was asked for.
func parseFlags(fs *flag.FlagSet, args []string) bool {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false
		}
		exitUsage(fs.Name(), errFlagParse)
	}
	if fs.NArg() > 0 {
		exitUsage(fs.Name(), fmt.Errorf("unexpected argument %q: %s takes only flags", fs.Arg(0), fs.Name()))
	}
	return true
}

// writeJSON writes v as indented JSON, the form of every --json report.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range commands {
		if c.name == os.Args[1] {
			if err := c.run(ctx, os.Args[2:]); err != nil {
				fmt.Fprintf(os.Stderr, "streamctl %s: %v\n", c.name, err)
				os.Exit(1)
			}
			return
		}
	}
	fmt.Fprintf(os.Stderr, "streamctl: unknown command %q\n\n", os.Args[1])
	usage()
	os.Exit(2)
}
