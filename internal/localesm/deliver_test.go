package localesm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc/functions/contract"
)

// fakeFn is an in-process function: it decodes the event and answers with
// what behave says.
type fakeFn struct {
	mu     sync.Mutex
	calls  [][]string // sequence numbers per invocation
	behave func(call int, seqs []string, data []string) ([]byte, error)
}

func (f *fakeFn) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.KinesisEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	var seqs, data []string
	for _, r := range ev.Records {
		seqs = append(seqs, r.Kinesis.SequenceNumber)
		data = append(data, string(r.Kinesis.Data))
	}
	f.mu.Lock()
	call := len(f.calls)
	f.calls = append(f.calls, seqs)
	f.mu.Unlock()
	return f.behave(call, seqs, data)
}

type memDest struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (d *memDest) Send(ctx context.Context, body []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.msgs = append(d.msgs, body)
	return nil
}

func (d *memDest) decoded(t *testing.T) []contract.OnFailureMessage {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []contract.OnFailureMessage
	for _, b := range d.msgs {
		var m contract.OnFailureMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("on-failure message does not decode into contract.OnFailureMessage: %v\n%s", err, b)
		}
		out = append(out, m)
	}
	return out
}

func records(n int, data func(i int) string) []*Record {
	base := time.Now().Add(-time.Second)
	var out []*Record
	for i := range n {
		out = append(out, &Record{
			ShardID: "shardId-000000000000", SequenceNumber: fmt.Sprintf("4960%04d", i),
			PartitionKey: fmt.Sprintf("k%d", i%3), Data: []byte(data(i)), Arrival: base.Add(time.Duration(i) * time.Millisecond),
		})
	}
	return out
}

func testPoller(t *testing.T, cfg Config, fn *fakeFn, dest Destination) *Poller {
	t.Helper()
	cfg.StreamName = "s"
	cfg.StreamARN = "arn:aws:kinesis:us-east-1:000000000000:stream/s"
	cfg.FunctionARN = "arn:aws:lambda:us-east-1:000000000000:function:f"
	p, err := New(cfg, Options{Kinesis: nopKinesis{}, Invoker: fn, Destination: dest})
	if err != nil {
		t.Fatal(err)
	}
	p.backoffs = []time.Duration{time.Millisecond}
	return p
}

type nopKinesis struct{ KinesisAPI }

func failIfContains(bad string) func(int, []string, []string) ([]byte, error) {
	return func(_ int, _ []string, data []string) ([]byte, error) {
		for _, d := range data {
			if d == bad {
				return nil, &FunctionError{Type: "errorString", Message: "poison"}
			}
		}
		return []byte(`{"batchItemFailures":null}`), nil
	}
}

func TestBisectIsolatesThePoisonRecordWithoutSpendingRetries(t *testing.T) {
	fn := &fakeFn{behave: failIfContains("poison")}
	dest := &memDest{}
	p := testPoller(t, Config{BisectBatchOnFunctionError: true, MaximumRetryAttempts: Retries(0)}, fn, dest)
	batch := records(8, func(i int) string {
		if i == 5 {
			return "poison"
		}
		return "ok"
	})
	p.c.pending.Add(8)
	p.deliver(context.Background(), batch)

	msgs := dest.decoded(t)
	if len(msgs) != 1 {
		t.Fatalf("got %d on-failure messages, want 1", len(msgs))
	}
	bi := msgs[0].KinesisBatchInfo
	if bi.StartSequenceNumber != batch[5].SequenceNumber || bi.EndSequenceNumber != batch[5].SequenceNumber || bi.BatchSize != 1 {
		t.Fatalf("on-failure batch info %+v, want only record 5 (%s)", bi, batch[5].SequenceNumber)
	}
	if msgs[0].RequestContext.Condition != ConditionRetryAttemptsExhausted || msgs[0].ResponseContext.FunctionError != "Unhandled" {
		t.Fatalf("request/response context %+v %+v", msgs[0].RequestContext, msgs[0].ResponseContext)
	}
	// 8 fails -> [0..3] ok, [4..7] fails -> [4,5] fails -> [4] ok, [5] fails -> [6,7] ok: 7 calls.
	if got := len(fn.calls); got != 7 {
		t.Fatalf("invocations = %d, want 7: %v", got, fn.calls)
	}
	s := p.Stats()
	if s.AcknowledgedRecords != 7 || s.DroppedRecords != 1 || s.Bisections != 3 || s.Retries != 0 || s.Pending != 0 {
		t.Fatalf("stats %+v", s)
	}
	// Order: every acknowledged record was delivered before any later one.
	var order []string
	for _, c := range fn.calls {
		order = append(order, c...)
	}
	if !sort.SliceIsSorted(order[:4], func(i, j int) bool { return seqLess(order[i], order[j]) }) {
		t.Fatalf("first half out of order: %v", order)
	}
}

