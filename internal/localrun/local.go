package localrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	"github.com/streamproc/streamproc/internal/producer"
)

// LocalOptions configure `streamctl local`.
type LocalOptions struct {
	Options
	Count      int64         // readings to send
	Rate       float64       // records per second (0: as fast as the stream takes them)
	Sensors    int           // distinct sensors
	Duplicates float64       // fraction of producer re-sends
	Invalid    float64       // fraction of invalid readings
	OutOfOrder float64       // fraction of late readings
	Seed       uint64        // generator seed
	Aggregate  int           // readings per KPL aggregated Kinesis record (0: no aggregation)
	Settle     time.Duration // longest wait for the pipeline to drain after the load
	Hold       bool          // keep running after the summary until interrupted
}

// RunLocal runs the whole pipeline on this machine, sends the load, waits
// for it to drain, prints a summary and stops everything it started (also
// when ctx is cancelled, e.g. by Ctrl-C).
func RunLocal(ctx context.Context, o LocalOptions, out io.Writer) error {
	if o.Progress == nil {
		o.Progress = out
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	fmt.Fprintln(out, "starting the local pipeline (emulators, build, resources)...")
	p, err := Start(ctx, o.Options)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "stopping: poller, execution environments, emulators")
		p.Stop()
	}()

	var kinds [3]atomic.Int64
	gen := producer.NewGenerator(producer.GenOptions{
		Seed: o.Seed, RunID: fmt.Sprintf("local%d", time.Now().Unix()), Sensors: o.Sensors,
		Duplicates: o.Duplicates, Invalid: o.Invalid, OutOfOrder: o.OutOfOrder,
	})
	prod := producer.New(p.Kinesis, producer.Config{Stream: p.StreamName, Count: o.Count, Rate: o.Rate, Aggregate: o.Aggregate})
	start := time.Now()
	fmt.Fprintf(out, "sending %d readings (%s)\n", o.Count, rateText(o.Rate))

	tty := false
	if f, ok := out.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		every := time.Second
		if !tty {
			every = 5 * time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				if tty {
					fmt.Fprintln(out)
				}
				return
			case <-t.C:
				ps, s := prod.Stats(), p.Poller.Stats()
				line := fmt.Sprintf("  %5.0fs  sent %d/%d  polled %d  acknowledged %d  dropped %d  in flight %d  invocations %d (%d failed)  iterator age %s",
					time.Since(start).Seconds(), ps.Sent, o.Count, s.PolledRecords, s.AcknowledgedRecords, s.DroppedRecords, s.Pending,
					s.Invocations, s.FailedInvocations, s.IteratorAgeLast.Round(time.Millisecond))
				if tty {
					fmt.Fprintf(out, "\r\033[K%s", line)
				} else {
					fmt.Fprintln(out, line)
				}
			}
		}
	}()

	rep, perr := prod.Run(ctx, producer.GeneratorSource(gen, func(r producer.Record) { kinds[r.Kind].Add(1) }))
	var werr error
	if perr == nil && ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, o.Settle)
		werr = p.WaitIdle(wctx, 2*time.Second)
		cancel()
	}
	close(stopProgress)
	<-progressDone

	// Summarize even after Ctrl-C: the emulators are still up.
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum, serr := p.Summarize(sctx, rep.Sent, time.Since(start))
	sum.ProducedKinesisRecords = rep.KinesisRecords
	if serr != nil {
		fmt.Fprintf(out, "summary unavailable: %v\n", serr)
	} else {
		sum.Print(out)
		fmt.Fprintf(out, "  %-26s %d valid, %d duplicates, %d invalid (producer: %d sent, %d retried, %.0f records/s)\n", "generated",
			kinds[producer.Valid].Load(), kinds[producer.Duplicate].Load(), kinds[producer.Invalid].Load(), rep.Sent, rep.Retried, rep.RecordsPerSec)
	}
	if o.Hold && ctx.Err() == nil {
		fmt.Fprintln(out, "\nholding the pipeline up; endpoints for your own clients:")
		for _, e := range p.Env() {
			fmt.Fprintln(out, "  export "+e)
		}
		fmt.Fprintf(out, "  stream %s, table %s, DLQ %s\nCtrl-C to stop.\n", p.StreamName, p.TableName, p.DLQURL)
		<-ctx.Done()
	}
	switch {
	case perr != nil:
		return fmt.Errorf("producer: %w", perr)
	case ctx.Err() != nil:
		return errors.New("interrupted")
	case werr != nil:
		return fmt.Errorf("the pipeline did not drain within %s: %w", o.Settle, werr)
	}
	return serr
}

func rateText(r float64) string {
	if r <= 0 {
		return "as fast as the stream takes them"
	}
	return fmt.Sprintf("%.0f/s", r)
}
