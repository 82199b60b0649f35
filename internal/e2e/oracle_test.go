//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/localrun"
	"github.com/streamproc/streamproc/internal/producer"
)

// streamRecord is one record read back from the stream by the checker,
// independently of the poller.
type streamRecord struct {
	Shard, Seq string
	Data       []byte
}

// readStream reads every record of every shard from TRIM_HORIZON to the end.
func readStream(ctx context.Context, kc *kinesis.Client, stream string) ([]streamRecord, error) {
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		return nil, err
	}
	var out []streamRecord
	for _, sh := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			return nil, err
		}
		iter := it.ShardIterator
		for iter != nil {
			res, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			if err != nil {
				if strings.Contains(err.Error(), "ProvisionedThroughputExceeded") {
					time.Sleep(200 * time.Millisecond)
					continue
				}
				return nil, err
			}
			for _, r := range res.Records {
				out = append(out, streamRecord{Shard: aws.ToString(sh.ShardId), Seq: aws.ToString(r.SequenceNumber), Data: r.Data})
			}
			if len(res.Records) == 0 && aws.ToInt64(res.MillisBehindLatest) == 0 {
				break
			}
			iter = res.NextShardIterator
		}
	}
	return out, nil
}

func seqLE(a, b string) bool { return contract.CompareSequenceNumbers(a, b) <= 0 }

// window is the aggregate key of a reading.
type window struct{ sensor, start string }

type agg struct {
	count         int64
	sum, min, max *big.Rat
}

func (a *agg) add(v *big.Rat) {
	a.count++
	if a.sum == nil {
		a.sum, a.min, a.max = new(big.Rat), new(big.Rat).Set(v), new(big.Rat).Set(v)
	}
	a.sum.Add(a.sum, v)
	if v.Cmp(a.min) < 0 {
		a.min.Set(v)
	}
	if v.Cmp(a.max) > 0 {
		a.max.Set(v)
	}
}

// verdict is the conservation check of one case.
type verdict struct {
	Produced        int // records put (acknowledged by Kinesis)
	InStream        int // records read back
	Unique          int // distinct valid readings in the stream
	Duplicates      int // stream records repeating an earlier valid reading
	Invalid         int // invalid records in the stream
	Applied         int64
	Quarantined     int // distinct invalid records quarantined
	Late            int // distinct valid readings in the late output (with their payload), none applied
	Finals          int // final results on the results stream (revision 0)
	Corrections     int // corrections on the results stream (revision > 0)
	Redelivered     int // results delivered again under the same id, with the same content (at least once)
	DLQMessages     int // batch-info messages left in the DLQ
	Covered         int // stream records inside a DLQ batch range
	CoveredReadings int // distinct readings only in covered records
	Problems        []string
}

func (v *verdict) problem(format string, a ...any) {
	if len(v.Problems) < 20 {
		v.Problems = append(v.Problems, fmt.Sprintf(format, a...))
	}
}

