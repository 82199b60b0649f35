package handler_test

// Redelivery tests against dynalite (a real DynamoDB wire protocol): the
// engine's DynamoStore through awsjson, the same client and wire encoding as
// the Lambda. Each compares the stored windows with totals computed
// independently from the unique valid readings (totals_test.go).

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/functions/kinesisbatch"
	"github.com/streamproc/streamproc/internal/emulator/dynamotest"
	"github.com/streamproc/streamproc/internal/tools/bench/workload"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dynamotest.Stop()
	os.Exit(code)
}

// dynamoStore is the engine's DynamoStore on table.
func dynamoStore(t *testing.T, c *awsjson.Client, table string) *eventtime.DynamoStore {
	t.Helper()
	s, err := eventtime.NewDynamoStore(c, eventtime.DynamoConfig{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newLiveRig is the handler on the engine over the DynamoStore of table,
// with attempts tries per record inside an invocation.
func newLiveRig(t *testing.T, c *awsjson.Client, table string, attempts int) *rig {
	t.Helper()
	return newRig(t, dynamoStore(t, c, table), kinesisbatch.RetryPolicy{MaxAttempts: attempts})
}

// invokeLive runs one Lambda invocation over recs and returns the failed
// sequence numbers.
func (r *rig) invokeLive(t *testing.T, recs []workload.Record) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := r.p.Process(ctx, toRecords(recs))
	return failed(res.Response)
}

func toRecords(recs []workload.Record) []kinesisbatch.Record {
	out, err := kinesisbatch.DecodeEvent(workload.Event(recs))
	if err != nil {
		panic(err)
	}
	return slices.Clone(out)
}

// fromLowest returns the records Lambda redelivers after a partial batch
// response: the lowest failed sequence number and everything after it.
func fromLowest(t *testing.T, recs []workload.Record, failedSeqs []string) []workload.Record {
	t.Helper()
	if len(failedSeqs) == 0 {
		return nil
	}
	for i, r := range recs {
		if r.Sequence == failedSeqs[0] {
			return recs[i:]
		}
	}
	t.Fatalf("failed sequence %s not in the batch", failedSeqs[0])
	return nil
}

func lastMetric(s, name string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	m := regexp.MustCompile(`"` + name + `":([0-9.]+)`).FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		return ""
	}
	return m[1]
}

func liveRecords(n, sensors int, seed uint64) []workload.Record {
	return workload.Records(workload.Options{Readings: n, Sensors: sensors, Seed: seed, Start: time.Now().Add(-3 * time.Minute)})
}

// storedWindows counts the windows in the store.
func storedWindows(t *testing.T, s eventtime.Store) int {
	t.Helper()
	keys, err := s.DueWindows(context.Background(), time.Now().Add(time.Hour).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

func TestRedeliverySameBatchAgain(t *testing.T) {
	c, table := dynamotest.StateTable(t)
	r := newLiveRig(t, c, table, 3)
	recs := liveRecords(600, 20, 1)
	if f := r.invokeLive(t, recs); len(f) != 0 {
		t.Fatalf("first delivery failed %v", f)
	}
	if f := r.invokeLive(t, recs); len(f) != 0 {
		t.Fatalf("redelivery failed %v", f)
	}
	if d := lastMetric(r.metricsText(), "DuplicatesSkipped"); d != "600" {
		t.Fatalf("redelivery skipped %s duplicates, want 600", d)
	}
	checkTotals(t, dynamoStore(t, c, table), recs)
}

func TestRedeliveryWithDifferentBatchBoundaries(t *testing.T) {
	c, table := dynamotest.StateTable(t)
	r := newLiveRig(t, c, table, 1)
	recs := liveRecords(800, 25, 2)
	// First delivery: one window fails (partial batch response).
	victim := recs[300]
	vkey := [2]string{victim.SensorID, windowStart(minuteStart(victim.EventTime.UnixMilli()))}
	r.store.setHook(func(k [2]string, _ int) error {
		if k == vkey {
			return throttled()
		}
		return nil
	})
	failedSeqs := r.invokeLive(t, recs)
	var want []string
	for _, rec := range recs {
		if rec.SensorID == vkey[0] && windowStart(minuteStart(rec.EventTime.UnixMilli())) == vkey[1] {
			want = append(want, rec.Sequence)
		}
	}
	if !slices.Equal(failedSeqs, want) {
		t.Fatalf("batch item failures\n%v\nwant exactly the failed window's records\n%v", failedSeqs, want)
	}
	r.store.setHook(nil)
	// Lambda redelivers from the lowest failed sequence number; bisect then
	// splits that retry into halves, delivered in order, and the second half
	// again (a function error after it was applied).
	rest := fromLowest(t, recs, failedSeqs)
	half := len(rest) / 2
	for _, part := range [][]workload.Record{rest[:half], rest[half:], rest[half/2:]} {
		if f := r.invokeLive(t, part); len(f) != 0 {
			t.Fatalf("retry failed %v", f)
		}
	}
	checkTotals(t, dynamoStore(t, c, table), recs)
}

func TestRedeliveryAfterACrashMidBatch(t *testing.T) {
	c, table := dynamotest.StateTable(t)
	r := newLiveRig(t, c, table, 1)
	recs := liveRecords(1000, 40, 3)
	// The first invocation "crashes" after 30 writes: every later call
	// fails and its response is thrown away, as if the process had died.
	var crashed atomic.Bool
	r.store.setHook(func(_ [2]string, n int) error {
		if n > 30 {
			crashed.Store(true)
			return context.Canceled
		}
		return nil
	})
	_ = r.invokeLive(t, recs)
	if !crashed.Load() {
		t.Fatal("the batch finished before the crash point")
	}
	if n := storedWindows(t, dynamoStore(t, c, table)); n == 0 || n > 30 {
		t.Fatalf("%d windows after the crash, want 1..30", n)
	}
	// A new container gets the whole batch again.
	r2 := newLiveRig(t, c, table, 1)
	if f := r2.invokeLive(t, recs); len(f) != 0 {
		t.Fatalf("redelivery failed %v", f)
	}
	if d := lastMetric(r2.metricsText(), "DuplicatesSkipped"); d == "0" || d == "" {
		t.Fatalf("no duplicates skipped after a crash that applied writes (%q)", d)
	}
	checkTotals(t, dynamoStore(t, c, table), recs)
}

func TestRedriveOfOldRecordsAfterNewerOnes(t *testing.T) {
	c, table := dynamotest.StateTable(t)
	r := newLiveRig(t, c, table, 2)
	recs := liveRecords(900, 30, 4)
	old, newer := recs[:400], recs[400:]
	// The old batch fails for some windows until Lambda gives up (its range
	// goes to the on-failure destination); the newer batch then succeeds.
	r.store.setHook(func(k [2]string, _ int) error {
		if strings.HasSuffix(k[0], "7") || strings.HasSuffix(k[0], "3") {
			return throttled()
		}
		return nil
	})
	if f := r.invokeLive(t, old); len(f) == 0 {
		t.Fatal("the old batch was meant to fail partly")
	}
	r.store.setHook(nil)
	if f := r.invokeLive(t, newer); len(f) != 0 {
		t.Fatalf("newer batch failed %v", f)
	}
	// streamctl redrive replays the old range, after the newer records,
	// in different boundaries.
	for _, part := range [][]workload.Record{old[:150], old[150:]} {
		if f := r.invokeLive(t, part); len(f) != 0 {
			t.Fatalf("redrive failed %v", f)
		}
	}
	checkTotals(t, dynamoStore(t, c, table), recs)
}

func TestProducerRetryWithTheSameEventIDUnderANewSequenceNumber(t *testing.T) {
	c, table := dynamotest.StateTable(t)
	r := newLiveRig(t, c, table, 1)
	recs := liveRecords(500, 10, 5)
	seq := workload.NewSequence(99)
	resend := func(rs []workload.Record) []workload.Record {
		out := slices.Clone(rs)
		for i := range out {
			out[i].Sequence = seq.Next() // the producer's retry is a new Kinesis record
		}
		return out
	}
	// Retries inside the same batch, and in a later batch.
	first := append(slices.Clone(recs[:300]), resend(recs[100:150])...)
	second := append(slices.Clone(recs[300:]), resend(recs[0:50])...)
	second = append(second, resend(recs[450:])...)
	for i, b := range [][]workload.Record{first, second} {
		if f := r.invokeLive(t, b); len(f) != 0 {
			t.Fatalf("batch %d failed %v", i, f)
		}
	}
	if d := lastMetric(r.metricsText(), "DuplicatesSkipped"); d != "100" {
		t.Fatalf("second batch skipped %s duplicates, want 100", d)
	}
	checkTotals(t, dynamoStore(t, c, table), recs)
}

func TestConcurrentWritersConvergeOnDynalite(t *testing.T) {
	c, table := dynamotest.StateTable(t)
	recs := liveRecords(400, 4, 6)
	// Two containers apply overlapping halves at the same time (e.g. a
	// redrive running while the live consumer works): conditional writes on
	// the version make them re-read and merge.
	var wg sync.WaitGroup
	for _, part := range [][]workload.Record{recs[:300], recs[100:]} {
		r := newLiveRig(t, c, table, 5)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if f := r.invokeLive(t, part); len(f) != 0 {
				t.Errorf("failed %v", f)
			}
		}()
	}
	wg.Wait()
	checkTotals(t, dynamoStore(t, c, table), recs)
}

// TestAHungWriteIsReportedBeforeTheDeadline: one window's write never
// answers; the invocation still returns before its deadline, with exactly
// that window's records as batch item failures and everything else applied.
func TestAHungWriteIsReportedBeforeTheDeadline(t *testing.T) {
	c, table := dynamotest.StateTable(t)
	r := newLiveRig(t, c, table, 5)
	recs := liveRecords(300, 10, 7)
	victim := recs[42]
	r.store.block = [2]string{victim.SensorID, windowStart(minuteStart(victim.EventTime.UnixMilli()))}
	var want []string
	var rest []workload.Record
	for _, rec := range recs {
		if rec.SensorID == r.store.block[0] && windowStart(minuteStart(rec.EventTime.UnixMilli())) == r.store.block[1] {
			want = append(want, rec.Sequence)
		} else {
			rest = append(rest, rec)
		}
	}
	const budget = 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	start := time.Now()
	res := r.p.Process(ctx, toRecords(recs))
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("returned after the deadline (%s)", took)
	}
	if got := failed(res.Response); !slices.Equal(got, want) {
		t.Fatalf("batch item failures\n%v\nwant\n%v", got, want)
	}
	t.Logf("returned %s into a %s budget", took.Round(time.Millisecond), budget)
	checkTotals(t, dynamoStore(t, c, table), rest)
}

// TestKPLAggregatedBatchAppliedExactlyOnce: readings packed 25 per Kinesis
// record by a KPL producer are applied exactly once, also when the same
// batch is delivered again and when a failed window makes Lambda redeliver
// from the lowest failed (aggregated) sequence number: the store dedups by
// each reading's event id, which every user record carries.
func TestKPLAggregatedBatchAppliedExactlyOnce(t *testing.T) {
	c, table := dynamotest.StateTable(t)
	r := newLiveRig(t, c, table, 1)
	readings := liveRecords(600, 20, 7)
	agg := workload.Aggregate(readings, 25, workload.NewSequence(99))
	if len(agg) != 24 {
		t.Fatalf("%d aggregated records, want 24", len(agg))
	}
	victim := readings[310]
	vkey := [2]string{victim.SensorID, windowStart(minuteStart(victim.EventTime.UnixMilli()))}
	r.store.setHook(func(k [2]string, _ int) error {
		if k == vkey {
			return throttled()
		}
		return nil
	})
	failedSeqs := r.invokeLive(t, agg)
	// The Kinesis records holding a reading of the failed window, each once.
	var want []string
	for i, rd := range readings {
		if rd.SensorID == vkey[0] && windowStart(minuteStart(rd.EventTime.UnixMilli())) == vkey[1] {
			if s := agg[i/25].Sequence; len(want) == 0 || want[len(want)-1] != s {
				want = append(want, s)
			}
		}
	}
	if len(want) == 0 || !slices.Equal(failedSeqs, want) {
		t.Fatalf("batch item failures\n%v\nwant the aggregated records of the failed window\n%v", failedSeqs, want)
	}
	r.store.setHook(nil)
	if f := r.invokeLive(t, fromLowest(t, agg, failedSeqs)); len(f) != 0 {
		t.Fatalf("redelivery failed %v", f)
	}
	if f := r.invokeLive(t, agg); len(f) != 0 { // the whole batch again
		t.Fatalf("second delivery failed %v", f)
	}
	if d := lastMetric(r.metricsText(), "DuplicatesSkipped"); d != "600" {
		t.Fatalf("second delivery skipped %s duplicates, want 600", d)
	}
	checkTotals(t, dynamoStore(t, c, table), readings)
}

// minuteStart is the start (Unix ms) of the 1-minute window holding ms.
func minuteStart(ms int64) int64 { return ms - ms%60_000 }
