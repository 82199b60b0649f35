package eventtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/functions/kinesisbatch"
)

// ResultMessage is the JSON document the ready-made sinks publish for a
// Result: the Kinesis record's data, or the EventBridge event's detail.
type ResultMessage[A any] struct {
	ID          string    `json:"id"`
	Key         string    `json:"key"`
	WindowStart time.Time `json:"windowStart"`
	WindowEnd   time.Time `json:"windowEnd"`
	Revision    int64     `json:"revision"`
	Last        bool      `json:"last"`
	Value       A         `json:"value"`
}

func message[K ~string, A any](r Result[K, A]) ([]byte, error) {
	return json.Marshal(ResultMessage[A]{ID: r.ID, Key: string(r.Key), WindowStart: r.Window.StartTime(), WindowEnd: r.Window.EndTime(),
		Revision: r.Revision, Last: r.Last, Value: r.Value})
}

// KinesisSink publishes results to a Kinesis stream with PutRecords (AWS
// JSON 1.1 through an *awsjson.Client for awsjson.Kinesis), up to 500
// records per call, partition key = the result's key (so one key's
// revisions stay in order on one shard), data = ResultMessage JSON.
type KinesisSink[K ~string, A any] struct {
	// Client calls Kinesis.
	Client DynamoAPI
	// StreamARN names the stream (StreamName is used when it is empty).
	// With an ARN the request carries the name too, as Kinesis allows ("either
	// the StreamARN or the StreamName parameter, or both"), so servers that
	// only read StreamName (kinesalite) accept it.
	StreamARN, StreamName string
}

// Publish implements ResultSink. Records Kinesis reports failed (throttled,
// internal error) get their own error: the engine publishes them again at
// its next firing.
func (s *KinesisSink[K, A]) Publish(ctx context.Context, results []Result[K, A]) []error {
	errs := make([]error, len(results))
	type entry struct {
		Data         []byte `json:"Data"`
		PartitionKey string `json:"PartitionKey"`
	}
	for lo := 0; lo < len(results); lo += 500 {
		hi := min(lo+500, len(results))
		var recs []entry
		var idx []int
		for i := lo; i < hi; i++ {
			b, err := message(results[i])
			if err != nil {
				errs[i] = fmt.Errorf("eventtime: encoding result %s: %w", results[i].ID, err)
				continue
			}
			pk := string(results[i].Key)
			if pk == "" {
				pk = "-" // Kinesis refuses an empty partition key
			}
			if len(pk) > 256 {
				pk = pk[:256]
			}
			recs = append(recs, entry{Data: b, PartitionKey: pk})
			idx = append(idx, i)
		}
		if len(recs) == 0 {
			continue
		}
		in := map[string]any{"Records": recs}
		in["StreamName"] = s.StreamName
		if s.StreamARN != "" {
			in["StreamARN"] = s.StreamARN
			if i := strings.LastIndex(s.StreamARN, ":stream/"); i >= 0 && s.StreamName == "" {
				in["StreamName"] = s.StreamARN[i+len(":stream/"):]
			}
		}
		var out struct {
			FailedRecordCount int
			Records           []entryStatus
		}
		err := s.Client.Call(ctx, "PutRecords", in, &out)
		setEntryErrors(errs, idx, err, out.Records, "Kinesis", func(i int) string { return results[i].ID })
	}
	return errs
}

// EventBridgeSink publishes results as EventBridge events with PutEvents
// (AWS JSON 1.1 through an *awsjson.Client for awsjson.EventBridge), up to
// 10 per call: Source, DetailType and EventBusName as configured, Detail =
// ResultMessage JSON, Time = the window's end. EventBridge does not
// deduplicate: rules and targets see a redelivered result again, with the
// same id in its detail.
type EventBridgeSink[K ~string, A any] struct {
	Client DynamoAPI
	// EventBusName is the bus name or ARN.
	// Default: "default"
	EventBusName string
	// Source of the events.
	// Default: "streamproc.eventtime"
	Source string
	// DetailType of the events.
	// Default: "WindowResult"
	DetailType string
}

