package kinesisbatch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/sqsfake"
)

// fakeSQS stores accepted entries and fails calls or entries on demand.
type fakeSQS struct {
	mu          sync.Mutex
	calls       int
	sent        []SendMessageBatchRequestEntry
	failCalls   int                              // fail this many calls outright
	failEntries map[string]BatchResultErrorEntry // by body marker, every time
	failOnce    int                              // fail this many entries once each (server fault)
}

func (f *fakeSQS) SendMessageBatch(ctx context.Context, in *SendMessageBatchInput) (*SendMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(in.Entries) > 10 {
		return nil, errors.New("too many entries")
	}
	total := 0
	for _, e := range in.Entries {
		total += len(e.MessageBody)
	}
	if total > 256*1024 {
		return nil, fmt.Errorf("batch of %d bytes too long", total)
	}
	if f.failCalls > 0 {
		f.failCalls--
		return nil, errors.New("connection reset")
	}
	out := &SendMessageBatchOutput{}
	for _, e := range in.Entries {
		failed := false
		for marker, fe := range f.failEntries {
			if strings.Contains(e.MessageBody, marker) {
				fe.Id = e.Id
				out.Failed = append(out.Failed, fe)
				failed = true
			}
		}
		if !failed && f.failOnce > 0 {
			f.failOnce--
			out.Failed = append(out.Failed, BatchResultErrorEntry{Id: e.Id, Code: "InternalError", Message: "try again"})
			failed = true
		}
		if !failed {
			f.sent = append(f.sent, e)
			out.Successful = append(out.Successful, SendMessageBatchResultEntry{Id: e.Id, MessageId: "m"})
		}
	}
	return out, nil
}

func quarantineRecord(seq string, data []byte) *Record {
	return &Record{
		Data:                        data,
		PartitionKey:                "sensor-9",
		SequenceNumber:              seq,
		EventID:                     "shardId-000000000003:" + seq,
		EventSourceARN:              "arn:aws:kinesis:eu-west-1:123456789012:stream/readings",
		ApproximateArrivalTimestamp: time.Unix(1764065251, 123000000),
	}
}

