package localesm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc/internal/ctxsleep"
)

// Tumbling windows (TumblingWindowInSeconds), as the Lambda developer guide
// describes them for Kinesis ("Time windows", with-kinesis.html#services-kinesis-windows,
// now services-kinesis-windows.html):
//   - "Lambda determines tumbling window boundaries based on the time when
//     records were inserted into the stream": a record's window is the one
//     holding its ApproximateArrivalTimestamp, per shard;
//   - every invocation carries window {start,end}, the state returned by the
//     previous invocation of that window ({} at first), shardId,
//     eventSourceARN, isFinalInvokeForWindow and isWindowTerminatedEarly;
//   - "your Lambda function response must contain a state property. If the
//     response does not contain a state property, Lambda considers this a
//     failed invocation";
//   - at the end of the window Lambda invokes once more with
//     isFinalInvokeForWindow true; "If invocation is unsuccessful, your
//     Lambda function suspends further processing until a successful
//     invocation";
//   - the state is at most 1 MB per shard: "If it exceeds that size, Lambda
//     terminates the window early";
//   - "When the shard ends, Lambda considers the window closed, and the child
//     shards start their own window in a fresh state";
//   - retries (MaximumRetryAttempts) and MaximumRecordAge apply as without
//     windows.
// What the guide leaves open is listed in doc.go.

// MaxWindowStateBytes is Lambda's limit on a tumbling window's state (1 MB
// per shard); a larger state terminates the window early.
const MaxWindowStateBytes = 1 << 20

// MaxTumblingWindow is the largest TumblingWindowInSeconds (900 s).
// https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
const MaxTumblingWindow = 900 * time.Second

// window is the open tumbling window of a shard.
type window struct {
	shardID    string
	start, end time.Time
	state      json.RawMessage // the JSON object the function returned last
}

// windowOf is the window holding arrival: windows are aligned on multiples
// of their size since the Unix epoch (the guide's example shows a 120 s
// window from 07:04:00 to 07:06:00).
func (p *Poller) windowOf(arrival time.Time) time.Time {
	return arrival.UTC().Truncate(p.cfg.TumblingWindow)
}

// closeGrace is how long after a window's end a read must start for the
// window to be closed by the clock: arrival times are stamped by the stream,
// reads are timed by the poller.
const closeGrace = 250 * time.Millisecond

// windowEnvelope bounds the bytes the window fields add to an invocation
// payload besides the state.
const windowEnvelope = 512

// envelope is the payload size of an invocation without its records. With
// tumbling windows it reserves room for the largest state, so a batch cut at
// 6 MB stays under the limit whatever the state.
func (p *Poller) envelope() int {
	if p.cfg.TumblingWindow > 0 {
		return eventOverhead + windowEnvelope + MaxWindowStateBytes
	}
	return eventOverhead
}

// windowEvent is events.KinesisTimeWindowEvent with the state kept as the
// JSON the function returned (the guide's example state has numbers as
// values; aws-lambda-go types it map[string]string).
type windowEvent struct {
	Records                 []events.KinesisEventRecord `json:"Records"`
	Window                  events.Window               `json:"window"`
	State                   json.RawMessage             `json:"state"`
	ShardID                 string                      `json:"shardId"`
	EventSourceARN          string                      `json:"eventSourceARN"`
	IsFinalInvokeForWindow  bool                        `json:"isFinalInvokeForWindow"`
	IsWindowTerminatedEarly bool                        `json:"isWindowTerminatedEarly"`
}

func (p *Poller) windowPayload(batch []*Record, w *window, final, early bool) ([]byte, error) {
	ev := windowEvent{
		Records: make([]events.KinesisEventRecord, len(batch)),
		Window: events.Window{
			Start: events.RFC3339EpochTime{Time: w.start},
			End:   events.RFC3339EpochTime{Time: w.end},
		},
		State: w.state, ShardID: w.shardID, EventSourceARN: p.cfg.StreamARN,
		IsFinalInvokeForWindow: final, IsWindowTerminatedEarly: early,
	}
	for i, r := range batch {
		ev.Records[i] = p.eventRecord(r)
	}
	return json.Marshal(ev)
}

// responseState returns the state of a windowed invocation's response. A
// response without a state property fails the invocation; a null state is
// read as an empty one (aws-lambda-go's KinesisTimeWindowEventResponse sends
// null for a nil map).
func responseState(body []byte) (json.RawMessage, error) {
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(body, &resp); err != nil || resp == nil {
		return nil, errors.New(`the function's answer is not an object with a "state" property (tumbling windows need one)`)
	}
	st, ok := resp["state"]
	if !ok {
		return nil, errors.New(`the function's answer has no "state" property: with tumbling windows Lambda counts that as a failed invocation`)
	}
	st = bytes.TrimSpace(st)
	if string(st) == "null" {
		return json.RawMessage(`{}`), nil
	}
	if len(st) == 0 || st[0] != '{' {
		return nil, fmt.Errorf(`the function's "state" is %.40s, not an object`, st)
	}
	return st, nil
}

