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
	// From is an NDJSON file whose lines are sent as the records, as they are
	// (what `streamctl put --from` sends), instead of generated sensor
	// readings: the load for an application with its own payloads. The
	// lines go in file order, one PutRecords call at a time, so that an
	// event-time application sees the event times the file has (concurrent
	// calls would reorder whole batches). The generator fields below are
	// then unused.
	// Default: generated readings.
	From       string
	Count      int64   // readings to send
	Rate       float64 // records per second (0: as fast as the stream takes them)
	Sensors    int     // distinct sensors
	Duplicates float64 // fraction of producer re-sends
	Invalid    float64 // fraction of invalid readings
	OutOfOrder float64 // fraction of late readings
	Seed       uint64  // generator seed
	Aggregate  int     // readings per KPL aggregated Kinesis record (0: no aggregation)
	// Settle is the longest wait for the pipeline to drain after the load;
	// 0 waits as long as records keep settling and ends the wait after
	// SettleStall without progress (a 1,000,000-reading run drains for
	// minutes after its producer is done).
	// Default: 0
	Settle time.Duration
	Hold   bool // keep running after the summary until interrupted
}

// load is what RunLocal sends: a source and, for generated readings, the
// count of each kind.
type load struct {
	source producer.Source
	kinds  *[3]atomic.Int64 // nil for a file
	count  int64            // 0: until the source ends
	inFile bool             // keep the source's order: one PutRecords call at a time
	what   string
	close  func()
}

func newLoad(o LocalOptions) (*load, error) {
	if o.From != "" {
		f, err := os.Open(o.From)
		if err != nil {
			return nil, fmt.Errorf("--from: %w", err)
		}
		return &load{source: producer.NDJSONSource(f), inFile: true, what: "the records of " + o.From, close: func() { f.Close() }}, nil
	}
	var kinds [3]atomic.Int64
	gen := producer.NewGenerator(producer.GenOptions{
		Seed: o.Seed, RunID: fmt.Sprintf("local%d", time.Now().Unix()), Sensors: o.Sensors,
		Duplicates: o.Duplicates, Invalid: o.Invalid, OutOfOrder: o.OutOfOrder,
	})
	return &load{
		source: producer.GeneratorSource(gen, func(r producer.Record) { kinds[r.Kind].Add(1) }),
		kinds:  &kinds, count: o.Count, what: fmt.Sprintf("%d readings", o.Count), close: func() {},
	}, nil
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
	ld, err := newLoad(o)
	if err != nil {
		return err
	}
	defer ld.close()
	fmt.Fprintln(out, "starting the local pipeline (emulators, build, resources)...")
	p, err := Start(ctx, o.Options)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "stopping: poller, execution environments, emulators")
		p.Stop()
	}()

	cfg := producer.Config{Stream: p.StreamName, Count: ld.count, Rate: o.Rate, Aggregate: o.Aggregate}
	if ld.inFile {
		cfg.Concurrency = 1
	}
	prod := producer.New(p.Kinesis, cfg)
	start := time.Now()
	fmt.Fprintf(out, "sending %s (%s)\n", ld.what, rateText(o.Rate))
	stopProgress := reportProgress(out, p, prod, ld.count, start)
	rep, perr := prod.Run(ctx, ld.source)
	var werr error
	if perr == nil && ctx.Err() == nil {
		werr = settle(ctx, out, p, o.Settle)
	}
	stopProgress()

	// Summarize even after Ctrl-C: the emulators are still up.
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum, serr := p.Summarize(sctx, rep.Sent, time.Since(start))
	sum.ProducedKinesisRecords = rep.KinesisRecords
	if serr != nil {
		fmt.Fprintf(out, "summary unavailable: %v\n", serr)
	} else {
		sum.Print(out)
		if ld.kinds != nil {
			fmt.Fprintf(out, "  %-26s %d valid, %d duplicates, %d invalid (producer: %d sent, %d retried, %.0f records/s)\n", "generated",
				ld.kinds[producer.Valid].Load(), ld.kinds[producer.Duplicate].Load(), ld.kinds[producer.Invalid].Load(), rep.Sent, rep.Retried, rep.RecordsPerSec)
		} else {
			fmt.Fprintf(out, "  %-26s %d sent, %d retried, %.0f records/s\n", "producer", rep.Sent, rep.Retried, rep.RecordsPerSec)
		}
	}
	if o.Hold && ctx.Err() == nil {
		hold(ctx, out, p)
	}
	switch {
	case perr != nil:
		return fmt.Errorf("producer: %w", perr)
	case ctx.Err() != nil:
		return errors.New("interrupted")
	case werr != nil:
		return werr
	}
	return serr
}

