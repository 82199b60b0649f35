// Command fn is the poller's test function: a Kinesis handler whose behaviour
// each record asks for, so the poller's tests can drive every failure the
// event source mapping must handle through the real Runtime Interface Emulator.
//
// A record's data is a JSON object {"id": "...", "do": "..."}; "do" is one of
//
//	""        succeed
//	"error"   fail the whole invocation (a function error)
//	"partial" report this record as a batch item failure
//	"sleep"   sleep past the function timeout
//	"crash"   exit the runtime process in the middle of the invocation
//	"badid"   report a batch item failure with an identifier not in the batch
//
// While the file named by FN_FAIL_FILE exists every invocation fails with a
// function error, so a test can fail a whole shard for a while and recover.
// Every invocation appends one JSON line to FN_LOG (the records it saw and its
// result) so tests can check order, batch boundaries and retries.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

type record struct {
	ID string `json:"id"`
	Do string `json:"do"`
}

// Line is one FN_LOG entry.
type Line struct {
	Shard   string   `json:"shard"`
	Seqs    []string `json:"seqs"`
	IDs     []string `json:"ids"`
	Keys    []string `json:"keys"`
	Result  string   `json:"result"` // ok, error, partial, sleep, crash
	Failed  []string `json:"failed,omitempty"`
	Started int64    `json:"started"`
}

func logLine(l Line) {
	path := os.Getenv("FN_LOG")
	if path == "" {
		return
	}
	b, _ := json.Marshal(l)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	_, _ = f.Write(append(b, '\n'))
	_ = f.Close()
}

func handle(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	l := Line{Result: "ok", Started: time.Now().UnixMilli()}
	var resp events.KinesisEventResponse
	var fail, sleep, crash bool
	for _, r := range ev.Records {
		id := r.EventID
		if i := len(id) - len(r.Kinesis.SequenceNumber) - 1; i > 0 {
			l.Shard = id[:i]
		}
		var rec record
		_ = json.Unmarshal(r.Kinesis.Data, &rec)
		l.Seqs = append(l.Seqs, r.Kinesis.SequenceNumber)
		l.IDs = append(l.IDs, rec.ID)
		l.Keys = append(l.Keys, r.Kinesis.PartitionKey)
		switch rec.Do {
		case "error":
			fail = true
		case "partial":
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: r.Kinesis.SequenceNumber})
		case "badid":
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: "not-a-sequence-number"})
		case "sleep":
			sleep = true
		case "crash":
			crash = true
		}
	}
	if f := os.Getenv("FN_FAIL_FILE"); f != "" {
		if _, err := os.Stat(f); err == nil {
			fail = true
		}
	}
	switch {
	case crash:
		l.Result = "crash"
		logLine(l)
		os.Exit(3)
	case sleep:
		l.Result = "sleep"
		logLine(l)
		<-ctx.Done()
		time.Sleep(time.Hour)
	case fail:
		l.Result = "error"
		logLine(l)
		return resp, errors.New("test function: asked to fail")
	}
	for _, f := range resp.BatchItemFailures {
		l.Failed = append(l.Failed, f.ItemIdentifier)
	}
	if len(l.Failed) > 0 {
		l.Result = "partial"
	}
	logLine(l)
	return resp, nil
}

func main() { lambda.Start(handle) }
