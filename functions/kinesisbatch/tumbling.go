package kinesisbatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// TumblingWindow is the event source mapping's tumbling window of one
// invocation (TumblingWindowInSeconds on the mapping): windows of arrival
// time at the stream, per shard, with their state carried by Lambda from one
// invocation to the next.
type TumblingWindow struct {
	Start, End     time.Time
	ShardID        string
	EventSourceARN string
	// IsFinalInvokeForWindow: the window is over; this invocation carries no
	// records, only the state, to be published.
	IsFinalInvokeForWindow bool
	// IsWindowTerminatedEarly: the window ended before its time because the
	// state passed Lambda's 1 MB limit; the rest of the window comes with a
	// fresh state and has its own final invocation.
	IsWindowTerminatedEarly bool
}

// MaxTumblingStateBytes is Lambda's limit on a tumbling window's state (the
// state map as JSON); past it Lambda terminates the window early.
const MaxTumblingStateBytes = 1 << 20

// stateSize is the size of the state map as the response carries it.
func stateSize(m map[string]string) int {
	b, _ := json.Marshal(m)
	return len(b)
}

// tumblingStateKey is the key of the JSON-encoded state in the state map
// Lambda passes.
const tumblingStateKey = "state"

// Tumbling processes the invocations of a mapping with tumbling windows,
// with a typed state S (JSON-encoded in Lambda's state map) instead of
// map[string]string. Records go through a Processor (decoding, retries,
// quarantine, partial batch responses, metrics), one batch at a time, into
// Fold; the final invocation of each window goes to Final.
//
// Lambda's windows are at least once: a batch Lambda retries is folded again
// into the state it had before, and records of a partly failed batch that
// succeeded may be delivered again. Use functions/eventtime when results must
// follow event time or be exactly once.
type Tumbling[S any] struct {
	// Fold adds the records of b to state. It must change state only for
	// records it does not fail (b.Fail): a failed record is folded again when
	// it is retried.
	Fold func(ctx context.Context, w TumblingWindow, state *S, b *Batch) error
	// Final receives the window's state when the window is over. An error
	// fails the invocation: Lambda retries it.
	Final func(ctx context.Context, w TumblingWindow, state S) error
	// Config configures the Processor records go through.
	Config Config
}

func (t *Tumbling[S]) logger() *slog.Logger {
	if t.Config.Logger != nil {
		return t.Config.Logger
	}
	return NewLogger(os.Stdout)
}

// HandleEvent handles one invocation: for lambda.Start(t.HandleEvent).
func (t *Tumbling[S]) HandleEvent(ctx context.Context, ev events.KinesisTimeWindowEvent) (events.KinesisTimeWindowEventResponse, error) {
	var out events.KinesisTimeWindowEventResponse
	out.BatchItemFailures = []events.KinesisBatchItemFailure{}
	w := TumblingWindow{
		Start: ev.Window.Start.UTC(), End: ev.Window.End.UTC(),
		ShardID: ev.ShardID, EventSourceARN: ev.EventSourceARN,
		IsFinalInvokeForWindow: ev.IsFinalInvokeForWindow, IsWindowTerminatedEarly: ev.IsWindowTerminatedEarly,
	}
	var state S
	if raw := ev.State[tumblingStateKey]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &state); err != nil {
			return out, fmt.Errorf("kinesisbatch: the tumbling window state of shard %s does not decode into %T: %w", w.ShardID, state, err)
		}
	}
	if w.IsFinalInvokeForWindow {
		// An empty state, not null: with tumbling windows a response
		// without a state property is a failed invocation.
		// https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html
		out.State = map[string]string{}
		if t.Final == nil {
			return out, nil
		}
		return out, t.Final(ctx, w, state)
	}
	if t.Fold == nil {
		return out, errors.New("kinesisbatch: Tumbling.Fold is nil: give the function that adds a batch to the state")
	}
	var mu sync.Mutex // Fold runs once per attempt, never concurrently; the lock orders its writes
	p := New(BatchFunc(func(ctx context.Context, b *Batch) error {
		mu.Lock()
		defer mu.Unlock()
		return t.Fold(ctx, w, &state, b)
	}), t.Config)
	recs := RecordsFromEvent(ev.KinesisEvent)
	if err := checkEnvelope(recs); err != nil {
		return out, err
	}
	res := p.Process(ctx, recs)
	out.BatchItemFailures = res.Response.BatchItemFailures
	mu.Lock()
	raw, err := json.Marshal(state)
	mu.Unlock()
	if err != nil {
		return out, fmt.Errorf("kinesisbatch: encoding the tumbling window state %T: %w", state, err)
	}
	out.State = map[string]string{tumblingStateKey: string(raw)}
	if n := stateSize(out.State); n > MaxTumblingStateBytes {
		// Lambda terminates the window early: Final gets this state with
		// IsWindowTerminatedEarly, and the window goes on with a fresh
		// state. Failing the invocation instead would retry the same batch
		// into the same state until the retries run out.
		// https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html
		t.logger().Warn("tumbling window state over Lambda's 1 MB: the window ends early",
			"shardId", w.ShardID, "windowStart", w.Start, "bytes", n, "limit", MaxTumblingStateBytes)
	}
	return out, nil
}