// reassemble groups quarantine bodies by record and checks each record's
// parts against its hash, returning the payloads by sequence number.
func reassemble(t *testing.T, bodies []string) map[string][]byte {
	t.Helper()
	parts := map[string][]contract.QuarantinedRecord{}
	for _, b := range bodies {
		var qr contract.QuarantinedRecord
		if err := json.Unmarshal([]byte(b), &qr); err != nil {
			t.Fatalf("body is not a QuarantinedRecord: %v", err)
		}
		parts[qr.RecordID] = append(parts[qr.RecordID], qr)
	}
	out := map[string][]byte{}
	for id, ps := range parts {
		sort.Slice(ps, func(i, j int) bool { return ps[i].Part < ps[j].Part })
		var data []byte
		for i, p := range ps {
			if p.Part != i+1 || p.Parts != len(ps) || p.Offset != len(data) || len(p.Data) > contract.MaxQuarantineChunk {
				t.Fatalf("%s: part %d/%d at %d (%d bytes) out of order or oversized", id, p.Part, p.Parts, p.Offset, len(p.Data))
			}
			data = append(data, p.Data...)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != ps[0].DataSHA256 || len(data) != ps[0].Size {
			t.Fatalf("%s: reassembled payload does not match its hash or size", id)
		}
		if ps[0].RecordID != "shardId-000000000003/"+ps[0].SequenceNumber || ps[0].ShardID != "shardId-000000000003" {
			t.Fatalf("record id %q shard %q", ps[0].RecordID, ps[0].ShardID)
		}
		out[ps[0].SequenceNumber] = data
	}
	return out
}

func TestSQSQuarantineSmallAndOversized(t *testing.T) {
	fake := &fakeSQS{}
	q := NewSQSQuarantine(fake, "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq", "fn")
	q.Now = func() time.Time { return time.Unix(1764070000, 0) }
	big := make([]byte, 2*contract.MaxQuarantineChunk+1234)
	randomBytes(big, 3)
	fs := []Failure{
		{Record: quarantineRecord("1", []byte(`{"temperature":"hot"}`)), Err: Permanent(errors.New("temperature is not a number"))},
		{Record: quarantineRecord("2", big), Err: Permanent(errors.New("record too large"))},
		{Record: quarantineRecord("3", nil), Err: Permanent(errors.New("empty record"))},
	}
	errs := q.Put(context.Background(), fs)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	var bodies []string
	for _, e := range fake.sent {
		if len(e.MessageAttributes) != 1 || e.MessageAttributes[contract.AttrKind] != contract.KindQuarantined {
			t.Fatalf("message attributes %v", e.MessageAttributes)
		}
		if len(e.MessageBody) > 256*1024 {
			t.Fatalf("message of %d bytes exceeds the SQS limit", len(e.MessageBody))
		}
		bodies = append(bodies, e.MessageBody)
	}
	if len(bodies) != 1+3+1 {
		t.Fatalf("%d messages, want 1 + 3 parts + 1", len(bodies))
	}
	got := reassemble(t, bodies)
	if string(got["1"]) != `{"temperature":"hot"}` || !bytes.Equal(got["2"], big) || len(got["3"]) != 0 {
		t.Fatal("payloads not kept whole")
	}
	var first contract.QuarantinedRecord
	_ = json.Unmarshal([]byte(bodies[0]), &first)
	if first.Reason != "temperature is not a number" || first.FunctionName != "fn" || first.PartitionKey != "sensor-9" ||
		!first.ApproximateArrivalTimestamp.Equal(time.Unix(1764065251, 123000000)) || !first.QuarantinedAt.Equal(time.Unix(1764070000, 0)) ||
		first.EventSourceARN == "" {
		t.Fatalf("metadata %+v", first)
	}
}

func TestSQSQuarantineRetriesAndReportsFailures(t *testing.T) {
	// A failed call and server-side entry failures are retried.
	fake := &fakeSQS{failCalls: 1, failOnce: 2}
	q := NewSQSQuarantine(fake, "u", "")
	fs := []Failure{
		{Record: quarantineRecord("1", []byte("a")), Err: errors.New("bad")},
		{Record: quarantineRecord("2", []byte("b")), Err: errors.New("bad")},
	}
	for i, err := range q.Put(context.Background(), fs) {
		if err != nil {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if len(fake.sent) != 2 || fake.calls != 3 {
		t.Fatalf("sent %d in %d calls", len(fake.sent), fake.calls)
	}

	// A record with one part that SQS keeps refusing fails as a whole; a
	// sender fault is not retried.
	big := bytes.Repeat([]byte("x"), contract.MaxQuarantineChunk+10)
	fake = &fakeSQS{failEntries: map[string]BatchResultErrorEntry{
		`"part":2`:             {Code: "InternalError", Message: "boom"},
		`"sequenceNumber":"4"`: {Code: "InvalidMessageContents", Message: "no", SenderFault: true},
	}}
	q = NewSQSQuarantine(fake, "u", "")
	errs := q.Put(context.Background(), []Failure{
		{Record: quarantineRecord("3", big), Err: errors.New("bad")},
		{Record: quarantineRecord("4", []byte("c")), Err: errors.New("bad")},
		{Record: quarantineRecord("5", []byte("d")), Err: errors.New("bad")},
	})
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "InternalError") {
		t.Fatalf("record with a refused part: %v", errs[0])
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "InvalidMessageContents") || errs[2] != nil {
		t.Fatalf("errors %v", errs)
	}
	if fake.calls != 3 {
		t.Fatalf("%d calls: want the first try plus 2 retries of the server fault only", fake.calls)
	}
}

// setFakeSQSEnv configures the environment the way the StreamProcessor
// construct configures a deployed function, with srv as the SQS endpoint,
// and creates the queue "dlq" through an awsjson client.
func setFakeSQSEnv(t *testing.T, srv *sqsfake.Server, endpointVar string) {
	t.Helper()
	for _, v := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN", "AWS_CA_BUNDLE"} {
		t.Setenv(v, "")
	}
	t.Setenv(endpointVar, srv.URL())
	t.Setenv("AWS_REGION", srv.Region())
	t.Setenv("AWS_ACCESS_KEY_ID", "fake")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake")
	t.Setenv(contract.EnvQuarantineQueueURL, srv.QueueURL("dlq"))
	admin, err := awsjson.NewFromEnv(awsjson.SQS)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Call(context.Background(), "CreateQueue", map[string]string{"QueueName": "dlq"}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestSQSQuarantineAgainstFake runs the writer with the real client
// (awsjson + NewSQSClient) against sqsfake (the SQS JSON protocol on
// loopback), configured the way a deployed function is:
// AWS_ENDPOINT_URL_SQS and ConfigFromEnv. It proves the wire format both
// ways: sqsfake decodes and validates the requests, and the client reads
// sqsfake's Successful and Failed lists (including SenderFault) and its
// error answers.
func TestSQSQuarantineAgainstFake(t *testing.T) {
	srv, err := sqsfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ctx := context.Background()
	setFakeSQSEnv(t, srv, "AWS_ENDPOINT_URL_SQS")
	// The service-specific variable wins over the general one.
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	cfg, err := ConfigFromEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Quarantine == nil {
		t.Fatal("no quarantine from the environment")
	}

	big := make([]byte, 3*contract.MaxQuarantineChunk)
	randomBytes(big, 5)
	recs := []Record{*quarantineRecord("10", []byte("ok")), *quarantineRecord("11", []byte("not json")), *quarantineRecord("12", big)}
	cfg.DisableMetrics = true
	var logs bytes.Buffer
	cfg.Logger = NewLogger(&logs)
	p := New(RecordFunc(func(ctx context.Context, r *Record) error {
		if r.SequenceNumber == "10" {
			return nil
		}
		return Permanent(errors.New("invalid reading"))
	}), cfg)
	res := p.Process(ctx, recs)
	if res.Quarantined != 2 || len(res.Response.BatchItemFailures) != 0 {
		t.Fatalf("result %+v\n%s", res, logs.String())
	}
	var bodies []string
	for _, m := range srv.Peek("dlq") {
		a := m.MessageAttributes[contract.AttrKind]
		if len(m.MessageAttributes) != 1 || a.DataType != "String" || a.StringValue == nil || *a.StringValue != contract.KindQuarantined {
			t.Fatalf("attributes %+v", m.MessageAttributes)
		}
		bodies = append(bodies, m.Body)
	}
	got := reassemble(t, bodies)
	if string(got["11"]) != "not json" || !bytes.Equal(got["12"], big) || len(got) != 2 {
		t.Fatalf("stored %d records", len(got))
	}

	// An entry SQS fails on its side is sent again; the record is
	// quarantined once every part is in.
	before := len(srv.Peek("dlq"))
	calls := srv.Calls("SendMessageBatch")
	srv.FailNextEntries("SendMessageBatch", 1, sqsfake.InternalError)
	res = p.Process(ctx, recs[1:2])
	if res.Quarantined != 1 || len(res.Response.BatchItemFailures) != 0 || srv.Calls("SendMessageBatch") != calls+2 || len(srv.Peek("dlq")) != before+1 {
		t.Fatalf("server fault on an entry: result %+v, %d calls, %d messages\n%s", res, srv.Calls("SendMessageBatch")-calls, len(srv.Peek("dlq"))-before, logs.String())
	}

	// An entry refused as the sender's fault is not retried: the record
	// is reported, with SQS's code and message.
	logs.Reset()
	calls = srv.Calls("SendMessageBatch")
	refused := sqsfake.Failure{Status: 400, Type: "com.amazonaws.sqs#InvalidMessageContents", QueryCode: "InvalidMessageContents", Sender: true, Message: "refused by the test"}
	srv.FailNextEntries("SendMessageBatch", 1, refused)
	res = p.Process(ctx, recs[1:2])
	if len(res.Response.BatchItemFailures) != 1 || res.Response.BatchItemFailures[0].ItemIdentifier != "11" || res.Quarantined != 0 ||
		srv.Calls("SendMessageBatch") != calls+1 || !strings.Contains(logs.String(), "InvalidMessageContents: refused by the test") {
		t.Fatalf("sender fault: result %+v, %d calls\n%s", res, srv.Calls("SendMessageBatch")-calls, logs.String())
	}

	// The queue refuses everything: the records are reported, not lost.
	logs.Reset()
	srv.FailNext("SendMessageBatch", 100, sqsfake.InternalError)
	res = p.Process(ctx, recs[1:2])
	if len(res.Response.BatchItemFailures) != 1 || res.Response.BatchItemFailures[0].ItemIdentifier != "11" || res.Quarantined != 0 {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(logs.String(), "InternalError") {
		t.Fatalf("the log does not name SQS's error:\n%s", logs.String())
	}
}

// TestConfigFromEnvGeneralEndpoint: with only AWS_ENDPOINT_URL set, the
// quarantine goes there.
func TestConfigFromEnvGeneralEndpoint(t *testing.T) {
	srv, err := sqsfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	setFakeSQSEnv(t, srv, "AWS_ENDPOINT_URL")
	cfg, err := ConfigFromEnv(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	errs := cfg.Quarantine.Put(context.Background(), []Failure{{Record: quarantineRecord("1", []byte("x")), Err: errors.New("bad")}})
	if errs[0] != nil || len(srv.Peek("dlq")) != 1 {
		t.Fatalf("put: %v, %d messages", errs[0], len(srv.Peek("dlq")))
	}
}

func TestConfigFromEnvErrors(t *testing.T) {
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(v, "")
	}
	// No queue: no quarantine, and no AWS configuration needed.
	t.Setenv(contract.EnvQuarantineQueueURL, "")
	cfg, err := ConfigFromEnv(context.Background())
	if err != nil || cfg.Quarantine != nil {
		t.Fatalf("without a queue: %+v, %v", cfg, err)
	}
	// A queue but no region: the error names the queue variable and the
	// missing region variables.
	t.Setenv(contract.EnvQuarantineQueueURL, "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	_, err = ConfigFromEnv(context.Background())
	if err == nil || !strings.Contains(err.Error(), contract.EnvQuarantineQueueURL) || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Fatalf("without a region: %v", err)
	}
	// A region but no credentials.
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	_, err = ConfigFromEnv(context.Background())
	if err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("without credentials: %v", err)
	}
}

func randomBytes(b []byte, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}
