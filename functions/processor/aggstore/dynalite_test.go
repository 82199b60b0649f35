package aggstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/processor/aggstore"
	"github.com/streamproc/streamproc/functions/processor/sensor"
	"github.com/streamproc/streamproc/internal/emulator"
)

// TestDynamoDBAgainstDynalite drives NewDynamoDB through awsjson against
// dynalite, a real implementation of DynamoDB's wire protocol: CreateTable,
// the hand-encoded PutItem with both conditions and strings that need every
// JSON escape, GetItem, BatchGetItem, and a conflict through the Store.
func TestDynamoDBAgainstDynalite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	proc, err := emulator.StartDynamo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Stop()
	c := &awsjson.Client{
		Service: awsjson.DynamoDB, Region: "us-east-1", Endpoint: proc.Endpoint,
		Credentials: awsjson.Credentials{AccessKeyID: "test", SecretAccessKey: "test"},
	}
	if err := aggstore.CreateTable(ctx, c, "aggs"); err != nil {
		t.Fatal(err)
	}
	// Again: ResourceInUseException, and the existing table's key schema is ours.
	if err := aggstore.CreateTable(ctx, c, "aggs"); err != nil {
		t.Fatalf("creating the table again: %v", err)
	}
	db := aggstore.NewDynamoDB(c)
	win := time.Date(2026, 11, 25, 10, 7, 0, 0, time.UTC).UnixMilli()

	// Sensor ids (the partition key) that need escaping, all valid UTF-8.
	ids := []string{`quote " backslash \ slash /`, "ctl \x00\x01\x1f\b\f\n\r\t", "html <&>", "温度 🌡️ \u2028\u2029", "plain"}
	var keys []aggstore.Item
	for i, id := range ids {
		k := sensor.Key{SensorID: id, WindowStart: win}
		agg := sensor.Aggregate{Count: 2, Sum: sensor.Micro(i) - 1_500_000, Min: -2_000_000, Max: sensor.Micro(i) + 500_000, First: win + 1, Last: win + 59_999, IDs: []uint64{uint64(i), 1<<64 - 1}}
		in := &aggstore.PutItemInput{
			TableName: "aggs", Item: aggstore.EncodeItem(k, agg, 1, time.UnixMilli(win+60_000)),
			ConditionExpression: "attribute_not_exists(#k)", ExpressionAttributeNames: map[string]string{"#k": "sensor_id"},
			ReturnValuesOnConditionCheckFailure: aggstore.ReturnValuesOnConditionCheckFailureAllOld,
		}
		if _, err := db.PutItem(ctx, in); err != nil {
			t.Fatalf("%q: %v", id, err)
		}
		// The same write again: the condition fails.
		_, err := db.PutItem(ctx, in)
		var ccf *aggstore.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			t.Fatalf("%q: want a condition failure, got %v", id, err)
		}
		if i == 0 {
			t.Logf("dynalite returns the current item with a failed condition (ALL_OLD): %v", ccf.Item != nil)
		}
		if ccf.Item != nil { // dynalite may not implement ALL_OLD; if it does, it is the item
			if gk, _, _, err := aggstore.DecodeItem(ccf.Item); err != nil || gk != k {
				t.Fatalf("%q: condition failure item %v %v", id, gk, err)
			}
		}
		key := aggstore.Item{"sensor_id": aggstore.StringValue(id), "window_start": aggstore.StringValue(sensor.FormatWindowStart(win))}
		keys = append(keys, key)
		out, err := db.GetItem(ctx, &aggstore.GetItemInput{TableName: "aggs", Key: key, ConsistentRead: true})
		if err != nil {
			t.Fatal(err)
		}
		gk, ga, gv, err := aggstore.DecodeItem(out.Item)
		if err != nil || gk != k || gv != 1 || ga.Count != agg.Count || ga.Sum != agg.Sum || ga.Min != agg.Min || ga.Max != agg.Max ||
			ga.First != agg.First || ga.Last != agg.Last || !reflect.DeepEqual(ga.IDs, agg.IDs) {
			t.Fatalf("%q: read back %v %+v %d %v, want %v %+v", id, gk, ga, gv, err, k, agg)
		}
		// The version condition: a stale version fails, the current one
		// succeeds.
		next := aggstore.EncodeItem(k, agg, 2, time.UnixMilli(win+61_000))
		stale := &aggstore.PutItemInput{
			TableName: "aggs", Item: next, ConditionExpression: "#v = :v", ExpressionAttributeNames: map[string]string{"#v": aggstore.AttrVersion},
			ExpressionAttributeValues:           map[string]aggstore.AttributeValue{":v": aggstore.NumberValue("0")},
			ReturnValuesOnConditionCheckFailure: aggstore.ReturnValuesOnConditionCheckFailureAllOld,
		}
		if _, err := db.PutItem(ctx, stale); !errors.As(err, &ccf) {
			t.Fatalf("%q: stale version: want a condition failure, got %v", id, err)
		}
		stale.ExpressionAttributeValues = map[string]aggstore.AttributeValue{":v": aggstore.NumberValue("1")}
		if _, err := db.PutItem(ctx, stale); err != nil {
			t.Fatalf("%q: current version: %v", id, err)
		}
	}
	missing := aggstore.Item{"sensor_id": aggstore.StringValue("nobody"), "window_start": aggstore.StringValue(sensor.FormatWindowStart(win))}
	out, err := db.GetItem(ctx, &aggstore.GetItemInput{TableName: "aggs", Key: missing, ConsistentRead: true})
	if err != nil || out.Item != nil {
		t.Fatalf("missing item: %+v %v", out, err)
	}
	bg, err := db.BatchGetItem(ctx, &aggstore.BatchGetItemInput{RequestItems: map[string]aggstore.KeysAndAttributes{
		"aggs": {Keys: append(keys, missing), ConsistentRead: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, it := range bg.Responses["aggs"] {
		k, _, v, err := aggstore.DecodeItem(it)
		if err != nil || v != 2 {
			t.Fatalf("BatchGetItem item %v version %d: %v", k, v, err)
		}
		got[k.SensorID] = true
	}
	if len(got) != len(ids) || len(bg.UnprocessedKeys["aggs"].Keys) != 0 {
		t.Fatalf("BatchGetItem returned %v, unprocessed %v", got, bg.UnprocessedKeys)
	}
	for _, id := range ids {
		if !got[id] {
			t.Fatalf("BatchGetItem lost %q (got %v)", id, got)
		}
	}

	// A conflict through the Store: another writer stores part of the
	// window between the store's read and its write.
	all := groups(t, 1, 1, 10)[0]
	first := sensor.Group{Key: all.Key, Points: all.Points[:4]}
	rest := sensor.Group{Key: all.Key, Points: all.Points[2:]}
	other, err := aggstore.New(db, aggstore.Config{Table: "aggs"})
	if err != nil {
		t.Fatal(err)
	}
	var once atomic.Bool
	racing := &beforePut{API: db, f: func() {
		if once.CompareAndSwap(false, true) {
			if errs, _ := other.Apply(ctx, []sensor.Group{first}); errs[0] != nil {
				t.Error(errs[0])
			}
		}
	}}
	s, err := aggstore.New(racing, aggstore.Config{Table: "aggs"})
	if err != nil {
		t.Fatal(err)
	}
	errs, st := s.Apply(ctx, []sensor.Group{rest})
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	if st.Conflicts != 1 || st.WriteCalls != 2 || st.Applied != 6 || st.DuplicatesSkipped != 2 {
		t.Fatalf("stats %+v", st)
	}
	key := aggstore.Item{"sensor_id": aggstore.StringValue(all.SensorID), "window_start": aggstore.StringValue(sensor.FormatWindowStart(all.WindowStart))}
	out, err = db.GetItem(ctx, &aggstore.GetItemInput{TableName: "aggs", Key: key, ConsistentRead: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, agg, v, err := aggstore.DecodeItem(out.Item); err != nil || agg.Count != 10 || v != 2 {
		t.Fatalf("after the conflict: %+v version %d %v", agg, v, err)
	}

	// DescribeTable really says ACTIVE (CreateTable's wait).
	var desc struct{ Table struct{ TableStatus string } }
	if err := c.Call(ctx, "DescribeTable", json.RawMessage(`{"TableName":"aggs"}`), &desc); err != nil || desc.Table.TableStatus != "ACTIVE" {
		t.Fatalf("DescribeTable: %+v %v", desc, err)
	}
}

// beforePut runs f before every PutItem.
type beforePut struct {
	aggstore.API
	f func()
}

func (b *beforePut) PutItem(ctx context.Context, in *aggstore.PutItemInput) (*aggstore.PutItemOutput, error) {
	b.f()
	return b.API.PutItem(ctx, in)
}
