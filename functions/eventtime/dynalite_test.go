package eventtime_test

// The engine on DynamoStore against dynalite (DynamoDB's wire protocol,
// in memory), through the same awsjson client the Lambda uses: the oracle
// scenarios again, with and without injected failures, and a contention
// test with concurrent writers.

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/internal/emulator"
)

var (
	dynOnce sync.Once
	dynProc *emulator.Process
	dynErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if dynProc != nil {
		dynProc.Stop()
	}
	os.Exit(code)
}

// dynamoTable returns a client and a fresh table in the package's dynalite.
func dynamoTable(t *testing.T) (*awsjson.Client, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("dynalite: skipped in -short mode")
	}
	dynOnce.Do(func() { dynProc, dynErr = emulator.StartDynamo(context.Background()) })
	if dynErr != nil {
		t.Fatal(dynErr)
	}
	c := &awsjson.Client{Service: awsjson.DynamoDB, Region: "us-east-1", Endpoint: dynProc.Endpoint,
		Credentials: awsjson.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}}
	table := regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-")
	if err := eventtime.CreateDynamoTable(context.Background(), c, table); err != nil {
		t.Fatal(err)
	}
	return c, table
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
		{"tumbling", 1, time.Minute, time.Minute, 20 * time.Second, 2 * time.Minute, 90 * time.Second, 0},
		{"hopping", 2, time.Minute, 20 * time.Second, 15 * time.Second, time.Minute, 90 * time.Second, 0},
		{"tumbling-faults", 3, time.Minute, time.Minute, 20 * time.Second, 2 * time.Minute, 90 * time.Second, 0.05},
	} {
		t.Run(fmt.Sprintf("%s/seed=%d", r.name, r.seed), func(t *testing.T) {
			c, table := dynamoTable(t)
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
	c, table := dynamoTable(t)
	st, err := eventtime.NewDynamoStore(c, eventtime.DynamoConfig{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	concurrentRedeliveries(t, st, func() map[eventtime.WindowKey]eventtime.WindowState { return scanWindows(t, c, table) })
}
