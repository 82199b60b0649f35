package localesm

import (
	"sync/atomic"
	"time"

	"github.com/streamproc/streamproc/functions/kinesisbatch/kpl"
)

// userRecords counts recs as the producer put them: the user records of a
// KPL aggregated record (as the toolkit deaggregates them), one for any
// other record or for an aggregate that does not decode.
func userRecords(recs []*Record) int {
	var d kpl.Decoder
	var buf []kpl.UserRecord
	n := 0
	for _, r := range recs {
		if !kpl.IsAggregated(r.Data) {
			n++
			continue
		}
		var err error
		if buf, err = d.Decode(buf[:0], r.Data); err != nil || len(buf) == 0 {
			n++
			continue
		}
		n += len(buf)
	}
	return n
}

// Stats are the poller's counters, named after the event source mapping's
// own metrics where one exists (EventCount metrics: Polled, FilteredOut,
// Invoked, FailedInvoke, Dropped, OnFailureDestinationDelivered; and the
// function's IteratorAge).
// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
type Stats struct {
	PolledRecords       int64 // records read from the stream
	FilteredOutRecords  int64 // records that matched no filter (acknowledged, not delivered)
	Invocations         int64 // function invocations
	InvokedRecords      int64 // records delivered, counting every retry
	FailedInvocations   int64 // invocations that ended in a function error or timeout
	Timeouts            int64 // of which timeouts
	TooLarge            int64 // of which refused: a record over the 6 MB invoke limit (the function never ran)
	PartialFailures     int64 // invocations answered with batch item failures
	Bisections          int64 // batches split in two after a function error
	Retries             int64 // batches invoked again after a failure
	AcknowledgedRecords int64 // records checkpointed as processed
	DroppedRecords      int64 // records discarded after retries or past the maximum age
	OnFailureMessages   int64 // messages delivered to the on-failure destination
	OnFailureRecords    int64 // records those messages describe
	// OnFailureUserRecords counts the records those messages describe as the
	// producer put them: a KPL aggregated record counts its user records
	// (one that does not decode counts as one). It equals OnFailureRecords
	// on a stream without KPL aggregation; compare it, not OnFailureRecords,
	// with counts of readings.
	OnFailureUserRecords int64
	Pending              int64 // records read and not yet acknowledged or dropped

	// Tumbling windows (TumblingWindowInSeconds): windows opened, final
	// invocations that succeeded (one per window, plus one per early
	// termination), windows terminated early by a state over 1 MB, and
	// windows open now (waiting for their final invocation).
	Windows                int64
	FinalInvocations       int64
	WindowsTerminatedEarly int64
	OpenWindows            int64

	IteratorAgeMax  time.Duration // largest age of the last record of a batch when invoked
	IteratorAgeLast time.Duration // that age for the latest invocation
	// MillisBehindLatestMax is the largest MillisBehindLatest GetRecords answered.
	MillisBehindLatestMax int64

	// Where the time goes: GetRecords calls and the time spent in them (the
	// local Kinesis), and the time spent in invocations (the function and
	// its sink), summed over the concurrent readers and batches.
	GetRecordsCalls int64
	GetRecordsTime  time.Duration
	InvokeTime      time.Duration
}

type counters struct {
	polled, filtered, invocations, invokedRecords, failed, timeouts, partial, bisections,
	retries, acked, dropped, ofMessages, ofRecords, pending, tooLarge atomic.Int64
	ofUserRecords                                 atomic.Int64
	windows, finals, terminatedEarly, openWindows atomic.Int64
	iterAgeMax, iterAgeLast, behindMax            atomic.Int64
	getRecordsCalls, getRecordsNanos, invokeNanos atomic.Int64
}

func maxInto(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

func (c *counters) snapshot() Stats {
	return Stats{
		PolledRecords:          c.polled.Load(),
		FilteredOutRecords:     c.filtered.Load(),
		Invocations:            c.invocations.Load(),
		InvokedRecords:         c.invokedRecords.Load(),
		FailedInvocations:      c.failed.Load(),
		Timeouts:               c.timeouts.Load(),
		TooLarge:               c.tooLarge.Load(),
		PartialFailures:        c.partial.Load(),
		Bisections:             c.bisections.Load(),
		Retries:                c.retries.Load(),
		AcknowledgedRecords:    c.acked.Load(),
		DroppedRecords:         c.dropped.Load(),
		OnFailureMessages:      c.ofMessages.Load(),
		OnFailureRecords:       c.ofRecords.Load(),
		OnFailureUserRecords:   c.ofUserRecords.Load(),
		Pending:                c.pending.Load(),
		Windows:                c.windows.Load(),
		FinalInvocations:       c.finals.Load(),
		WindowsTerminatedEarly: c.terminatedEarly.Load(),
		OpenWindows:            c.openWindows.Load(),
		IteratorAgeMax:         time.Duration(c.iterAgeMax.Load()),
		IteratorAgeLast:        time.Duration(c.iterAgeLast.Load()),
		MillisBehindLatestMax:  c.behindMax.Load(),
		GetRecordsCalls:        c.getRecordsCalls.Load(),
		GetRecordsTime:         time.Duration(c.getRecordsNanos.Load()),
		InvokeTime:             time.Duration(c.invokeNanos.Load()),
	}
}