func TestPartialBatchResponseCheckpointsAtTheLowestFailedSequenceNumber(t *testing.T) {
	batch := records(8, func(int) string { return "x" })
	fn := &fakeFn{behave: func(call int, seqs []string, _ []string) ([]byte, error) {
		if call == 0 { // report 6 and 3 (unordered); Lambda retries from 3
			return fmt.Appendf(nil, `{"batchItemFailures":[{"itemIdentifier":%q},{"itemIdentifier":%q}]}`, seqs[6], seqs[3]), nil
		}
		return []byte(`{}`), nil
	}}
	p := testPoller(t, Config{ReportBatchItemFailures: true, MaximumRetryAttempts: Retries(-1)}, fn, nil)
	p.c.pending.Add(8)
	p.deliver(context.Background(), batch)
	if len(fn.calls) != 2 {
		t.Fatalf("calls %v", fn.calls)
	}
	want := []string{batch[3].SequenceNumber, batch[4].SequenceNumber, batch[5].SequenceNumber, batch[6].SequenceNumber, batch[7].SequenceNumber}
	if !reflect.DeepEqual(fn.calls[1], want) {
		t.Fatalf("retry delivered %v, want %v", fn.calls[1], want)
	}
	if s := p.Stats(); s.AcknowledgedRecords != 8 || s.PartialFailures != 1 || s.Retries != 1 || s.Pending != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPartialResponsesAreIgnoredWithoutReportBatchItemFailures(t *testing.T) {
	fn := &fakeFn{behave: func(_ int, seqs []string, _ []string) ([]byte, error) {
		return fmt.Appendf(nil, `{"batchItemFailures":[{"itemIdentifier":%q}]}`, seqs[0]), nil
	}}
	p := testPoller(t, Config{}, fn, nil)
	p.c.pending.Add(3)
	p.deliver(context.Background(), records(3, func(int) string { return "x" }))
	if len(fn.calls) != 1 || p.Stats().AcknowledgedRecords != 3 {
		t.Fatalf("calls %v stats %+v", fn.calls, p.Stats())
	}
}

func TestRetriesExhaustedSendsTheWholeBatchToTheDestination(t *testing.T) {
	fn := &fakeFn{behave: failIfContains("x")}
	dest := &memDest{}
	p := testPoller(t, Config{MaximumRetryAttempts: Retries(2)}, fn, dest)
	batch := records(5, func(int) string { return "x" })
	p.c.pending.Add(5)
	p.deliver(context.Background(), batch)
	if len(fn.calls) != 3 {
		t.Fatalf("invocations = %d, want 1 + 2 retries", len(fn.calls))
	}
	msgs := dest.decoded(t)
	if len(msgs) != 1 {
		t.Fatalf("messages %d", len(msgs))
	}
	m := msgs[0]
	if m.RequestContext.ApproximateInvokeCount != 3 || m.KinesisBatchInfo.BatchSize != 5 ||
		m.KinesisBatchInfo.StartSequenceNumber != batch[0].SequenceNumber || m.KinesisBatchInfo.EndSequenceNumber != batch[4].SequenceNumber ||
		m.KinesisBatchInfo.StreamARN != "arn:aws:kinesis:us-east-1:000000000000:stream/s" || m.Version != "1.0" ||
		m.RequestContext.FunctionARN != "arn:aws:lambda:us-east-1:000000000000:function:f" || m.ResponseContext.StatusCode != 200 ||
		m.ResponseContext.ExecutedVersion != "$LATEST" {
		t.Fatalf("message %+v", m)
	}
	if !m.KinesisBatchInfo.ApproximateArrivalOfFirstRecord.Equal(batch[0].Arrival.Truncate(time.Millisecond)) {
		t.Fatalf("first arrival %v, want %v", m.KinesisBatchInfo.ApproximateArrivalOfFirstRecord, batch[0].Arrival)
	}
}

func TestPartialFailureRetriesCountAndExhaustFromTheCheckpoint(t *testing.T) {
	fn := &fakeFn{behave: func(_ int, seqs []string, data []string) ([]byte, error) {
		for i, d := range data {
			if d == "bad" {
				return fmt.Appendf(nil, `{"batchItemFailures":[{"itemIdentifier":%q}]}`, seqs[i]), nil
			}
		}
		return nil, nil
	}}
	dest := &memDest{}
	p := testPoller(t, Config{ReportBatchItemFailures: true, BisectBatchOnFunctionError: true, MaximumRetryAttempts: Retries(1)}, fn, dest)
	batch := records(6, func(i int) string {
		if i == 2 {
			return "bad"
		}
		return "ok"
	})
	p.c.pending.Add(6)
	p.deliver(context.Background(), batch)
	msgs := dest.decoded(t)
	if len(msgs) != 1 || msgs[0].KinesisBatchInfo.StartSequenceNumber != batch[2].SequenceNumber ||
		msgs[0].KinesisBatchInfo.EndSequenceNumber != batch[5].SequenceNumber || msgs[0].KinesisBatchInfo.BatchSize != 4 ||
		msgs[0].ResponseContext.FunctionError != "" {
		t.Fatalf("messages %+v", msgs)
	}
	if s := p.Stats(); s.AcknowledgedRecords != 2 || s.DroppedRecords != 4 || s.Bisections != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestAnItemIdentifierNotInTheBatchFailsTheWholeBatch(t *testing.T) {
	for _, resp := range []string{
		`{"batchItemFailures":[{"itemIdentifier":""}]}`,
		`{"batchItemFailures":[{"itemIdentifier":null}]}`,
		`{"batchItemFailures":[{"itemIdentifier":"123"}]}`,
		`{"batchItemFailures":[{"itemId":"123"}]}`,
	} {
		t.Run(resp, func(t *testing.T) {
			fn := &fakeFn{behave: func(call int, _ []string, _ []string) ([]byte, error) {
				if call == 0 {
					return []byte(resp), nil
				}
				return []byte(`{"batchItemFailures":[]}`), nil
			}}
			p := testPoller(t, Config{ReportBatchItemFailures: true}, fn, nil)
			batch := records(4, func(int) string { return "x" })
			p.c.pending.Add(4)
			p.deliver(context.Background(), batch)
			if len(fn.calls) != 2 || len(fn.calls[1]) != 4 {
				t.Fatalf("calls %v, want the whole batch retried once", fn.calls)
			}
		})
	}
}

func TestJudgeSuccessShapes(t *testing.T) {
	batch := records(2, func(int) string { return "x" })
	for _, body := range []string{``, `null`, `{}`, `{"batchItemFailures":null}`, `{"batchItemFailures":[]}`, `"done"`} {
		if oc := judge(batch, []byte(body), true); !oc.ok {
			t.Errorf("judge(%q) = %+v, want success", body, oc)
		}
	}
	if oc := judge(batch, []byte(`{not json`), true); oc.ok || oc.checkpoint != -1 {
		t.Errorf("invalid JSON judged %+v, want complete failure", oc)
	}
}

func TestRecordsOlderThanTheMaximumAgeAreDiscardedBeforeInvoking(t *testing.T) {
	fn := &fakeFn{behave: func(int, []string, []string) ([]byte, error) { return nil, nil }}
	dest := &memDest{}
	p := testPoller(t, Config{MaximumRecordAge: time.Minute}, fn, dest)
	batch := records(4, func(int) string { return "x" })
	batch[0].Arrival = time.Now().Add(-2 * time.Minute)
	batch[1].Arrival = time.Now().Add(-90 * time.Second)
	p.c.pending.Add(4)
	p.deliver(context.Background(), batch)
	msgs := dest.decoded(t)
	if len(msgs) != 1 || msgs[0].RequestContext.Condition != ConditionRecordAgeExceeded || msgs[0].KinesisBatchInfo.BatchSize != 2 ||
		msgs[0].RequestContext.ApproximateInvokeCount != 0 {
		t.Fatalf("messages %+v", msgs)
	}
	if len(fn.calls) != 1 || len(fn.calls[0]) != 2 {
		t.Fatalf("calls %v: want the two fresh records delivered", fn.calls)
	}
}

func TestTimeoutsAreFunctionErrors(t *testing.T) {
	fn := &fakeFn{behave: func(call int, _ []string, _ []string) ([]byte, error) {
		if call == 0 {
			return nil, &FunctionError{Type: "Sandbox.Timedout", Message: "Task timed out after 1.00 seconds"}
		}
		return nil, nil
	}}
	p := testPoller(t, Config{BisectBatchOnFunctionError: true}, fn, nil)
	p.c.pending.Add(4)
	p.deliver(context.Background(), records(4, func(int) string { return "x" }))
	if s := p.Stats(); s.Timeouts != 1 || s.Bisections != 1 || s.AcknowledgedRecords != 4 || len(fn.calls) != 3 {
		t.Fatalf("stats %+v calls %v", s, fn.calls)
	}
}

func TestBatchesRespectSizeCountAndThe6MBPayload(t *testing.T) {
	p := testPoller(t, Config{BatchSize: 100}, &fakeFn{}, nil)
	big := bytes.Repeat([]byte("a"), 1<<20) // 1 MiB: about 1.4 MB once base64-encoded
	ch := make(chan []*Record, 10)
	var chunk []*Record
	for i := range 10 {
		r := &Record{ShardID: "s", SequenceNumber: fmt.Sprint(100 + i), PartitionKey: "k", Data: big, Arrival: time.Now()}
		p.measure(r)
		chunk = append(chunk, r)
	}
	ch <- chunk
	var carry []*Record
	var sizes []int
	for len(sizes) == 0 || len(carry) > 0 {
		b := p.nextBatch(context.Background(), ch, &carry)
		payload, _ := p.payload(b)
		if len(payload) > MaxPayloadBytes {
			t.Fatalf("payload %d bytes > %d", len(payload), MaxPayloadBytes)
		}
		sizes = append(sizes, len(b))
	}
	if !reflect.DeepEqual(sizes, []int{4, 4, 2}) {
		t.Fatalf("batch sizes %v, want [4 4 2]", sizes)
	}

	p = testPoller(t, Config{BatchSize: 3}, &fakeFn{}, nil)
	ch <- records(7, func(int) string { return "x" })
	carry = nil
	if b := p.nextBatch(context.Background(), ch, &carry); len(b) != 3 || len(carry) != 4 {
		t.Fatalf("batch %d carry %d", len(b), len(carry))
	}
}

func TestBatchingWindowGathersUntilItEnds(t *testing.T) {
	p := testPoller(t, Config{BatchSize: 100, BatchingWindow: 300 * time.Millisecond}, &fakeFn{}, nil)
	ch := make(chan []*Record, 10)
	go func() {
		for i := range 3 {
			ch <- records(2, func(int) string { return fmt.Sprint(i) })
			time.Sleep(50 * time.Millisecond)
		}
	}()
	start := time.Now()
	var carry []*Record
	b := p.nextBatch(context.Background(), ch, &carry)
	if len(b) != 6 || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("got %d records after %s, want 6 after the 300ms window", len(b), time.Since(start))
	}
}

func TestPartitionKeysStayInOnePartition(t *testing.T) {
	for _, k := range []string{"sensor-1", "sensor-2", "x"} {
		first := partitionOf(k, 4)
		for range 10 {
			if partitionOf(k, 4) != first {
				t.Fatal("partition of a key changed")
			}
		}
	}
	seen := map[int]bool{}
	for i := range 100 {
		seen[partitionOf(fmt.Sprintf("sensor-%d", i), 4)] = true
	}
	if len(seen) != 4 {
		t.Fatalf("100 keys used %d of 4 partitions", len(seen))
	}
}

// TestOnFailureMessageHasAWSShape compares the message's keys, nesting and
// value formats with the example in the Lambda documentation.
func TestOnFailureMessageHasAWSShape(t *testing.T) {
	aws := `{"requestContext":{"requestId":"cf6fa2a6-48e2-49a6-bc23-7ed2b154b176","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:f","condition":"RetryAttemptsExhausted","approximateInvokeCount":4},
"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"version":"1.0","timestamp":"2023-12-10T22:06:23.446Z",
"KinesisBatchInfo":{"shardId":"shardId-000000000000","startSequenceNumber":"4964","endSequenceNumber":"4965","approximateArrivalOfFirstRecord":"2023-12-10T22:05:59.280Z","approximateArrivalOfLastRecord":"2023-12-10T22:06:19.196Z","batchSize":3,"streamArn":"arn:aws:kinesis:us-east-1:123456789012:stream/s"}}`
	p := testPoller(t, Config{}, &fakeFn{}, nil)
	recs := records(3, func(int) string { return "x" })
	body, err := p.onFailureBody(recs, ConditionRetryAttemptsExhausted, &inflight{invokes: 4, lastFunctionError: true, lastRequestID: "r"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if a, b := shape(t, []byte(aws)), shape(t, body); a != b {
		t.Fatalf("shape differs:\nAWS:  %s\nours: %s", a, b)
	}
}

// shape renders a JSON document's keys (in order) and value kinds.
func shape(t *testing.T, doc []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	var b strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case json.Delim:
			b.WriteString(v.String())
		case string:
			if strings.HasSuffix(v, "Z") && len(v) == len("2023-12-10T22:06:23.446Z") {
				b.WriteString("<time>,")
			} else {
				b.WriteString("<" + kindOf(v) + ">,")
			}
		default:
			fmt.Fprintf(&b, "<%T>,", v)
		}
	}
	return b.String()
}

func kindOf(s string) string {
	if strings.HasPrefix(s, "arn:") || s == "$LATEST" || s == "1.0" || s == "Unhandled" || s == "RetryAttemptsExhausted" {
		return "value"
	}
	return "string"
}