// runWindowed is runPartition for a mapping with tumbling windows (one
// concurrent batch per shard): batches never span two windows; a window is
// closed by its final invocation when the shard's next record belongs to a
// later window, when the shard was read up to its latest record by a read
// that started after the window's end (plus closeGrace: every record that
// arrived in the window has been read then), or when the shard ends.
func (p *Poller) runWindowed(ctx context.Context, sh *shardState, ch <-chan []*Record) {
	var carry []*Record
	var w *window
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	closeWindow := func() {
		p.finalInvoke(ctx, w, false)
		w = nil
		p.c.openWindows.Add(-1)
	}
	defer func() {
		if w != nil {
			p.c.openWindows.Add(-1) // the poller stopped with the window open
		}
	}()
	for ctx.Err() == nil {
		if len(carry) == 0 {
			select {
			case chunk, ok := <-ch:
				if !ok {
					if w != nil && sh.ended.Load() && ctx.Err() == nil {
						closeWindow()
					}
					return
				}
				carry = chunk
			case <-tick.C:
				if w != nil && len(ch) == 0 && sh.caughtUpAt.Load() >= w.end.Add(closeGrace).UnixNano() {
					closeWindow()
				}
				continue
			case <-ctx.Done():
				return
			}
		}
		batch := p.nextBatch(ctx, ch, &carry)
		if len(batch) == 0 {
			continue // the channel closed while gathering: handled above
		}
		start := p.windowOf(batch[0].Arrival)
		for i, r := range batch {
			if !p.windowOf(r.Arrival).Equal(start) {
				carry = append(append([]*Record{}, batch[i:]...), carry...)
				batch = batch[:i:i]
				break
			}
		}
		if w != nil && start.After(w.start) {
			closeWindow()
		}
		if w == nil {
			w = &window{shardID: sh.id, start: start, end: start.Add(p.cfg.TumblingWindow), state: json.RawMessage(`{}`)}
			p.c.openWindows.Add(1)
			p.c.windows.Add(1)
		}
		// A record that arrived in a window already closed (only possible
		// when the clocks of the stream and the poller disagree) is
		// delivered in the open window.
		p.deliverIn(ctx, batch, w)
	}
}

// finalInvoke invokes the function with isFinalInvokeForWindow and the
// window's state, no records, until it succeeds: Lambda suspends the shard
// until the final invocation succeeds. early marks a window terminated
// early because its state passed 1 MB.
func (p *Poller) finalInvoke(ctx context.Context, w *window, early bool) {
	payload, err := p.windowPayload(nil, w, true, early)
	if err != nil {
		p.log.Error("cannot encode the final invocation", "err", err)
		return
	}
	for attempt := 0; ctx.Err() == nil; attempt++ {
		p.c.invocations.Add(1)
		start := time.Now()
		body, err := p.inv.Invoke(ctx, payload)
		p.c.invokeNanos.Add(int64(time.Since(start)))
		var fe *FunctionError
		switch {
		case err == nil:
			if _, err = responseState(body); err == nil {
				p.c.finals.Add(1)
				p.log.Debug("window closed", "shard", w.shardID, "start", w.start, "end", w.end, "early", early)
				return
			}
			p.c.failed.Add(1)
		case errors.As(err, &fe):
			p.c.failed.Add(1)
			if fe.Timeout() {
				p.c.timeouts.Add(1)
			}
		default:
			if ctx.Err() != nil {
				return
			}
			p.c.invocations.Add(-1) // not invoked at all
		}
		p.c.retries.Add(1)
		p.log.Warn("final invocation of a window failed; the shard waits until it succeeds",
			"shard", w.shardID, "window", w.start, "err", err)
		_ = ctxsleep.Sleep(ctx, p.backoff(attempt))
	}
}

// windowResponse applies a windowed invocation's response to w: without a
// state property the whole batch failed; otherwise (success or a partial
// batch response) the returned state becomes the window's, and a state over
// 1 MB terminates the window early: the final invocation gets it with
// isWindowTerminatedEarly, and the window goes on with an empty state.
func (p *Poller) windowResponse(ctx context.Context, w *window, body []byte, oc *outcome) {
	st, err := responseState(body)
	if err != nil {
		*oc = outcome{checkpoint: -1, reason: err.Error()}
		return
	}
	if !oc.ok && oc.checkpoint < 0 {
		return // an invalid batch response: the whole batch is retried with the old state
	}
	w.state = st
	if len(st) > MaxWindowStateBytes {
		p.c.terminatedEarly.Add(1)
		p.log.Info("window state over 1 MB: terminating the window early", "shard", w.shardID, "window", w.start, "bytes", len(st))
		p.finalInvoke(ctx, w, true)
		w.state = json.RawMessage(`{}`)
	}
}