// check computes the oracle from the produced records and the stream as read
// back, and compares it with the table and the DLQ:
//   - every valid reading is applied exactly once, or all its stream copies
//     are covered by a DLQ batch range;
//   - every invalid record is quarantined (with its exact payload) or covered;
//   - every stored (sensor, window) aggregate equals the count, sum, min and
//     max of the unique valid readings of that window (exact decimals); a
//     window touched by covered readings only has to lie between the
//     uncovered and the full totals (a failed batch may have been applied in
//     part before it was given up);
//   - a reading in the late output (kind "late", its exact payload) is not
//     applied: the engine decided its window had closed;
//   - every result id on the results stream has one content (delivery is at
//     least once: a repeat must be identical), revisions are 0..n without
//     gaps, and a window's newest result equals its stored aggregate.
func check(ctx context.Context, p *localrun.Pipeline, produced []producer.Record, windowSize time.Duration) (verdict, error) {
	var v verdict
	byData := map[string]producer.Record{}
	for _, r := range produced {
		byData[string(r.Data)] = r
	}
	v.Produced = len(produced)
	recs, err := readStream(ctx, p.Kinesis, p.StreamName)
	if err != nil {
		return v, err
	}
	v.InStream = len(recs)
	dlq := p.DLQ()
	v.DLQMessages = len(dlq.BatchInfo)
	// With an S3 destination a failed batch keeps its records: a record is
	// covered when an object holds it, with the data that was produced (a
	// range alone is not enough: with ParallelizationFactor > 1 it also spans
	// other partition keys' records, handled by other batches).
	kept := dlq.KeptRecords()
	covered := func(r streamRecord) bool {
		if p.FailedBucket != "" {
			data, ok := kept[r.Shard+"/"+r.Seq]
			if ok && string(data) != string(r.Data) {
				v.problem("the failed-batch object keeps record %s/%s with other data than was produced", r.Shard, r.Seq)
			}
			return ok
		}
		for _, m := range dlq.BatchInfo {
			b := m.KinesisBatchInfo
			if b.ShardID == r.Shard && seqLE(b.StartSequenceNumber, r.Seq) && seqLE(r.Seq, b.EndSequenceNumber) {
				return true
			}
		}
		return false
	}
	quarantined := map[string][]byte{}
	parts := map[string][]contract.QuarantinedRecord{}
	for _, q := range dlq.Quarantined {
		parts[q.RecordID] = append(parts[q.RecordID], q)
	}
	for id, ps := range parts {
		sort.Slice(ps, func(i, j int) bool { return ps[i].Part < ps[j].Part })
		var data []byte
		for _, q := range ps {
			data = append(data, q.Data...)
		}
		quarantined[id] = data
	}

	late := map[string][]byte{}
	for _, q := range dlq.Late {
		late[q.RecordID] = append(late[q.RecordID], q.Data...)
	}

	type readingState struct {
		rd                      producer.Reading
		uncoveredCopies, copies int
		late                    bool
	}
	readings := map[string]*readingState{}
	seenInvalid := 0
	for _, r := range recs {
		pr, ok := byData[string(r.Data)]
		if !ok {
			v.problem("stream record %s/%s was not produced by this case", r.Shard, r.Seq)
			continue
		}
		cov := covered(r)
		if cov {
			v.Covered++
		}
		switch pr.Kind {
		case producer.Invalid:
			v.Invalid++
			seenInvalid++
			data, q := quarantined[r.Shard+"/"+r.Seq]
			switch {
			case q && string(data) != string(r.Data):
				v.problem("quarantined record %s/%s: payload differs from what was produced", r.Shard, r.Seq)
			case q:
				v.Quarantined++
			case !cov:
				v.problem("invalid record %s/%s (%s) neither quarantined nor covered by a DLQ message", r.Shard, r.Seq, pr.Reason)
			}
		default:
			st := readings[pr.Reading.EventID]
			if st == nil {
				st = &readingState{rd: pr.Reading}
				readings[pr.Reading.EventID] = st
			} else {
				v.Duplicates++
			}
			st.copies++
			if data, ok := late[r.Shard+"/"+r.Seq]; ok {
				if string(data) != string(r.Data) {
					v.problem("late record %s/%s: payload differs from what was produced", r.Shard, r.Seq)
				}
				st.late = true
			}
			if !cov {
				st.uncoveredCopies++
			}
		}
	}
	v.Unique = len(readings)

	expect := map[window]*agg{}
	upper := map[window]*agg{}
	for _, st := range readings {
		rd := st.rd
		start := time.UnixMilli(rd.TS).UTC().Truncate(windowSize).Format(time.RFC3339)
		w := window{rd.SensorID, start}
		temp := new(big.Rat).SetFrac64(rd.TempCenti, 100)
		if st.late {
			v.Late++
			continue
		}
		if upper[w] == nil {
			upper[w] = &agg{}
		}
		upper[w].add(temp)
		if st.uncoveredCopies == 0 {
			v.CoveredReadings++
			continue
		}
		if expect[w] == nil {
			expect[w] = &agg{}
		}
		expect[w].add(temp)
	}
	stored, err := p.Aggregates(ctx)
	if err != nil {
		return v, err
	}
	got := map[window]localrun.Aggregate{}
	for _, a := range stored {
		got[window{a.SensorID, a.WindowStart}] = a
		v.Applied += a.Count
	}
	for w, up := range upper {
		e := expect[w]
		a, ok := got[w]
		exact := e != nil && e.count == up.count
		switch {
		case exact && !ok:
			v.problem("window %v: %d readings expected, no item stored", w, e.count)
		case exact && (a.Count != e.count || a.Sum == nil || a.Sum.Cmp(e.sum) != 0 || a.Min.Cmp(e.min) != 0 || a.Max.Cmp(e.max) != 0):
			v.problem("window %v: stored count %d sum %s min %s max %s, expected %d %s %s %s", w, a.Count, ratStr(a.Sum), ratStr(a.Min), ratStr(a.Max),
				e.count, ratStr(e.sum), ratStr(e.min), ratStr(e.max))
		case !exact:
			lo := int64(0)
			if e != nil {
				lo = e.count
			}
			if a.Count < lo || a.Count > up.count {
				v.problem("window %v (partly covered by the DLQ): stored count %d outside [%d, %d]", w, a.Count, lo, up.count)
			}
		}
	}
	for w, a := range got {
		if upper[w] == nil && a.Count > 0 { // a window of late records only holds their ids
			v.problem("window %v stored (count %d) but no produced reading falls in it", w, a.Count)
		}
	}
	rs, err := p.Results(ctx)
	if err != nil {
		return v, err
	}
	ids := map[string]string{}
	revs := map[window][]int64{}
	newest := map[window]int{}
	for i, r := range rs {
		content := fmt.Sprintf("%s %s %d %v %+v", r.Key, r.WindowStart.UTC(), r.Revision, r.Last, r.Value)
		if c, ok := ids[r.ID]; ok {
			if c != content {
				v.problem("result %s delivered with two contents:\n  %s\n  %s", r.ID, c, content)
			}
			v.Redelivered++
			continue
		}
		ids[r.ID] = content
		if r.Revision == 0 {
			v.Finals++
		} else {
			v.Corrections++
		}
		w := window{r.Key, r.WindowStart.UTC().Format(time.RFC3339)}
		revs[w] = append(revs[w], r.Revision)
		if j, ok := newest[w]; !ok || rs[j].Revision < r.Revision {
			newest[w] = i
		}
	}
	for w, rv := range revs {
		sort.Slice(rv, func(i, j int) bool { return rv[i] < rv[j] })
		for i, n := range rv {
			if n != int64(i) {
				v.problem("window %v: result revisions %v, want 0..%d", w, rv, len(rv)-1)
				break
			}
		}
		r, a := rs[newest[w]], got[w]
		sum, mn, mx := new(big.Rat), new(big.Rat), new(big.Rat)
		sum.SetString(r.Value.Sum.String())
		mn.SetString(r.Value.Min.String())
		mx.SetString(r.Value.Max.String())
		if a.Sum == nil || r.Value.Count != a.Count || sum.Cmp(a.Sum) != 0 || mn.Cmp(a.Min) != 0 || mx.Cmp(a.Max) != 0 {
			v.problem("window %v: newest result (revision %d) count %d sum %s min %s max %s, stored %d %s %s %s", w, r.Revision,
				r.Value.Count, r.Value.Sum, r.Value.Min, r.Value.Max, a.Count, ratStr(a.Sum), ratStr(a.Min), ratStr(a.Max))
		}
	}
	if n := len(quarantined); n > seenInvalid {
		v.problem("%d records quarantined, only %d invalid records in the stream", n, seenInvalid)
	}
	return v, nil
}

func ratStr(r *big.Rat) string {
	if r == nil {
		return "<nil>"
	}
	return r.FloatString(6)
}
