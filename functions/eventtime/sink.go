package eventtime

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"time"

	"github.com/streamproc/streamproc/functions/kinesisbatch"
)

// Result is one published result of a window: revision 0 is the final
// result, fired when the watermark passes the window's end; revisions 1, 2,
// ... are corrections, fired when records within the allowed lateness
// changed the window after that.
type Result[K ~string, A any] struct {
	// ID is ResultID(Key, Window, Revision): the same for every delivery of
	// this revision, whatever the retries, and distinct between revisions.
	ID       string
	Key      K
	Window   Window
	Revision int64
	// Last: the window was closed (watermark past End + allowed lateness)
	// when this revision was decided, so no correction will follow.
	Last bool
	// Value is the window's aggregate in this revision.
	Value A
}

// ResultID is the deterministic id of revision rev of key's window w:
// "<key, path-escaped>/<start RFC 3339>/<end RFC 3339>/<rev>".
func ResultID(key string, w Window, rev int64) string {
	b := make([]byte, 0, len(key)+64)
	b = append(b, url.PathEscape(key)...)
	b = append(b, '/')
	b = w.StartTime().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '/')
	b = w.EndTime().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '/')
	b = strconv.AppendInt(b, rev, 10)
	return string(b)
}

// ResultSink publishes results downstream. Publish returns one error per
// result, in order; nil means the result was delivered. A result may be
// delivered more than once (a retry after a lost answer): consumers keep the
// first delivery of each ID and, per (Key, Window), the highest Revision.
type ResultSink[K ~string, A any] interface {
	Publish(ctx context.Context, results []Result[K, A]) []error
}

// LateRecord is a record that was not applied to Window because the window
// was closed: the watermark had passed its end plus the allowed lateness.
type LateRecord[K ~string] struct {
	ID        string
	Key       K
	Window    Window
	EventTime int64 // Unix ms
	Shard     string
	// Watermark is the stream watermark the record was judged against.
	Watermark int64
	Payload   []byte
	// Source is Record.Source.
	Source *kinesisbatch.Record
}

// LateSink receives late records with their payload (the late side output).
// PutLate returns one error per record, in order; nil means kept. A late
// record may be delivered more than once (same ID and Window) when storing
// its fate failed after the sink accepted it.
type LateSink[K ~string] interface {
	PutLate(ctx context.Context, late []LateRecord[K]) []error
}

// ResultSinkFunc and LateSinkFunc adapt functions.
type ResultSinkFunc[K ~string, A any] func(ctx context.Context, results []Result[K, A]) []error

// Publish implements ResultSink.
func (f ResultSinkFunc[K, A]) Publish(ctx context.Context, r []Result[K, A]) []error {
	return f(ctx, r)
}

// LateSinkFunc adapts a function to LateSink.
type LateSinkFunc[K ~string] func(ctx context.Context, late []LateRecord[K]) []error

// PutLate implements LateSink.
func (f LateSinkFunc[K]) PutLate(ctx context.Context, l []LateRecord[K]) []error { return f(ctx, l) }

// FireRequest is the payload a schedule (an EventBridge rule or Scheduler
// schedule with a constant input) sends to the function so that it calls
// Engine.Fire: windows then close and publish when no records arrive.
const FireRequest = `{"eventtime":"fire"}`

// IsFireRequest reports whether a Lambda invocation payload is FireRequest
// (whitespace and key order aside) rather than a Kinesis event.
func IsFireRequest(payload []byte) bool {
	if len(payload) > 256 || !bytes.Contains(payload, []byte(`"eventtime"`)) {
		return false
	}
	var m map[string]any
	return json.Unmarshal(payload, &m) == nil && len(m) == 1 && m["eventtime"] == "fire"
}
