package kinesisbatch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/functions/kinesisbatch/kpl"
)

type userRec struct{ pk, ehk, data string }

// aggregate packs user records with the KPL format.
func aggregate(t testing.TB, us ...userRec) []byte {
	t.Helper()
	var a kpl.Aggregator
	for _, u := range us {
		if err := a.Add(u.pk, u.ehk, []byte(u.data)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := a.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kinesisEvent builds the JSON of a Lambda Kinesis event of one shard with
// the given payloads; record i has sequence number seq(i).
func kinesisEvent(t testing.TB, payloads ...[]byte) []byte {
	t.Helper()
	var ev events.KinesisEvent
	for i, p := range payloads {
		s := seq(i)
		ev.Records = append(ev.Records, events.KinesisEventRecord{
			EventID: "shardId-000000000003:" + s, EventSource: "aws:kinesis", EventName: "aws:kinesis:record",
			EventSourceArn: "arn:aws:kinesis:eu-west-1:123456789012:stream/s", AwsRegion: "eu-west-1",
			Kinesis: events.KinesisRecord{Data: p, PartitionKey: fmt.Sprintf("outer-%d", i), SequenceNumber: s, KinesisSchemaVersion: "1.0"},
		})
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func seq(i int) string {
	return fmt.Sprintf("4959033827149025660855969253836157109592157598913659%04d", i)
}

// TestDeaggregationEndToEnd: through Invoke, plain records pass unchanged,
// each KPL user record becomes a Record with its own id, key, hash key, data
// and sub-sequence number, a corrupt aggregate is quarantined whole without
// reaching the handler, a failed user record fails its Kinesis record's
// sequence number (once), and a quarantined user record keeps its own id and
// payload.
func TestDeaggregationEndToEnd(t *testing.T) {
	agg1 := aggregate(t, userRec{"A", "", "a0"}, userRec{"B", "170141183460469231731687303715884105728", "b1"}, userRec{"A", "", "a2"})
	corrupt := aggregate(t, userRec{"C", "", "c0"})
	corrupt[len(corrupt)-1] ^= 0xff
	agg3 := aggregate(t, userRec{"D", "", "bad"}, userRec{"E", "", "fail"}, userRec{"F", "", "fail"}, userRec{"G", "", "g3"})
	payload := kinesisEvent(t, []byte("plain0"), agg1, corrupt, agg3, []byte("plain4"))

	var seen []string
	h := RecordFunc(func(ctx context.Context, r *Record) error {
		seen = append(seen, fmt.Sprintf("%s|%s|%s|%s|%v|%d", r.RecordID(), r.PartitionKey, r.ExplicitHashKey, r.Data, r.Aggregated, r.Index))
		switch string(r.Data) {
		case "bad":
			return Permanent(errors.New("bad reading"))
		case "fail":
			return errors.New("throttled")
		}
		return nil
	})
	p, env := newTestProcessor(t, h, Config{Retry: RetryPolicy{MaxAttempts: 1}})
	out, err := p.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	sh := "shardId-000000000003/"
	want := []string{
		sh + seq(0) + "|outer-0||plain0|false|0",
		sh + seq(1) + "/0|A||a0|true|1",
		sh + seq(1) + "/1|B|170141183460469231731687303715884105728|b1|true|2",
		sh + seq(1) + "/2|A||a2|true|3",
		// seq(2) is corrupt: never handed to the handler (index 4).
		sh + seq(3) + "/0|D||bad|true|5",
		sh + seq(3) + "/1|E||fail|true|6",
		sh + seq(3) + "/2|F||fail|true|7",
		sh + seq(3) + "/3|G||g3|true|8",
		sh + seq(4) + "|outer-4||plain4|false|9",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("handler saw\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	// Two failed user records, one Kinesis record: its sequence number once.
	if want := `{"batchItemFailures":[{"itemIdentifier":"` + seq(3) + `"}]}`; string(out) != want {
		t.Fatalf("response %s, want %s", out, want)
	}
	if len(env.q.got) != 2 {
		t.Fatalf("%d records quarantined, want the corrupt aggregate and the bad user record", len(env.q.got))
	}
	whole := env.q.got[0]
	var ae *AggregationError
	if whole.Record.RecordID() != sh+seq(2) || !bytes.Equal(whole.Record.Data, corrupt) || !errors.As(whole.Err, &ae) ||
		!strings.Contains(whole.Err.Error(), "MD5") || whole.Attempts != 0 {
		t.Fatalf("corrupt aggregate quarantined as %s (%d bytes, %d attempts): %v", whole.Record.RecordID(), len(whole.Record.Data), whole.Attempts, whole.Err)
	}
	user := env.q.got[1]
	if user.Record.RecordID() != sh+seq(3)+"/0" || string(user.Record.Data) != "bad" || user.Record.PartitionKey != "D" {
		t.Fatalf("bad user record quarantined as %s %q", user.Record.RecordID(), user.Record.Data)
	}
	if !strings.Contains(env.logs.String(), `"subSequenceNumber":1`) {
		t.Errorf("failure log lines do not name the user record's sub-sequence number:\n%s", env.logs.String())
	}
	m := env.emf(t)
	if m[contract.MetricRecordsReceived] != 10.0 || m[contract.MetricRecordsQuarantined] != 2.0 || m[contract.MetricRecordsFailed] != 2.0 || m[contract.MetricRecordsSucceeded] != 6.0 {
		t.Errorf("metrics count records as the handler sees them: %v", m)
	}
}

// TestDeaggregationQuarantineMessage: the SQS quarantine message of a user
// record carries its sub-sequence number, hash key, own id and own payload.
func TestDeaggregationQuarantineMessage(t *testing.T) {
	recs := testRecords(1)
	recs[0].Data = aggregate(t, userRec{"A", "", "ok"}, userRec{"B", "99", "poison"})
	q := &SQSQuarantine{Client: &captureSQS{}, QueueURL: "q"}
	p, _ := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		if string(r.Data) == "poison" {
			return Permanent(errors.New("poison"))
		}
		return nil
	}), Config{Quarantine: q})
	res := p.Process(context.Background(), recs)
	if res.Quarantined != 1 || res.Succeeded != 1 {
		t.Fatalf("result %+v", res)
	}
	sent := q.Client.(*captureSQS).bodies
	if len(sent) != 1 {
		t.Fatalf("%d messages sent", len(sent))
	}
	var qr contract.QuarantinedRecord
	if err := json.Unmarshal([]byte(sent[0]), &qr); err != nil {
		t.Fatal(err)
	}
	if qr.RecordID != "shardId-000000000001/"+recs[0].SequenceNumber+"/1" || qr.SubSequenceNumber == nil || *qr.SubSequenceNumber != 1 ||
		qr.ExplicitHashKey != "99" || qr.PartitionKey != "B" || string(qr.Data) != "poison" || qr.SequenceNumber != recs[0].SequenceNumber {
		t.Fatalf("quarantine message %s", sent[0])
	}
	// A plain record's message has neither field.
	if strings.Contains(sent[0], `"subSequenceNumber":0`) {
		t.Fatal("unexpected")
	}
}

type captureSQS struct{ bodies []string }

func (c *captureSQS) SendMessageBatch(_ context.Context, in *SendMessageBatchInput) (*SendMessageBatchOutput, error) {
	out := &SendMessageBatchOutput{}
	for _, e := range in.Entries {
		c.bodies = append(c.bodies, e.MessageBody)
		out.Successful = append(out.Successful, SendMessageBatchResultEntry{Id: e.Id, MessageId: e.Id})
	}
	return out, nil
}

// TestPlainRecordsUntouched: without an aggregated record the records are
// handed on as they are (no copy), and quarantine messages keep the old id.
func TestPlainRecordsUntouched(t *testing.T) {
	recs := testRecords(3)
	var d Deaggregator
	out, bad := d.Expand(recs)
	if &out[0] != &recs[0] || bad != nil {
		t.Fatal("plain records were copied")
	}
	if id := recs[1].RecordID(); id != "shardId-000000000001/"+recs[1].SequenceNumber {
		t.Fatalf("plain record id %q", id)
	}
	q := &SQSQuarantine{Client: &captureSQS{}, QueueURL: "q"}
	p, _ := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error { return Permanent(errors.New("x")) }), Config{Quarantine: q})
	p.Process(context.Background(), recs[:1])
	if body := q.Client.(*captureSQS).bodies[0]; strings.Contains(body, "subSequenceNumber") || strings.Contains(body, "explicitHashKey") {
		t.Fatalf("plain record's quarantine message has KPL fields: %s", body)
	}
}

// TestDisableDeaggregation hands aggregated records over as they are.
func TestDisableDeaggregation(t *testing.T) {
	recs := testRecords(1)
	recs[0].Data = aggregate(t, userRec{"A", "", "x"}, userRec{"B", "", "y"})
	var n int
	p, _ := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		n++
		if r.Aggregated || !kpl.IsAggregated(r.Data) {
			t.Errorf("record changed: %+v", r)
		}
		return nil
	}), Config{DisableDeaggregation: true})
	if res := p.Process(context.Background(), recs); res.Received != 1 || n != 1 {
		t.Fatalf("received %d, handled %d", res.Received, n)
	}
}