// SettleStall is how long a run with no --settle waits for the pipeline to
// drain without any record polled, acknowledged or dropped.
const SettleStall = 2 * time.Minute

// settle waits for the pipeline to drain after the load: at most limit, or
// with limit 0 as long as it makes progress (SettleStall without any ends
// the wait). The progress lines go on meanwhile.
func settle(ctx context.Context, out io.Writer, p *Pipeline, limit time.Duration) error {
	if limit > 0 {
		fmt.Fprintf(out, "load sent; waiting up to %s for the pipeline to drain\n", limit)
		wctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		if err := p.WaitIdle(wctx, 2*time.Second); err != nil {
			return fmt.Errorf("the pipeline did not drain within %s (--settle): %w", limit, err)
		}
		return nil
	}
	fmt.Fprintf(out, "load sent; waiting for the pipeline to drain (as long as records settle; %s without progress ends the wait)\n", SettleStall)
	wctx, cancel := watchProgress(ctx, time.Second, SettleStall, func() any {
		s := p.Poller.Stats()
		return [3]int64{s.PolledRecords, s.AcknowledgedRecords, s.DroppedRecords}
	})
	defer cancel()
	if err := p.WaitIdle(wctx, 2*time.Second); err != nil {
		if cause := context.Cause(wctx); errors.Is(cause, errStalled) {
			return fmt.Errorf("the pipeline did not drain: %w (give --settle to wait longer in total)", cause)
		}
		return err
	}
	return nil
}

var errStalled = errors.New("no record polled, acknowledged or dropped")

// watchProgress returns a context that is cancelled (cause errStalled, with
// the time) once snapshot has returned the same value for stall, checking
// every tick.
func watchProgress(ctx context.Context, tick, stall time.Duration, snapshot func() any) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancelCause(ctx)
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		last, since := snapshot(), time.Now()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
			}
			if cur := snapshot(); cur != last {
				last, since = cur, time.Now()
			} else if d := time.Since(since); d >= stall {
				cancel(fmt.Errorf("%w for %s", errStalled, d.Round(time.Second)))
				return
			}
		}
	}()
	return wctx, func() { cancel(context.Canceled) }
}

// reportProgress prints a progress line every second on a terminal (in
// place) and every 5 s otherwise, until the returned function is called.
func reportProgress(out io.Writer, p *Pipeline, prod *producer.Producer, count int64, start time.Time) (stop func()) {
	tty := false
	if f, ok := out.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	total := "?"
	if count > 0 {
		total = fmt.Sprint(count)
	}
	stopc := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		every := time.Second
		if !tty {
			every = 5 * time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stopc:
				if tty {
					fmt.Fprintln(out)
				}
				return
			case <-t.C:
				ps, s := prod.Stats(), p.Poller.Stats()
				line := fmt.Sprintf("  %5.0fs  sent %d/%s  polled %d  acknowledged %d  dropped %d  in flight %d  invocations %d (%d failed)  iterator age %s",
					time.Since(start).Seconds(), ps.Sent, total, s.PolledRecords, s.AcknowledgedRecords, s.DroppedRecords, s.Pending,
					s.Invocations, s.FailedInvocations, s.IteratorAgeLast.Round(time.Millisecond))
				if tty {
					fmt.Fprintf(out, "\r\033[K%s", line)
				} else {
					fmt.Fprintln(out, line)
				}
			}
		}
	}()
	return func() { close(stopc); <-done }
}

// hold keeps the pipeline up until ctx ends, printing its endpoints.
func hold(ctx context.Context, out io.Writer, p *Pipeline) {
	fmt.Fprintln(out, "\nholding the pipeline up; endpoints for your own clients:")
	for _, e := range p.Env() {
		fmt.Fprintln(out, "  export "+e)
	}
	fmt.Fprintf(out, "  stream %s, table %s, DLQ %s\nCtrl-C to stop.\n", p.StreamName, p.TableName, p.DLQURL)
	<-ctx.Done()
}

func rateText(r float64) string {
	if r <= 0 {
		return "as fast as the stream takes them"
	}
	return fmt.Sprintf("%.0f/s", r)
}
