package producer_test

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc/functions/kinesisbatch/kpl"
	"github.com/streamproc/streamproc/internal/producer"
)

// unpack returns the user records of everything f stored, each as
// "pk|data", and how many Kinesis records were aggregated / plain.
func unpack(t *testing.T, f *fakeKinesis, pkOf map[string]string) (users []string, aggregated, plain int) {
	t.Helper()
	for data, n := range f.stored {
		for range n {
			d := []byte(data)
			if !kpl.IsAggregated(d) {
				plain++
				users = append(users, pkOf[data]+"|"+data)
				continue
			}
			aggregated++
			us, err := kpl.Decode(nil, d)
			if err != nil {
				t.Fatalf("stored record does not decode: %v", err)
			}
			for _, u := range us {
				users = append(users, u.PartitionKey+"|"+string(u.Data))
			}
		}
	}
	sort.Strings(users)
	return users, aggregated, plain
}

func TestAggregateSendsEveryRecordOnceWithinLimits(t *testing.T) {
	in := entries(1000, 100)
	f := newFake()
	// Throttle a few Kinesis records on the first calls: they are retried whole.
	f.fail = func(n int, recs []types.PutRecordsRequestEntry) (map[int]string, bool, error) {
		if n <= 3 {
			return map[int]string{0: "ProvisionedThroughputExceededException"}, false, nil
		}
		return nil, false, nil
	}
	cfg := fastCfg()
	cfg.Aggregate = 10
	rep, err := producer.New(f, cfg).Run(context.Background(), producer.SliceSource(in))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Read != 1000 || rep.Sent != 1000 || rep.Failed != 0 || rep.KinesisRecords != 100 || rep.ThrottledRecords != 3 || rep.Retried != 30 {
		t.Fatalf("report %+v", rep.Stats)
	}
	var shardTotal int64
	for _, n := range rep.PerShard {
		shardTotal += n
	}
	if shardTotal != 1000 {
		t.Fatalf("per-shard counts add up to %d, want the 1000 records", shardTotal)
	}
	got, agg, plain := unpack(t, f, nil)
	var want []string
	for _, e := range in {
		want = append(want, e.PartitionKey+"|"+string(e.Data))
	}
	sort.Strings(want)
	if agg != 100 || plain != 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%d aggregated and %d plain records; user records match: %v", agg, plain, strings.Join(got, "\n") == strings.Join(want, "\n"))
	}
}

func TestAggregateHonoursTheRecordLimit(t *testing.T) {
	big := bytes.Repeat([]byte("b"), 300<<10)
	huge := bytes.Repeat([]byte("h"), producer.MaxRecordBytes-10) // fits plain, not wrapped
	var in []producer.Entry
	for i := range 7 {
		in = append(in, producer.Entry{PartitionKey: fmt.Sprintf("k%d", i), Data: append([]byte(fmt.Sprint(i)), big...)})
	}
	in = append(in, producer.Entry{PartitionKey: "huge", Data: huge})
	in = append(in, producer.Entry{PartitionKey: "last", Data: []byte("alone")})
	f := newFake()
	cfg := fastCfg()
	cfg.Aggregate = 100
	rep, err := producer.New(f, cfg).Run(context.Background(), producer.SliceSource(in))
	if err != nil || rep.Sent != 9 || rep.Failed != 0 {
		t.Fatalf("sent %d failed %d: %v %v", rep.Sent, rep.Failed, err, rep.Errors)
	}
	for data := range f.stored {
		if len(data) > producer.MaxRecordBytes {
			t.Fatalf("a %d-byte record was sent", len(data))
		}
	}
	// 300 KiB records: three per aggregated record (7 -> 3+3+1 plain), the
	// huge one plain, the last one alone and plain.
	got, agg, plain := unpack(t, f, map[string]string{string(huge): "huge", "alone": "last", "6" + string(big): "k6"})
	if len(got) != 9 || agg != 2 || plain != 3 {
		t.Fatalf("%d user records in %d aggregated and %d plain records, want 9 in 2 and 3", len(got), agg, plain)
	}
	if rep.KinesisRecords != 5 {
		t.Fatalf("KinesisRecords %d, want 5", rep.KinesisRecords)
	}
}