// TestDeaggregatedRedeliverySkipsSiblings: a transient failure of one user
// record fails its Kinesis record; on redelivery its succeeded siblings come
// again with the same ids, so a handler that dedups by RecordID applies every
// user record exactly once.
func TestDeaggregatedRedeliverySkipsSiblings(t *testing.T) {
	var payloads [][]byte
	for k := range 3 {
		var us []userRec
		for i := range 4 {
			us = append(us, userRec{fmt.Sprintf("pk-%d", i%2), "", fmt.Sprintf("r%d-%d", k, i)})
		}
		payloads = append(payloads, aggregate(t, us...))
	}
	delivered := map[string]int{}
	applied := map[string]bool{}
	flaky := map[string]int{"r1-2": 2} // fails on its first two tries
	h := RecordFunc(func(ctx context.Context, r *Record) error {
		delivered[string(r.Data)]++
		if flaky[string(r.Data)] > 0 {
			flaky[string(r.Data)]--
			return errors.New("throttled")
		}
		if applied[r.RecordID()] {
			return nil // idempotency: already applied
		}
		applied[r.RecordID()] = true
		return nil
	})
	p, _ := newTestProcessor(t, h, Config{Retry: RetryPolicy{MaxAttempts: 1}})
	from := 0
	for round := 0; ; round++ {
		if round > 5 {
			t.Fatal("no progress")
		}
		body, err := p.Invoke(context.Background(), redeliver(t, payloads, from))
		if err != nil {
			t.Fatal(err)
		}
		var resp events.KinesisEventResponse
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.BatchItemFailures) == 0 {
			break
		}
		// Lambda checkpoints at the lowest failed sequence number and
		// redelivers from there.
		if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != seq(1) {
			t.Fatalf("round %d: failures %+v, want only %s", round, resp.BatchItemFailures, seq(1))
		}
		from = 1
	}
	if len(applied) != 12 {
		t.Fatalf("%d distinct user records applied, want 12", len(applied))
	}
	want := map[string]int{"r0-0": 1, "r0-1": 1, "r0-2": 1, "r0-3": 1, "r1-0": 3, "r1-1": 3, "r1-2": 3, "r1-3": 3, "r2-0": 3, "r2-1": 3, "r2-2": 3, "r2-3": 3}
	if fmt.Sprint(delivered) != fmt.Sprint(want) {
		t.Fatalf("deliveries %v, want %v", delivered, want)
	}
}

