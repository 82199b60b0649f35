package kinesisbatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc/functions/kinesisbatch"
)

type counts struct {
	N   int            `json:"n"`
	Sum int            `json:"sum"`
	Per map[string]int `json:"per"`
}

func windowEvent(state map[string]string, final bool, values ...string) events.KinesisTimeWindowEvent {
	var ev events.KinesisTimeWindowEvent
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ev.Window = events.Window{Start: events.RFC3339EpochTime{Time: start}, End: events.RFC3339EpochTime{Time: start.Add(time.Minute)}}
	ev.State, ev.ShardID, ev.EventSourceARN, ev.IsFinalInvokeForWindow = state, "shardId-000000000000", "arn:aws:kinesis:eu-west-1:111111111111:stream/s", final
	for i, v := range values {
		ev.Records = append(ev.Records, events.KinesisEventRecord{EventSource: "aws:kinesis", EventID: "shardId-000000000000:" + strconv.Itoa(100+i),
			Kinesis: events.KinesisRecord{Data: []byte(v), SequenceNumber: strconv.Itoa(100 + i), PartitionKey: "pk" + v}})
	}
	return ev
}

// TestTumbling folds three invocations of one window through Lambda's
// state map (a failing record retried and reported), then hands the state
// to Final on the window's last invocation.
func TestTumbling(t *testing.T) {
	var final counts
	var finalWindow kinesisbatch.TumblingWindow
	tw := &kinesisbatch.Tumbling[counts]{
		Fold: func(_ context.Context, w kinesisbatch.TumblingWindow, s *counts, b *kinesisbatch.Batch) error {
			if w.End.Sub(w.Start) != time.Minute || w.ShardID != "shardId-000000000000" {
				t.Errorf("window %+v", w)
			}
			for _, r := range b.Records {
				n, err := strconv.Atoi(string(r.Data))
				if err != nil {
					b.Fail(r, kinesisbatch.Permanent(err))
					continue
				}
				if n < 0 {
					b.Fail(r, errors.New("transient"))
					continue
				}
				if s.Per == nil {
					s.Per = map[string]int{}
				}
				s.N++
				s.Sum += n
				s.Per[r.PartitionKey]++
			}
			return nil
		},
		Final: func(_ context.Context, w kinesisbatch.TumblingWindow, s counts) error {
			final, finalWindow = s, w
			return nil
		},
		Config: kinesisbatch.Config{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), MetricsOutput: io.Discard,
			Retry: kinesisbatch.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}},
	}
	ctx := context.Background()
	out, err := tw.HandleEvent(ctx, windowEvent(nil, false, "1", "2", "3"))
	if err != nil || len(out.BatchItemFailures) != 0 {
		t.Fatalf("%v %v", err, out.BatchItemFailures)
	}
	out, err = tw.HandleEvent(ctx, windowEvent(out.State, false, "4", "-1", "5"))
	if err != nil || len(out.BatchItemFailures) != 1 || out.BatchItemFailures[0].ItemIdentifier != "101" {
		t.Fatalf("%v %+v: want record 101 failed", err, out.BatchItemFailures)
	}
	var mid counts
	if err := json.Unmarshal([]byte(out.State["state"]), &mid); err != nil || mid.N != 5 || mid.Sum != 15 {
		t.Fatalf("state after two invocations %s (%v): want n=5 sum=15", out.State["state"], err)
	}
	out, err = tw.HandleEvent(ctx, windowEvent(out.State, true))
	if err != nil || final.N != 5 || final.Sum != 15 || final.Per["pk4"] != 1 || !finalWindow.IsFinalInvokeForWindow {
		t.Fatalf("final %+v %+v (%v)", final, finalWindow, err)
	}
	if b, _ := json.Marshal(out); !strings.Contains(string(b), `"state":{}`) {
		t.Errorf("final invocation answered %s: want an empty state property (a missing one fails the invocation)", b)
	}
	// A state that does not decode fails the invocation (Lambda retries it).
	if _, err := tw.HandleEvent(ctx, windowEvent(map[string]string{"state": "{"}, false, "1")); err == nil || !strings.Contains(err.Error(), "does not decode") {
		t.Errorf("bad state: %v", err)
	}
}

// TestTumblingStateLimit: a state over Lambda's 1 MB is returned (Lambda
// terminates the window early and calls Final with it), with a warning,
// rather than failing the invocation, which would retry the same batch into
// the same state.
func TestTumblingStateLimit(t *testing.T) {
	var logs strings.Builder
	tw := &kinesisbatch.Tumbling[[]string]{
		Fold: func(_ context.Context, _ kinesisbatch.TumblingWindow, s *[]string, b *kinesisbatch.Batch) error {
			*s = append(*s, strings.Repeat("x", kinesisbatch.MaxTumblingStateBytes))
			return nil
		},
		Config: kinesisbatch.Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), MetricsOutput: io.Discard},
	}
	out, err := tw.HandleEvent(context.Background(), windowEvent(nil, false, "1"))
	if err != nil || len(out.State["state"]) <= kinesisbatch.MaxTumblingStateBytes {
		t.Fatalf("state over 1 MB: %v, %d bytes of state", err, len(out.State["state"]))
	}
	if !strings.Contains(logs.String(), "the window ends early") {
		t.Errorf("no warning in %.300s", logs.String())
	}
}