// Publish implements ResultSink.
func (s *EventBridgeSink[K, A]) Publish(ctx context.Context, results []Result[K, A]) []error {
	errs := make([]error, len(results))
	type entry struct {
		Source       string `json:"Source"`
		DetailType   string `json:"DetailType"`
		Detail       string `json:"Detail"`
		EventBusName string `json:"EventBusName"`
		Time         int64  `json:"Time"`
	}
	bus, src, dt := s.EventBusName, s.Source, s.DetailType
	if bus == "" {
		bus = "default"
	}
	if src == "" {
		src = "streamproc.eventtime"
	}
	if dt == "" {
		dt = "WindowResult"
	}
	for lo := 0; lo < len(results); lo += 10 {
		hi := min(lo+10, len(results))
		var ents []entry
		var idx []int
		for i := lo; i < hi; i++ {
			b, err := message(results[i])
			if err != nil {
				errs[i] = fmt.Errorf("eventtime: encoding result %s: %w", results[i].ID, err)
				continue
			}
			ents = append(ents, entry{Source: src, DetailType: dt, Detail: string(b), EventBusName: bus, Time: results[i].Window.End / 1000})
			idx = append(idx, i)
		}
		if len(ents) == 0 {
			continue
		}
		var out struct {
			FailedEntryCount int
			Entries          []entryStatus
		}
		err := s.Client.Call(ctx, "PutEvents", map[string]any{"Entries": ents}, &out)
		setEntryErrors(errs, idx, err, out.Entries, "EventBridge", func(i int) string { return results[i].ID })
	}
	return errs
}

// entryStatus is one entry of a PutRecords or PutEvents answer: an error code
// for an entry the service refused (the rest of the entry is not needed).
type entryStatus struct{ ErrorCode, ErrorMessage string }

// setEntryErrors sets errs[idx[j]] for the j-th entry of one batch call: the
// call's error for every entry, an error for an answer that does not have one
// status per entry sent, or the entry's own refusal.
func setEntryErrors(errs []error, idx []int, err error, out []entryStatus, service string, id func(int) string) {
	if err == nil && len(out) != len(idx) {
		err = fmt.Errorf("eventtime: %s answered %d entries for %d", service, len(out), len(idx))
	}
	for j, i := range idx {
		switch {
		case err != nil:
			errs[i] = err
		case out[j].ErrorCode != "":
			errs[i] = fmt.Errorf("eventtime: %s refused result %s: %s: %s", service, id(i), out[j].ErrorCode, out[j].ErrorMessage)
		}
	}
}

// ErrLate is the reason of a late record in the quarantine (errors.Is).
var ErrLate = errors.New("late: the record's window had closed")

// QuarantineLateSink sends late records to a kinesisbatch.Quarantine, e.g.
// the pipeline's SQS dead-letter queue through a kinesisbatch.SQSQuarantine
// whose Kind is contract.KindLate, so that readers tell late records from
// bad ones by the message attribute. The record metadata comes from
// Record.Source when the engine's caller set it.
type QuarantineLateSink[K ~string] struct {
	Quarantine kinesisbatch.Quarantine
}

// NewQuarantineLateSink returns the late output into the SQS queue at
// queueURL, with messages of kind contract.KindLate.
func NewQuarantineLateSink[K ~string](client kinesisbatch.SQSSender, queueURL, functionName string) *QuarantineLateSink[K] {
	q := kinesisbatch.NewSQSQuarantine(client, queueURL, functionName)
	q.Kind = contract.KindLate
	return &QuarantineLateSink[K]{Quarantine: q}
}

// PutLate implements LateSink.
func (s *QuarantineLateSink[K]) PutLate(ctx context.Context, late []LateRecord[K]) []error {
	fs := make([]kinesisbatch.Failure, len(late))
	for i, l := range late {
		r := kinesisbatch.Record{Data: l.Payload, PartitionKey: string(l.Key), EventID: l.Shard + ":" + l.ID, SequenceNumber: l.ID}
		if l.Source != nil {
			r = *l.Source
			r.Data = l.Payload
		}
		fs[i] = kinesisbatch.Failure{Record: &r, Class: kinesisbatch.ClassPermanent, Quarantined: true,
			Err: fmt.Errorf("%w: record %s at %s in window %s of key %q, watermark %s", ErrLate, l.ID,
				time.UnixMilli(l.EventTime).UTC().Format(time.RFC3339Nano), l.Window, string(l.Key), time.UnixMilli(l.Watermark).UTC().Format(time.RFC3339Nano))}
	}
	return s.Quarantine.Put(ctx, fs)
}