// redeliver builds the event Lambda sends from record from on: same
// sequence numbers as kinesisEvent.
func redeliver(t *testing.T, payloads [][]byte, from int) []byte {
	t.Helper()
	var ev map[string][]map[string]any
	if err := json.Unmarshal(kinesisEvent(t, payloads...), &ev); err != nil {
		t.Fatal(err)
	}
	ev["Records"] = ev["Records"][from:]
	b, _ := json.Marshal(ev)
	return b
}

// TestInvokeNoticesKPLOnEveryDecodePath: Invoke deaggregates only when the
// Decoder saw the magic, so each of its ways to decode kinesis.data (the
// record template, the plain string, the escaped string) must notice it.
func TestInvokeNoticesKPLOnEveryDecodePath(t *testing.T) {
	plain := genEvent(10)
	var ev events.KinesisEvent
	if err := json.Unmarshal(plain, &ev); err != nil {
		t.Fatal(err)
	}
	agg := aggregate(t, userRec{"A", "", "x"}, userRec{"B", "", "y"}, userRec{"C", "", strings.Repeat("?", 40)}) // '?' bytes make '/' in base64
	aggB64 := base64.StdEncoding.EncodeToString(agg)
	oldB64 := base64.StdEncoding.EncodeToString(ev.Records[6].Kinesis.Data)
	escaped := strings.ReplaceAll(aggB64, "/", `\/`)
	if escaped == aggB64 {
		t.Fatal("the aggregate's base64 has no '/' to escape")
	}
	for name, tc := range map[string]struct {
		payload      []byte
		want         int
		templateHits bool
	}{
		"plain":    {plain, 10, true},
		"template": {bytes.Replace(plain, []byte(oldB64), []byte(aggB64), 1), 12, true},
		"escaped":  {bytes.Replace(plain, []byte(oldB64), []byte(escaped), 1), 12, true},
		"reordered": {bytes.Replace(bytes.Replace(plain, []byte(oldB64), []byte(aggB64), 1),
			[]byte(`{"kinesis":{"kinesisSchemaVersion"`), []byte(`{"kinesis":{"encryptionType":"NONE","kinesisSchemaVersion"`), -1), 12, false},
	} {
		t.Run(name, func(t *testing.T) {
			n := 0
			p, _ := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error { n++; return nil }), Config{})
			if _, err := p.Invoke(context.Background(), tc.payload); err != nil {
				t.Fatal(err)
			}
			if n != tc.want {
				t.Fatalf("handler saw %d records, want %d", n, tc.want)
			}
			if hits := p.dec.hits; (hits > 0) != tc.templateHits {
				t.Fatalf("%d records decoded through the template", hits)
			}
		})
	}
}

// TestCorruptAggregatesAroundAPlainRecord: the bad marks stay on the
// corrupt records (a regression FuzzExpand found: a plain record after a
// corrupt one shifted them).
func TestCorruptAggregatesAroundAPlainRecord(t *testing.T) {
	corrupt := append(kpl.Magic(), 0x0a, 0x00)
	recs := testRecords(4)
	recs[0].Data, recs[2].Data = corrupt, corrupt
	recs[3].Data = aggregate(t, userRec{"A", "", "u0"}, userRec{"B", "", "u1"})
	var seen []string
	p, env := newTestProcessor(t, RecordFunc(func(ctx context.Context, r *Record) error {
		seen = append(seen, string(r.Data))
		return nil
	}), Config{})
	res := p.Process(context.Background(), recs)
	if strings.Join(seen, ",") != "r1,u0,u1" || res.Quarantined != 2 || res.Succeeded != 3 {
		t.Fatalf("handler saw %v; result %+v", seen, res)
	}
	for _, f := range env.q.got {
		if !bytes.Equal(f.Record.Data, corrupt) {
			t.Fatalf("quarantined %q", f.Record.Data)
		}
	}
}
