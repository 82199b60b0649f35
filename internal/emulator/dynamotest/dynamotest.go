// Package dynamotest gives a test binary one dynalite (a DynamoDB server
// speaking the real protocol, started on first use) and a fresh event-time
// state table per test. Call Stop from TestMain after m.Run.
package dynamotest

import (
	"context"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/eventtime"
	"github.com/streamproc/streamproc/internal/emulator"
)

var (
	mu   sync.Mutex
	runs = map[string]int{} // tables made per test name
	once sync.Once
	proc *emulator.Process
	err  error
)

// StateTable returns a client for the binary's dynalite and a new state
// table (eventtime.CreateDynamoTable) named after the test. It skips in
// -short mode.
func StateTable(t *testing.T) (*awsjson.Client, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("dynalite: skipped in -short mode")
	}
	// The process outlives the test that starts it: it serves the whole
	// binary until Stop.
	once.Do(func() { proc, err = emulator.StartDynamo(context.Background()) })
	if err != nil {
		t.Fatal(err)
	}
	c := &awsjson.Client{Service: awsjson.DynamoDB, Region: "us-east-1", Endpoint: proc.Endpoint,
		Credentials: awsjson.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}}
	table := regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-")
	// A test run again in the same binary (-count) gets a table of its own.
	mu.Lock()
	runs[table]++
	if n := runs[table]; n > 1 {
		table += "-" + strconv.Itoa(n)
	}
	mu.Unlock()
	if err := eventtime.CreateDynamoTable(context.Background(), c, table); err != nil {
		t.Fatal(err)
	}
	return c, table
}

// Stop stops dynalite if this binary started it.
func Stop() {
	if proc != nil {
		proc.Stop()
	}
}
