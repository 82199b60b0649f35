package handler_test

// Redelivery against dynalite (the real DynamoDB wire protocol): the engine's
// DynamoStore through awsjson, as in the Lambda. The same orders delivered
// as Lambda would on retries, bisection and producer resends, through
// Processor.Invoke with real event JSON, must publish each (customer, window)
// once, with the revenue computed here from the unique valid orders.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc/functions/eventtime"

	"example.com/orders/internal/dynalitetest"
	"example.com/orders/revenue"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dynalitetest.Stop()
	os.Exit(code)
}

// event encodes records as the JSON Lambda sends for a Kinesis batch.
func event(t *testing.T, payloads []string, firstSeq int) []byte {
	t.Helper()
	var ev events.KinesisEvent
	for i, p := range payloads {
		seq := strconv.Itoa(firstSeq + i)
		ev.Records = append(ev.Records, events.KinesisEventRecord{
			EventSource: "aws:kinesis", EventName: "aws:kinesis:record", EventVersion: "1.0",
			EventID:        "shardId-000000000000:" + seq,
			EventSourceArn: "arn:aws:kinesis:us-east-1:000000000000:stream/orders",
			AwsRegion:      "us-east-1",
			Kinesis: events.KinesisRecord{
				Data: []byte(p), PartitionKey: "k", SequenceNumber: seq, KinesisSchemaVersion: "1.0",
				ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: time.Unix(1_800_000_000, 0)},
			},
		})
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRedeliveriesOnDynalite(t *testing.T) {
	c := dynalitetest.Client(t)
	tbl := regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := eventtime.CreateDynamoTable(ctx, c, tbl); err != nil {
		t.Fatal(err)
	}
	store, err := eventtime.NewDynamoStore(c, eventtime.DynamoConfig{Table: tbl, AllowedLateness: allowedLateness})
	if err != nil {
		t.Fatal(err)
	}
	s := &sinks{}
	q := &memQuarantine{}
	p := processor(t, engine(t, store, s, nil), q)

	// 300 records: orders of 12 customers placed 2 s apart (give or take
	// 5 s, within the out-of-orderness: none late), every 10th a producer
	// resend of an earlier order (same order_id, new sequence number),
	// every 25th invalid; then one order an hour later that moves the
	// watermark past every window of the others.
	rng := rand.New(rand.NewPCG(7, 7))
	start := at("10:00:00")
	var payloads []string
	want := map[string]revenue.Revenue{} // "customer window-start" -> revenue of the unique valid orders
	assign := mustHopping(t)
	const bad = `{"order_id":"x","amount_cents":1,"placed_at":"2026-01-15T10:00:00Z"}` // no customer_id
	for i := range 300 {
		switch {
		case i%25 == 24:
			payloads = append(payloads, bad)
		case i%10 == 9:
			for {
				if p := payloads[rng.IntN(len(payloads))]; p != bad {
					payloads = append(payloads, p)
					break
				}
			}
		default:
			cust := fmt.Sprintf("c-%d", rng.IntN(12))
			cents := int64(1 + rng.IntN(10_000))
			placed := start.Add(time.Duration(i)*2*time.Second + time.Duration(rng.IntN(5000))*time.Millisecond)
			payloads = append(payloads, ord(fmt.Sprintf("o-%d", i), cust, int(cents), placed))
			for _, w := range assign.Assign(placed.UnixMilli(), nil) {
				k := cust + " " + w.StartTime().Format("15:04")
				want[k] = want[k].Add(0, cents)
			}
		}
	}
	invalid := 0
	for _, p := range payloads {
		if p == bad {
			invalid++
		}
	}

	invoke := func(from, to int, extra ...string) {
		t.Helper()
		out, err := p.Invoke(ctx, event(t, append(payloads[from:to:to], extra...), 1000+from))
		if err != nil {
			t.Fatal(err)
		}
		var resp events.KinesisEventResponse
		if err := json.Unmarshal(out, &resp); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("records %d-%d: response %s, %v; want no failures", from, to, out, err)
		}
	}
	invoke(0, 100)   // first delivery
	invoke(0, 100)   // the same batch again (a retry after a timeout)
	invoke(50, 150)  // other boundaries (a checkpoint in the middle)
	invoke(100, 125) // bisected halves
	invoke(125, 150)
	invoke(150, 300)
	invoke(0, 300, ord("push", "c-push", 1, start.Add(time.Hour))) // a redrive of everything, and an order an hour later

	got := map[string]revenue.Revenue{}
	for _, r := range s.results {
		if r.Key == "c-push" {
			continue
		}
		k := r.Key + " " + r.Window.StartTime().Format("15:04")
		if _, dup := got[k]; dup || r.Revision != 0 {
			t.Errorf("%s: revision %d published again: want each window's final result once, no corrections", k, r.Revision)
		}
		got[k] = r.Value
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("published %d windows, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	if len(s.late) != 0 {
		t.Errorf("%d late records, want none", len(s.late))
	}
	if len(q.reasons) != invalid {
		t.Errorf("quarantined %d distinct records, want the %d invalid ones", len(q.reasons), invalid)
	}
}
