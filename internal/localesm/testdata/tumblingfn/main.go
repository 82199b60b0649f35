// Command tumblingfn is the poller's test function for tumbling windows: a
// kinesisbatch.Tumbling that keeps the count and the ids of the records of
// each window in its state and, on the window's final invocation, appends one
// JSON line {shard, start, end, n, ids, early} to FN_LOG.
//
// A record's data is {"id": "...", "do": "..."}; "do" is one of
//
//	""           count it
//	"failonce"   fail the whole invocation the first time it is seen
//	"crashonce"  exit the runtime the first time it is seen
//	"big"        count it and pad the state past Lambda's 1 MB
//
// "First time" is remembered by a file per id under FN_MARKS, so the retried
// invocation (perhaps in a fresh execution environment) succeeds.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/streamproc/streamproc/functions/kinesisbatch"
)

type count struct {
	N   int      `json:"n"`
	IDs []string `json:"ids"`
	Pad string   `json:"pad,omitempty"`
}

type record struct {
	ID string `json:"id"`
	Do string `json:"do"`
}

// Line is one FN_LOG entry: a window's final state.
type Line struct {
	Shard string    `json:"shard"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	N     int       `json:"n"`
	IDs   []string  `json:"ids"`
	Early bool      `json:"early"`
}

// firstTime reports whether id is seen for the first time, and remembers it.
func firstTime(id string) bool {
	f, err := os.OpenFile(filepath.Join(os.Getenv("FN_MARKS"), id), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return false
	}
	_ = f.Close()
	return true
}

func main() {
	t := &kinesisbatch.Tumbling[count]{
		Fold: func(_ context.Context, _ kinesisbatch.TumblingWindow, s *count, b *kinesisbatch.Batch) error {
			for _, r := range b.Records {
				var rec record
				if err := json.Unmarshal(r.Data, &rec); err != nil {
					b.Fail(r, kinesisbatch.Permanent(err))
					continue
				}
				s.N++
				s.IDs = append(s.IDs, rec.ID)
				if rec.Do == "big" {
					s.Pad = strings.Repeat("x", kinesisbatch.MaxTumblingStateBytes)
				}
			}
			return nil
		},
		Final: func(_ context.Context, w kinesisbatch.TumblingWindow, s count) error {
			b, _ := json.Marshal(Line{Shard: w.ShardID, Start: w.Start, End: w.End, N: s.N, IDs: s.IDs, Early: w.IsWindowTerminatedEarly})
			f, err := os.OpenFile(os.Getenv("FN_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.Write(append(b, '\n'))
			return err
		},
		Config: kinesisbatch.Config{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), DisableMetrics: true},
	}
	lambda.Start(func(ctx context.Context, ev events.KinesisTimeWindowEvent) (events.KinesisTimeWindowEventResponse, error) {
		for _, r := range ev.Records {
			var rec record
			_ = json.Unmarshal(r.Kinesis.Data, &rec)
			switch {
			case rec.Do == "failonce" && firstTime(rec.ID):
				return events.KinesisTimeWindowEventResponse{}, errors.New("failonce: " + rec.ID)
			case rec.Do == "crashonce" && firstTime(rec.ID):
				os.Exit(2)
			}
		}
		return t.HandleEvent(ctx, ev)
	})
}
