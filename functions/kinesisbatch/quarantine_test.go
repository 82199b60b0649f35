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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/streamproc/streamproc/internal/contract"
	"github.com/streamproc/streamproc/internal/sqsfake"
)

// fakeSQS stores accepted entries and fails calls or entries on demand.
type fakeSQS struct {
	mu          sync.Mutex
	calls       int
	sent        []types.SendMessageBatchRequestEntry
	failCalls   int                                    // fail this many calls outright
	failEntries map[string]types.BatchResultErrorEntry // by body marker, every time
	failOnce    int                                    // fail this many entries once each (server fault)
}

func (f *fakeSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(in.Entries) > 10 {
		return nil, errors.New("too many entries")
	}
	total := 0
	for _, e := range in.Entries {
		total += len(aws.ToString(e.MessageBody))
	}
	if total > 256*1024 {
		return nil, fmt.Errorf("batch of %d bytes too long", total)
	}
	if f.failCalls > 0 {
		f.failCalls--
		return nil, errors.New("connection reset")
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		body := aws.ToString(e.MessageBody)
		failed := false
		for marker, fe := range f.failEntries {
			if strings.Contains(body, marker) {
				fe.Id = e.Id
				out.Failed = append(out.Failed, fe)
				failed = true
			}
		}
		if !failed && f.failOnce > 0 {
			f.failOnce--
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
			failed = true
		}
		if !failed {
			f.sent = append(f.sent, e)
			out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m")})
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
		if a := e.MessageAttributes[contract.AttrKind]; aws.ToString(a.StringValue) != contract.KindQuarantined || aws.ToString(a.DataType) != "String" {
			t.Fatalf("message attributes %v", e.MessageAttributes)
		}
		if len(aws.ToString(e.MessageBody)) > 256*1024 {
			t.Fatalf("message of %d bytes exceeds the SQS limit", len(aws.ToString(e.MessageBody)))
		}
		bodies = append(bodies, aws.ToString(e.MessageBody))
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
	fake = &fakeSQS{failEntries: map[string]types.BatchResultErrorEntry{
		`"part":2`:             {Code: aws.String("InternalError"), Message: aws.String("boom")},
		`"sequenceNumber":"4"`: {Code: aws.String("InvalidMessageContents"), Message: aws.String("no"), SenderFault: true},
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

// TestSQSQuarantineAgainstFake runs the writer with the real SDK client
// against sqsfake (the JSON protocol on loopback), configured the way a
// deployed function is: AWS_ENDPOINT_URL_SQS and ConfigFromEnv.
func TestSQSQuarantineAgainstFake(t *testing.T) {
	srv, err := sqsfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ctx := context.Background()
	admin := srv.NewClient()
	if _, err := admin.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("dlq")}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL_SQS", srv.URL())
	t.Setenv("AWS_REGION", srv.Region())
	t.Setenv("AWS_ACCESS_KEY_ID", "fake")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv(contract.EnvQuarantineQueueURL, srv.QueueURL("dlq"))
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
		if a := m.MessageAttributes[contract.AttrKind]; aws.ToString(a.StringValue) != contract.KindQuarantined {
			t.Fatalf("attributes %+v", m.MessageAttributes)
		}
		bodies = append(bodies, m.Body)
	}
	got := reassemble(t, bodies)
	if string(got["11"]) != "not json" || !bytes.Equal(got["12"], big) || len(got) != 2 {
		t.Fatalf("stored %d records", len(got))
	}

	// The queue refuses everything: the records are reported, not lost.
	srv.FailNext("SendMessageBatch", 100, sqsfake.InternalError)
	res = p.Process(ctx, recs[1:2])
	if len(res.Response.BatchItemFailures) != 1 || res.Response.BatchItemFailures[0].ItemIdentifier != "11" || res.Quarantined != 0 {
		t.Fatalf("result %+v", res)
	}
}

func randomBytes(b []byte, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}
