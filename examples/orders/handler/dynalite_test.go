package handler_test

// Redelivery against dynalite (the real DynamoDB wire protocol): the same
// orders delivered as Lambda would on retries, bisection and producer
// resends, through Processor.Invoke with real event JSON, must leave each
// customer's totals equal to the sum of its unique valid orders.

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
	"github.com/streamproc/streamproc/functions/awsjson"

	"example.com/orders/config"
	"example.com/orders/internal/dynalitetest"
	"example.com/orders/totals"
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

func TestRedeliveriesCountEachOrderOnce(t *testing.T) {
	c := dynalitetest.Client(t)
	tbl := regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := totals.CreateTable(ctx, c, tbl); err != nil {
		t.Fatal(err)
	}
	st, err := totals.New(c, tbl, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := &memQuarantine{}
	p := processor(t, st, q)

	// 300 records: orders of 12 customers, every 10th a producer resend of
	// an earlier order (same order_id, new sequence number), every 25th
	// invalid.
	rng := rand.New(rand.NewPCG(7, 7))
	var payloads []string
	want := map[string]int64{} // customer -> total of unique valid orders
	wantCount := map[string]int64{}
	const bad = `{"order_id":"x","amount_cents":1}` // no customer_id
	for i := range 300 {
		switch {
		case i%25 == 24:
			payloads = append(payloads, bad)
		case i%10 == 9:
			payloads = append(payloads, payloads[rng.IntN(len(payloads))])
		default:
			cust := fmt.Sprintf("c-%d", rng.IntN(12))
			cents := int64(1 + rng.IntN(10_000))
			payloads = append(payloads, ord(fmt.Sprintf("o-%d", i), cust, int(cents)))
			want[cust] += cents
			wantCount[cust]++
		}
	}

	invalid := 0 // records (sequence numbers) holding an invalid order
	for _, p := range payloads {
		if p == bad {
			invalid++
		}
	}

	invoke := func(from, to int) {
		t.Helper()
		out, err := p.Invoke(ctx, event(t, payloads[from:to], 1000+from))
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
	invoke(0, 300) // a redrive of everything

	got, gotCount := scanTotals(t, c, tbl)
	for cust, total := range want {
		if got[cust] != total || gotCount[cust] != wantCount[cust] {
			t.Errorf("%s: stored %d orders, %d cents; want %d orders, %d cents", cust, gotCount[cust], got[cust], wantCount[cust], total)
		}
	}
	if len(got) != len(want) {
		t.Errorf("stored %d customers, want %d", len(got), len(want))
	}
	if len(q.reasons) != invalid {
		t.Errorf("quarantined %d distinct records, want the %d invalid ones", len(q.reasons), invalid)
	}
}

// scanTotals reads every customer's totals with a consistent Scan, decoded
// here rather than through the store.
func scanTotals(t *testing.T, c *awsjson.Client, tbl string) (total, count map[string]int64) {
	t.Helper()
	total, count = map[string]int64{}, map[string]int64{}
	var start map[string]any
	for {
		in := map[string]any{"TableName": tbl, "ConsistentRead": true}
		if start != nil {
			in["ExclusiveStartKey"] = start
		}
		var out struct {
			Items []map[string]struct {
				S, N string
			}
			LastEvaluatedKey map[string]any
		}
		if err := c.Call(context.Background(), "Scan", in, &out); err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			cust := it[config.TablePartitionKey].S
			total[cust], _ = strconv.ParseInt(it[totals.AttrTotalCents].N, 10, 64)
			count[cust], _ = strconv.ParseInt(it[totals.AttrOrderCount].N, 10, 64)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return total, count
		}
		start = out.LastEvaluatedKey
	}
}
