package eventtime_test

// The engine on DynamoStore against dynalite (DynamoDB's wire protocol,
// in memory), through the same awsjson client the Lambda uses: the oracle
// scenarios again, with and without injected failures, and a contention
// test with concurrent writers.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/internal/emulator/dynamotest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dynamotest.Stop()
	os.Exit(code)
}

// scanWindows lists the window items of table with consistent Scans.
func scanWindows(t *testing.T, c *awsjson.Client, table string) map[eventtime.WindowKey]eventtime.WindowState {
	t.Helper()
	out := map[eventtime.WindowKey]eventtime.WindowState{}
	in := map[string]any{"TableName": table, "ConsistentRead": true}
	for {
		var resp struct {
			Items            []map[string]any
			LastEvaluatedKey map[string]any
		}
		if err := c.Call(context.Background(), "Scan", in, &resp); err != nil {
			t.Fatal(err)
		}
		for _, it := range resp.Items {
			pk, _ := it["pk"].(map[string]any)["S"].(string)
			if !strings.HasPrefix(pk, "w#") {
				continue
			}
			k, s, err := eventtime.DecodeDynamoWindow(it)
			if err != nil {
				t.Fatal(err)
			}
			out[k] = s
		}
		if len(resp.LastEvaluatedKey) == 0 {
			return out
		}
		in["ExclusiveStartKey"] = resp.LastEvaluatedKey
	}
}

// countDue counts the due-index items left in table.
func countDue(t *testing.T, c *awsjson.Client, table string) int {
	t.Helper()
	var resp struct{ Items []map[string]any }
	if err := c.Call(context.Background(), "Scan", map[string]any{"TableName": table, "ConsistentRead": true}, &resp); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, it := range resp.Items {
		if pk, _ := it["pk"].(map[string]any)["S"].(string); strings.HasPrefix(pk, "due#") {
			n++
		}
	}
	return n
}

func TestDynamoOracle(t *testing.T) {
	for _, r := range []run{
		// Seed 7: batches fire only at boundaries, and with 60 records per
		// shard some seeds (1) publish no correction; this one publishes 13.
		{"tumbling", 7, time.Minute, time.Minute, 20 * time.Second, 2 * time.Minute, 90 * time.Second, 0},
		{"hopping", 2, time.Minute, 20 * time.Second, 15 * time.Second, time.Minute, 90 * time.Second, 0},
		{"tumbling-faults", 3, time.Minute, time.Minute, 20 * time.Second, 2 * time.Minute, 90 * time.Second, 0.05},
	} {
		t.Run(fmt.Sprintf("%s/seed=%d", r.name, r.seed), func(t *testing.T) {
			c, table := dynamotest.StateTable(t)
			st, err := eventtime.NewDynamoStore(c, eventtime.DynamoConfig{Table: table, AllowedLateness: r.lateness})
			if err != nil {
				t.Fatal(err)
			}
			r.check(t, st, func() map[eventtime.WindowKey]eventtime.WindowState { return scanWindows(t, c, table) }, 60)
			notDone := 0
			for _, s := range scanWindows(t, c, table) {
				if !s.Done() {
					notDone++
				}
			}
			if n := countDue(t, c, table); n != notDone {
				t.Errorf("%d due items, %d windows not done", n, notDone)
			}
		})
	}
}

// TestDynamoConcurrentWriters: four writers apply the same records at once
// (conditional-write conflicts and re-reads); every record counts once.
func TestDynamoConcurrentWriters(t *testing.T) {
	c, table := dynamotest.StateTable(t)
	st, err := eventtime.NewDynamoStore(c, eventtime.DynamoConfig{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	concurrentRedeliveries(t, st, func() map[eventtime.WindowKey]eventtime.WindowState { return scanWindows(t, c, table) })
}

// TestDynamoOrphanDue: a due entry whose window was never stored (its
// creation failed) keeps the firing's bucket range open only until the
// window is closed by the watermark; then a closed window takes its place,
// the entry goes, and a late record for it is late.
func TestDynamoOrphanDue(t *testing.T) {
	ctx := context.Background()
	c, table := dynamotest.StateTable(t)
	st, err := eventtime.NewDynamoStore(c, eventtime.DynamoConfig{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	w := eventtime.Window{Start: t0, End: t0 + 60_000}
	if err := eventtime.PutOrphanDue(ctx, st, eventtime.WindowKey{Key: "k", Window: w}); err != nil {
		t.Fatal(err)
	}
	a, _ := eventtime.Tumbling(time.Minute)
	out := &sinks{}
	clk := &clock{now: t0}
	eng, err := eventtime.New(eventtime.Config[string, eventtime.Fixed, eventtime.Stats]{Windows: a, Store: st, Results: out, Late: out, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	process := func(id string, evt int64) eventtime.Outcome {
		t.Helper()
		o := eng.Process(ctx, "s", []eventtime.Record[string, eventtime.Fixed]{{ID: id, Key: "other", EventTime: evt, Value: 1}})
		if o.FirstFailed() >= 0 || o.FireErr != nil {
			t.Fatalf("process %s: %v %v", id, o.Errs, o.FireErr)
		}
		return o
	}
	process("a", t0+30_000) // watermark t0+30s: the orphan's window is open
	if n := countDue(t, c, table); n != 2 {
		t.Fatalf("%d due items, want the orphan's and a's", n)
	}
	process("b", t0+200_000)                // watermark past the orphan's end: it is stored closed
	if n := countDue(t, c, table); n != 1 { // b's own window is not done
		t.Fatalf("%d due items after the orphan's window closed, want 1", n)
	}
	o := eng.Process(ctx, "s", []eventtime.Record[string, eventtime.Fixed]{{ID: "late", Key: "k", EventTime: t0 + 10, Value: 1}})
	if o.Late != 1 || len(out.late) != 1 {
		t.Fatalf("a record for the orphan's window: %+v, %d late outputs", o, len(out.late))
	}
}
